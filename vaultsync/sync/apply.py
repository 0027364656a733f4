"""The local apply engine: merge peers' changes into this node's database (DESIGN.md §4).

No network here. A transport hands :func:`apply_batch` a batch of
:class:`RemoteChange` (built by a peer's :func:`changes_since` from its change log and
this node's :func:`vector_clock`); the batch is merged in ONE database transaction:

* **Idempotent** — a change whose ``(origin, seq)`` this node already holds is skipped,
  so a duplicated or replayed batch changes nothing.
* **Contiguous** — per origin only ``clock + 1, clock + 2, …`` are applied; after a gap
  the rest of that origin is deferred (returned, not applied), so the vector clock can
  honestly mean "highest contiguous seq applied" and the diff never skips a change.
* **Ledgers** (``__replication__ = "ledger"``) merge by union: a row is inserted if its
  primary key is absent; a duplicate is a no-op. Derived caches (on-hand, balances)
  follow the inserted rows, so two terminals' offline sales are both kept.
* **Mutable records** (``"lww"``) merge per column, last writer wins by
  ``(hlc, origin node)``. A delete is a tombstone that wins or loses like any write.
* The applied changes are also written to this node's change log under their origin's
  ``(origin_node, seq)``, so it can forward them to peers that have not seen them (relay).
* The vector clock advances and the local HLC observes the batch in the same transaction.

Why the result is the same in any delivery order: each row's state is a pure function
of the *set* of changes known for it. A column's value is the value of the greatest
``(hlc, node)`` upsert containing that column; the row exists iff its greatest upsert
is greater than its greatest tombstone. The merge computes exactly that by folding the
row's known history (this node's change log, which holds local writes and every applied
remote change, plus ``column_versions``) with the incoming change. Because a row
deleted here can be resurrected by a newer update that only carries some columns, the
other columns come from that same fold.

A change to a row whose full set of columns is not known yet (an update that overtook
the row's insert from another origin) is recorded — log, versions — but the row is not
materialised until the insert arrives; then the fold yields the row with the newer
update already applied. Nothing is lost and the result does not depend on the order.
"""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    Column,
    Table,
    and_,
    bindparam,
    case,
    insert,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vaultsync.domain.errors import ReplicationError
from vaultsync.store import capture, codec, member_sets
from vaultsync.store.base import Base, replicated_tables
from vaultsync.store.database import Store
from vaultsync.store.models import (
    Change,
    CreditEntry,
    CustomerBalance,
    NodeState,
    StockLevel,
    StockMovement,
    VectorClockEntry,
)
from vaultsync.store.models.sync_versions import TOMBSTONE, ColumnVersion
from vaultsync.sync import alerts as alerts_mod
from vaultsync.sync import collisions, forks
from vaultsync.sync import hlc as hlc_mod

log = logging.getLogger(__name__)

UPSERT = capture.UPSERT
DELETE = capture.DELETE

#: A version older than any real write: (hlc, node).
_NEVER: tuple[int, str] = (-1, "")

Version = tuple[int, str]


