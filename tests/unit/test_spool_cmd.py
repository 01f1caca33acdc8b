"""`zerostream spool`: what waits, the dead letters and why; export, retry and discard; a spool in use is left alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

from zerostream_desktop.cli import main
from zerostream_desktop.core import encoding
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.spool import Spool, claim_spool


def fill(folder: Path, name: str, n: int, dead: int) -> list[str]:
    fleet = Fleet(3, 10, interval_ms=100)
    fleet.start(0.0)
    ids: list[str] = []
    spool = Spool(folder / name)
    k = 0
    while len(ids) < n:
        k += 1
        batch = fleet.advance(k * 0.1)
        spool.append(batch.event_ids(), batch.connection_ids(), encoding.encode_proto(batch))
        ids += batch.event_ids()
    for record in spool.read_after(0, dead):
        spool.dead_letter(record.id, "INVALID_ARGUMENT: column battery_pct value 900 is out of range")
    spool.close()
    return ids


def test_status_export_retry_discard(capsys, monkeypatch):
    data = Path(os.environ["ZEROSTREAM_DATA_DIR"])
    ids = fill(data / "spool", "local-zerostream.sensors.sensor_stream@app.sqlite", 50, 3)
    old = fill(data / "spool", "local-old.sensors.t@stream.sqlite", 5, 0)
    assert main(["spool", "status"]) == 0
    out = capsys.readouterr().out
    assert "local-zerostream.sensors.sensor_stream@app.sqlite" in out and "dead letters 3" in out
    assert "column battery_pct value 900 is out of range" in out
    assert "local-old.sensors.t@stream.sqlite  (for a target not configured now" in out

    assert main(["spool", "export", "--dead-letters"]) == 0
    letters = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(letters) == 3 and all(d["record"]["event_id"] == d["event_id"] for d in letters)
    assert {d["event_id"] for d in letters} <= set(ids) and "out of range" in letters[0]["reason"]

    assert main(["spool", "retry"]) == 0
    capsys.readouterr()
    spool = Spool(data / "spool" / "local-zerostream.sensors.sensor_stream@app.sqlite")
    assert spool.dead_letter_count() == 0 and {r.event_id for r in spool.waiting()} >= {d["event_id"] for d in letters}
    spool.close()

    monkeypatch.setattr("builtins.input", lambda _: "n")
    assert main(["spool", "discard", "--waiting"]) == 1  # asked, and the answer was no
    held = claim_spool(data / "spool", "local-zerostream.sensors.sensor_stream", "app")  # a running producer's
    try:
        assert main(["spool", "discard", "--waiting", "--yes"]) == 1
        captured = capsys.readouterr()
        assert "left local-zerostream.sensors.sensor_stream@app.sqlite alone: a running producer holds it" in (
            captured.err
        )
        assert f"deleted {len(old)} waiting records" in captured.out  # the spool nobody holds
        assert held.depth == len(ids)
    finally:
        held.close()
    assert main(["spool", "discard", "--waiting", "--yes"]) == 0
    assert f"deleted {len(ids)} waiting records" in capsys.readouterr().out
