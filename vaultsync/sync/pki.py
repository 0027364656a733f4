"""The shop's certificate authority and each terminal's certificate (DESIGN.md §4, §5).

Trust model, in one paragraph: a shop has one CA (an EC P-256 key and a self-signed
certificate) created by ``vaultsync shop init``. Every terminal holds a certificate
signed by it whose subject CN is the terminal's node id and O the shop id; peers talk
only over mutual TLS with ``auth_mode=required`` against that CA, so a device without
such a certificate cannot complete a handshake at all. The peer's node id is read from
the verified certificate's CN (pynng's ``tls-peer-cn``) and checked against the
replicated ``nodes`` table on connect and on every message: a revoked terminal is
refused and its open connections dropped (``peers.Trust.authorize``). Only the terminal
that ran ``shop init`` holds the CA key, so only it can issue certificates (pairing); a
stolen till can sell offline but cannot mint a certificate for another device. The
certificate's fingerprint is recorded in ``nodes`` at pairing, for the manager and the
audit; it is not compared on connect, because pynng does not expose the peer's
certificate, only its CN.

Files live in ``<data dir>/sync/`` with 0600 permissions (directory 0700)::

    ca.pem  ca.key  node.pem  node.key
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vaultsync.domain.errors import ValidationError, VaultSyncError

SYNC_DIRNAME = "sync"
CA_CERT = "ca.pem"
CA_KEY = "ca.key"
NODE_CERT = "node.pem"
NODE_KEY = "node.key"

CA_NAME_PREFIX = "VaultSync shop CA "
CA_YEARS = 20
NODE_YEARS = 10
_ID_RE = re.compile(r"^[0-9a-f]{4,32}$")


class PkiError(VaultSyncError):
    """The terminal's keys or certificates are missing, unreadable or do not belong together."""

    http_status = 409


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate | bytes) -> str:
    """SHA-256 of the DER certificate, hex: what the ``nodes`` table records at pairing."""
    if isinstance(cert, bytes):
        cert = x509.load_pem_x509_certificate(cert)
    return cert.fingerprint(hashes.SHA256()).hex()


def shop_server_name(shop_id: str) -> str:
    """The DNS name every terminal certificate of a shop carries: clients verify it."""
    return f"shop-{shop_id}.vaultsync"


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.match(value):
        raise ValidationError(f"{what} {value!r} is not a VaultSync id")
    return value


def create_ca(shop_id: str, shop_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new shop CA: may sign terminal certificates only (path length 0)."""
    _check_id(shop_id, "shop id")
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_NAME_PREFIX}{shop_name[:40]}".strip()),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, shop_id),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def new_node_key() -> ec.EllipticCurvePrivateKey:
    return _new_key()


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def issue_node_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    *,
    node_id: str,
    shop_id: str,
    public_key_pem: bytes,
) -> x509.Certificate:
    """Sign a terminal certificate: CN = node id, O = shop id, SAN = node id + shop name."""
    _check_id(node_id, "node id")
    _check_id(shop_id, "shop id")
    try:
        public = serialization.load_pem_public_key(public_key_pem)
    except ValueError as exc:
        raise ValidationError("the terminal's public key is not a PEM public key") from exc
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ValidationError("the terminal's key must be an EC P-256 key")
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, shop_id),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * NODE_YEARS))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(node_id), x509.DNSName(shop_server_name(shop_id))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def cert_identity(cert: x509.Certificate) -> tuple[str, str]:
    """(node id, shop id) from a terminal certificate's subject."""
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if not cn or not org:
        raise PkiError("certificate has no node id / shop id in its subject")
    return str(cn[0].value), str(org[0].value)


def node_from_peer_cn(text: str) -> str | None:
    """The node id in nng's ``tls-peer-cn`` of a verified peer, or None if it is not one.

    mbedTLS reports the subject as ``"<CN>, O=<org>"`` (CN value first, then the other
    attributes); only a well-formed node id is accepted.
    """
    head = text.split(",", 1)[0].strip()
    if head.upper().startswith("CN="):
        head = head[3:]
    return head if _ID_RE.match(head) else None


# --------------------------------------------------------------------------- files


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically (never a world-readable moment)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Identity:
    """This terminal's TLS material, as PEM text (what pynng's TLSConfig takes)."""

    node_id: str
    shop_id: str
    ca_cert_pem: str
    cert_pem: str
    key_pem: str
    ca_key_pem: str | None  # None on a terminal that was given no CA key

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert_pem.encode())

    def ca_key(self) -> ec.EllipticCurvePrivateKey:
        if self.ca_key_pem is None:
            raise PkiError("this terminal holds no shop CA key, so it cannot pair new terminals")
        key = serialization.load_pem_private_key(self.ca_key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError("the shop CA key is not an EC key")
        return key

    def ca_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_cert_pem.encode())