class ApplyError(ReplicationError):
    """A batch could not be merged (constraint violation, unknown table or column).

    The whole batch was rolled back: nothing of it is in the database, the vector clock
    did not move, so the same changes will be offered again by the next round.
    """


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """One change as it travels between peers: a :class:`~vaultsync.store.models.Change` row."""

    origin_node: str
    seq: int
    hlc: int
    table_name: str
    pk: str
    op: str
    data: str | None

    @property
    def version(self) -> Version:
        """The total order of writes: HLC first, origin node id as the tiebreak."""
        return (self.hlc, self.origin_node)

    @classmethod
    def of(cls, row: Change) -> RemoteChange:
        return cls(row.origin_node, row.seq, row.hlc, row.table_name, row.pk, row.op, row.data)

    def as_row(self) -> dict[str, Any]:
        return {
            "origin_node": self.origin_node,
            "seq": self.seq,
            "hlc": self.hlc,
            "table_name": self.table_name,
            "pk": self.pk,
            "op": self.op,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class OversellAlert:
    """After a merge, a SKU's on-hand at a location is below zero: two terminals sold the same copy."""

    sku_id: str
    location_id: str
    on_hand: int


@dataclass(frozen=True, slots=True)
class CreditAlert:
    """After a merge, a customer's store-credit balance is below zero (spent twice while offline)."""

    customer_id: str
    balance_cents: int


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    skipped_duplicates: int
    #: changes not applied because an earlier seq of their origin is missing (offer again later)
    deferred: list[RemoteChange] = field(default_factory=list)
    oversell_alerts: list[OversellAlert] = field(default_factory=list)
    credit_alerts: list[CreditAlert] = field(default_factory=list)
    #: this node's vector clock after the merge
    clock: dict[str, int] = field(default_factory=dict)
    #: unique-value collisions settled by this merge (see vaultsync.sync.collisions)
    collisions: list[alerts_mod.NewAlert] = field(default_factory=list)
    #: the changes this merge applied, in the order it applied them (``applied`` of them)
    applied_changes: list[RemoteChange] = field(default_factory=list)


#: [number of tables when computed, replicated_tables()]
_REPLICATED: list[Any] = [-1, {}]


def replicated() -> dict[str, type[Base]]:
    """:func:`replicated_tables`, kept while the schema's set of tables stays the same.

    Walking the mapper registry cost more than a whole live push's validation; every
    push asks twice. The result is shared: read it, never change it.
    """
    size = len(Base.metadata.tables)
    if _REPLICATED[0] != size:
        _REPLICATED[:] = [size, replicated_tables()]
    return cast(dict[str, type[Base]], _REPLICATED[1])


# --------------------------------------------------------------------------- clocks and diff


def _sql(session: Session, key: str, build: Callable[[], Any], *names: str) -> capture._Statement:
    """One of the merge's fixed statements, compiled once (see :func:`capture.statement`)."""
    return capture.statement(session, ("apply", key), build, names)


def _clock_query() -> Any:
    return select(VectorClockEntry.origin_node, VectorClockEntry.seq)


def _own_seq_query() -> Any:
    return select(NodeState.node_id, NodeState.last_seq).where(NodeState.id == bindparam("id"))


def _clock(session: Session) -> dict[str, int]:
    clock = {str(o): int(s) for o, s in _sql(session, "clock", _clock_query).fetch()}
    node_id, last_seq = _own_seq(session)
    clock[node_id] = last_seq
    return clock


def _own_seq(session: Session) -> tuple[str, int]:
    """(this node's id, its last seq): a plain query, not an ORM load (it runs twice a merge)."""
    rows = _sql(session, "own-seq", _own_seq_query, "id").fetch((1,))
    if not rows:
        raise ReplicationError("this database has no node identity; run `vaultsync migrate` first")
    return str(rows[0][0]), int(rows[0][1])


def vector_clock(store: Store) -> dict[str, int]:
    """``{origin node: highest contiguous seq held}``; this node's own entry is its last seq."""
    with store.read() as s:
        return _clock(s)


def changes_since(store: Store, clock: dict[str, int], limit: int = 10_000) -> list[RemoteChange]:
    """At most ``limit`` changes from this node's log that a peer with vector clock ``clock`` lacks.

    Includes changes of every origin, also those this node only relayed. The ``limit``
    prefix is taken in ``(hlc, origin)`` order, not per origin: a change's causes (a
    sale's SKU created on another terminal) always have a smaller HLC, so a bounded
    batch never carries a child without the parent the peer lacks; and per origin HLC
    order is seq order, so each origin's part is still a contiguous run from
    ``clock + 1``. The result is returned sorted by ``(origin, seq)``.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    conds = [and_(Change.origin_node == o, Change.seq > int(s)) for o, s in clock.items()]
    if clock:
        conds.append(not_(Change.origin_node.in_(list(clock))))
    stmt = select(Change).order_by(Change.hlc, Change.origin_node).limit(limit)
    if conds:
        stmt = stmt.where(or_(*conds))
    with store.read() as s:
        rows = [RemoteChange.of(c) for c in s.scalars(stmt)]
    rows.sort(key=lambda c: (c.origin_node, c.seq))
    return rows


# --------------------------------------------------------------------------- row state


@dataclass(slots=True)
class _RowState:
    """Everything known about one lww row: per-column winning version and encoded value."""

    exists: bool
    versions: dict[str, Version] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    tombstone: Version = _NEVER

    def merge_upsert(self, version: Version, data: dict[str, Any]) -> list[str]:
        won = [c for c in data if version > self.versions.get(c, _NEVER)]
        for c in won:
            self.versions[c] = version
            self.values[c] = data[c]
        return won

    def live(self) -> bool:
        newest = max(self.versions.values(), default=_NEVER)
        return newest != _NEVER and newest > self.tombstone


class _Merger:
    """Applies ready changes one by one, in (hlc, origin) order, inside one session."""

    def __init__(self, session: Session, node_id: str) -> None:
        self.s = session
        self.me = node_id
        self.models = replicated()
        self.rows: dict[tuple[str, str], _RowState] = {}
        #: lww rows the fast path inserted in this merge: (version, data), made a
        #: _RowState only if something asks (most never are)
        self.fresh: dict[tuple[str, str], tuple[Version, dict[str, Any]]] = {}
        self.ledger_seen: dict[str, set[str]] = {}
        self.moves: list[tuple[str, str, int]] = []
        self.credits: list[tuple[str, int]] = []
        self.collisions: list[alerts_mod.NewAlert] = []
        #: this node's own changes written during the merge (collision renames)
        self.emitted = 0
        #: existing lww rows updated without folding their history (see _update_existing):
        #: this merge's (version, data) per row, folded into a _RowState only if something asks
        self.updated: dict[tuple[str, str], list[tuple[Version, dict[str, Any]]]] = {}

    def model(self, change: RemoteChange) -> type[Base]:
        model = self.models.get(change.table_name)
        if model is None:
            raise ApplyError(
                f"change {change.origin_node}:{change.seq} is for table {change.table_name!r}, "
                "which this VaultSync does not replicate (a peer on another schema version?)"
            )
        return model

    @staticmethod
    def table(model: type[Base]) -> Table:
        table = model.__table__
        assert isinstance(table, Table)
        return table

    def decode(self, table: Table, change: RemoteChange, data: dict[str, Any]) -> dict[str, Any]:
        """Change-log values -> column values (only date/time/binary columns need work)."""
        names, special = _decoders(table)
        if not names.issuperset(data):
            name = next(n for n in data if n not in names)
            raise ApplyError(
                f"change {change.origin_node}:{change.seq} sets {table.name}.{name}, a column this "
                "VaultSync does not have (a peer on another schema version?)"
            )
        out = dict(data)
        for name, col in special:
            value = out.get(name)
            if value is not None:
                out[name] = codec.decode_value(col, value)
        return out

    def apply(self, change: RemoteChange, data: dict[str, Any] | None = None) -> None:
        """Merge one change; ``data``: its data already decoded (saves decoding it twice)."""
        model = self.model(change)
        table = self.table(model)
        if change.op not in (UPSERT, DELETE):
            raise ApplyError(f"change {change.origin_node}:{change.seq} has unknown op {change.op!r}")
        if model.__replication__ == "ledger":
            self._apply_ledger(model, table, change, data)
        else:
            self._apply_lww(table, change, data)

    # ---- ledgers: union

    def _apply_ledger(
        self, model: type[Base], table: Table, change: RemoteChange, data: dict[str, Any] | None = None
    ) -> None:
        if change.op == DELETE:
            log.warning(
                "ignored a delete of ledger row %s/%s from %s:%s (ledgers are insert-only)",
                change.table_name,
                change.pk,
                change.origin_node,
                change.seq,
            )
            return
        seen = self.ledger_seen.setdefault(table.name, set())
        if change.pk in seen:
            return
        seen.add(change.pk)
        pk_col = next(iter(table.primary_key.columns))
        payload = codec.loads(change.data or "{}") if data is None else data
        stored = self.s.execute(select(table).where(pk_col == change.pk)).mappings().first()
        if stored is not None:  # union: the row is already here (relayed twice, or our own)
            self._same_ledger_row(model, table, change, dict(stored), payload)
            return
        row = self.decode(table, change, payload)
        self._settle_ledger_unique(table, change, row)
        self.s.execute(table.insert().values(**row))
        if model is StockMovement:
            self.moves.append((row["sku_id"], row["location_id"], int(row["delta"])))
        elif model is CreditEntry:
            self.credits.append((row["customer_id"], int(row["delta_cents"])))

    def _same_ledger_row(
        self,
        model: type[Base],
        table: Table,
        change: RemoteChange,
        stored: dict[str, Any],
        payload: dict[str, Any],
    ) -> None:
        """The same ledger row written on two terminals: the earlier version wins everywhere.

        Usually the row arrived twice (relayed, or our own). But some ledger ids are derived
        from what the row records — a stock count's adjustment, a "not found" entry — so the
        same count committed on two cut-off terminals writes the same id twice, with each
        terminal's node, HLC and perhaps its own delta. Keeping whichever arrived first left
        the replicas different; every replica keeps the row of the lower (HLC, node) instead
        (derived stock and credit move with it), so they converge.
        """
        row = self.decode(table, change, payload)
        own_columns = "hlc" in table.c and "node_id" in table.c and row.get("hlc") is not None
        theirs = (int(row["hlc"]), str(row.get("node_id") or "")) if own_columns else change.version
        mine = self._ledger_version(table, change.pk, stored)
        if mine != _NEVER and mine <= theirs:
            return
        incoming = {c.name: row.get(c.key) for c in table.c if c.key in row}
        if all(stored.get(k) == v for k, v in incoming.items()):
            return
        pk_col = next(iter(table.primary_key.columns))
        self.s.execute(table.update().where(pk_col == change.pk).values(**row))
        if model is StockMovement:
            self.moves.append((stored["sku_id"], stored["location_id"], -int(stored["delta"])))
            self.moves.append((row["sku_id"], row["location_id"], int(row["delta"])))
        elif model is CreditEntry:
            self.credits.append((stored["customer_id"], -int(stored["delta_cents"])))
            self.credits.append((row["customer_id"], int(row["delta_cents"])))

    # ---- mutable records: per-column LWW with tombstones

    def _state(self, table: Table, pk: str) -> _RowState:
        key = (table.name, pk)
        state = self.rows.get(key)
        if state is not None:
            return state
        fresh = self.fresh.pop(key, None)
        if fresh is not None:  # inserted by this merge's fast path: its only change is the batch's
            version, values = fresh
            state = self.rows[key] = _RowState(True, dict.fromkeys(values, version), values)
            return state
        pk_col = next(iter(table.primary_key.columns))
        exists = self.s.execute(select(pk_col).where(pk_col == pk)).first() is not None
        state = _RowState(exists)
        history = self.s.execute(
            select(Change.hlc, Change.origin_node, Change.op, Change.data).where(
                Change.table_name == table.name, Change.pk == pk
            )
        )
        for hlc, origin, op, data in history:
            version = (int(hlc), str(origin))
            if op == DELETE:
                state.tombstone = max(state.tombstone, version)
            elif data:
                state.merge_upsert(version, codec.loads(data))
        stored = self.s.execute(
            select(
                ColumnVersion.column_name, ColumnVersion.hlc, ColumnVersion.node, ColumnVersion.value
            ).where(ColumnVersion.table_name == table.name, ColumnVersion.pk == pk)
        )
        for name, hlc, node, value in stored:
            version = (int(hlc), str(node))
            if name == TOMBSTONE:
                state.tombstone = max(state.tombstone, version)
            elif version > state.versions.get(name, _NEVER):
                # newer than anything left in the log (compacted): folded into column_versions
                state.versions[name] = version
                if value is None:  # version known, value only in the row itself
                    state.values.pop(name, None)
                else:
                    state.values[name] = json.loads(value)
        for done in self.updated.pop(key, ()):  # this merge's changes of the row: logged at the end
            state.merge_upsert(*done)
        self.rows[key] = state
        return state

    def _apply_lww(self, table: Table, change: RemoteChange, data: dict[str, Any] | None = None) -> None:
        if change.op != DELETE:
            if data is None:
                data = codec.loads(change.data or "{}")
            self.decode(table, change, data)  # validates column names before anything is kept
            key = (table.name, change.pk)
            if key not in self.rows and key not in self.fresh and self._update_existing(table, change, data):
                return
        state = self._state(table, change.pk)
        version = change.version
        won: list[str] = []
        if change.op == DELETE:
            state.tombstone = max(state.tombstone, version)
        else:
            assert data is not None
            won = state.merge_upsert(version, data)
        complete = all(c.name in state.values for c in table.columns)
        target = state.live() and (state.exists or complete)
        pk_col = next(iter(table.primary_key.columns))
        if state.exists and target:
            if won:
                cols = set(won) | self._settle_unique(table, change.pk, state, set(won))
                values = self.decode(table, change, {c: state.values[c] for c in cols})
                self.s.execute(table.update().where(pk_col == change.pk).values(**values))
        elif target:
            self._settle_unique(table, change.pk, state, set(state.values))
            values = self.decode(table, change, state.values)
            self.s.execute(table.insert().values(**values))
            state.exists = True
        elif state.exists:
            self.s.execute(table.delete().where(pk_col == change.pk))
            state.exists = False
        elif state.live() and not complete:
            log.info(
                "%s/%s: change %s:%s kept, row not created yet (its insert has not arrived)",
                table.name,
                change.pk,
                change.origin_node,
                change.seq,
            )

    def _update_existing(self, table: Table, change: RemoteChange, data: dict[str, Any]) -> bool:
        """Merge an upsert of a row that exists here without folding the row's whole history.

        The live path's commonest change (a sale bumping its SKU's popularity) names a row
        whose history grows with every sale; folding all of it per merge made a merge's cost
        grow with the log. For an existing row only the versions of the columns this change
        carries matter: the row is live (rows exist exactly when their fold is live) and an
        upsert cannot make it less so, so no tombstone or other column can change the
        outcome. Those versions are found newest-first (stopping as soon as every column is
        seen) plus ``column_versions`` (compacted history) plus this merge's earlier changes
        of the row: a pull batch from a busy mesh carries many sales of the same SKU, and
        folding the row's whole history for those made a long run fall further and further
        behind. Returns False — the caller then does the full merge — when the row does not
        exist or the change touches a unique column (a collision needs the full state of
        both rows).
        """
        if any(not data.keys().isdisjoint(cols) for cols, _rename in _unique_sets(table)):
            return False
        if not _sql(self.s, f"exists:{table.name}", lambda: _exists_query(table), "pk").fetch((change.pk,)):
            return False
        newest = self._newest_versions(table, change.pk, set(data))
        earlier = self.updated.setdefault((table.name, change.pk), [])
        for done, values in earlier:  # this merge's earlier changes of the row: not logged yet
            for c in values.keys() & data.keys():
                if done > newest.get(c, _NEVER):
                    newest[c] = done
        version = change.version
        won = [c for c in data if version > newest.get(c, _NEVER)]
        if won:
            capture.update_encoded_row(self.s, table, change.pk, {c: data[c] for c in won})
        earlier.append((version, data))
        return True

    def _newest_versions(self, table: Table, pk: str, cols: set[str]) -> dict[str, Version]:
        """The winning version of each of ``cols`` of one row (absent: never written).

        The newest few log entries of the row decide it nearly always (a sale's update
        carries the same columns as the one before it); only when they do not is the whole
        history read. A bounded ``ORDER BY … LIMIT`` lets the database keep just the top
        entries instead of sorting the row's whole history with its data.
        """
        out: dict[str, Version] = {}
        rows = _sql(self.s, "newest", _newest_query, "table", "pk").fetch((table.name, pk))
        if not _fold_newest(rows, cols, out) and len(rows) == _PEEK:
            out.clear()
            history = _sql(self.s, "history", _history_query, "table", "pk")
            _fold_newest(history.fetch((table.name, pk)), cols, out)
        stored = _sql(self.s, "stored", _stored_query, "table", "pk").fetch((table.name, pk))
        for name, hlc, node in stored:
            version = (int(hlc), str(node))
            if name in cols and version > out.get(name, _NEVER):
                out[name] = version
        return out

    # ---- the fast path: fresh rows in bulk

    def prefetch(self, ready: Sequence[RemoteChange]) -> list[bool]:
        """Which of the changes can be written by a bulk INSERT (one flag per change).

        A change qualifies when the merge could not do anything but insert it as it is:
        an upsert of a row this node has never heard of (no row, no history in the log or
        ``column_versions``), the only change for that row in the batch, and — for ``lww``
        tables — carrying every column. That is nearly every change when a terminal
        catches up, and it turns thousands of per-row statements into a few bulk ones.
        Unique values are still checked, in bulk, when the buffer is written.
        """
        per_row: dict[tuple[str, str], int] = {}
        by_table: dict[str, set[str]] = {}
        for c in ready:
            key = (c.table_name, c.pk)
            per_row[key] = per_row.get(key, 0) + 1
            by_table.setdefault(c.table_name, set()).add(c.pk)
        known: set[tuple[str, str]] = set()
        for name, pks in by_table.items():
            model = self.models.get(name)
            if model is None:
                continue  # apply() reports it
            table = self.table(model)
            pk_col = next(iter(table.primary_key.columns))
            ordered = sorted(pks)
            member = _Members(self.s)
            in_row = member.query(("row", name), _rows_among, pk_col)
            in_log = [
                member.query((str(src.key),), _logged_among, src, tcol, names=("tname", "members"))
                for src, tcol in (
                    (Change.pk, Change.table_name),
                    (ColumnVersion.pk, ColumnVersion.table_name),
                )
            ]
            for i in range(0, len(ordered), 2000):
                part = member.param(ordered[i : i + 2000])
                known.update((name, str(r[0])) for r in in_row.fetch((part,)))
                if model.__replication__ == "lww":
                    for stmt in in_log:
                        known.update((name, str(r[0])) for r in stmt.fetch((name, part)))
        models = self.models
        fast = [
            c.op == UPSERT
            and (key := (c.table_name, c.pk)) not in known
            and per_row[key] == 1
            and c.table_name in models
            for c in ready
        ]
        self._buffers: dict[str, list[tuple[RemoteChange, dict[str, Any]]]] = {}
        self._facts: dict[str, tuple[Table, frozenset[str], int, bool]] = {}
        #: primary keys of the buffered rows (what a later change may reference)
        self._pending: set[str] = set()
        return fast

    def buffer(self, change: RemoteChange) -> None:
        facts = self._facts.get(change.table_name)
        if facts is None:  # per table once: this runs for nearly every change of a catch-up
            model = self.model(change)
            table = self.table(model)
            facts = (table, _decoders(table)[0], len(table.columns), model.__replication__ == "lww")
            self._facts[change.table_name] = facts
        table, names, width, lww = facts
        data = codec.loads(change.data or "{}")
        if len(data) != width:
            if not names.issuperset(data):
                self.decode(table, change, data)  # raises: an unknown column
            if lww:  # not a complete row: the slow path decides
                self.flush()
                self.apply(change, data)
                return
        # else: as many keys as columns; an unknown one means a column is missing, which
        # the INSERT's column lookup reports (see flush)
        if lww:  # its row state, should a later change of this batch ask (collisions)
            self.fresh[(change.table_name, change.pk)] = ((change.hlc, change.origin_node), data)
        self._pending.add(change.pk)
        # kept as the change log encodes it: decoded and bound in one step when written
        buffered = self._buffers.get(change.table_name)
        if buffered is None:
            buffered = self._buffers[change.table_name] = []
        buffered.append((change, data))

    def depends_on_buffer(self, change: RemoteChange, data: dict[str, Any] | None) -> bool:
        """Whether ``change`` must wait for the buffered fresh rows to be written first.

        A delete might remove a row that buffered rows reference, and a change naming a
        buffered row in a foreign key needs that row to exist. Anything else (a sale's
        update of a SKU or a transaction between its new lines and tenders) is applied
        right away and the buffer keeps growing: flushing before every such change turned a
        batch of sales into hundreds of tiny INSERTs. Unique values stay safe either way:
        the flush checks buffered rows against the stored ones, this change's included.
        """
        pending = self._pending
        if not pending:
            return False
        if change.op == DELETE:
            return True
        model = self.models.get(change.table_name)
        if model is None:
            return True  # apply() raises; let it do so with everything before it written
        fks = _fk_columns(self.table(model))
        if not fks:
            return False
        if data is None:  # (an upsert always comes decoded from the caller)
            data = codec.loads(change.data or "{}")
        return any(data.get(c) in pending for c in fks.intersection(data))

    def flush(self) -> None:
        """Write the buffered fresh rows: per table in foreign-key order, one bulk INSERT each."""
        buffers = getattr(self, "_buffers", None)
        self._pending = set()
        if not buffers:
            return
        self._buffers = {}
        for table in _fk_ordered(buffers):
            items = buffers[table.name]
            clash = self._clashing(table, items)
            rows = [row for i, (_, row) in enumerate(items) if i not in clash]
            if rows:
                width = len(table.columns)
                if all(len(r) == width for r in rows):  # every column given
                    try:
                        capture.insert_encoded_rows(self.s, table, rows)
                    except KeyError:  # a row names a column this VaultSync does not have
                        for change, row in items:
                            self.decode(table, change, row)  # raises the clear error
                        raise
                else:  # let SQLAlchemy fill the defaults of what a peer left out
                    decoded = [self.decode(table, c, r) for i, (c, r) in enumerate(items) if i not in clash]
                    self.s.execute(table.insert(), decoded)
            model = self.models[table.name]
            if model is StockMovement:
                self.moves.extend((r["sku_id"], r["location_id"], int(r["delta"])) for r in rows)
            elif model is CreditEntry:
                self.credits.extend((r["customer_id"], int(r["delta_cents"])) for r in rows)
            if model.__replication__ == "ledger":
                self.ledger_seen.setdefault(table.name, set()).update(c.pk for c, _ in items)
            for i in sorted(clash):  # settled one by one by the full merge
                change = items[i][0]
                self.fresh.pop((table.name, change.pk), None)
                self.ledger_seen.get(table.name, set()).discard(change.pk)
                self.apply(change)

    def _clashing(self, table: Table, items: list[tuple[RemoteChange, dict[str, Any]]]) -> set[int]:
        """Indices of buffered rows whose unique values clash (with a stored row or each other)."""
        out: set[int] = set()
        for cols, _rename in _unique_sets(table):
            keys = list(cols)
            decoded = [table.c[c] if codec.needs_encoding(table.c[c]) else None for c in keys]
            seen: dict[tuple[Any, ...], int] = {}
            values: dict[int, tuple[Any, ...]] = {}
            for i, (_, row) in enumerate(items):  # rows as encoded in the change log
                tup = tuple(
                    row.get(c) if col is None else codec.decode_value(col, row.get(c))
                    for c, col in zip(keys, decoded, strict=True)
                )
                if any(v is None for v in tup):
                    continue
                values[i] = tup
                if tup in seen:
                    out.add(i)
                else:
                    seen[tup] = i
            if not values:
                continue
            firsts = sorted({t[0] for t in values.values()}, key=str)
            stored: set[tuple[Any, ...]] = set()
            member = _Members(self.s)
            stmt = member.query(("unique", table.name, *keys), _holding_among, table, keys)
            dialect = self.s.get_bind().dialect
            # the driver's values as SQLAlchemy would return them (unique columns are text today)
            procs = [table.c[c].type._cached_result_processor(dialect, None) for c in keys]
            for j in range(0, len(firsts), 500):
                for r in stmt.fetch((member.param(firsts[j : j + 500]),)):
                    stored.add(tuple(v if p is None else p(v) for v, p in zip(r, procs, strict=True)))
            out.update(i for i, tup in values.items() if tup in stored)
        return out

    # ---- unique-value collisions (see vaultsync.sync.collisions)

    def _holder(self, table: Table, cols: Sequence[str], values: dict[str, Any], pk: str) -> str | None:
        """The primary key of another row holding ``values`` in the unique ``cols``, if any."""
        pk_col = next(iter(table.primary_key.columns))
        conds = [table.c[c] == values[c] for c in cols]
        row = self.s.execute(select(pk_col).where(and_(*conds), pk_col != pk).limit(1)).first()
        return None if row is None else str(row[0])

    def _free_value(
        self, table: Table, cols: Sequence[str], values: dict[str, Any], rename: str, loser: str
    ) -> str:
        for candidate in collisions.candidates(
            str(values[rename]), loser, collisions.max_length(table, rename)
        ):
            if self._holder(table, cols, {**values, rename: candidate}, loser) is None:
                return candidate
        raise ApplyError(f"cannot find a free value for {table.name}.{rename} of row {loser}")

    def _emit(self, table: Table, pk: str, data: dict[str, Any]) -> Version:
        """Write one change of this node's own (a collision rename) into the log; its version."""
        seq, hlc = capture.allocate(self.s, 1)
        self.s.execute(
            insert(Change).values(
                origin_node=self.me,
                seq=seq,
                hlc=hlc,
                table_name=table.name,
                pk=pk,
                op=UPSERT,
                data=codec.dumps(data),
            )
        )
        self.emitted += 1
        return (hlc, self.me)

    def _settle_unique(self, table: Table, pk: str, state: _RowState, written: set[str]) -> set[str]:
        """Resolve clashes of this lww row's unique values before it is written.

        Returns the columns of *this* row that were renamed (to be written with it); a
        clashing other row that loses is renamed here and now.
        """
        renamed: set[str] = set()
        for cols, rename in collisions.unique_sets(table):
            if not written.intersection(cols):
                continue
            encoded = self._current(table, pk, state, cols)
            if encoded is None:
                continue
            values = {c: codec.decode_value(table.c[c], encoded[c]) for c in cols}
            other = self._holder(table, cols, values, pk)
            if other is None:
                continue
            other_state = self._state(table, other)
            mine = max(state.versions.get(c, _NEVER) for c in cols)
            theirs = max(other_state.versions.get(c, _NEVER) for c in cols)
            if (mine, pk) > (theirs, other):
                loser, loser_state, winner = pk, state, other
            else:
                loser, loser_state, winner = other, other_state, pk
            new = self._free_value(table, cols, values, rename, loser)
            loser_state.versions[rename] = self._emit(table, loser, {rename: new})
            loser_state.values[rename] = new
            if loser == pk:
                renamed.add(rename)
            else:
                pk_col = next(iter(table.primary_key.columns))
                self.s.execute(table.update().where(pk_col == other).values({rename: new}))
            self.collisions.append(
                collisions.alert_for(table.name, rename, str(values[rename]), winner, loser, new)
            )
            log.warning(
                "unique collision %s.%s=%r: row %s renamed to %r",
                table.name,
                rename,
                values[rename],
                loser,
                new,
            )
        return renamed

    def _current(self, table: Table, pk: str, state: _RowState, cols: Sequence[str]) -> dict[str, Any] | None:
        """The row's encoded values of ``cols`` (None if any is NULL: NULLs never clash)."""
        out = {c: state.values[c] for c in cols if c in state.values}
        missing = [c for c in cols if c not in out]
        if missing:
            pk_col = next(iter(table.primary_key.columns))
            row = self.s.execute(select(*(table.c[c] for c in missing)).where(pk_col == pk)).first()
            if row is None:
                return None
            out.update({c: codec.encode_value(table.c[c], v) for c, v in zip(missing, row, strict=True)})
        return None if any(v is None for v in out.values()) else out

    def _ledger_version(self, table: Table, pk: str, row: dict[str, Any] | None) -> Version:
        """When a ledger row was written: its own (hlc, node_id) columns, else its change's."""
        if row is not None and "hlc" in table.c and "node_id" in table.c:
            return (int(row["hlc"] or 0), str(row["node_id"] or ""))
        got = self.s.execute(
            select(Change.hlc, Change.origin_node)
            .where(Change.table_name == table.name, Change.pk == pk, Change.op == UPSERT)
            .order_by(Change.hlc)
            .limit(1)
        ).first()
        return _NEVER if got is None else (int(got[0]), str(got[1]))

    def _settle_ledger_unique(self, table: Table, change: RemoteChange, row: dict[str, Any]) -> None:
        """Ledger rows cannot be edited by a change: the loser's value is renamed as it is stored."""
        for cols, rename in collisions.unique_sets(table):
            if any(row.get(table.c[c].key) is None for c in cols):
                continue
            values = {c: row[table.c[c].key] for c in cols}
            other = self._holder(table, cols, values, change.pk)
            if other is None:
                continue
            pk_col = next(iter(table.primary_key.columns))
            stored = self.s.execute(select(table).where(pk_col == other)).mappings().first()
            theirs = self._ledger_version(table, other, dict(stored) if stored else None)
            mine = self._ledger_version(table, change.pk, {c.name: row.get(c.key) for c in table.c})
            if mine == _NEVER:
                mine = change.version
            loser, winner = (change.pk, other) if (mine, change.pk) > (theirs, other) else (other, change.pk)
            new = self._free_value(table, cols, values, rename, loser)
            if loser == change.pk:
                row[table.c[rename].key] = new
            else:
                self.s.execute(table.update().where(pk_col == other).values({rename: new}))
            self.collisions.append(
                collisions.alert_for(table.name, rename, str(values[rename]), winner, loser, new)
            )


