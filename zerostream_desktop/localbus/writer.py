"""Group commits into Delta: one writer thread, many streams; acks only after the commit.

Streams submit decoded batches and get a future back. The writer collects submissions until it
holds `flush_records` rows or the oldest has waited `flush_ms`, appends everything for a table in
one Delta commit (the rows exactly as the records carried them: the service fills no column), and
only then resolves the futures. Table upkeep (compaction, checkpoints, vacuum, log cleanup, retention)
runs beside it on a thread of its own with its own table handles, asked for every so many commits:
a compaction of a busy table takes seconds, and in the writer thread it held back every commit and
acknowledgement meanwhile. delta-rs reconciles the two: an append rewrites no file, so a compaction
and the appends committed while it ran both stand (an upkeep step that fails is tried again later).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import math
import os
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from zerostream_desktop.localbus.tables import TableCatalog

log = logging.getLogger(__name__)


FAULT_COMMIT_DELAY_ENV = "ZEROSTREAM_LOCALBUS_FAULT_COMMIT_DELAY_MS"  # fault injection: a slow table
FAULT_DISK_FULL_ENV = "ZEROSTREAM_LOCALBUS_FAULT_DISK_FULL"  # "START:SECONDS": commits fail with ENOSPC then


def _disk_full_window() -> tuple[float, float] | None:
    text = os.environ.get(FAULT_DISK_FULL_ENV, "")
    if not text:
        return None
    start, _, length = text.partition(":")
    return float(start), float(length or "5")


@dataclass
class WriterConfig:
    commit_delay_ms: int = field(default_factory=lambda: int(os.environ.get(FAULT_COMMIT_DELAY_ENV, "0") or 0))
    flush_records: int = 10_000
    flush_ms: int = 50
    # Under load a commit gathers about this long's worth of the incoming rows (at most
    # max_commit_rows): Delta appends 100,000 rows at about twice the speed per row of 10,000.
    busy_commit_s: float = 0.2
    busy_min_rows: int = 20_000  # below this many rows in busy_commit_s, the flush rule above stands
    max_commit_rows: int = 200_000
    compact_every_commits: int = 200
    # A compaction merges the files under this size into files of about it. delta-rs's default, 100 MB, kept
    # rewriting the growing last file (at 10,000 rows/s, about 100 MB each 20 s) and took ~140 MiB more memory.
    compact_target_bytes: int = 16 * 1024 * 1024
    checkpoint_every_commits: int = 100
    vacuum_every_commits: int = 1000
    vacuum_retention_hours: int = 1
    retention_days: int = 0  # 0: keep everything; else rows whose event_date is older are deleted
    retention_every_s: float = 600.0


@dataclass
class _Submission:
    table: str
    data: pa.Table
    future: Future[int] = field(default_factory=Future)
    queued_at: float = field(default_factory=time.monotonic)


@dataclass
class _TableState:
    handle: DeltaTable
    commits: int = 0
    retention_at: float = 0.0  # monotonic time of the last retention pass


_UPKEEP_ORDER = ("compact", "checkpoint", "retention", "vacuum")


class _Upkeep:
    """Runs the upkeep the writer asks for, one table step at a time, on its own thread and handles."""

    def __init__(self, catalog: TableCatalog, config: WriterConfig) -> None:
        self.catalog = catalog
        self.config = config
        self._queue: queue.Queue[tuple[str, frozenset[str]] | None] = queue.Queue()
        self._handles: dict[str, DeltaTable] = {}
        self._thread = threading.Thread(target=self._run, name="localbus-upkeep", daemon=True)
        self._thread.start()

    def ask(self, table: str, steps: frozenset[str]) -> None:
        self._queue.put((table, steps))

    def close(self, timeout: float) -> None:
        """Finish what was asked for, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            asked: dict[str, set[str]] = {}
            item = self._queue.get()
            while item is not None:  # what waits is merged: a step asked twice meanwhile runs once
                asked.setdefault(item[0], set()).update(item[1])
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            for table, steps in asked.items():
                self._steps(table, steps)

    def _steps(self, table: str, steps: set[str]) -> None:
        cfg = self.config
        try:
            handle = self._handles.get(table)
            if handle is None:
                handle = self._handles[table] = self.catalog.open(table)
            else:
                handle.update_incremental()
        except Exception:
            log.exception("table upkeep of %s: cannot open the table; will retry later", table)
            return
        for step in (s for s in _UPKEEP_ORDER if s in steps):
            try:
                if step == "compact":
                    started = time.monotonic()
                    # One task: the appends share delta-rs's worker threads (one per core) with the compaction,
                    # and a compaction on all of them held every append (and acknowledgement) back for seconds.
                    metrics = handle.optimize.compact(max_concurrent_tasks=1, target_size=cfg.compact_target_bytes)
                    metrics["seconds"] = round(time.monotonic() - started, 2)
                    log.info(
                        "compacted %s: %s",
                        table,
                        {k: metrics.get(k) for k in ("numFilesAdded", "numFilesRemoved", "seconds")},
                    )
                elif step == "checkpoint":
                    handle.create_checkpoint()
                    handle.cleanup_metadata()
                elif step == "retention":
                    apply_retention(handle, table, cfg.retention_days)
                else:
                    removed = handle.vacuum(
                        retention_hours=cfg.vacuum_retention_hours, enforce_retention_duration=False, dry_run=False
                    )
                    log.info("vacuumed %s: %d files removed", table, len(removed))
            except Exception:  # upkeep must never stop ingestion
                log.exception("table upkeep of %s (%s) failed; will retry later", table, step)
                with contextlib.suppress(Exception):
                    handle.update_incremental()


