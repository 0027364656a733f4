"""TEMPORARY stand-in for vaultsync.sync.protocol (owned by the engine helper) until it lands on main.

Implements only the contract's subset the network uses (SYNC_INTERFACE.md), over the
apply engine that is already on main. Delete once the real module is merged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vaultsync.domain.errors import ReplicationError
from vaultsync.store.database import Store
from vaultsync.store.models import Change
from vaultsync.sync.apply import ApplyError, RemoteChange, apply_batch, changes_since, vector_clock

PROTOCOL_VERSION = 1
Payload = dict[str, Any]


class ProtocolError(ReplicationError):
    pass


class PeerUnavailable(ReplicationError):
    pass


def _wire(c: RemoteChange) -> list[Any]:
    return [c.origin_node, c.seq, c.hlc, c.table_name, c.pk, c.op, c.data]


def _unwire(items: Any) -> list[RemoteChange]:
    if not isinstance(items, list):
        raise ProtocolError("changes must be a list")
    out = []
    for it in items:
        if not isinstance(it, list) or len(it) != 7:
            raise ProtocolError("bad change")
        out.append(RemoteChange(*it))
    return out


def _hello(store: Store) -> Payload:
    return {
        "node_id": store.node_id,
        "shop_id": store.shop_id,
        "protocol": PROTOCOL_VERSION,
        "clock": vector_clock(store),
    }


def check_hello(local: Payload, remote: Payload) -> None:
    if remote.get("shop_id") != local.get("shop_id"):
        raise ProtocolError("peer belongs to another shop")
    if remote.get("protocol") != PROTOCOL_VERSION:
        raise ProtocolError("other protocol version")


def handle(store: Store, kind: str, payload: Payload, *, peer_node: str | None = None) -> Payload:
    if kind == "hello":
        mine = _hello(store)
        if payload:
            check_hello(mine, payload)
        return mine
    if kind == "changes":
        clock = payload.get("clock")
        if not isinstance(clock, dict):
            raise ProtocolError("changes needs a clock")
        limit = int(payload.get("limit", 5000))
        out = changes_since(store, {str(k): int(v) for k, v in clock.items()}, limit + 1)
        more = len(out) > limit
        return {"changes": [_wire(c) for c in out[:limit]], "more": more}
    if kind == "push":
        try:
            r = apply_batch(store, _unwire(payload.get("changes")))
        except ApplyError as exc:
            raise ProtocolError(str(exc)) from exc
        return {
            "applied": r.applied,
            "skipped": r.skipped_duplicates,
            "deferred": len(r.deferred),
            "clock": r.clock,
        }
    raise ProtocolError(f"unknown request kind {kind!r}")


@dataclass(frozen=True)
class PullResult:
    applied: int


def pull(store: Store, call: Callable[[str, Payload], Payload], *, batch: int = 5000) -> PullResult:
    applied = 0
    while True:
        reply = call("changes", {"clock": vector_clock(store), "limit": batch})
        changes = _unwire(reply.get("changes"))
        if not changes:
            break
        r = apply_batch(store, changes)
        applied += r.applied
        if r.applied == 0 or not reply.get("more"):
            break
    return PullResult(applied)


def local_changes_after(store: Store, seq: int, limit: int = 1000) -> list[RemoteChange]:
    from sqlalchemy import select

    with store.read() as s:
        rows = s.scalars(
            select(Change)
            .where(Change.origin_node == store.node_id, Change.seq > seq)
            .order_by(Change.seq)
            .limit(limit)
        )
        return [RemoteChange.of(c) for c in rows]


def push_payload(changes: Sequence[RemoteChange]) -> Payload:
    return {"changes": [_wire(c) for c in changes]}
