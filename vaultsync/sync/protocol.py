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

import heapq
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from vaultsync.domain.errors import ReplicationError
from vaultsync.store import capture, migrate
from vaultsync.store.database import Store
from vaultsync.store.models import Change
from vaultsync.sync import compaction as _compaction
from vaultsync.sync import group_merge
from vaultsync.sync import hlc as hlc_mod
from vaultsync.sync import reconcile as _recon
from vaultsync.sync import reidentify as _reid
from vaultsync.sync import snapshot as _snapshot
from vaultsync.sync.apply import ApplyError, ApplyResult, RemoteChange
from vaultsync.sync.apply import vector_clock as _vector_clock
from vaultsync.sync.messages import (
    MAX_BATCH_BYTES,
    MAX_BATCH_CHANGES,
    MAX_CHANGE_DATA,
    MAX_CLOCK_ENTRIES,
    MAX_MESSAGE_BYTES,
    Call,
    Payload,
    PeerUnavailable,
    ProtocolError,
    change_from_wire,
    change_to_wire,
    changes_from_wire,
    field_of,
    int_field,
    node_id_field,
    parse_clock,
    wire_size,
)

log = logging.getLogger(__name__)

ReconcileResult = _recon.ReconcileResult
VerifyResult = _recon.VerifyResult
reconcile = _recon.reconcile
verify = _recon.verify
BootstrapResult = _snapshot.BootstrapResult
CompactResult = _compaction.CompactResult
compact = _compaction.compact
bootstrap = _snapshot.bootstrap

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_CHANGES",
    "MAX_CHANGE_DATA",
    "MAX_CLOCK_ENTRIES",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "SCHEMA_REVISION",
    "BootstrapResult",
    "Call",
    "CompactResult",
    "Payload",
    "PeerUnavailable",
    "ProtocolError",
    "PullResult",
    "ReconcileResult",
    "VerifyResult",
    "bootstrap",
    "change_from_wire",
    "change_to_wire",
    "changes_for",
    "changes_from_wire",
    "check_hello",
    "compact",
    "handle",
    "hello_payload",
    "local_changes_after",
    "parse_clock",
    "pull",
    "push_payload",
    "reconcile",
    "verify",
]

#: Bump on any incompatible change of request kinds or payloads.
PROTOCOL_VERSION: Final = 1
#: The Alembic head of this build: peers on another schema are refused (see check_hello).
SCHEMA_REVISION: Final[str] = migrate.head_revision()

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
    node = node_id_field(field_of(remote, "node_id", str, "a node id"), "node_id")
    shop = field_of(remote, "shop_id", str, "a shop id")
    protocol = field_of(remote, "protocol", int, "an integer")
    schema = field_of(remote, "schema", str, "a schema revision")
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
    store: Store,
    clock: Mapping[str, int],
    limit: int = 5000,
    max_bytes: int = MAX_BATCH_BYTES,
    *,
    held: Mapping[str, int] | None = None,
) -> tuple[list[RemoteChange], bool]:
    """What a peer with vector clock ``clock`` lacks: a bounded batch, and whether more remain.

    Taken in ``(hlc, origin)`` order (causes before effects, see
    :func:`~vaultsync.sync.apply.changes_since`) and cut at ``limit`` changes or
    ``max_bytes``, whichever comes first; a cut prefix of that order is still a contiguous
    run per origin, so the receiver can apply all of it.

    Each origin's run also starts with the entry *at* the caller's clock (not counted in the
    limits; one per origin): the caller already holds that seq and compares the two, so a
    branch of an origin that forked (a terminal restored from a backup, whose new changes
    reached this node under reused numbers) is refused instead of being merged over the
    caller's own copy of those numbers (:func:`vaultsync.sync.forks.forked`).
    """
    out: list[RemoteChange] = []
    size = 0
    more = False
    # only the origins this node holds more of than the caller, each read in seq order
    # through the primary key: one query over the whole log ordered by HLC had SQLite walk
    # the HLC index end to end (11.7 s for a caller that lacked nothing, at 2.7M entries).
    # The clock is read first (``held``: this node's clock, if the caller already read it):
    # an origin that moves meanwhile is served next time.
    if held is None:
        held = _vector_clock(store)
    with store.read() as s:
        lacking = {
            origin: int(clock.get(origin, 0))
            for origin, top in sorted(held.items())
            if top > int(clock.get(origin, 0))
        }
        runs = [_origin_run(s, origin, after, limit + 1) for origin, after in lacking.items()]
        for c in heapq.merge(*runs, key=lambda c: (c.hlc, c.origin_node, c.seq)):
            n = wire_size(c)
            if len(out) >= limit or (out and size + n > max_bytes):
                more = True
                break
            out.append(c)
            size += n
        for origin in sorted({c.origin_node for c in out}):
            after = lacking[origin]
            if after > 0:  # the entry at the caller's clock, if not compacted away
                out.extend(c for c in _origin_run(s, origin, after - 1, 1) if c.seq == after)
    out.sort(key=lambda c: (c.origin_node, c.seq))
    return out, more