_CHANGES = cast(Table, Change.__table__)


def _exists_query(table: Table) -> Any:
    pk_col = next(iter(table.primary_key.columns))
    return select(pk_col).where(pk_col == bindparam("pk"))


#: how many of a row's newest log entries are read first (see _Merger._newest_versions)
_PEEK = 8


def _history_query() -> Any:
    return (
        select(Change.hlc, Change.origin_node, Change.op, Change.data)
        .where(Change.table_name == bindparam("table"), Change.pk == bindparam("pk"))
        .order_by(Change.hlc.desc())
    )


def _newest_query() -> Any:
    return _history_query().limit(literal_column(str(_PEEK)))  # inline: every value is a named bind


def _fold_newest(rows: Iterable[tuple[Any, ...]], cols: set[str], out: dict[str, Version]) -> bool:
    """Fold log rows (newest HLC first) into ``out``: per column of ``cols`` its newest version.

    Returns whether that is settled by these rows: every column seen and an entry with a
    lower HLC read after the one that completed them (equal HLCs of two nodes are ordered
    here by node id, not by the database's collation).
    """
    stop_below: int | None = None
    for hlc, origin, op, data in rows:
        if stop_below is not None and hlc < stop_below:
            return True
        if op == DELETE or not data:
            continue
        version = (int(hlc), str(origin))
        for c in cols.intersection(codec.loads(data)):
            if version > out.get(c, _NEVER):
                out[c] = version
        if stop_below is None and len(out) == len(cols):
            stop_below = int(hlc)
    return False


