"""The spool survives damage: what can be read is kept, the damaged file is moved aside, never spread."""

from __future__ import annotations

import pytest

from zerostream_desktop.core.ingest.spool import Spool


@pytest.mark.parametrize("damage", ["truncated", "garbled", "a damaged data page", "bytes changed inside a record"])
def test_a_damaged_spool_is_moved_aside_what_can_be_read_is_kept_and_a_fresh_one_works(tmp_path, damage, caplog):
    path = tmp_path / "spool" / "db.sqlite"
    spool = Spool(path)
    for k in range(40):
        spool.append([f"e{k}-{i}" for i in range(100)], ["d"] * 100, [bytes([k]) * 300] * 100)
    spool.close()
    raw = path.read_bytes()
    page = int.from_bytes(raw[16:18], "big")  # the file's page size (its header says)
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    elif damage == "garbled":  # the first two pages after the schema's
        path.write_bytes(raw[:page] + b"\xff" * 2 * page + raw[3 * page :])
    elif damage == "bytes changed inside a record":  # the file's structure intact: the batch's checksum tells
        at = raw.index(bytes([20]) * 300)
        path.write_bytes(raw[:at] + bytes([21]) * 10 + raw[at + 10 :])
    else:  # two pages in the middle: the records around them are read back
        at = len(raw) // 2 // page * page
        path.write_bytes(raw[:at] + b"\xff" * 2 * page + raw[at + 2 * page :])
    again = Spool(path)
    assert again.moved_aside is not None and again.moved_aside.exists()  # kept, never deleted
    assert not str(again.moved_aside).endswith(".sqlite")  # and never taken for a spool to adopt
    assert "was damaged" in caplog.text and str(again.moved_aside) in caplog.text
    kept = again.read_after(0, 10_000)
    assert again.depth == len(kept) < 4000
    if damage == "bytes changed inside a record":
        assert len(kept) == 3900 and not any(r.event_id.startswith("e20-") for r in kept)  # that batch only
    if damage == "a damaged data page":
        assert len(kept) >= 3700  # all but the batches on the two pages (an append of 100 records is one batch)
    assert all(r.payload == bytes([int(r.event_id[1:].split("-")[0])]) * 300 for r in kept)  # intact records only
    again.append(["new"], ["d"], [b"x"])
    assert again.read_after(0, 10_000)[-1].event_id == "new"


@pytest.mark.parametrize("damaged", ["ca.pem", "server.pem", "server-key.pem"])
def test_damaged_tls_files_are_made_again_and_belong_together(tmp_path, damaged, caplog):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from zerostream_desktop.localbus.security import ensure_tls

    first = ensure_tls(tmp_path)
    (tmp_path / "tls" / damaged).write_bytes(b"-----BEGIN garbage-----\n")
    files = ensure_tls(tmp_path)
    assert "made new ones" in caplog.text
    leaf = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    pem, spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(pem, spki) == leaf.public_key().public_bytes(pem, spki)
    assert leaf.issuer == x509.load_pem_x509_certificate(files.ca_cert.read_bytes()).subject
    assert files == first  # same paths, new contents


def test_records_are_sent_and_acknowledged_across_the_batches_they_were_stored_in(tmp_path):
    spool = Spool(tmp_path / "s.sqlite")
    ids = spool.append([f"e{i}" for i in range(25)], [f"d{i % 3}" for i in range(25)],
                       [f"p{i}".encode() for i in range(25)], batch_size=10)  # fmt: skip
    assert list(ids) == list(range(1, 26))
    first = spool.read_after(0, 15, whole_batches=True)  # a sender reads whole batches: 10, not 15
    assert first.event_ids == [f"e{i}" for i in range(10)] and first.last_id == 10
    assert [r.payload for r in spool.read_after(3, 15)] == [f"p{i}".encode() for i in range(3, 18)]  # any cut
    assert spool.acknowledge(13) == 13 and spool.depth == 12  # a batch acknowledged in part keeps the rest
    assert spool.size_bytes == sum(len(f"p{i}") for i in range(13, 25))
    assert spool.first_id() == 14 and spool.read_after(0, 100).event_ids == [f"e{i}" for i in range(13, 25)]
    spool.dead_letter(17, "INVALID_ARGUMENT: bad")  # out of the middle of a batch: the others keep their ids
    left = spool.read_after(0, 100)
    assert left.ids == [14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25] and left[3].event_id == "e17"
    assert [d.event_id for d in spool.dead_letters()] == ["e16"] and spool.depth == 11
    spool.close()
    again = Spool(tmp_path / "s.sqlite")  # as it was, and new ids follow the old ones, never reused
    assert again.read_after(0, 100).ids == left.ids and again.depth == 11
    assert again.acknowledge(25) == 11 and again.depth == 0 and again.size_bytes == 0
    assert list(again.append(["new"], ["d"], [b"x"])) == [26]


