"""The peer protocol: request kinds, their payloads, and the engine behind each (DESIGN.md §4).

This module is the seam between the replication engine (everything that reads or writes
the database) and the network (how a request travels: TLS, wire encoding, sockets). The
network calls :func:`handle` for every request an authenticated peer sends and passes a
:data:`Call` to the client-side rounds (:func:`pull`, :func:`reconcile`, :func:`bootstrap`,
:func:`verify`). Tests pass an in-process :data:`Call` that invokes another store's
:func:`handle` directly, so every round is exercised without sockets.

Payloads are plain msgpack-able values (None, bool, int, float, str, bytes, list, dict
with str keys). A change travels as a 7-element list ``[origin, seq, hlc, table, pk, op,
data]`` (``data`` is the change log's JSON text, or None for a tombstone), so a batch of
thousands of changes costs no per-change dict keys.

**Everything a peer sends is validated** before it touches the database: types, sizes,
known tables, ops, sequence numbers. A bad request raises :class:`ProtocolError` carrying a
short reason (the network sends it back as an error reply and keeps serving); nothing was
changed. Batches are bounded by count and by bytes, so no message grows past a few MB, and
a terminal that was off for a week catches up in many small rounds, never one huge one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import and_, not_, or_, select

from vaultsync.domain.errors import ReplicationError
from vaultsync.store import migrate
from vaultsync.store.base import replicated_tables
from vaultsync.store.database import Store
from vaultsync.store.models import Change
from vaultsync.sync import hlc as hlc_mod
from vaultsync.sync.apply import DELETE, UPSERT, ApplyError, ApplyResult, RemoteChange, apply_batch
from vaultsync.sync.apply import vector_clock as _vector_clock

log = logging.getLogger(__name__)

#: Bump on any incompatible change of request kinds or payloads.
PROTOCOL_VERSION: Final = 1
#: The Alembic head of this build: peers on another schema are refused (see check_hello).
SCHEMA_REVISION: Final[str] = migrate.head_revision()

Payload = dict[str, Any]
Call = Callable[[str, Payload], Payload]
"""Send one request of ``kind`` to a peer and return its reply payload.

Raises :class:`PeerUnavailable` when the peer cannot be reached or times out, and
:class:`ProtocolError` when the peer answered with an error."""

#: Hard cap on one message the engine builds or accepts (the transport may cap lower).
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
#: Target size of one batch of changes: well under the message cap (encoding overhead).
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024
#: Most changes one message may carry.
MAX_BATCH_CHANGES: Final = 10_000
#: Largest ``data`` of a single change (a product with big attributes stays far below).
MAX_CHANGE_DATA: Final = 1024 * 1024
#: Most origins a vector clock may name (a shop has a handful of terminals; this is a fence).
MAX_CLOCK_ENTRIES: Final = 4096
MAX_NODE_LEN: Final = 16
MAX_PK_LEN: Final = 64
_MAX_INT64: Final = (1 << 63) - 1
#: Per-change overhead estimate on the wire beyond its strings (msgpack ints and headers).
_CHANGE_OVERHEAD: Final = 40


class ProtocolError(ReplicationError):
    """A request or reply that cannot be accepted; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerUnavailable(ReplicationError):
    """The peer cannot be reached (no route, refused, timed out)."""


# --------------------------------------------------------------------------- validation helpers