def _stored_query() -> Any:
    return select(ColumnVersion.column_name, ColumnVersion.hlc, ColumnVersion.node).where(
        ColumnVersion.table_name == bindparam("table"), ColumnVersion.pk == bindparam("pk")
    )


_hlc_of = operator.attrgetter("hlc")
#: the merge order of changes: (hlc, origin node), as RemoteChange.version
_version_of = operator.attrgetter("hlc", "origin_node")

#: a change as a change-log row tuple, in :data:`capture.insert_replayed_changes` order
_change_tuple = operator.attrgetter("origin_node", "seq", "hlc", "table_name", "pk", "op", "data")

_DECODERS: dict[str, tuple[frozenset[str], list[tuple[str, Column[Any]]]]] = {}


def _decoders(table: Table) -> tuple[frozenset[str], list[tuple[str, Column[Any]]]]:
    """(column names, the columns whose values need decoding), per table, computed once.

    Replicated tables' attribute keys equal their column names (checked here), so a
    decoded change can be used as INSERT/UPDATE values directly.
    """
    got = _DECODERS.get(table.name)
    if got is None:
        if any(c.key != c.name for c in table.columns):  # pragma: no cover - schema rule
            raise ApplyError(f"{table.name}: replicated columns must be named like their attributes")
        got = (
            frozenset(c.name for c in table.columns),
            [(c.name, c) for c in table.columns if codec.needs_encoding(c)],
        )
        _DECODERS[table.name] = got
    return got


