"""A damaged local table is named with the file and the fix, never written over, and repaired losing nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.localbus_helpers import TABLE, LocalBusProcess, free_port
from tests.integration.test_localbus_any_table import zerostream
from tests.integration.test_streaming import stream_cmd, summary_of
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.analytics.model import AnalyticsError, Window
from zerostream_desktop.localbus.tables import TableCatalog

pytestmark = pytest.mark.integration


def streamed(tmp_path: Path) -> Path:
    rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "20", "--interval-ms", "200", "--duration", "2"))
    assert rc == 0, summary
    return TableCatalog(tmp_path).path(TABLE)


def test_a_torn_last_commit_is_named_refused_for_writing_and_repaired(tmp_path: Path):
    import datetime as dt

    path = streamed(tmp_path)
    before = TableCatalog(tmp_path).describe(TABLE).rows
    commits = sorted((path / "_delta_log").glob("*.json"))
    last = commits[-1]
    last.write_text(last.read_text()[:150])  # cut off mid-write
    with pytest.raises(AnalyticsError, match=f"its last commit {last} is incomplete.*repair-table"):
        LocalDeltaAnalytics(path).kpis(Window(dt.datetime.now(dt.UTC)))
    # (a short drain: the refusal repeats, the stream would wait out --stop-timeout for it to clear)
    rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "5", "--duration", "1", "--stop-timeout", "4"))
    assert rc == 1 and "is damaged" in summary["error"] and summary["spool_depth"] > 0, summary  # kept, not written
    assert last.read_text().startswith(last.read_text()[:150]) and len(last.read_text()) == 150  # not overwritten
    repaired = zerostream(tmp_path, "localbus", "repair-table", TABLE, "--yes")
    assert repaired.returncode == 0 and "moved the incomplete commit" in repaired.stdout, repaired.stderr
    assert (last.parent / f"{last.name}.torn").exists() and TableCatalog(tmp_path).describe(TABLE).rows <= before
    rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "5", "--duration", "1"))
    assert rc == 0 and summary["spool_depth"] == 0, summary  # the records that waited went in


def test_missing_data_files_are_named_and_dropped_only_when_asked(tmp_path: Path):
    path = streamed(tmp_path)
    victim = sorted(path.rglob("*.parquet"))[0]
    victim.unlink()
    checked = zerostream(tmp_path, "localbus", "repair-table", TABLE, stdin="n\n")
    assert checked.returncode == 1 and "data file(s) it lists are missing" in checked.stdout
    assert "Nothing changed." in checked.stdout
    fixed = zerostream(tmp_path, "localbus", "repair-table", TABLE, "--yes")
    assert fixed.returncode == 0 and "opens and reads again" in fixed.stdout, fixed.stdout + fixed.stderr
    bus = LocalBusProcess(tmp_path, free_port()).start()
    bus.terminate()