def _field(payload: Any, name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(payload, dict):
        raise ProtocolError(f"payload must be a map, got {type(payload).__name__}")
    if name not in payload:
        raise ProtocolError(f"missing field {name!r}")
    value = payload[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ProtocolError(f"field {name!r} must be {what}, got bool")
    if not isinstance(value, kind):
        raise ProtocolError(f"field {name!r} must be {what}, got {type(value).__name__}")
    return value


def _int_field(payload: Payload, name: str, lo: int, hi: int, default: int | None = None) -> int:
    if default is not None and name not in payload:
        return default
    value = _field(payload, name, int, "an integer")
    if not lo <= value <= hi:
        raise ProtocolError(f"field {name!r} must be in {lo}..{hi}, got {value}")
    return int(value)


def _node_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NODE_LEN:
        raise ProtocolError(f"{where} must be a node id (1..{MAX_NODE_LEN} characters)")
    return value


def parse_clock(value: Any, where: str = "clock") -> dict[str, int]:
    """A vector clock from a peer: ``{node id: seq >= 0}``, bounded in size."""
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} must be a map of node id to seq, got {type(value).__name__}")
    if len(value) > MAX_CLOCK_ENTRIES:
        raise ProtocolError(f"{where} names {len(value)} nodes (at most {MAX_CLOCK_ENTRIES})")
    out: dict[str, int] = {}
    for node, seq in value.items():
        _node_id(node, f"{where} key")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _MAX_INT64:
            raise ProtocolError(f"{where}[{node!r}] must be a non-negative integer")
        out[node] = int(seq)
    return out


def change_to_wire(c: RemoteChange) -> list[Any]:
    return [c.origin_node, c.seq, c.hlc, c.table_name, c.pk, c.op, c.data]


def change_from_wire(item: Any, tables: Mapping[str, Any] | None = None) -> RemoteChange:
    """One change from a peer, validated: shape, types, sizes, a replicated table, a known op."""
    if not isinstance(item, list | tuple) or len(item) != 7:
        raise ProtocolError("a change must be a list [origin, seq, hlc, table, pk, op, data]")
    origin, seq, hlc, table, pk, op, data = item
    _node_id(origin, "change origin")
    for name, value, lo in (("seq", seq, 1), ("hlc", hlc, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= _MAX_INT64:
            raise ProtocolError(f"change {origin}:{seq!r}: {name} must be an integer >= {lo}")
    known = replicated_tables() if tables is None else tables
    if not isinstance(table, str) or table not in known:
        raise ProtocolError(f"change {origin}:{seq}: {str(table)[:48]!r} is not a replicated table")
    if not isinstance(pk, str) or not 0 < len(pk) <= MAX_PK_LEN:
        raise ProtocolError(f"change {origin}:{seq}: pk must be a string of 1..{MAX_PK_LEN} characters")
    if op not in (UPSERT, DELETE):
        raise ProtocolError(f"change {origin}:{seq}: unknown op {str(op)[:16]!r}")
    if op == UPSERT:
        if not isinstance(data, str) or len(data) > MAX_CHANGE_DATA:
            raise ProtocolError(f"change {origin}:{seq}: an upsert needs data (a JSON object, bounded)")
    elif data is not None:
        raise ProtocolError(f"change {origin}:{seq}: a delete carries no data")
    return RemoteChange(origin, seq, hlc, table, pk, op, data)


def changes_from_wire(value: Any, where: str = "changes") -> list[RemoteChange]:
    if not isinstance(value, list):
        raise ProtocolError(f"{where} must be a list")
    if len(value) > MAX_BATCH_CHANGES:
        raise ProtocolError(f"{where} holds {len(value)} changes (at most {MAX_BATCH_CHANGES})")
    tables = replicated_tables()
    out = [change_from_wire(item, tables) for item in value]
    if sum(_wire_size(c) for c in out) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"{where} exceed {MAX_MESSAGE_BYTES} bytes")
    return out


def _wire_size(c: RemoteChange) -> int:
    return _CHANGE_OVERHEAD + len(c.origin_node) + len(c.table_name) + len(c.pk) + len(c.data or "")


# --------------------------------------------------------------------------- hello


def hello_payload(store: Store) -> Payload:
    """What this node says about itself when a peer connects."""
    return {
        "node_id": store.node_id,
        "shop_id": store.shop_id,
        "protocol": PROTOCOL_VERSION,
        "schema": SCHEMA_REVISION,
        "clock": _vector_clock(store),
    }


def check_hello(local: Payload, remote: Payload) -> None:
    """Raise :class:`ProtocolError` with a clear reason if the peer must be refused.

    Refused: a malformed hello, another shop, this terminal's own node id (a copied
    database), another protocol version, another schema revision (a peer on an older
    or newer VaultSync: its changes could name columns this one does not have, or miss
    ones it needs — upgrading the older side is the fix, and the reason says which).
    """
    node = _node_id(_field(remote, "node_id", str, "a node id"), "node_id")
    shop = _field(remote, "shop_id", str, "a shop id")
    protocol = _field(remote, "protocol", int, "an integer")
    schema = _field(remote, "schema", str, "a schema revision")
    if "clock" in remote:
        parse_clock(remote["clock"])
    if shop != local.get("shop_id"):
        raise ProtocolError("peer belongs to another shop (different shop id); not replicating with it")
    if node == local.get("node_id"):
        raise ProtocolError(
            f"peer claims this terminal's own node id {node} (a copied database?); give it a fresh one"
        )
    mine = local.get("protocol", PROTOCOL_VERSION)
    if protocol != mine:
        side = "older" if protocol < mine else "newer"
        raise ProtocolError(
            f"peer speaks sync protocol v{protocol}, this terminal v{mine}: the peer runs an {side} "
            f"VaultSync; upgrade the {'peer' if side == 'older' else 'this terminal'} and both will sync"
        )
    my_schema = local.get("schema", SCHEMA_REVISION)
    if schema != my_schema:
        if schema not in migrate.known_revisions():
            raise ProtocolError(
                f"peer runs a newer VaultSync (schema {schema[:40]}, this terminal {my_schema}); "
                "upgrade this terminal before it can sync with that peer"
            )
        raise ProtocolError(
            f"peer runs an older VaultSync (schema {schema}, this terminal {my_schema}); "
            "upgrade the peer before it can sync with this terminal"
        )


# --------------------------------------------------------------------------- changes


def changes_for(
    store: Store, clock: Mapping[str, int], limit: int = 5000, max_bytes: int = MAX_BATCH_BYTES
) -> tuple[list[RemoteChange], bool]:
    """What a peer with vector clock ``clock`` lacks: a bounded batch, and whether more remain.

    Taken in ``(hlc, origin)`` order (causes before effects, see
    :func:`~vaultsync.sync.apply.changes_since`) and cut at ``limit`` changes or
    ``max_bytes``, whichever comes first; a cut prefix of that order is still a contiguous
    run per origin, so the receiver can apply all of it.
    """
    conds = [and_(Change.origin_node == o, Change.seq > int(s)) for o, s in clock.items()]
    if clock:
        conds.append(not_(Change.origin_node.in_(list(clock))))
    stmt = select(
        Change.origin_node, Change.seq, Change.hlc, Change.table_name, Change.pk, Change.op, Change.data
    ).order_by(Change.hlc, Change.origin_node, Change.seq)
    if conds:
        stmt = stmt.where(or_(*conds))
    out: list[RemoteChange] = []
    size = 0
    more = False
    with store.read() as s:
        for row in s.execute(stmt.limit(limit + 1)):
            origin, seq, hlc, table, pk, op, data = row
            c = RemoteChange(str(origin), int(seq), int(hlc), str(table), str(pk), str(op), data)
            n = _wire_size(c)
            if len(out) >= limit or (out and size + n > max_bytes):
                more = True
                break
            out.append(c)
            size += n
    out.sort(key=lambda c: (c.origin_node, c.seq))
    return out, more


def local_changes_after(store: Store, seq: int, limit: int = 1000) -> list[RemoteChange]:
    """This node's own changes with seq > ``seq``, oldest first (what the live pusher sends next)."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    stmt = (
        select(Change)
        .where(Change.origin_node == store.node_id, Change.seq > seq)
        .order_by(Change.seq)
        .limit(limit)
    )
    with store.read() as s:
        return [RemoteChange.of(c) for c in s.scalars(stmt)]


def push_payload(changes: Sequence[RemoteChange]) -> Payload:
    """The payload of ``call("push", ...)`` for changes just committed locally (or relayed)."""
    if len(changes) > MAX_BATCH_CHANGES:
        raise ValueError(f"push at most {MAX_BATCH_CHANGES} changes at once (got {len(changes)})")
    return {"changes": [change_to_wire(c) for c in changes]}


@dataclass(frozen=True)
class PullResult:
    """What one :func:`pull` achieved."""

    applied: int
    skipped: int
    #: changes received but not applicable yet (a gap in their origin's sequence)
    deferred: int
    batches: int
    oversell_alerts: int
    credit_alerts: int
    #: the peer has compacted changes this node lacks: run :func:`reconcile` (or bootstrap)
    needs_reconcile: bool = False

    @property
    def alerts(self) -> int:
        return self.oversell_alerts + self.credit_alerts


def _apply_remote(store: Store, changes: list[RemoteChange]) -> ApplyResult:
    """apply_batch with a peer's failure modes turned into ProtocolError (nothing written)."""
    try:
        return apply_batch(store, changes)
    except hlc_mod.ClockDriftError as exc:
        raise ProtocolError(str(exc)) from exc
    except ApplyError as exc:
        raise ProtocolError(str(exc)) from exc
    except ValueError as exc:  # undecodable change data (bad JSON, bad value for a column)
        raise ProtocolError(f"batch rejected, nothing applied: {exc}") from exc


def pull(store: Store, call: Call, *, batch: int = 5000) -> PullResult:
    """Anti-entropy, one direction: fetch what this node lacks from the peer and apply it.

    Each round sends this node's vector clock, receives one bounded batch and applies it in
    its own transaction (which advances the clock), so memory stays bounded however far
    behind this node is, and an interrupted pull loses nothing: the next one resumes from
    the clock. Stops when the peer has nothing more, or when a batch makes no progress
    (a gap the peer cannot fill: reported as ``deferred``).
    """
    if not 0 < batch <= MAX_BATCH_CHANGES:
        raise ValueError(f"batch must be in 1..{MAX_BATCH_CHANGES}")
    applied = skipped = deferred = batches = oversell = credit = 0
    needs_reconcile = False
    while True:
        reply = call("changes", {"clock": _vector_clock(store), "limit": batch})
        changes = changes_from_wire(_field(reply, "changes", list, "a list"), "reply changes")
        more = bool(reply.get("more", False))
        needs_reconcile = needs_reconcile or bool(reply.get("compacted", False))
        if not changes:
            break
        result = _apply_remote(store, changes)
        batches += 1
        applied += result.applied
        skipped += result.skipped_duplicates
        oversell += len(result.oversell_alerts)
        credit += len(result.credit_alerts)
        if result.applied == 0:
            deferred += len(result.deferred)
            break
        if not more:
            deferred += len(result.deferred)
            break
    return PullResult(applied, skipped, deferred, batches, oversell, credit, needs_reconcile)


# --------------------------------------------------------------------------- server side


def _handle_hello(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    mine = hello_payload(store)
    if payload:  # the caller introduced itself: refuse it here too, with the same reasons
        check_hello(mine, payload)
        if peer_node is not None and payload.get("node_id") != peer_node:
            raise ProtocolError("hello node id does not match the peer's certificate")
    return mine


def _handle_changes(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    clock = parse_clock(_field(payload, "clock", dict, "a vector clock"))
    limit = _int_field(payload, "limit", 1, MAX_BATCH_CHANGES, default=5000)
    max_bytes = _int_field(payload, "max_bytes", 1024, MAX_BATCH_BYTES, default=MAX_BATCH_BYTES)
    changes, more = changes_for(store, clock, limit, max_bytes)
    return {"changes": [change_to_wire(c) for c in changes], "more": more}


def _handle_push(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    changes = changes_from_wire(_field(payload, "changes", list, "a list of changes"))
    if not changes:
        return {"applied": 0, "skipped": 0, "deferred": 0}
    result = _apply_remote(store, changes)
    return {
        "applied": result.applied,
        "skipped": result.skipped_duplicates,
        "deferred": len(result.deferred),
        "clock": result.clock,
    }


Handler = Callable[[Store, Payload, str | None], Payload]

HANDLERS: dict[str, Handler] = {
    "hello": _handle_hello,
    "changes": _handle_changes,
    "push": _handle_push,
}


def handle(store: Store, kind: str, payload: Payload, *, peer_node: str | None = None) -> Payload:
    """Answer one request from an authenticated peer (``peer_node``: its certificate's node id).

    Raises :class:`ProtocolError` for an unknown kind or a malformed payload; the
    database is unchanged in that case.
    """
    if not isinstance(kind, str):
        raise ProtocolError("request kind must be a string")
    handler = HANDLERS.get(kind)
    if handler is None:
        raise ProtocolError(f"unknown request kind {kind[:40]!r}")
    if not isinstance(payload, dict):
        raise ProtocolError(f"{kind}: payload must be a map, got {type(payload).__name__}")
    return handler(store, payload, peer_node)