_UNIQUE: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {}


def _unique_sets(table: Table) -> tuple[tuple[tuple[str, ...], str], ...]:
    """:func:`collisions.unique_sets`, per table once (every flush asks)."""
    got = _UNIQUE.get(table.name)
    if got is None:
        got = _UNIQUE[table.name] = collisions.unique_sets(table)
    return got


_FK_COLUMNS: dict[str, frozenset[str]] = {}


def _fk_columns(table: Table) -> frozenset[str]:
    got = _FK_COLUMNS.get(table.name)
    if got is None:
        got = _FK_COLUMNS[table.name] = frozenset(c.name for c in table.columns if c.foreign_keys)
    return got


def _fk_ordered(names: Iterable[str]) -> list[Table]:
    wanted = set(names)
    return [t for t in _sorted_tables() if t.name in wanted]


_SORTED: list[Table] = []


def _sorted_tables() -> list[Table]:
    """``Base.metadata.sorted_tables``, kept: SQLAlchemy sorts the whole schema on every access."""
    if not _SORTED:
        _SORTED.extend(Base.metadata.sorted_tables)
    return _SORTED


# --------------------------------------------------------------------------- apply


def _check_clocks(changes: Sequence[RemoteChange]) -> None:
    if not changes:
        return
    floor = hlc_mod.now_floor()
    try:  # the check is monotonic in the HLC: if the newest passes, all do
        hlc_mod.check_remote(max(map(_hlc_of, changes)), floor)
        return
    except hlc_mod.ClockDriftError:
        pass
    for c in changes:
        try:
            hlc_mod.check_remote(c.hlc, floor)
        except hlc_mod.ClockDriftError as exc:
            raise hlc_mod.ClockDriftError(
                f"batch rejected: change {c.origin_node}:{c.seq} ({c.table_name}) has an implausible "
                f"clock — {exc}; fix that terminal's date and time"
            ) from exc