#: rows read at a time from one origin's run (most batches need only the first page)
_RUN_PAGE: Final = 256


def _origin_run_query() -> Any:
    cols = (Change.seq, Change.hlc, Change.table_name, Change.pk, Change.op, Change.data)
    return (
        select(*cols)
        .where(Change.origin_node == bindparam("origin"), Change.seq > bindparam("after"))
        .order_by(Change.seq)
        .limit(bindparam("page"))
    )


def _origin_run(s: Session, origin: str, after: int, most: int) -> Iterator[RemoteChange]:
    """``origin``'s log entries after seq ``after``, in seq (so also HLC) order, at most
    ``most``, fetched a page at a time so a merge that stops early reads little."""
    # compiled once: a round with a busy 50-terminal mesh reads dozens of origins, and
    # building each select cost more than SQLite answering it
    stmt = capture.statement(s, ("protocol", "origin-run"), _origin_run_query, ("origin", "after", "page"))
    left = most
    while left > 0:
        page = min(_RUN_PAGE, left)
        rows = stmt.fetch((origin, after, page))
        for seq, hlc, table, pk, op, data in rows:
            yield RemoteChange(origin, int(seq), int(hlc), str(table), str(pk), str(op), data)
        if len(rows) < page:
            return
        after = int(rows[-1][0])
        left -= page


