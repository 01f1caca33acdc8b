"""The spool survives damage: what can be read is kept, the damaged file is moved aside, never spread."""

from __future__ import annotations

import pytest

from zerostream_desktop.core.ingest.spool import Spool


@pytest.mark.parametrize("damage", ["truncated", "garbled", "a damaged data page"])
def test_a_damaged_spool_is_moved_aside_what_can_be_read_is_kept_and_a_fresh_one_works(tmp_path, damage, caplog):
    path = tmp_path / "spool" / "db.sqlite"
    spool = Spool(path)
    for k in range(40):
        spool.append([f"e{k}-{i}" for i in range(100)], ["d"] * 100, [bytes([k]) * 300] * 100)
    spool.close()
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    elif damage == "garbled":
        path.write_bytes(raw[:4096] + b"\xff" * 8192 + raw[4096 + 8192 :])
    else:  # two pages in the middle: the records around them are read back
        at = len(raw) // 2 // 4096 * 4096
        path.write_bytes(raw[:at] + b"\xff" * 8192 + raw[at + 8192 :])
    again = Spool(path)
    assert again.moved_aside is not None and again.moved_aside.exists()  # kept, never deleted
    assert not str(again.moved_aside).endswith(".sqlite")  # and never taken for a spool to adopt
    assert "was damaged" in caplog.text and str(again.moved_aside) in caplog.text
    kept = again.read_after(0, 10_000)
    assert again.depth == len(kept) < 4000
    if damage == "a damaged data page":
        assert len(kept) >= 3900  # all but the rows of the two pages
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