def _existing_seqs(session: Session, origin: str, seqs: list[int]) -> set[int]:
    if not seqs:
        return set()
    rows = _sql(session, "seqs", _seqs_query, "origin", "lo", "hi").fetch((origin, min(seqs), max(seqs)))
    return {int(r[0]) for r in rows}


def _seqs_query() -> Any:
    return select(Change.seq).where(
        Change.origin_node == bindparam("origin"),
        Change.seq >= bindparam("lo"),
        Change.seq <= bindparam("hi"),
    )


def apply_batch(store: Store, changes: Sequence[RemoteChange]) -> ApplyResult:
    """Merge ``changes`` into this node in one transaction; see the module docstring.

    Raises :class:`~vaultsync.sync.hlc.ClockDriftError` (a change stamped implausibly far
    in the future) or :class:`ApplyError` (a constraint such as a foreign key failed);
    in both cases nothing of the batch is written.
    """
    _check_clocks(changes)
    try:
        return _merge(store, changes, durable=False)
    except _WroteOwnChanges:
        return _merge(store, changes, durable=True)


class _WroteOwnChanges(Exception):
    """A merge wrote changes under this terminal's own origin (an alert, a collision rename)."""


def _merge(store: Store, changes: Sequence[RemoteChange], *, durable: bool) -> ApplyResult:
    """apply_batch's transaction; committed without an fsync unless ``durable``.

    What a merge writes is other terminals' changes, already durable on the terminal that
    wrote them: if a power cut takes back the last merges (SQLite WAL at
    ``synchronous=NORMAL``: atomic, and safe from a crash of the process), the vector clock
    goes back with them and the next anti-entropy round fetches them again. The fsync was
    the larger part of a live push's merge, and 50 terminals' fsyncs queue on one disk.
    Changes under this terminal's *own* origin are different: peers may take them at once,
    and a database that lost them would reuse their numbers (a forked history). A merge
    that writes any (rare) is rolled back and done again durably.
    """
    with store.uow(durable=durable) as uow:
        s = uow.session
        s.info["replaying"] = True
        clock = _clock(s)
        me = store.node_id
        own_before = clock[me]
        skipped = 0
        by_origin: dict[str, dict[int, RemoteChange]] = {}
        held: dict[str, RemoteChange] = {}  # per origin the newest change we already have
        for c in changes:
            have = clock.get(c.origin_node, 0)
            seqs = by_origin.setdefault(c.origin_node, {})
            if c.seq <= have or c.seq in seqs:
                skipped += 1
                if c.seq <= have and (c.origin_node not in held or c.seq > held[c.origin_node].seq):
                    held[c.origin_node] = c
                continue
            seqs[c.seq] = c
        ready: list[RemoteChange] = []
        deferred: list[RemoteChange] = []
        advanced: dict[str, int] = {}
        # the sender's numbers mean other changes than ours: see vaultsync.sync.forks
        forked, fork_alerts = forks.refuse_forks(s, store, held.values()) if held else (set(), [])
        for origin in sorted(forked):
            refused = by_origin.pop(origin, {})
            deferred.extend(refused[k] for k in sorted(refused))
            log.error("sync: refused %d change(s) of %s: its history forked", len(refused), origin)
        for origin, seqs in by_origin.items():
            if not seqs:
                continue
            if origin == me:
                # newer than our own log: another database claims our identity (a restored
                # copy?); never apply what we did not write ourselves
                log.warning("deferred %d change(s) claiming this node's origin %s", len(seqs), origin)
                deferred.extend(seqs[k] for k in sorted(seqs))
                continue
            in_log = _existing_seqs(s, origin, list(seqs))
            nxt = clock.get(origin, 0) + 1
            for seq in sorted(seqs):
                if seq in in_log:
                    # held above the clock: only after forks.repair lowered it to re-fetch
                    # the seqs below this one; the clock moves over it once they are in
                    skipped += 1
                    if seq == nxt:
                        nxt += 1
                elif seq == nxt:
                    ready.append(seqs[seq])
                    nxt += 1
                else:
                    deferred.append(seqs[seq])
            if nxt - 1 > clock.get(origin, 0):
                advanced[origin] = nxt - 1
        if deferred:
            log.info("deferred %d change(s) after a gap in their origin's sequence", len(deferred))
        # Per origin HLC order is seq order; across origins it puts causes before effects
        # (parents before the sales that reference them).
        ready.sort(key=_version_of)
        if ready:
            # before anything this merge writes itself (collision renames, alerts): those must
            # be newer than every change they react to
            capture.observe_hlc(s, max(c.hlc for c in ready))
        merger = _Merger(s, me)
        current: RemoteChange | None = None
        try:
            fast = merger.prefetch(ready)
            for current, quick in zip(ready, fast, strict=True):
                if quick:
                    merger.buffer(current)
                else:
                    # decoded once, for both the dependency check and the merge
                    data = None if current.op == DELETE else codec.loads(current.data or "{}")
                    if merger.depends_on_buffer(current, data):
                        merger.flush()
                    merger.apply(current, data)
            current = None
            merger.flush()
            if ready:  # straight to the driver: no per-row SQLAlchemy parameter processing
                capture.insert_replayed_changes(s, list(map(_change_tuple, ready)))
            capture.apply_derived(s, merger.moves, merger.credits)
            _advance_clock(s, advanced)
            s.flush()
            lowered = forks.repair(
                s, store, advanced, alerts_changed=any(c.table_name == forks.ALERTS_TABLE for c in ready)
            )
        except IntegrityError as exc:
            where = (
                f" while applying {current.origin_node}:{current.seq} ({current.table_name} {current.pk})"
                if current is not None
                else ""
            )
            reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
            raise ApplyError(
                f"batch rolled back{where}: {reason} — a referenced row is missing or a unique value "
                "clashes; nothing of this batch was applied"
            ) from exc
        oversell, credit = _invariants(s, merger.moves, merger.credits)
        new_alerts = [*merger.collisions, *_alerts_of(oversell, credit), *fork_alerts]
        if new_alerts:
            alerts_mod.record(s, me, new_alerts)
        clock.update(advanced)
        clock.update(lowered)
        clock[me] = _own_seq(s)[1]
        if clock[me] > own_before and not durable:
            raise _WroteOwnChanges  # rolls this transaction back: apply_batch merges again, durably
    for a in oversell:
        log.warning("oversell after merge: SKU %s at %s on hand %d", a.sku_id, a.location_id, a.on_hand)
    for b in credit:
        log.warning("credit below zero after merge: customer %s balance %d", b.customer_id, b.balance_cents)
    return ApplyResult(len(ready), skipped, deferred, oversell, credit, clock, merger.collisions, ready)


