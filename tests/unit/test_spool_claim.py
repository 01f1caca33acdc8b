"""Each producer holds a spool of its own; what a dead producer left is taken over, never lost or shared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from zerostream_desktop.core.ingest.spool import Spool, SpoolBusyError, claim_spool

STEM = "local-zerostream.sensors.sensor_stream"


def put(spool: Spool, ids: list[str]) -> None:
    spool.append(ids, ["dev"] * len(ids), [i.encode() for i in ids])


def payloads(spool: Spool) -> list[bytes]:
    return [r.payload for r in spool.read_after(0, 1000)]


def test_two_producers_on_one_folder_never_share_a_file(tmp_path: Path):
    app = claim_spool(tmp_path, STEM, "app")
    web = claim_spool(tmp_path, STEM, "web")
    second_app = claim_spool(tmp_path, STEM, "app")  # a second desktop app on the same folder
    assert len({app.path, web.path, second_app.path}) == 3
    put(app, ["a1"])
    put(web, ["w1"])
    assert payloads(app) == [b"a1"] and payloads(web) == [b"w1"]  # neither sends the other's records
    for s in (app, web, second_app):
        s.close()


def test_a_killed_producers_records_go_to_the_next_producer_before_its_own(tmp_path: Path):
    code = textwrap.dedent(f"""
        import sys, time
        from zerostream_desktop.core.ingest.spool import claim_spool
        s = claim_spool({str(tmp_path)!r}, {STEM!r}, "stream")
        s.append(["left-1", "left-2"], ["dev", "dev"], [b"left-1", b"left-2"])
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    running = claim_spool(tmp_path, STEM, "app")
    assert payloads(running) == []  # a running producer's spool is not taken
    running.close()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    app = claim_spool(tmp_path, STEM, "app")
    put(app, ["new"])
    assert payloads(app) == [b"left-1", b"left-2", b"new"]
    assert app.depth == 3
    assert not (tmp_path / f"{STEM}@stream.sqlite").exists()  # taken over: gone, not sent twice later
    app.close()


def test_a_spool_from_an_older_version_is_taken_over_and_other_tables_are_left_alone(tmp_path: Path):
    old = Spool(tmp_path / f"{STEM}.sqlite")
    put(old, ["old-1", "refused"])
    old.dead_letter(old.read_after(0, 10)[1].id, "INVALID_ARGUMENT: bad record")
    old.close()
    other_table = Spool(tmp_path / "local-zerostream.sensors.other@app.sqlite")
    put(other_table, ["elsewhere"])
    other_table.close()
    app = claim_spool(tmp_path, STEM, "app")
    assert payloads(app) == [b"old-1"]
    assert [d.reason for d in app.dead_letters()] == ["INVALID_ARGUMENT: bad record"]  # kept, with the reason
    assert (tmp_path / "local-zerostream.sensors.other@app.sqlite").exists()
    app.close()


def test_when_every_name_is_held_the_error_says_so(tmp_path: Path, monkeypatch):
    import zerostream_desktop.core.ingest.spool as spool_module

    monkeypatch.setattr(spool_module, "_try_lock", lambda path: None)
    try:
        claim_spool(tmp_path, STEM, "app")
    except SpoolBusyError as exc:
        assert "in use by another producer" in str(exc)
    else:
        raise AssertionError("expected SpoolBusyError")