def test_a_spool_of_the_earlier_one_row_per_record_format_keeps_its_records(tmp_path, caplog):
    import logging
    import sqlite3

    caplog.set_level(logging.INFO)
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE records (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, device TEXT NOT NULL,
                              payload BLOB NOT NULL, created_us INTEGER NOT NULL);
        CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, payload BLOB NOT NULL,
                                   reason TEXT NOT NULL, failed_at_us INTEGER NOT NULL);
    """)  # fmt: skip
    db.executemany("INSERT INTO records (event_id, device, payload, created_us) VALUES (?, ?, ?, ?)",
                   [(f"e{i}", "d", bytes([i]) * 5, 1_000 + i) for i in range(30)])  # fmt: skip
    db.execute("DELETE FROM records WHERE id <= 10")  # acknowledged before the upgrade
    db.execute("INSERT INTO dead_letters (event_id, payload, reason, failed_at_us) VALUES ('x', x'00', 'r', 1)")
    db.commit()
    db.close()
    spool = Spool(path)
    assert spool.read_after(0, 100).event_ids == [f"e{i}" for i in range(10, 30)] and spool.depth == 20
    assert spool.size_bytes == 100 and spool.dead_letter_count() == 1 and "earlier version" in caplog.text
    assert spool.read_after(0, 100).ids == list(range(31, 51))  # numbered after every id the old spool gave
    assert spool.append(["new"], ["d"], [b"y"])[0] == 51


@pytest.mark.parametrize("kept_in_memory", [64 << 20, 300])
def test_what_a_sender_reads_is_what_is_on_disk_whether_or_not_it_was_kept_in_memory(
    tmp_path, monkeypatch, kept_in_memory
):
    """The latest appends are read from memory (no blob read back): through partial acknowledgements, a dead
    letter and reads from any cut, each read is what a fresh look at the file gives."""
    import zerostream_desktop.core.ingest.spool as spool_module

    monkeypatch.setattr(spool_module, "RECENT_BYTES", kept_in_memory)  # 300 bytes: only the first appends fit
    spool = Spool(tmp_path / "s.sqlite")
    n = 0
    for k in range(6):
        size = 40 + k
        spool.append([f"e{n + i}" for i in range(size)], [f"d{(n + i) % 7}" for i in range(size)],
                     [f"payload-{n + i}".encode() * (1 + i % 3) for i in range(size)], batch_size=16)  # fmt: skip
        n += size
        if k in (2, 4):
            spool.acknowledge(spool.first_id() + 20)  # inside a batch
        if k == 3:
            spool.dead_letter(spool.first_id() + 5, "INVALID_ARGUMENT: bad")  # from a batch acknowledged in part
            spool.dead_letter(n - 3, "INVALID_ARGUMENT: bad")  # from a whole one: its first part keeps its id
    on_disk = Spool(tmp_path / "s.sqlite")
    fields = ("ids", "event_ids", "devices", "payloads", "created_us")
    for after in (0, 30, 45, 46, 100, 150, n - 1):
        for limit, whole in ((10, False), (50, True), (1000, False)):
            mine, theirs = spool.read_after(after, limit, whole), on_disk.read_after(after, limit, whole)
            assert len(mine) > 0 or after == n - 1
            assert [getattr(mine, f) for f in fields] == [getattr(theirs, f) for f in fields], (after, limit)
    assert spool.acknowledge(n) > 0 and spool.depth == 0
    assert spool.read_after(0, 100).ids == [] and spool._recent_bytes == 0  # nothing is kept past its acknowledgement