def local_changes_after(store: Store, seq: int, limit: int = 1000) -> list[RemoteChange]:
    """This node's own changes with seq > ``seq``, oldest first (what the live pusher sends next)."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    stmt = (  # plain columns, not ORM objects: the live pusher asks after every local commit
        select(
            Change.origin_node, Change.seq, Change.hlc, Change.table_name, Change.pk, Change.op, Change.data
        )
        .where(Change.origin_node == store.node_id, Change.seq > seq)
        .order_by(Change.seq)
        .limit(limit)
    )
    with store.read() as s:
        return [
            RemoteChange(str(o), int(q), int(h), str(t), str(pk), str(op), d)
            for o, q, h, t, pk, op, d in s.execute(stmt)
        ]


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
    #: the peer's vector clock from its last reply (None from a peer that does not send it)
    peer_clock: dict[str, int] | None = None
    #: the tables the applied changes wrote (a pull that changed ``nodes`` may revoke a peer)
    tables: frozenset[str] = frozenset()

    @property
    def alerts(self) -> int:
        return self.oversell_alerts + self.credit_alerts


def _apply_remote(store: Store, changes: list[RemoteChange]) -> ApplyResult:
    """apply_batch with a peer's failure modes turned into ProtocolError (nothing written).

    Through :mod:`~vaultsync.sync.group_merge`: pushes and pulls that arrive together
    share one transaction instead of queueing for the write lock.
    """
    try:
        return group_merge.merge(store, changes)
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
    if _snapshot.is_bootstrapping(store):
        raise ReplicationError(
            "this terminal's bootstrap broke off half-way; delete its database and bootstrap again"
        )
    applied = skipped = deferred = batches = oversell = credit = 0
    needs_reconcile = False
    tables: set[str] = set()
    peer_clock: dict[str, int] | None = None
    while True:
        reply = call("changes", {"clock": _vector_clock(store), "limit": batch})
        changes = changes_from_wire(field_of(reply, "changes", list, "a list"), "reply changes")
        if "clock" in reply:
            peer_clock = parse_clock(field_of(reply, "clock", dict, "a vector clock"))
        more = bool(reply.get("more", False))
        needs_reconcile = needs_reconcile or bool(reply.get("compacted", False))
        if not changes:
            break
        result = _apply_remote(store, changes)
        if any(c.origin_node == store.node_id for c in result.deferred):
            raise ReplicationError(
                "the peer holds changes this terminal wrote that its own database no longer has: "
                "it was restored from a backup (or copied). Give it a new identity with a pairing code "
                "from a manager (`vaultsync sync reidentify HOST:PORT CODE`) before syncing"
            )
        batches += 1
        applied += result.applied
        tables.update(c.table_name for c in result.applied_changes)
        skipped += result.skipped_duplicates
        oversell += len(result.oversell_alerts)
        credit += len(result.credit_alerts)
        if result.applied == 0:
            deferred += len(result.deferred)
            break
        if not more:
            deferred += len(result.deferred)
            break
    return PullResult(
        applied, skipped, deferred, batches, oversell, credit, needs_reconcile, peer_clock, frozenset(tables)
    )


# --------------------------------------------------------------------------- server side


def _handle_hello(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    mine = hello_payload(store)
    if payload:  # the caller introduced itself: refuse it here too, with the same reasons
        check_hello(mine, payload)
        if peer_node is not None and payload.get("node_id") != peer_node:
            raise ProtocolError("hello node id does not match the peer's certificate")
    if peer_node:
        # the newest change of the caller's own origin we hold: lets a terminal restored from a
        # backup notice that it already wrote over numbers we have (see vaultsync.sync.reidentify)
        mine.update(_reid.tip_fields(store, peer_node))
    return mine


def _handle_changes(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    clock = parse_clock(field_of(payload, "clock", dict, "a vector clock"))
    if _snapshot.is_bootstrapping(store):
        raise ProtocolError("this peer is still bootstrapping; sync with another peer")
    limit = int_field(payload, "limit", 1, MAX_BATCH_CHANGES, default=5000)
    max_bytes = int_field(payload, "max_bytes", 1024, MAX_BATCH_BYTES, default=MAX_BATCH_BYTES)
    mine = _vector_clock(store)
    if peer_node is not None and clock.get(peer_node, 0) < mine.get(peer_node, 0):
        raise ProtocolError(
            f"node {peer_node} has forgotten changes it wrote itself (its database was restored from a "
            "backup or copied); it must be re-identified (`vaultsync sync reidentify`) before it syncs again"
        )
    behind = _compaction.behind_floor(_compaction.floors(store), clock)
    if behind:
        # entries the caller lacks were compacted here: the diff cannot serve a contiguous
        # run any more; the caller reconciles (or bootstraps) instead
        return {"changes": [], "more": False, "compacted": True, "behind": behind, "clock": mine}
    changes, more = changes_for(store, clock, limit, max_bytes, held=mine)
    # this node's clock as the batch was cut: the caller's lag view, without another hello
    return {"changes": [change_to_wire(c) for c in changes], "more": more, "clock": mine}


def _handle_push(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    changes = changes_from_wire(field_of(payload, "changes", list, "a list of changes"))
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
    **_recon.HANDLERS,
    **_snapshot.HANDLERS,
    **_reid.HANDLERS,
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