_CLOCK = cast(Table, VectorClockEntry.__table__)


def _advance_clock(session: Session, advanced: dict[str, int]) -> None:
    """Move the vector clock forward (never back), one statement for every origin."""
    capture.upsert(
        session,
        _CLOCK,
        ["origin_node"],
        [{"origin_node": o, "seq": q} for o, q in sorted(advanced.items())],
        lambda excluded: {"seq": case((excluded.seq > _CLOCK.c.seq, excluded.seq), else_=_CLOCK.c.seq)},
        cache_key=("clock-forward",),
    )


def _invariants(
    session: Session, moves: Sequence[tuple[str, str, int]], credits: Sequence[tuple[str, int]]
) -> tuple[list[OversellAlert], list[CreditAlert]]:
    """Invariants over what this merge touched: negative on-hand and negative store credit.

    Reported, never "fixed": both sales happened and both are kept; a manager decides.
    """
    oversell: list[OversellAlert] = []
    credit: list[CreditAlert] = []
    if not moves and not credits:  # the merge touched no ledger with an invariant
        return oversell, credit
    member = _Members(session)
    skus = sorted({m[0] for m in moves})
    for i in range(0, len(skus), 2000):
        low = member.query(("oversold",), _oversold_among)
        levels = low.fetch((member.param(skus[i : i + 2000]),))
        oversell.extend(OversellAlert(str(a), str(b), int(q)) for a, b, q in levels)
    customers = sorted({c[0] for c in credits})
    for i in range(0, len(customers), 2000):
        negative = member.query(("negative",), _negative_among)
        balances = negative.fetch((member.param(customers[i : i + 2000]),))
        credit.extend(CreditAlert(str(a), int(b)) for a, b in balances)
    return oversell, credit


class _Members:
    """The merge's ``column IN (<a list>)`` clauses (:mod:`vaultsync.store.member_sets`: the
    whole list is ONE bound value), their statements compiled once per key and dialect
    (:func:`capture.statement`) and run on the driver.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = member_sets.is_sqlite(session.get_bind())

    def of(self, column: Any) -> Any:
        return member_sets.member_of(column, "members", sqlite=self.sqlite)

    def query(
        self, key: tuple[str, ...], build: Callable[..., Any], *args: Any, names: Sequence[str] = ("members",)
    ) -> capture._Statement:
        """``build(self, *args)``, compiled once per ``key`` and dialect; binds ``names``."""
        return capture.statement(self.session, ("members", *key), lambda: build(self, *args), names)

    def param(self, values: Sequence[Any]) -> Any:
        """The bound value of ``members`` for ``values``."""
        return member_sets.member_values(values, sqlite=self.sqlite)


def _rows_among(m: _Members, pk_col: Any) -> Any:
    return select(pk_col).where(m.of(pk_col))


def _logged_among(m: _Members, src: Any, table_col: Any) -> Any:
    return select(src).where(table_col == bindparam("tname"), m.of(src)).distinct()


def _holding_among(m: _Members, table: Table, keys: list[str]) -> Any:
    return select(*(table.c[c] for c in keys)).where(m.of(table.c[keys[0]]))


def _oversold_among(m: _Members) -> Any:
    return (
        select(StockLevel.sku_id, StockLevel.location_id, StockLevel.on_hand)
        .where(m.of(StockLevel.sku_id), StockLevel.on_hand < literal_column("0"))
        .order_by(StockLevel.sku_id, StockLevel.location_id)
    )


def _negative_among(m: _Members) -> Any:
    return (
        select(CustomerBalance.customer_id, CustomerBalance.balance_cents)
        .where(m.of(CustomerBalance.customer_id), CustomerBalance.balance_cents < literal_column("0"))
        .order_by(CustomerBalance.customer_id)
    )


def _alerts_of(oversell: Sequence[OversellAlert], credit: Sequence[CreditAlert]) -> list[alerts_mod.NewAlert]:
    out = [
        alerts_mod.NewAlert(
            alerts_mod.OVERSELL,
            alerts_mod.WARNING,
            "skus",
            a.sku_id,
            f"Stock below zero after merging terminals' sales: on hand {a.on_hand} at location "
            f"{a.location_id}. Two terminals sold the same copy while apart; both sales are kept — "
            "find the item or contact the customer.",
            {"sku_id": a.sku_id, "location_id": a.location_id, "on_hand": a.on_hand},
            key=f"{a.location_id}:{a.on_hand}",
        )
        for a in oversell
    ]
    out.extend(
        alerts_mod.NewAlert(
            alerts_mod.NEGATIVE_CREDIT,
            alerts_mod.WARNING,
            "customers",
            b.customer_id,
            f"Store credit below zero after merging terminals: balance {b.balance_cents} cents. The "
            "credit was spent on two terminals while apart; both are kept.",
            {"customer_id": b.customer_id, "balance_cents": b.balance_cents},
            key=str(b.balance_cents),
        )
        for b in credit
    )
    return out


# --------------------------------------------------------------------------- row records


@dataclass(frozen=True, slots=True)
class RowRecord:
    """Everything one replica knows about one row, without its change history.

    What full reconciliation transfers when clocks cannot be trusted. For an ``lww`` row:
    the winning version and encoded value of each column (``values``/``versions``) and the
    tombstone version; the receiver merges it column by column exactly like changes, so the
    outcome is the same as if it had seen the history. For a ledger row: the row itself
    (``values``), merged by union.
    """

    table_name: str
    pk: str
    values: dict[str, Any]
    versions: dict[str, Version]
    tombstone: Version | None = None


def row_records(store: Store, table_name: str, pks: Sequence[str]) -> list[RowRecord]:
    """This node's records of the given rows (rows it knows nothing about are left out)."""
    model = replicated_tables()[table_name]
    table = _Merger.table(model)
    pk_col = next(iter(table.primary_key.columns))
    out: list[RowRecord] = []
    with store.read() as s:
        rows: dict[str, dict[str, Any]] = {}
        for i in range(0, len(pks), 500):
            for row in s.execute(select(table).where(pk_col.in_(list(pks[i : i + 500])))).mappings():
                rows[str(row[pk_col.name])] = {
                    c.name: codec.encode_value(c, row[c.name]) for c in table.columns
                }
        if model.__replication__ == "ledger":
            return [RowRecord(table_name, pk, rows[pk], {}) for pk in pks if pk in rows]
        merger = _Merger(s, store.node_id)
        for pk in pks:
            state = merger._state(table, pk)
            live = rows.get(pk)
            if not state.versions and state.tombstone == _NEVER and live is None:
                continue
            values = dict(state.values)
            if live is not None:
                for name in state.versions:
                    values.setdefault(name, live[name])
            versions = {name: v for name, v in state.versions.items() if name in values}
            tomb = None if state.tombstone == _NEVER else state.tombstone
            out.append(RowRecord(table_name, pk, values, versions, tomb))
    return out


