"""Bad values for options get exit 2 and a message naming the option, the value and the allowed range."""

from __future__ import annotations

import pytest

from zerostream_desktop.cli import main

BAD = [
    (["stream", "--duration", "-3"], "--duration", "-3 is out of range (allowed: 0.1 to 604,800 s)"),
    (["simulate", "--duration", "0"], "--duration", "0 is out of range"),
    (["simulate", "--devices", "abc"], "--devices", "'abc' is not an integer (allowed: 0 to 1,000,000)"),
    (["stream", "--devices", "2000000"], "--devices", "2000000 is out of range (allowed: 0 to 1,000,000)"),
    (["stream", "--interval-ms", "5"], "--interval-ms", "5 is out of range (allowed: 10 to 3,600,000 ms)"),
    (["stream", "--batch-size", "0"], "--batch-size", "0 is out of range"),
    (["stream", "--stop-timeout", "-1"], "--stop-timeout", "-1 is out of range"),
    (["simulate", "--time-scale", "0"], "--time-scale", "0 is out of range"),
    (["localbus", "serve", "--port", "70000"], "--port", "70000 is out of range (allowed: 0 to 65535)"),
    (["localbus", "serve", "--flush-records", "0"], "--flush-records", "0 is out of range"),
    (["localbus", "serve", "--token-ttl", "0"], "--token-ttl", "0 is out of range"),
    (["webapps", "serve", "--port", "-1"], "--port", "-1 is out of range"),
    (["webapps", "deploy", "--wait", "0"], "--wait", "0 is out of range"),
    (["verify", "--probe-events", "0"], "--probe-events", "0 is out of range (allowed: 1 to 10000)"),
    (["setup", "plan", "--timeout", "nan-ish"], "--timeout", "'nan-ish' is not a number"),
]


@pytest.mark.parametrize(("argv", "option", "message"), BAD, ids=[" ".join(b[0]) for b in BAD])
def test_a_bad_value_exits_2_naming_the_option_value_and_range(argv, option, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {message}" in err, err


def test_more_devices_than_one_process_runs_are_refused_with_the_way_to_shard_them(capsys):
    assert main(["stream", "--devices", "20000", "--duration", "1"]) == 2
    assert "--devices 20,000: a process runs at most 10,000 devices" in capsys.readouterr().err
    assert main(["stream", "--devices", "30000", "--shard", "1/2", "--seed", "1", "--duration", "1"]) == 2
    assert "use at least 3 shards" in capsys.readouterr().err
    assert main(["stream", "--devices", "20000", "--shard", "1/2", "--duration", "1"]) == 2
    assert "give every shard the same --seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stream", "--shard", "3/2"])
    assert "argument --shard: shard '3/2': i must be between 1 and N (2)" in capsys.readouterr().err
