"""The `zerostream` command line as a user meets it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zerostream_desktop.cli import main
from zerostream_desktop.commands.gui import display_available

DATA = Path(__file__).parent.parent / "data"


def test_simulate_prints_zerobus_json_records(capsys):
    rc = main(["simulate", "--devices", "5", "--interval-ms", "1000", "--duration", "3", "--seed", "42"])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert 12 <= len(lines) <= 16  # 5 devices x 3 s, first ones spread over the first second
    records = [json.loads(line) for line in lines]
    assert len({r["connection_id"] for r in records}) == 5
    assert all(r["payload_bytes"] == len(line) for r, line in zip(records, lines, strict=True))
    again = main(["simulate", "--devices", "5", "--interval-ms", "1000", "--duration", "3", "--seed", "42"])
    assert again == 0
    again_records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    # the same devices (the order of their first events follows the clock: slots are fixed in time)
    assert {(r["connection_id"], r["device_name"]) for r in again_records} == {
        (r["connection_id"], r["device_name"]) for r in records
    }


def test_simulate_replays_a_trace(capsys):
    assert main(["simulate", "--devices", "2", "--interval-ms", "1000", "--duration", "5", "--seed", "1",
                 "--trace", str(DATA / "amsterdam_walk.gpx")]) == 0  # fmt: skip
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert all(52.372 < r["latitude"] < 52.376 and 4.891 < r["longitude"] < 4.895 for r in records)


def test_simulate_with_faults_logs_each_one_where_the_events_show_it(capsys, tmp_path):
    argv = ["--data-dir", str(tmp_path), "simulate", "--devices", "20", "--interval-ms", "500", "--duration", "30",
            "--seed", "3", "--faults", "dup=0.05,jump=0.01"]  # fmt: skip
    assert main(argv) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    [log_file] = (tmp_path / "faults").glob("simulate-*.jsonl")
    log = [json.loads(x) for x in log_file.read_text().splitlines()]
    counts = {k: sum(e["kind"] == k for e in log) for k in ("dup", "jump")}
    assert counts["dup"] > 10 and counts["jump"] > 5
    ids = [r["event_id"] for r in records]
    assert len(ids) - len(set(ids)) == counts["dup"]  # each logged duplicate is a record sent twice
    jumped = {e["event_id"] for e in log if e["kind"] == "jump"}
    assert jumped <= set(ids)


def test_bad_setting_exits_2_with_the_variable_named(capsys, monkeypatch):
    monkeypatch.setenv("STREAM_INTERVAL_MS", "soon")
    assert main(["simulate", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "STREAM_INTERVAL_MS='soon' from environment" in err


def test_settings_command_shows_sources_and_no_secret(capsys, monkeypatch):
    monkeypatch.setenv("CATALOG", "iot")
    assert main(["settings", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["CATALOG"] == {"value": "iot", "source": "environment"}
    assert out["settings"]["TABLE_NAME"]["source"] == "default"


def test_no_display_message_tells_how_to_run_headless():
    assert not display_available({}, "linux")
    assert display_available({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert display_available({}, "darwin")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    proc = subprocess.run([sys.executable, "-m", "zerostream_desktop"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path.cwd())  # fmt: skip
    assert proc.returncode == 2
    assert "no display found" in proc.stderr and "QT_QPA_PLATFORM=offscreen" in proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["simulate", "--help"], ["--version"]])
def test_help_and_version(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "zerostream" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "--mode-mix", "flying=1"], "unknown mode 'flying'"),
        (["simulate", "--trace", "/nope/track.gpx"], "no such file"),
        (["simulate", "--region", "Atlantis"], "unknown city"),
        (["simulate", "--faults", "wobble=0.1"], "--faults: fault 'wobble=0.1': unknown kind 'wobble'"),
    ],
)
def test_bad_command_line_values_exit_2_with_the_reason(argv, message, capsys):
    assert main([*argv, "--duration", "1"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["webapps", "serve", "--host", "0.0.0.0"], "add --allow-remote"),
        (["webapps", "serve", "--host", "192.168.1.5", "--allow-remote", "--no-token"], "--no-token is for loopback"),
    ],
)
def test_the_web_apps_refuse_to_listen_beyond_this_machine_unless_asked(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_global_options_work_after_the_subcommand_too(tmp_path, capsys):
    folder = str(tmp_path)
    for argv in (["--data-dir", folder, "settings", "--json"], ["settings", "--json", "--data-dir", folder]):
        assert main(argv) == 0
        shown = json.loads(capsys.readouterr().out)["settings"]["ZEROSTREAM_DATA_DIR"]
        assert shown["value"] == str(tmp_path) and shown["source"] == "command line"


def test_commands_that_do_not_talk_to_a_workspace_start_without_the_databricks_sdk():
    # the SDK took ~2.5 s of every start here (localbus, stream, the analytics worker), for setup's parser alone
    probe = ("import sys; from zerostream_desktop.cli import build_parser; build_parser().parse_args(['stream']); "
             "print(sorted(m for m in sys.modules if m.startswith('databricks.sdk')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