@dataclass(frozen=True)
class MergeResult:
    merged: int
    oversell_alerts: list[OversellAlert] = field(default_factory=list)
    credit_alerts: list[CreditAlert] = field(default_factory=list)
    collisions: list[alerts_mod.NewAlert] = field(default_factory=list)


def merge_records(store: Store, records: Sequence[RowRecord]) -> MergeResult:
    """Merge a peer's row records in one transaction (full reconciliation, see :class:`RowRecord`).

    Each lww record is replayed as one synthetic upsert per distinct column version plus
    its tombstone, through the same merger as changes, so last-writer-wins, tombstones,
    resurrection and unique collisions behave identically. The resulting per-column
    versions and values are written to ``column_versions``: they are not in this node's
    change log, and later merges must still see them.
    """
    floor = hlc_mod.now_floor()
    for r in records:
        for v in [*r.versions.values(), *([r.tombstone] if r.tombstone else [])]:
            try:
                hlc_mod.check_remote(v[0], floor)
            except hlc_mod.ClockDriftError as exc:
                raise hlc_mod.ClockDriftError(
                    f"records rejected: {r.table_name} {r.pk} has an implausible clock — {exc}"
                ) from exc
    me = store.node_id
    with store.uow() as uow:
        s = uow.session
        s.info["replaying"] = True
        newest = max(
            (v[0] for r in records for v in [*r.versions.values(), *([r.tombstone] if r.tombstone else [])]),
            default=0,
        )
        if newest:
            capture.observe_hlc(s, newest)
        merger = _Merger(s, me)
        touched: set[tuple[str, str]] = set()
        try:
            for r in records:
                model = merger.models.get(r.table_name)
                if model is None:
                    raise ApplyError(f"{r.table_name!r} is not a replicated table")
                if model.__replication__ == "ledger":
                    hlc = int(r.values.get("hlc") or 0)
                    node = str(r.values.get("node_id") or "")
                    merger.apply(
                        RemoteChange(node, 0, hlc, r.table_name, r.pk, UPSERT, codec.dumps(r.values))
                    )
                    continue
                by_version: dict[Version, dict[str, Any]] = {}
                for name, version in r.versions.items():
                    by_version.setdefault(version, {})[name] = r.values[name]
                steps: list[tuple[Version, RemoteChange]] = [
                    (v, RemoteChange(v[1], 0, v[0], r.table_name, r.pk, UPSERT, codec.dumps(data)))
                    for v, data in by_version.items()
                ]
                if r.tombstone is not None:
                    t = r.tombstone
                    steps.append((t, RemoteChange(t[1], 0, t[0], r.table_name, r.pk, DELETE, None)))
                for _, change in sorted(steps, key=lambda x: x[0]):
                    merger.apply(change)
                touched.add((r.table_name, r.pk))
            _write_versions(s, merger, touched)
            capture.apply_derived(s, merger.moves, merger.credits)
            s.flush()
        except IntegrityError as exc:
            reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
            raise ApplyError(f"records rolled back: {reason}; nothing was merged") from exc
        oversell, credit = _invariants(s, merger.moves, merger.credits)
        new_alerts = [*merger.collisions, *_alerts_of(oversell, credit)]
        if new_alerts:
            alerts_mod.record(s, me, new_alerts)
    return MergeResult(len(records), oversell, credit, merger.collisions)


def _write_versions(session: Session, merger: _Merger, touched: set[tuple[str, str]]) -> None:
    """Persist the merged per-column versions (and values) of the touched lww rows."""
    rows: list[dict[str, Any]] = []
    for key in sorted(touched):
        state = merger.rows.get(key)
        if state is None:
            continue
        table_name, pk = key
        for name, (hlc, node) in state.versions.items():
            value = json.dumps(state.values[name]) if name in state.values else None
            rows.append(
                {
                    "table_name": table_name,
                    "pk": pk,
                    "column_name": name,
                    "hlc": hlc,
                    "node": node,
                    "value": value,
                }
            )
        if state.tombstone != _NEVER:
            hlc, node = state.tombstone
            rows.append(
                {
                    "table_name": table_name,
                    "pk": pk,
                    "column_name": TOMBSTONE,
                    "hlc": hlc,
                    "node": node,
                    "value": None,
                }
            )
    table = ColumnVersion.__table__
    assert isinstance(table, Table)
    for i in range(0, len(rows), 2000):
        capture.upsert(
            session,
            table,
            ["table_name", "pk", "column_name"],
            rows[i : i + 2000],
            lambda excluded: {"hlc": excluded.hlc, "node": excluded.node, "value": excluded.value},
        )
