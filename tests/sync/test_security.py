"""Who is refused by the sync port: real mutual TLS over loopback, real nng sockets.

A node with a certificate from another shop, a node without a certificate, a revoked
node, and a socket sending garbage are all refused, and the server keeps serving the
terminals that are allowed.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import pynng
import pytest

from tests.sync.net_helpers import identity, new_shop
from vaultsync.store import Store
from vaultsync.store.models import Node
from vaultsync.store.types import utcnow
from vaultsync.sync import pki, transport, wire
from vaultsync.sync.peers import Trust

Shop = tuple[str, object, object]


@pytest.fixture
def shop() -> Shop:
    return new_shop()


class Echo:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, kind: str, payload: dict[str, Any], peer: str) -> dict[str, Any]:
        self.calls.append((kind, peer))
        return {"echo": payload, "peer": peer}


@pytest.fixture
def server(shop: Shop, sqlite_store: Store) -> Iterator[tuple[transport.Server, Echo, pki.Identity, Trust]]:
    ident = identity(shop, sqlite_store.node_id)
    trust = Trust(sqlite_store)
    echo = Echo()
    srv = transport.Server(transport.server_tls(ident), echo, port=0, authorize=trust.authorize)
    srv.start()
    yield srv, echo, ident, trust
    srv.stop()


def _client(ident: pki.Identity, port: int, timeout_ms: int = 1500) -> transport.Client:
    c = transport.Client(transport.client_tls(ident), "127.0.0.1", port, timeout_ms=timeout_ms)
    c.open()
    return c


def test_a_terminal_of_the_shop_is_served_and_identified_by_its_certificate(server, shop) -> None:  # type: ignore[no-untyped-def]
    srv, _echo, ident, _ = server
    me = identity(shop)
    c = _client(me, srv.port)
    try:
        assert c.call("hello", {"x": 1}) == {"echo": {"x": 1}, "peer": me.node_id}
        assert c.peer_node == ident.node_id  # the client learnt who answers from the server cert
    finally:
        c.close()


def test_a_node_with_another_shops_certificate_is_refused(server) -> None:  # type: ignore[no-untyped-def]
    srv, echo, _, _ = server
    stranger = identity(new_shop())
    c = _client(stranger, srv.port, timeout_ms=800)
    try:
        with pytest.raises(transport.Unreachable):
            c.call("changes", {"clock": {}})
    finally:
        c.close()
    assert echo.calls == []


def test_a_node_without_a_certificate_is_refused(server, shop) -> None:  # type: ignore[no-untyped-def]
    srv, echo, ident, _ = server
    # trusts the shop CA (so it could verify the server) but presents no certificate of its own
    cfg = pynng.TLSConfig(
        pynng.TLSConfig.MODE_CLIENT,
        server_name=pki.shop_server_name(ident.shop_id),
        ca_string=ident.ca_cert_pem,
        auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED,
    )
    with (
        pynng.Req0(tls_config=cfg, recv_timeout=800, send_timeout=800) as sock,
        pytest.raises(pynng.NNGException),
    ):
        sock.dial(transport.url("127.0.0.1", srv.port), block=True)
    # nor can it skip verification of the server and just talk
    cfg2 = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT)
    cfg2.set_auth_mode(pynng.TLSConfig.AUTH_MODE_NONE)
    with (
        pynng.Req0(tls_config=cfg2, recv_timeout=800, send_timeout=800) as sock,
        pytest.raises(pynng.NNGException),
    ):
        sock.dial(transport.url("127.0.0.1", srv.port), block=True)
    assert echo.calls == []


def _revoke(store: Store, node_id: str) -> None:
    with store.uow() as uow:
        row = uow.session.get(Node, node_id)
        if row is None:
            row = Node(node_id=node_id, name="stolen register")
            uow.session.add(row)
        row.revoked_at = utcnow()


def test_a_revoked_node_is_refused_and_its_open_connection_dropped(server, shop, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    srv, echo, _, trust = server
    thief = identity(shop)
    c = _client(thief, srv.port, timeout_ms=800)
    try:
        assert c.call("hello", {})["peer"] == thief.node_id  # served while trusted
        _revoke(sqlite_store, thief.node_id)
        trust.refresh()
        assert srv.drop(thief.node_id) >= 1
        with pytest.raises(transport.TransportError):
            c.call("changes", {})
    finally:
        c.close()
    # a fresh connection is refused at once
    again = _client(thief, srv.port, timeout_ms=800)
    try:
        with pytest.raises(transport.Unreachable):
            again.call("hello", {})
    finally:
        again.close()
    assert [k for k, _ in echo.calls] == ["hello"]
    assert srv.stats.refused_peers >= 1
    # (a message still in flight on the dropped connection may be rejected after the refusal)
    assert any(thief.node_id in r for r in srv.stats.recent_rejections)


def test_a_message_in_flight_from_a_revoked_node_is_not_handled(server, shop, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    srv, echo, _, trust = server
    thief = identity(shop)
    c = _client(thief, srv.port, timeout_ms=800)
    try:
        c.call("hello", {})
        _revoke(sqlite_store, thief.node_id)
        trust.refresh()  # revoked, but its connection not dropped yet
        with pytest.raises(transport.TransportError):
            c.call("push", {"changes": []})
    finally:
        c.close()
    assert [k for k, _ in echo.calls] == ["hello"]


def test_garbage_on_the_socket_does_not_take_the_server_down(server, shop) -> None:  # type: ignore[no-untyped-def]
    srv, echo, _, _ = server
    # 1. raw TCP garbage (not even TLS)
    for payload in (b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 8):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as s:
            s.sendall(payload)
            s.settimeout(1)
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                s.recv(1024)
    # 2. a shop terminal sending malformed envelopes through a valid TLS session
    me = identity(shop)
    with pynng.Req0(tls_config=transport.client_tls(me), recv_timeout=2000, send_timeout=2000) as sock:
        sock.dial(transport.url("127.0.0.1", srv.port), block=True)
        for junk in (b"", b"\xc1", b"\x93\x01\x02\x03", b"\xdb\xff\xff\xff\xff"):
            sock.send(junk)
            err = wire.decode(sock.recv())
            assert err.is_error and "malformed" in err.payload["reason"]
        # 3. a replayed message: the same bytes twice
        msg = wire.encode(wire.request(9, "hello", {}))
        sock.send(msg)
        assert wire.decode(sock.recv()).type == wire.REPLY
        sock.send(msg)
        err = wire.decode(sock.recv())
        assert err.is_error and "replayed" in err.payload["reason"]
        # 4. a reply where a request belongs
        sock.send(wire.encode(wire.Envelope(wire.REPLY, 3, "hello", {})))
        assert wire.decode(sock.recv()).is_error
    assert srv.stats.rejected >= 6
    # still serving good peers
    c = _client(me, srv.port)
    try:
        assert c.call("hello", {"still": "up"})["echo"] == {"still": "up"}
    finally:
        c.close()
    assert [k for k, _ in echo.calls] == ["hello", "hello"]


def test_an_oversized_message_is_refused_by_nng_before_it_is_read(server, shop) -> None:  # type: ignore[no-untyped-def]
    srv, echo, _, _ = server
    me = identity(shop)
    with pynng.Req0(tls_config=transport.client_tls(me), recv_timeout=1500, send_timeout=3000) as sock:
        sock.dial(transport.url("127.0.0.1", srv.port), block=True)
        sock.send(b"\x00" * (wire.MAX_MESSAGE_BYTES + 64 * 1024))
        with pytest.raises(pynng.Timeout):
            sock.recv()  # nng dropped the connection; nothing was handled
    assert echo.calls == []
    time.sleep(0.1)
    c = _client(me, srv.port)
    try:
        assert c.call("hello", {})["peer"] == me.node_id
    finally:
        c.close()


def test_a_handler_error_becomes_an_error_reply_and_serving_continues(shop, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    ident = identity(shop, sqlite_store.node_id)

    def handler(kind: str, payload: dict[str, Any], peer: str) -> dict[str, Any]:
        if kind == "boom":
            raise RuntimeError("secret internals")
        return {"ok": True}

    srv = transport.Server(transport.server_tls(ident), handler, port=0)
    srv.start()
    c = _client(identity(shop), srv.port)
    try:
        with pytest.raises(transport.RemoteError) as info:
            c.call("boom", {})
        assert "secret" not in str(info.value) and "internal error" in str(info.value)
        assert c.call("fine", {}) == {"ok": True}
    finally:
        c.close()
        srv.stop()


def test_a_client_stops_calling_a_peer_revoked_while_connected(shop, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    """A revocation that arrives mid-link stops the next call at once (no pulling from it)."""
    thief = identity(shop)
    echo = Echo()
    srv = transport.Server(transport.server_tls(thief), echo, port=0)
    srv.start()
    trust = Trust(sqlite_store)
    me = identity(shop, sqlite_store.node_id)
    c = transport.Client(
        transport.client_tls(me), "127.0.0.1", srv.port, authorize=trust.authorize, timeout_ms=1500
    )
    c.open()
    try:
        c.call("changes", {})
        _revoke(sqlite_store, thief.node_id)
        trust.refresh()
        with pytest.raises(transport.Unreachable, match="revoked"):
            c.call("changes", {})
    finally:
        c.close()
        srv.stop()
    assert len(echo.calls) == 1
