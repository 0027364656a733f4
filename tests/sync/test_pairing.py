"""Pairing a new terminal over a real TLS socket with a one-time code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from vaultsync.domain.errors import AuthenticationError, ConflictError, ValidationError
from vaultsync.store import Store, open_store
from vaultsync.store.models import Node, PairingCode
from vaultsync.sync import pairing, pki, transport


@pytest.fixture
def first(tmp_path: Path) -> Iterator[tuple[Store, Path, pki.Identity, transport.Server]]:
    d = tmp_path / "first"
    d.mkdir()
    store = open_store(f"sqlite:///{d / 'vaultsync.db'}")
    ident = pairing.init_shop(store, d, name="Card Castle")
    srv = pairing.pairing_server(store, ident, host="127.0.0.1", port=0, shop_name="Card Castle")
    srv.start()
    yield store, d, ident, srv
    srv.stop()
    store.close()


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[tuple[Store, Path]]:
    d = tmp_path / "new"
    d.mkdir()
    store = open_store(f"sqlite:///{d / 'vaultsync.db'}")
    yield store, d
    store.close()


def test_a_new_terminal_joins_with_the_code_and_gets_a_certificate(first, newcomer) -> None:  # type: ignore[no-untyped-def]
    store, _, ident, srv = first
    new_store, new_dir = newcomer
    code = pairing.create_code(store)
    assert len(code.code) == 9 and code.code[4] == "-"
    result = pairing.join(new_store, new_dir, "127.0.0.1", srv.port, code.code.lower(), name="Register 2")
    assert (result.shop_id, result.shop_name) == (ident.shop_id, "Card Castle")
    assert new_store.shop_id == ident.shop_id  # the database adopted the shop's mesh id
    loaded = pki.load_identity(new_dir, node_id=new_store.node_id)
    assert loaded.ca_cert_pem == ident.ca_cert_pem and loaded.ca_key_pem is None
    with store.read() as s:
        row = s.get(Node, new_store.node_id)
        assert row is not None and row.name == "Register 2" and row.cert_fingerprint == loaded.fingerprint
        used = s.scalars(select(PairingCode)).one()
        assert used.used_by_node == new_store.node_id and used.used_at is not None
    # the nodes row was written through change capture, so it replicates to every peer
    from vaultsync.store.models import Change

    with store.read() as s:
        assert s.scalars(
            select(Change.pk).where(Change.table_name == "nodes", Change.pk == new_store.node_id)
        ).first()


def test_a_code_works_once(first, newcomer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, _, _, srv = first
    new_store, new_dir = newcomer
    code = pairing.create_code(store)
    pairing.join(new_store, new_dir, "127.0.0.1", srv.port, code.code, name="R2")
    d3 = tmp_path / "third"
    d3.mkdir()
    third = open_store(f"sqlite:///{d3 / 'db'}")
    try:
        with pytest.raises(pairing.PairingError, match="no active pairing code"):
            pairing.join(third, d3, "127.0.0.1", srv.port, code.code, name="R3")
        assert not pki.has_identity(d3)
    finally:
        third.close()


def test_a_wrong_code_is_refused_and_nothing_is_written(first, newcomer) -> None:  # type: ignore[no-untyped-def]
    store, _, _, srv = first
    new_store, new_dir = newcomer
    pairing.create_code(store)
    with pytest.raises(pairing.PairingError, match="wrong or expired"):
        pairing.join(new_store, new_dir, "127.0.0.1", srv.port, "2222-2222", name="R2")
    assert not pki.has_identity(new_dir)
    with store.read() as s:
        assert s.get(Node, new_store.node_id) is None
        assert s.scalars(select(PairingCode.failed_attempts)).one() == 1


def test_guessing_burns_the_code_and_is_rate_limited(first, newcomer) -> None:  # type: ignore[no-untyped-def]
    store, _, _, srv = first
    new_store, new_dir = newcomer
    real = pairing.create_code(store)
    for _ in range(pairing.MAX_FAILURES):
        with pytest.raises(pairing.PairingError):
            pairing.join(new_store, new_dir, "127.0.0.1", srv.port, "3333-3333", name="guess")
    # the real code is burnt now: the guesser cannot get lucky later, the manager makes a new one
    with pytest.raises(pairing.PairingError, match="no active pairing code"):
        pairing.join(new_store, new_dir, "127.0.0.1", srv.port, real.code, name="R2")
    for _ in range(pairing.FAILURES_PER_MINUTE):
        pairing.create_code(store)
        try:
            pairing.join(new_store, new_dir, "127.0.0.1", srv.port, "4444-4444", name="guess")
        except pairing.PairingError as exc:
            last = str(exc)
    assert "too many wrong pairing codes" in last
    fresh = pairing.create_code(store)
    with pytest.raises(pairing.PairingError, match="too many"):
        pairing.join(new_store, new_dir, "127.0.0.1", srv.port, fresh.code, name="R2")


def test_an_expired_code_is_refused(first, newcomer) -> None:  # type: ignore[no-untyped-def]
    store, _, _, srv = first
    new_store, new_dir = newcomer
    code = pairing.create_code(store, ttl=timedelta(seconds=-1))
    with pytest.raises(pairing.PairingError, match="no active pairing code"):
        pairing.join(new_store, new_dir, "127.0.0.1", srv.port, code.code, name="R2")


def test_a_fake_pairing_server_cannot_hand_out_its_own_ca(tmp_path: Path, first, newcomer) -> None:  # type: ignore[no-untyped-def]
    """An impostor that does not know the code cannot produce the server proof."""
    store, _, _, _ = first
    new_store, new_dir = newcomer
    code = pairing.create_code(store)
    d = tmp_path / "evil"
    d.mkdir()
    evil_store = open_store(f"sqlite:///{d / 'db'}")
    evil = pairing.init_shop(evil_store, d, name="Evil")
    pairing.create_code(evil_store)  # the impostor has codes, just not this one
    srv = pairing.pairing_server(evil_store, evil, host="127.0.0.1", port=0)
    srv.start()
    try:
        with pytest.raises((pairing.PairingError, AuthenticationError)):
            pairing.join(new_store, new_dir, "127.0.0.1", srv.port, code.code, name="R2")
        assert not pki.has_identity(new_dir)
    finally:
        srv.stop()
        evil_store.close()


def test_codes_are_validated_and_a_paired_terminal_cannot_join_again(first, newcomer) -> None:  # type: ignore[no-untyped-def]
    store, first_dir, _, srv = first
    with pytest.raises(ValidationError):
        pairing.normalize_code("ABCD-EFG")
    with pytest.raises(ValidationError):
        pairing.normalize_code("ABCD-EF0O")  # 0 and O are not in the alphabet
    assert pairing.normalize_code(" abcd efgh ") == "ABCDEFGH"
    code = pairing.create_code(store)
    with pytest.raises(ConflictError, match="already paired"):
        pairing.join(store, first_dir, "127.0.0.1", srv.port, code.code, name="again")


def test_the_sync_port_answers_nothing_but_pairing_on_the_pairing_port(first) -> None:  # type: ignore[no-untyped-def]
    _, _, _, srv = first
    import pynng

    cfg = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT)
    cfg.set_auth_mode(pynng.TLSConfig.AUTH_MODE_NONE)
    c = transport.Client(cfg, "127.0.0.1", srv.port, require_peer_cert=False, timeout_ms=2000)
    c.open()
    try:
        with pytest.raises(transport.RemoteError, match="pairing requests only"):
            c.call("changes", {"clock": {}})
    finally:
        c.close()
