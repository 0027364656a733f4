"""Dialling a peer and the first hello, as the node's links, the CLI's one-shot rounds
(``vaultsync sync now|verify``, ``join``) and re-identification all do it.

One place, so all three present the same certificate, apply the same trust and timeouts,
map the same errors, and send the same hello (with the ``tip`` that lets a restored peer
notice it was restored: see :mod:`vaultsync.sync.reidentify`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from vaultsync.store.database import Store
from vaultsync.sync import reidentify, transport
from vaultsync.sync.peers import Trust


def dial(
    tls: Any, host: str, port: int, *, trust: Trust, timeout_ms: int, proto: ModuleType
) -> transport.Client:
    """An opened (connecting in the background) mutual-TLS client to ``host:port``.

    ``proto`` is the replication protocol module: its ``PeerUnavailable`` and
    ``ProtocolError`` are what the client raises for an unreachable peer and a refusal.
    """
    client = transport.Client(
        tls,
        host,
        port,
        authorize=trust.authorize,
        timeout_ms=timeout_ms,
        unavailable=proto.PeerUnavailable,
        remote_error=proto.ProtocolError,
    )
    client.open()
    return client


def hello(store: Store, client: transport.Client, proto: ModuleType) -> dict[str, Any]:
    """Exchange hellos over ``client``; the peer's reply, once checked as compatible.

    Raises the protocol's ``ProtocolError`` for another shop, an incompatible version, or a
    reply whose node id is not the one in the peer's certificate.
    """
    mine = proto.handle(store, "hello", {})
    # the newest change of the peer's origin we hold: lets a restored peer notice (reidentify)
    mine.update(reidentify.tip_fields(store, client.peer_node))
    reply: dict[str, Any] = client.call("hello", mine)
    proto.check_hello(mine, reply)
    node = str(reply.get("node_id", ""))
    if client.peer_node and node != client.peer_node:
        raise proto.ProtocolError("peer's hello names another node than its certificate")
    return reply
