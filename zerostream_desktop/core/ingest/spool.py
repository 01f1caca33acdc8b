"""A durable queue of records on their way to ZeroBus (SQLite in WAL mode).

Every record is committed here before it is handed to the SDK, and deleted only once the
endpoint acknowledged it, so a crash, a network drop or a server restart loses nothing: what is
left is sent first on the next start. Records the endpoint refuses as invalid move to a
dead-letter table with the reason. The spool has a bound; when it is full producers must wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from zerostream_desktop.core.paths import ensure_private_dir

DEFAULT_MAX_RECORDS = 2_000_000
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so a sender's cursor stays valid
    event_id TEXT NOT NULL,
    device TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    failed_at_us INTEGER NOT NULL
);
"""


def _salvage(path: Path) -> list[tuple[str, str, bytes]]:
    """The records of a damaged spool that can still be read, in order (event id, device, payload)."""
    out: list[tuple[str, str, bytes]] = []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return out
    try:
        top = -1
        for ask in ("SELECT max(id) FROM records", "SELECT seq FROM sqlite_sequence WHERE name = 'records'"):
            try:
                top = int(db.execute(ask).fetchone()[0] or 0)
                break
            except (sqlite3.DatabaseError, TypeError):
                continue
        budget = [5_000]  # failed reads allowed: a spool damaged throughout is not searched row by row forever

        def read(after: int, span: int) -> None:
            try:
                rows = db.execute(
                    "SELECT event_id, device, payload FROM records WHERE id > ? AND id <= ? ORDER BY id",
                    (after, after + span),
                ).fetchall()
            except sqlite3.DatabaseError:  # a damaged page in this range: read its parts, down to single rows
                budget[0] -= 1
                if span > 1 and budget[0] > 0:
                    step = max(1, span // 10)
                    for sub in range(after, after + span, step):
                        read(sub, step)
                return
            out.extend((str(e), str(d), bytes(p)) for e, d, p in rows)

        for start in range(0, top + 1, 1000):
            read(start, 1000)
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
        try:
            self._open()  # reads every record's length: a damaged page shows here
        except sqlite3.DatabaseError as exc:
            self._recover(exc)

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed record survives a crash or power cut
        self._db.executescript(_SCHEMA)
        self._depth = int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])
        self._bytes = int(self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM records").fetchone()[0])

    def _recover(self, error: sqlite3.DatabaseError) -> None:
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
        for i in range(0, len(saved), 10_000):
            part = saved[i : i + 10_000]
            self.append([r[0] for r in part], [r[1] for r in part], [r[2] for r in part])

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def has_room(self, n: int = 1) -> bool:
        return self._depth + n <= self.max_records

    def append(
        self, event_ids: Sequence[str], devices: Sequence[str], payloads: Sequence[bytes], timeout: float | None = None
    ) -> range:
        """Store records durably; wait (up to `timeout`) while the spool is full. Returns their ids."""
        n = len(payloads)
        now_us = time.time_ns() // 1000
        with self._room:
            if not self._room.wait_for(lambda: self.has_room(n) or self._depth == 0, timeout):
                raise SpoolFullError(f"the spool holds {self._depth:,} records (limit {self.max_records:,})")
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                seq = cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
                first = (int(seq[0]) if seq else 0) + 1
                rows = zip(event_ids, devices, payloads, strict=True)
                cur.executemany(
                    "INSERT INTO records (id, event_id, device, payload, created_us) VALUES (?, ?, ?, ?, ?)",
                    ((first + i, e, d, p, now_us) for i, (e, d, p) in enumerate(rows)),
                )
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
            self._depth += n
            self._bytes += sum(len(p) for p in payloads)
            return range(first, first + n)

    def read_after(self, after_id: int, limit: int) -> list[SpooledRecord]:
        """The next records in order, for sending (oldest first)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, device, payload, created_us FROM records WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [SpooledRecord(int(i), e, d, bytes(p), int(c)) for i, e, d, p, c in rows]

    def first_id(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT min(id) FROM records").fetchone()
        return None if row[0] is None else int(row[0])

    def acknowledge(self, up_to_id: int) -> int:
        """Delete every record with id <= `up_to_id`; returns how many went."""
        with self._room:
            sizes = self._db.execute("DELETE FROM records WHERE id <= ? RETURNING length(payload)", (up_to_id,))
            removed = [int(row[0]) for row in sizes.fetchall()]
            self._depth -= len(removed)
            self._bytes -= sum(removed)
            self._room.notify_all()
            return len(removed)

    def dead_letter(self, record_id: int, reason: str) -> None:
        """Move one record to the dead letters with the endpoint's reason."""
        with self._room:
            row = self._db.execute("SELECT event_id, payload FROM records WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                return
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            cur.execute(
                "INSERT INTO dead_letters (event_id, payload, reason, failed_at_us) VALUES (?, ?, ?, ?)",
                (row[0], row[1], reason, time.time_ns() // 1000),
            )
            cur.execute("DELETE FROM records WHERE id = ?", (record_id,))
            cur.execute("COMMIT")
            self._depth -= 1
            self._bytes -= len(row[1])
            self._room.notify_all()

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
            row = self._db.execute("SELECT min(created_us) FROM records").fetchone()
        return None if row[0] is None else int(row[0])

    def waiting(self, limit: int = 1_000_000) -> list[SpooledRecord]:
        return self.read_after(0, limit)

    def _in_transaction(self, *statements: str) -> None:
        """Run statements as one transaction (callers hold the lock), then count what waits again."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                cur.execute(statement)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._depth = int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])
        self._bytes = int(self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM records").fetchone()[0])

    def retry_dead_letters(self) -> int:
        """Put every dead letter back among the waiting records (sent again, after the others)."""
        with self._room:
            moved = int(self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
            self._in_transaction(
                "INSERT INTO records (event_id, device, payload, created_us) "
                "SELECT event_id, '', payload, failed_at_us FROM dead_letters ORDER BY id",
                "DELETE FROM dead_letters",
            )
        return moved

    def discard(self, dead_letters: bool) -> int:
        """Delete every dead letter, or every waiting record: the caller asked the user first."""
        with self._room:
            table = "dead_letters" if dead_letters else "records"
            gone = int(self._db.execute(f"DELETE FROM {table}").rowcount)  # noqa: S608 (one of two names)
            if not dead_letters:
                self._depth, self._bytes = 0, 0
                self._room.notify_all()
        return gone

    def adopt(self, other: Path) -> int:
        """Move every record (and dead letter) of another spool file into this one, after what is here."""
        with self._room:
            self._db.execute("ATTACH DATABASE ? AS other", (str(other),))
            try:
                moved = int(self._db.execute("SELECT count(*) FROM other.records").fetchone()[0])
                self._in_transaction(
                    "INSERT INTO records (event_id, device, payload, created_us) "
                    "SELECT event_id, device, payload, created_us FROM other.records ORDER BY id",
                    "INSERT INTO dead_letters (event_id, payload, reason, failed_at_us) "
                    "SELECT event_id, payload, reason, failed_at_us FROM other.dead_letters",
                )
            finally:
                self._db.execute("DETACH DATABASE other")
        return moved

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
