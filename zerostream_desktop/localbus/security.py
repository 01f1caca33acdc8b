"""The localbus local CA and server certificate (its bearer token is in `token`)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LEAF_DAYS = 397
CA_DAYS = 3650
_SANS = [
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
]


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        return self.ca_cert.read_bytes(), self.server_cert.read_bytes(), self.server_key.read_bytes()


def ensure_tls(data_dir: Path) -> TlsFiles:
    """A local CA and a localhost server certificate in `<data_dir>/tls`, made or renewed as needed."""
    folder = Path(data_dir) / "tls"
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    present = [p for p in (files.ca_cert, files.server_cert, files.server_key) if p.exists()]
    if len(present) == 3 and _still_valid(files):
        return files
    if present:
        logging.getLogger(__name__).warning(
            "the TLS files in %s are unreadable, mismatched or about to expire: made new ones (clients trust "
            "the new CA file)",
            folder,
        )
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ZeroStream localbus CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_SANS), critical=False)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.ca_cert, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.server_cert, leaf.public_bytes(serialization.Encoding.PEM), 0o644)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(files.server_key, key_pem, 0o600)
    return files


def _still_valid(files: TlsFiles) -> bool:
    """The CA, the server certificate and its key all load, belong together, and last another week."""
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        leaf = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):
        return False
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(pem, spki) != leaf.public_key().public_bytes(pem, spki):
        return False
    if leaf.issuer != ca.subject:
        return False
    return leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=7)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