def sync_dir(data_dir: Path) -> Path:
    return data_dir / SYNC_DIRNAME


def has_identity(data_dir: Path) -> bool:
    d = sync_dir(data_dir)
    return all((d / n).is_file() for n in (CA_CERT, NODE_CERT, NODE_KEY))


def save_identity(
    data_dir: Path,
    *,
    ca_cert: bytes,
    node_cert: bytes,
    node_key: bytes,
    ca_key: bytes | None,
) -> None:
    d = sync_dir(data_dir)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    if ca_key is not None:
        _write_private(d / CA_KEY, ca_key)
    _write_private(d / CA_CERT, ca_cert)
    _write_private(d / NODE_KEY, node_key)
    _write_private(d / NODE_CERT, node_cert)


def load_identity(data_dir: Path, *, node_id: str | None = None) -> Identity:
    """Read and cross-check this terminal's material; PkiError with the fix if unusable."""
    d = sync_dir(data_dir)
    if not has_identity(data_dir):
        raise PkiError(
            f"this terminal has no shop certificate in {d}: run `vaultsync shop init` on the shop's "
            "first terminal, or `vaultsync join HOST:PORT CODE` to pair this one"
        )
    for name in (CA_KEY, NODE_KEY):
        p = d / name
        if p.exists() and p.stat().st_mode & 0o077:
            raise PkiError(f"{p} is readable by other users; run `chmod 600 {p}`")
    try:
        ca = x509.load_pem_x509_certificate((d / CA_CERT).read_bytes())
        cert = x509.load_pem_x509_certificate((d / NODE_CERT).read_bytes())
        key_bytes = (d / NODE_KEY).read_bytes()
        key = serialization.load_pem_private_key(key_bytes, password=None)
        ca_key_bytes = (d / CA_KEY).read_bytes() if (d / CA_KEY).exists() else None
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read this terminal's certificates in {d}: {exc}") from exc
    if cert.public_key() != key.public_key():
        raise PkiError(f"{d / NODE_CERT} does not belong to {d / NODE_KEY}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{d / NODE_CERT} is not signed by the shop CA in {d / CA_CERT}") from exc
    cert_node, shop_id = cert_identity(cert)
    if node_id is not None and cert_node != node_id:
        raise PkiError(
            f"the certificate in {d} is for terminal {cert_node}, but this database is terminal {node_id}"
        )
    return Identity(
        node_id=cert_node,
        shop_id=shop_id,
        ca_cert_pem=cert_pem(ca).decode(),
        cert_pem=cert_pem(cert).decode(),
        key_pem=key_bytes.decode(),
        ca_key_pem=ca_key_bytes.decode() if ca_key_bytes else None,
    )


def shop_digest(identity: Identity) -> str:
    """Short stable hash of the CA certificate (shown when pairing, to compare by eye)."""
    return hashlib.sha256(identity.ca_cert_pem.encode()).hexdigest()[:12]
