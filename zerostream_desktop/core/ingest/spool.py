"""A durable queue of records on their way to ZeroBus (SQLite in WAL mode).

Every record is committed here before it is handed to the SDK, and deleted only once the
endpoint acknowledged it, so a crash, a network drop or a server restart loses nothing: what is
left is sent first on the next start. Records the endpoint refuses as invalid move to a
dead-letter table with the reason. The spool has a bound; when it is full producers must wait.

Records are stored a batch to a row (the records one `append` stored, in one blob with their ids and
devices), so the SQLite work per record is a few bytes copied, not a row inserted, read and deleted:
at 100,000 events/s a row per record took most of a core. Record ids still count records, one by
one, and are never reused; a batch read or acknowledged in part keeps the rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, overload

import numpy as np

from zerostream_desktop.core.paths import ensure_private_dir

DEFAULT_MAX_RECORDS = 2_000_000
RECENT_BYTES = 64 << 20  # payload bytes of the latest appends kept in memory too, so sending reads no blob back
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    first_id INTEGER PRIMARY KEY,  -- the id of its first record; the others follow one by one
    n INTEGER NOT NULL,            -- records in it
    skip INTEGER NOT NULL DEFAULT 0,  -- its first records already acknowledged (a batch sent in part)
    event_ids TEXT NOT NULL,       -- newline-separated
    devices TEXT NOT NULL,         -- newline-separated
    lengths BLOB NOT NULL,         -- each payload's length, uint32 little-endian
    payloads BLOB NOT NULL,        -- the payloads one after the other
    size INTEGER NOT NULL,         -- bytes of the records not yet acknowledged
    created_us INTEGER NOT NULL,
    crc INTEGER NOT NULL           -- CRC-32 of its four parts: damage inside a blob shows too
);
CREATE TABLE IF NOT EXISTS next_record (id INTEGER NOT NULL);  -- one row: ids are never reused
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    failed_at_us INTEGER NOT NULL
);
"""
_BATCH_COLUMNS = "first_id, n, skip, event_ids, devices, lengths, payloads, created_us, crc"
_ONE_BATCH = f"SELECT {_BATCH_COLUMNS} FROM batches WHERE first_id = ?"  # noqa: S608
_Row = tuple[str, str, bytes, int]  # event id, device, payload, spooled at (epoch microseconds)


def _crc(event_ids: str, devices: str, lengths: bytes, payloads: bytes) -> int:
    crc = zlib.crc32(payloads)
    crc = zlib.crc32(lengths, crc)
    crc = zlib.crc32(event_ids.encode("utf-8"), crc)
    return zlib.crc32(devices.encode("utf-8"), crc)


def _rows_of_batch(row: Sequence) -> list[_Row]:  # type: ignore[type-arg]
    """The records of a batches row still waiting (skip applied)."""
    part = SpooledRecords.of_row(*row)
    return list(zip(part.event_ids, part.devices, part.payloads, part.created_us, strict=True))