class WriterClosedError(RuntimeError):
    pass


class GroupCommitWriter:
    def __init__(self, catalog: TableCatalog, config: WriterConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or WriterConfig()
        self._queue: queue.Queue[_Submission | None] = queue.Queue()
        self._tables: dict[str, _TableState] = {}
        self._closed = threading.Event()
        self.commits = 0
        self.rows = 0
        self._started = time.monotonic()
        self._rate = 0.0  # rows/s submitted, smoothed
        self._arrived = 0
        self._rate_at = time.monotonic()
        self._disk_full = _disk_full_window()  # the fault campaign's full disk, where a real one surfaces
        self._upkeeper = _Upkeep(catalog, self.config)
        self._thread = threading.Thread(target=self._run, name="localbus-writer", daemon=True)
        self._thread.start()

    def submit(self, table: str, data: pa.Table) -> Future[int]:
        """Queue rows for `table`; the future gives the Delta version they were committed in."""
        if self._closed.is_set():
            raise WriterClosedError("the writer is shut down")
        sub = _Submission(table, data)
        self._queue.put(sub)
        return sub.future

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything already submitted, finish the upkeep asked for, then stop."""
        if not self._closed.is_set():
            self._closed.set()
            self._queue.put(None)
        started = time.monotonic()
        self._thread.join(timeout)
        self._upkeeper.close(max(1.0, timeout - (time.monotonic() - started)))

    def _commit_size(self) -> tuple[int, float]:
        """Rows a commit waits for and how long its oldest rows may wait: small and quick when the
        load is light, larger (up to busy_commit_s of the incoming rate) when it is heavy."""
        cfg = self.config
        target = min(cfg.max_commit_rows, int(self._rate * cfg.busy_commit_s))
        if target <= max(cfg.flush_records, cfg.busy_min_rows):
            return cfg.flush_records, cfg.flush_ms / 1000
        return target, max(cfg.flush_ms / 1000, cfg.busy_commit_s)

    def _measure(self, rows: int) -> None:
        """The incoming rows per second: a rise at once, a fall smoothed over about a second."""
        now = time.monotonic()
        self._arrived += rows
        elapsed = now - self._rate_at
        if elapsed >= 0.25:
            instant = self._arrived / elapsed
            weight = 1.0 if instant > self._rate else 1.0 - math.exp(-elapsed)
            self._rate += weight * (instant - self._rate)
            self._arrived, self._rate_at = 0, now

    def _run(self) -> None:
        pending: list[_Submission] = []
        rows = 0  # in `pending`
        stopping = False
        wait_s = self._commit_size()[1]
        while not (stopping and not pending):
            timeout = None
            if pending:
                timeout = max(0.0, pending[0].queued_at + wait_s - time.monotonic())
            taken = 0
            try:
                item = self._queue.get(timeout=timeout)
                if item is None:
                    stopping = True
                else:
                    pending.append(item)
                    taken += item.data.num_rows
                    while len(pending) < 10_000:  # drain what is already there without waiting
                        nxt = self._queue.get_nowait()
                        if nxt is None:
                            stopping = True
                            break
                        pending.append(nxt)
                        taken += nxt.data.num_rows
            except queue.Empty:
                pass
            rows += taken
            self._measure(taken)
            target, wait_s = self._commit_size()
            due = pending and (stopping or rows >= target or time.monotonic() - pending[0].queued_at >= wait_s)
            if due:
                try:
                    self._commit(pending)
                except Exception:  # the writer thread must outlive any one commit
                    log.exception("group commit failed")
                pending, rows = [], 0

    def _commit(self, subs: list[_Submission]) -> None:
        by_table: dict[str, list[_Submission]] = {}
        for s in subs:
            by_table.setdefault(s.table, []).append(s)
        for table, group in by_table.items():
            try:
                version = self._append(table, [s.data for s in group])
            except Exception as exc:  # the futures carry the failure to each stream
                log.exception("commit to %s failed", table)
                for s in group:
                    _settle(s.future, exc=exc)
                continue
            for s in group:
                _settle(s.future, version=version)

    def _state(self, table: str) -> _TableState:
        state = self._tables.get(table)
        if state is None:
            handle = self.catalog.open(table)
            state = _TableState(handle)
            self._tables[table] = state
        return state

    def _append(self, table: str, parts: list[pa.Table]) -> int:
        state = self._state(table)
        data = pa.concat_tables(parts)
        n = data.num_rows
        if self._disk_full is not None:
            start, length = self._disk_full
            if start <= time.monotonic() - self._started < start + length:
                raise OSError(errno.ENOSPC, "No space left on device (injected by the fault campaign)")
        if self.config.commit_delay_ms:  # storage slower than the producers (tests, the fault campaign):
            time.sleep(self.config.commit_delay_ms * len(parts) / 1000)  # this long per batch committed
        write_deltalake(state.handle, data, mode="append")
        state.commits += 1
        self.commits += 1
        self.rows += n
        version = state.handle.version()
        self._upkeep(table, state)
        return version

    def _upkeep(self, table: str, state: _TableState) -> None:
        """Ask the upkeep thread for what is due after this commit."""
        cfg = self.config
        steps = set()
        if state.commits % cfg.compact_every_commits == 0:
            steps.add("compact")
        if state.commits % cfg.checkpoint_every_commits == 0:
            steps.add("checkpoint")
        if cfg.retention_days and time.monotonic() - state.retention_at >= cfg.retention_every_s:
            state.retention_at = time.monotonic()
            steps.add("retention")
        if state.commits % cfg.vacuum_every_commits == 0:
            steps.add("vacuum")
        if steps:
            self._upkeeper.ask(table, frozenset(steps))


def apply_retention(handle: DeltaTable, table: str, days: int) -> int:
    """Delete the rows of a table partitioned by event_date whose date is more than `days` days ago
    (whole partitions: cheap); other tables are left alone. Returns how many rows went."""
    if "event_date" not in handle.metadata().partition_columns:
        return 0
    cutoff = (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=days)).isoformat()
    metrics = handle.delete(predicate=f"event_date < '{cutoff}'")  # a date made here, not user text
    deleted = int(metrics.get("num_deleted_rows") or 0)
    if deleted:
        log.info("retention: deleted %d rows of %s with event_date before %s", deleted, table, cutoff)
    return deleted


def _settle(future: Future[int], version: int = -1, exc: BaseException | None = None) -> None:
    """Resolve a submission's future unless its stream went away (cancelled) meanwhile."""
    if future.done():
        return
    try:
        if exc is None:
            future.set_result(version)
        else:
            future.set_exception(exc)
    except InvalidStateError:  # cancelled between the check and the call
        pass
