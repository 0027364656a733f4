"""Shop CA and terminal certificates: what they say, where they live, how they are checked."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from vaultsync.domain.errors import ConflictError, ValidationError
from vaultsync.store import Store
from vaultsync.store.models import Node
from vaultsync.sync import pairing, pki


def test_shop_init_creates_a_ca_and_this_terminals_certificate(sqlite_store: Store, tmp_path: Path) -> None:
    ident = pairing.init_shop(sqlite_store, tmp_path, name="Card Castle")
    assert (ident.node_id, ident.shop_id) == (sqlite_store.node_id, sqlite_store.shop_id)
    cert = x509.load_pem_x509_certificate(ident.cert_pem.encode())
    assert pki.cert_identity(cert) == (sqlite_store.node_id, sqlite_store.shop_id)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert pki.shop_server_name(sqlite_store.shop_id) in sans.get_values_for_type(x509.DNSName)
    cert.verify_directly_issued_by(ident.ca_cert())
    d = pki.sync_dir(tmp_path)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in (pki.CA_KEY, pki.CA_CERT, pki.NODE_KEY, pki.NODE_CERT):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    with sqlite_store.read() as s:
        row = s.get(Node, sqlite_store.node_id)
        assert row is not None and row.cert_fingerprint == ident.fingerprint and row.paired_at is not None
    with pytest.raises(ConflictError, match="already belongs"):
        pairing.init_shop(sqlite_store, tmp_path, name="again")


def test_load_identity_refuses_mismatched_or_exposed_material(sqlite_store: Store, tmp_path: Path) -> None:
    pairing.init_shop(sqlite_store, tmp_path, name="Shop")
    with pytest.raises(pki.PkiError, match="this database is terminal"):
        pki.load_identity(tmp_path, node_id="0123456789abcdef")
    key = pki.sync_dir(tmp_path) / pki.NODE_KEY
    key.chmod(0o644)
    with pytest.raises(pki.PkiError, match="readable by other users"):
        pki.load_identity(tmp_path)
    key.chmod(0o600)
    other = pki.create_ca("ab" * 16, "Other")
    (pki.sync_dir(tmp_path) / pki.CA_CERT).write_bytes(pki.cert_pem(other[1]))
    with pytest.raises(pki.PkiError, match="not signed by the shop CA"):
        pki.load_identity(tmp_path)


def test_missing_identity_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(pki.PkiError, match="shop init"):
        pki.load_identity(tmp_path)


def test_certificates_are_only_issued_for_well_formed_ids_and_p256_keys() -> None:
    ca_key, ca_cert = pki.create_ca("ab" * 16, "Shop")
    key = pki.new_node_key()
    with pytest.raises(ValidationError):
        pki.issue_node_cert(
            ca_key, ca_cert, node_id="../etc", shop_id="ab" * 16, public_key_pem=pki.public_pem(key)
        )
    with pytest.raises(ValidationError):
        pki.issue_node_cert(ca_key, ca_cert, node_id="abcd1234", shop_id="ab" * 16, public_key_pem=b"junk")


@pytest.mark.parametrize(
    ("cn", "node"),
    [
        ("0123456789abcdef, O=shop", "0123456789abcdef"),
        ("CN=0123456789abcdef, O=shop", "0123456789abcdef"),
        ("evil node, O=x", None),
        ("", None),
    ],
)
def test_node_id_from_peer_cn(cn: str, node: str | None) -> None:
    assert pki.node_from_peer_cn(cn) == node