def _tables(db: sqlite3.Connection, schema: str = "main") -> set[str]:
    return {str(r[0]) for r in db.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")}  # noqa: S608


def _salvage(path: Path) -> list[_Row]:
    """The records of a damaged spool that can still be read, in order (event id, device, payload, spooled at)."""
    out: list[_Row] = []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return out
    try:
        try:
            tables = _tables(db)
        except sqlite3.DatabaseError:
            tables = {"batches", "records"}
        budget = [5_000]  # failed reads allowed: a spool damaged throughout is not searched row by row forever

        def read(sql: str, after: int, span: int, convert) -> None:  # type: ignore[no-untyped-def]
            try:
                rows = db.execute(sql, (after, after + span)).fetchall()
            except sqlite3.DatabaseError:  # a damaged page in this range: read its parts, down to single rows
                budget[0] -= 1
                if span > 1 and budget[0] > 0:
                    step = max(1, span // 10)
                    for sub in range(after, after + span, step):
                        read(sql, sub, step, convert)
                return
            for row in rows:
                with contextlib.suppress(ValueError, TypeError):  # a row whose blobs do not agree: left out
                    out.extend(convert(row))

        for table, top_sql, sql, convert in (
            ("records", "SELECT max(id) FROM records",
             "SELECT event_id, device, payload, created_us FROM records WHERE id > ? AND id <= ? ORDER BY id",
             lambda r: [(str(r[0]), str(r[1]), bytes(r[2]), int(r[3]))]),
            ("batches", "SELECT max(first_id) FROM batches",
             f"SELECT {_BATCH_COLUMNS} FROM batches WHERE first_id > ? AND first_id <= ? ORDER BY first_id",  # noqa: S608
             _rows_of_batch),
        ):  # fmt: skip
            if table not in tables:
                continue
            top = -1
            for ask in (top_sql, "SELECT max(id) FROM next_record", "SELECT seq FROM sqlite_sequence"):
                try:
                    top = int(db.execute(ask).fetchone()[0] or 0)
                    break
                except (sqlite3.DatabaseError, TypeError):
                    continue
            span = 1000 if table == "records" else 100_000
            for start in range(-1, top + 1, span):
                read(sql, start, span, convert)
    finally:
        db.close()
    return out


@dataclass(frozen=True)
class SpooledRecord:
    id: int
    event_id: str
    device: str
    payload: bytes
    created_us: int


class SpooledRecords:
    """Records read from the spool, in order: column lists, so a batch of thousands is not thousands of
    objects; iterating or indexing gives `SpooledRecord`s. Ids are consecutive within one run of
    `runs` (first id, count)."""

    __slots__ = ("created_us", "devices", "event_ids", "ids", "payloads")

    def __init__(
        self, ids: list[int], event_ids: list[str], devices: list[str], payloads: list[bytes], created_us: list[int]
    ) -> None:
        self.ids, self.event_ids, self.devices, self.payloads, self.created_us = (
            ids, event_ids, devices, payloads, created_us,
        )  # fmt: skip

    @classmethod
    def empty(cls) -> SpooledRecords:
        return cls([], [], [], [], [])

    @classmethod
    def of_row(
        cls, first: int, n: int, skip: int, event_ids: str, devices: str, lengths: bytes, payloads: bytes, created: int,
        crc: int, take: int | None = None,
    ) -> SpooledRecords:  # fmt: skip
        """The records of one stored batch from its `skip`-th, at most `take` of them (ValueError: it is damaged)."""
        if _crc(event_ids, devices, lengths, payloads) != crc:
            raise ValueError(f"spool batch {first} is damaged (its checksum does not match)")
        ends = np.cumsum(np.frombuffer(lengths, dtype="<u4"), dtype=np.int64)
        ev, dv = event_ids.split("\n"), devices.split("\n")
        if len(ends) != n or len(ev) != n or len(dv) != n or (n and int(ends[-1]) != len(payloads)):
            raise ValueError(f"spool batch {first}: its parts do not agree")
        stop = n if take is None else min(n, skip + take)
        bounds = [0, *ends.tolist()]
        blob = bytes(payloads)
        return cls(
            list(range(first + skip, first + stop)), ev[skip:stop], dv[skip:stop],
            [blob[bounds[i] : bounds[i + 1]] for i in range(skip, stop)], [int(created)] * (stop - skip),
        )  # fmt: skip

    def extend(self, other: SpooledRecords) -> None:
        self.ids += other.ids
        self.event_ids += other.event_ids
        self.devices += other.devices
        self.payloads += other.payloads
        self.created_us += other.created_us

    def __len__(self) -> int:
        return len(self.ids)

    def __bool__(self) -> bool:
        return bool(self.ids)

    @overload
    def __getitem__(self, i: int) -> SpooledRecord: ...
    @overload
    def __getitem__(self, i: slice) -> SpooledRecords: ...
    def __getitem__(self, i: int | slice) -> SpooledRecord | SpooledRecords:
        if isinstance(i, slice):
            return SpooledRecords(self.ids[i], self.event_ids[i], self.devices[i], self.payloads[i], self.created_us[i])
        return SpooledRecord(self.ids[i], self.event_ids[i], self.devices[i], self.payloads[i], self.created_us[i])

    def __iter__(self) -> Iterator[SpooledRecord]:
        return map(SpooledRecord, self.ids, self.event_ids, self.devices, self.payloads, self.created_us)

    @property
    def last_id(self) -> int:
        return self.ids[-1]

    @property
    def size_bytes(self) -> int:
        return sum(map(len, self.payloads))


@dataclass(frozen=True)
class DeadLetter:
    event_id: str
    reason: str
    failed_at_us: int
    payload: bytes


class Spool:
    """Thread-safe; one connection guarded by a lock (SQLite serialises writers anyway)."""

    def __init__(self, path: Path, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self.path = Path(path)
        ensure_private_dir(self.path.parent)
        self.max_records = max_records
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._lock_file: IO[bytes] | None = None
        self.moved_aside: Path | None = None  # where a corrupt spool file went, when one was found
        self._recent: dict[int, SpooledRecords] = {}  # this process's appends by first id, until acknowledged
        self._recent_bytes = 0
        try:
            self._open()  # reads every batch's size: a damaged page shows here
        except (sqlite3.DatabaseError, ValueError) as exc:
            self._recover(exc)

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA page_size=16384")  # a new file's: a batch's blob spans 4x fewer pages
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed record survives a crash or power cut
        self._db.executescript(_SCHEMA)
        if "records" in _tables(self._db):
            self._upgrade()
        for row in self._db.execute(f"SELECT {_BATCH_COLUMNS} FROM batches"):  # noqa: S608 (damage shows here)
            if _crc(*row[3:7]) != row[8]:
                raise ValueError(f"spool batch {row[0]} is damaged (its checksum does not match)")
        self._count()

    def _count(self) -> None:
        sums = "SELECT coalesce(sum(n - skip), 0), coalesce(sum(size), 0) FROM batches"
        depth, size = self._db.execute(sums).fetchone()
        self._depth, self._bytes = int(depth), int(size)

    def _upgrade(self) -> None:
        """A spool of an earlier version (a row per record): its records become batches, in order."""
        rows = self._db.execute("SELECT event_id, device, payload, created_us FROM records ORDER BY id").fetchall()
        top = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        with self._transaction() as cur:
            cur.execute("DELETE FROM next_record")
            cur.execute("INSERT INTO next_record VALUES (?)", ((int(top[0]) if top else 0) + 1,))
            self._insert_rows(cur, [(str(e), str(d), bytes(p), int(c)) for e, d, p, c in rows])
            cur.execute("DROP TABLE records")
        if rows:
            log.info("the spool %s was of an earlier version: its %d records were kept", self.path, len(rows))

    def _recover(self, error: Exception) -> None:
        """A damaged spool: keep what can be read, move the file aside (never deleted), start a fresh one."""
        with contextlib.suppress(Exception):
            self._db.close()
        saved = _salvage(self.path)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.moved_aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{self.moved_aside}{suffix}"))
        log.error(
            "the spool %s was damaged (%s): %d records could be read and were kept; the damaged file is at %s "
            "(remove it once you no longer need it)", self.path, error, len(saved), self.moved_aside,
        )  # fmt: skip
        self._open()
        self._store_rows(saved)

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def has_room(self, n: int = 1) -> bool:
        return self._depth + n <= self.max_records

    def _forget_recent(self) -> None:
        self._recent.clear()
        self._recent_bytes = 0

    def _next_id(self, cur: sqlite3.Cursor) -> int:
        row = cur.execute("SELECT id FROM next_record").fetchone()
        if row is not None:
            return int(row[0])
        cur.execute("INSERT INTO next_record VALUES (1)")
        return 1

    @contextlib.contextmanager
    def _transaction(self, synced: bool = True) -> Iterator[sqlite3.Cursor]:
        """One write transaction (callers hold the lock, or are opening the spool); rolled back on error.

        Unless `synced`, its commit does not wait for the disk: it is on disk with the next synced one (the
        log is written in order), and until then a power cut can only undo it.
        """
        cur = self._db.cursor()
        if not synced:
            cur.execute("PRAGMA synchronous=NORMAL")
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                _rollback(cur)
                raise
        finally:
            if not synced:
                cur.execute("PRAGMA synchronous=FULL")

    def _insert_rows(self, cur: sqlite3.Cursor, rows: Sequence[_Row]) -> None:
        """Store rows (salvaged, moved, or retried) inside the caller's transaction, in order: a batch per run
        of up to 10,000 with the same spooled time, so each record keeps its own."""
        start = 0
        for i in range(1, len(rows) + 1):
            if i == len(rows) or i - start == 10_000 or rows[i][3] != rows[start][3]:
                run = rows[start:i]
                self._insert_columns(cur, [r[0] for r in run], [r[1] for r in run], [r[2] for r in run], run[0][3])
                start = i

    def _insert_columns(
        self, cur: sqlite3.Cursor, event_ids: Sequence[str], devices: Sequence[str], payloads: Sequence[bytes],
        created_us: int,
    ) -> int:  # fmt: skip
        n = len(payloads)
        if len(event_ids) != n or len(devices) != n:
            raise ValueError(f"{len(event_ids)} event ids and {len(devices)} devices for {n} payloads")
        texts, blob = ("\n".join(event_ids), "\n".join(devices)), b"".join(payloads)
        if n and (texts[0].count("\n") != n - 1 or texts[1].count("\n") != n - 1):
            raise ValueError("an event id or a device name holds a line break")
        first = self._next_id(cur)
        lengths = np.fromiter(map(len, payloads), dtype="<u4", count=n).tobytes()
        cur.execute(
            f"INSERT INTO batches ({_BATCH_COLUMNS}, size) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (first, n, *texts, lengths, blob, created_us, _crc(*texts, lengths, blob), len(blob)),
        )
        cur.execute("UPDATE next_record SET id = ?", (first + n,))
        return first

    def append(
        self, event_ids: Sequence[str], devices: Sequence[str], payloads: Sequence[bytes], timeout: float | None = None,
        batch_size: int | None = None,
    ) -> range:  # fmt: skip
        """Store records durably (one transaction); wait (up to `timeout`) while the spool is full. Returns their ids.

        They are kept as one batch, or batches of at most `batch_size` (what a sender reads at once).
        """
        n = len(payloads)
        step = max(1, batch_size or n)
        now_us = time.time_ns() // 1000
        with self._room:
            if not self._room.wait_for(lambda: self.has_room(n) or self._depth == 0, timeout):
                raise SpoolFullError(f"the spool holds {self._depth:,} records (limit {self.max_records:,})")
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                first = self._next_id(cur)
                stored = []
                for i in range(0, n, step):
                    j = i + step
                    at = self._insert_columns(cur, event_ids[i:j], devices[i:j], payloads[i:j], now_us)
                    stored.append((at, i, j))
                cur.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # e.g. its disk is full: nothing was stored
                _rollback(cur)
                raise SpoolWriteError(
                    f"cannot write to the spool {self.path}: {exc}; the fleet waits, holding its events, until "
                    "there is room (free space on that disk)"
                ) from exc
            except BaseException:
                _rollback(cur)
                raise
            size = sum(map(len, payloads))
            self._depth += n
            self._bytes += size
            if self._recent_bytes + size <= RECENT_BYTES:  # else a sender far behind reads them back
                for at, i, j in stored:
                    part = list(payloads[i:j])
                    ids = list(range(at, at + len(part)))
                    self._recent[at] = SpooledRecords(
                        ids, list(event_ids[i:j]), list(devices[i:j]), part, [now_us] * len(part)
                    )
                self._recent_bytes += size
            return range(first, first + n)

    def _store_rows(self, rows: Sequence[_Row]) -> None:
        """Append rows (salvaged from a damaged file) in one transaction."""
        with self._room:
            with self._transaction() as cur:
                self._insert_rows(cur, rows)
            self._count()

    def read_after(self, after_id: int, limit: int, whole_batches: bool = False) -> SpooledRecords:
        """The next records in order, for sending (oldest first): `limit` of them, or all there are.

        With `whole_batches`, only whole stored batches up to `limit` records (at least part of one): a
        sender that acknowledges them leaves no batch in part.
        """
        out = SpooledRecords.empty()
        with self._lock:
            start = self._db.execute("SELECT max(first_id) FROM batches WHERE first_id <= ?", (after_id,)).fetchone()[0]
            rows = self._db.execute(
                "SELECT first_id, n, skip FROM batches WHERE first_id >= ? ORDER BY first_id",
                (start if start is not None else 0,),
            )
            for first, n, skip in rows:
                skip = max(skip, after_id + 1 - first)
                if skip >= n:
                    continue
                room = limit - len(out)
                if whole_batches and out and n - skip > room:
                    break
                recent = self._recent.get(first)
                if recent is not None:
                    out.extend(recent[skip : min(n, skip + room)])
                else:
                    _, _, _, event_ids, devices, lengths, payloads, created, crc = self._db.execute(
                        _ONE_BATCH, (first,)
                    ).fetchone()
                    out.extend(
                        SpooledRecords.of_row(first, n, skip, event_ids, devices, lengths, payloads, created, crc, room)
                    )
                if len(out) >= limit:
                    break
        return out

    def first_id(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT first_id + skip FROM batches ORDER BY first_id LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def acknowledge(self, up_to_id: int) -> int:
        """Delete every record with id <= `up_to_id`; returns how many went."""
        with self._room:
            # not synced: a power cut that undid it would only send these records again, never lose one
            with self._transaction(synced=False) as cur:
                gone = cur.execute(
                    "DELETE FROM batches WHERE first_id <= ? AND first_id + n - 1 <= ? RETURNING n - skip, size",
                    (up_to_id, up_to_id),
                ).fetchall()
                removed, size = sum(int(r[0]) for r in gone), sum(int(r[1]) for r in gone)
                part = cur.execute(
                    "SELECT first_id, n, skip, lengths, size FROM batches WHERE first_id <= ? AND first_id + skip <= ?",
                    (up_to_id, up_to_id),
                ).fetchone()
                if part is not None:  # a batch acknowledged in part: its first records are skipped from now on
                    first, n, skip, lengths, left = part
                    new_skip = up_to_id - first + 1
                    ends = np.cumsum(np.frombuffer(lengths, dtype="<u4"), dtype=np.int64)
                    new_left = int(ends[-1] - ends[new_skip - 1])
                    cur.execute("UPDATE batches SET skip = ?, size = ? WHERE first_id = ?", (new_skip, new_left, first))
                    removed += new_skip - skip
                    size += int(left) - new_left
            self._depth -= removed
            self._bytes -= size
            while self._recent:
                first, part = next(iter(self._recent.items()))
                if part.last_id > up_to_id:
                    break
                del self._recent[first]
                self._recent_bytes -= sum(map(len, part.payloads))
            self._room.notify_all()
            return removed

    def dead_letter(self, record_id: int, reason: str) -> None:
        """Move one record to the dead letters with the endpoint's reason."""
        with self._room:
            row = self._db.execute(
                f"SELECT {_BATCH_COLUMNS} FROM batches WHERE first_id <= ? ORDER BY first_id DESC LIMIT 1",  # noqa: S608
                (record_id,),
            ).fetchone()
            if row is None or not row[0] + row[2] <= record_id < row[0] + row[1]:
                return
            first, skip = int(row[0]), int(row[2])
            records = SpooledRecords.of_row(*row)
            self._forget_recent()  # its batch is split in two
            at = record_id - first - skip
            bad = records[at]
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO dead_letters (event_id, payload, reason, failed_at_us) VALUES (?, ?, ?, ?)",
                    (bad.event_id, bad.payload, reason, time.time_ns() // 1000),
                )
                cur.execute("DELETE FROM batches WHERE first_id = ?", (first,))
                for part in (records[:at], records[at + 1 :]):  # the records around it keep their ids
                    if part:
                        self._insert_part(cur, part)
            self._depth -= 1
            self._bytes -= len(bad.payload)
            self._room.notify_all()

    def _insert_part(self, cur: sqlite3.Cursor, part: SpooledRecords) -> None:
        lengths = np.fromiter(map(len, part.payloads), dtype="<u4", count=len(part)).tobytes()
        texts, blob = ("\n".join(part.event_ids), "\n".join(part.devices)), b"".join(part.payloads)
        cur.execute(
            f"INSERT INTO batches ({_BATCH_COLUMNS}, size) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (part.ids[0], len(part), *texts, lengths, blob, part.created_us[0], _crc(*texts, lengths, blob), len(blob)),
        )

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, reason, failed_at_us, payload FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [DeadLetter(e, r, int(t), bytes(p)) for e, r, t, p in rows]

    def dead_letter_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])

    def oldest_us(self) -> int | None:
        """When the oldest waiting record was spooled (epoch microseconds)."""
        with self._lock:
            row = self._db.execute("SELECT min(created_us) FROM batches").fetchone()
        return None if row[0] is None else int(row[0])

    def waiting(self, limit: int = 1_000_000) -> SpooledRecords:
        return self.read_after(0, limit)

    def retry_dead_letters(self) -> int:
        """Put every dead letter back among the waiting records (sent again, after the others)."""
        with self._room:
            rows = self._db.execute("SELECT event_id, payload, failed_at_us FROM dead_letters ORDER BY id").fetchall()
            with self._transaction() as cur:
                self._insert_rows(cur, [(str(e), "", bytes(p), int(t)) for e, p, t in rows])
                cur.execute("DELETE FROM dead_letters")
            self._count()
            self._room.notify_all()
        return len(rows)

    def discard(self, dead_letters: bool) -> int:
        """Delete every dead letter, or every waiting record: the caller asked the user first."""
        with self._room:
            if dead_letters:
                return int(self._db.execute("DELETE FROM dead_letters").rowcount)
            gone = self._depth
            self._db.execute("DELETE FROM batches")
            self._depth, self._bytes = 0, 0
            self._forget_recent()
            self._room.notify_all()
        return gone

    def adopt(self, other: Path) -> int:
        """Move every record (and dead letter) of another spool file into this one, after what is here."""
        source = Spool(other)  # an earlier version's file is upgraded as it opens; a damaged one salvaged
        try:
            rows: list[_Row] = [(r.event_id, r.device, r.payload, r.created_us) for r in source.waiting(1 << 62)]
            letters = source._db.execute(
                "SELECT event_id, payload, reason, failed_at_us FROM dead_letters ORDER BY id"
            ).fetchall()
        finally:
            source.close()
        with self._room:
            with self._transaction() as cur:
                self._insert_rows(cur, rows)
                cur.executemany(
                    "INSERT INTO dead_letters (event_id, payload, reason, failed_at_us) VALUES (?, ?, ?, ?)", letters
                )
            self._count()
            self._room.notify_all()
        return len(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        lock = getattr(self, "_lock_file", None)
        if lock is not None:
            lock.close()  # releases the claim: another producer may take what is left
            self._lock_file = None


class SpoolBusyError(RuntimeError):
    """Every spool for this destination is held by a running producer and no new one could be made."""


def claim_spool(folder: Path, stem: str, producer: str, max_records: int = DEFAULT_MAX_RECORDS) -> Spool:
    """A spool for one producer process, held with an exclusive lock until it is closed (or the process dies).

    Producers streaming to the same destination (the desktop app, `zerostream stream`, the web
    simulator on one data folder) never share a file. A spool left by a producer that died, or by
    an older version (`<stem>.sqlite`), is free to take: it is taken first, so its records go first.
    """
    folder = ensure_private_dir(Path(folder))
    spool = None
    for path in (folder / f"{stem}@{producer}{'' if n == 1 else f'-{n}'}.sqlite" for n in range(1, 64)):
        lock = _try_lock(path.with_suffix(".lock"))
        if lock is None:
            continue
        try:
            spool = Spool(path, max_records=max_records)
        except BaseException:
            lock.close()
            raise
        spool._lock_file = lock
        break
    if spool is None:
        raise SpoolBusyError(f"every spool for {stem} in {folder} is in use by another producer")
    for other in sorted(folder.glob(f"{stem}*.sqlite")):
        if other != spool.path and _belongs(other.name, stem):
            _adopt_if_free(spool, other)
    return spool


def _belongs(name: str, stem: str) -> bool:
    """`<stem>.sqlite` (older versions) or `<stem>@<producer>[-n].sqlite`, not another table's spool."""
    rest = name[len(stem) : -len(".sqlite")]
    return rest == "" or rest.startswith("@")


def _adopt_if_free(spool: Spool, other: Path) -> None:
    lock = _try_lock(other.with_suffix(".lock"))
    if lock is None:
        return  # a running producer's
    try:
        moved = spool.adopt(other)
    except sqlite3.Error as exc:
        log.error("cannot take over the records of %s (%s); left where they are", other, exc)
        return
    finally:
        lock.close()
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{other}{suffix}").unlink()
    if moved:
        log.info("took over %d records left in %s by a producer that stopped", moved, other.name)


def held(path: Path) -> bool:
    """Whether a running producer holds this spool file."""
    lock = _try_lock(Path(path).with_suffix(".lock"))
    if lock is None:
        return True
    lock.close()
    return False


def _try_lock(path: Path) -> IO[bytes] | None:
    import fcntl

    handle = path.open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
    return handle


class SpoolFullError(RuntimeError):
    pass


class SpoolWriteError(RuntimeError):
    """The spool's database refused a write (its disk is full, or read-only): nothing of it was stored."""


def _rollback(cur: sqlite3.Cursor) -> None:
    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already (a full disk does)
        cur.execute("ROLLBACK")
