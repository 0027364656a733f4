"""Change capture: every write to a replicated table becomes a ``Change`` row, in the same transaction.

Hooked into the ORM flush of :class:`~vaultsync.store.session.VaultSession`, so it does
not matter which service wrote: if it went through a session, it is in the log.

* ``before_flush`` decides exactly which objects produce a change (new rows, rows with
  a real column change, deletions), refuses updates and deletes of ledger rows,
  stamps ``updated_at`` and ``hlc``, and reserves ``(seq, hlc)`` numbers for them
  with one atomic UPDATE … RETURNING on ``node_state``.
* ``after_flush`` — when primary keys and defaults are known — writes the change rows
  and keeps the derived caches (``stock_levels``, ``customer_balances``) in step.

Bulk paths that bypass the ORM (demo data, large imports) use :func:`bulk_insert`,
which does the same bookkeeping for many rows at once. Bulk ``UPDATE``/``DELETE``
statements against replicated tables are refused outright: they would silently
escape the log and the peers would never hear of them.

Setting ``session.info["replaying"] = True`` turns capture off for that session: the
sync engine uses it when it applies changes that already carry their origin's
``(node, seq, hlc)``. Derived caches are maintained either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table, event, insert, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.state import InstanceState

from vaultsync.domain.errors import ReplicationError
from vaultsync.domain.ids import new_id
from vaultsync.store import codec
from vaultsync.store.base import Base
from vaultsync.store.models import Change, CreditEntry, CustomerBalance, StockLevel, StockMovement
from vaultsync.store.types import utcnow
from vaultsync.sync import hlc as hlc_mod

UPSERT = "upsert"
DELETE = "delete"

_PENDING_KEY = "vaultsync_pending_changes"


@dataclass(slots=True)
class _Pending:
    obj: Base
    op: str
    columns: list[str] | None  # attribute keys changed (None: all, on insert; ignored on delete)
    seq: int = 0
    hlc: int = 0


@dataclass(slots=True)
class _Table:
    """Per-model facts capture needs, computed once."""

    replication: str
    table: Table
    pk_key: str
    #: (attribute key, column) for every mapped column
    columns: list[tuple[str, Column[Any]]] = field(default_factory=list)
    order: int = 0
    has_hlc: bool = False
    has_updated_at: bool = False


_TABLES: dict[type, _Table] = {}


def _table_info(cls: type) -> _Table | None:
    info = _TABLES.get(cls)
    if info is None:
        replication = getattr(cls, "__replication__", "local")
        if replication not in ("lww", "ledger"):
            return None
        mapper: Any = inspect(cls)
        table = mapper.local_table
        assert isinstance(table, Table)
        pks = mapper.primary_key
        if len(pks) != 1:
            raise ReplicationError(f"replicated table {table.name} must have a single-column primary key")
        pk_key = mapper.get_property_by_column(pks[0]).key
        cols = [(prop.key, prop.columns[0]) for prop in mapper.column_attrs]
        order = Base.metadata.sorted_tables.index(table)
        keys = {k for k, _ in cols}
        info = _Table(replication, table, pk_key, cols, order, "hlc" in keys, "updated_at" in keys)
        _TABLES[cls] = info
    return info


# --------------------------------------------------------------------------- numbering


def allocate(session: Session, count: int) -> tuple[int, int]:
    """Reserve ``count`` consecutive (seq, hlc) pairs; returns the first of each.

    One statement, atomic on SQLite and PostgreSQL; the row lock it takes is held to
    commit, which is what makes seq order equal commit order for this node.
    """
    if count <= 0:
        raise ValueError("count must be positive")
    floor = hlc_mod.now_floor()
    row = session.execute(
        text(
            "UPDATE node_state SET last_seq = last_seq + :n, "
            "last_hlc = CASE WHEN :floor > last_hlc THEN :floor + :n - 1 ELSE last_hlc + :n END "
            "WHERE id = 1 RETURNING last_seq, last_hlc"
        ),
        {"n": count, "floor": floor},
    ).one_or_none()
    if row is None:
        raise ReplicationError("this database has no node identity; run `vaultsync migrate` first")
    last_seq, last_hlc = int(row[0]), int(row[1])
    return last_seq - count + 1, last_hlc - count + 1


def observe_hlc(session: Session, remote_hlc: int) -> None:
    """Advance this node's HLC past a remote one (called when merging peers' changes)."""
    hlc_mod.check_remote(remote_hlc)
    session.execute(
        text(
            "UPDATE node_state SET last_hlc = CASE WHEN :r > last_hlc THEN :r ELSE last_hlc END WHERE id = 1"
        ),
        {"r": remote_hlc},
    )


def node_id_of(session: Session) -> str:
    node = session.info.get("node_id")
    if not node:
        raise ReplicationError("session has no node id (open it through vaultsync.store.open_store)")
    return str(node)


# --------------------------------------------------------------------------- ORM hooks


def _changed_keys(state: InstanceState[Any], info: _Table) -> list[str]:
    changed = []
    for key, _col in info.columns:
        hist = state.attrs[key].history
        # an attribute set to its current value shows up as added == unchanged: not a change
        if hist.deleted or (hist.added and not hist.unchanged):
            changed.append(key)
    return changed


def _before_flush(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    replaying = bool(session.info.get("replaying"))
    pending: list[_Pending] = []
    now = utcnow()
    for obj in session.new:
        info = _table_info(type(obj))
        if info is not None:
            pending.append(_Pending(obj, UPSERT, None))
    for obj in session.dirty:
        info = _table_info(type(obj))
        if info is None or obj in session.deleted:
            continue
        state = inspect(obj)
        keys = _changed_keys(state, info)
        if not keys:
            continue
        if info.replication == "ledger" and not replaying:
            raise ReplicationError(
                f"{info.table.name} is an insert-only ledger; record a new entry instead of editing "
                f"{keys} (a completed record is never rewritten)"
            )
        if info.has_updated_at and "updated_at" not in keys and not replaying:
            obj.updated_at = now
            keys.append("updated_at")
        pending.append(_Pending(obj, UPSERT, keys))
    for obj in session.deleted:
        info = _table_info(type(obj))
        if info is None:
            continue
        if info.replication == "ledger" and not replaying:
            raise ReplicationError(f"{info.table.name} is an insert-only ledger; its rows cannot be deleted")
        pending.append(_Pending(obj, DELETE, None))
    if replaying or not pending:
        session.info.pop(_PENDING_KEY, None)
        return
    # Peers apply a batch in seq order with foreign keys on: parents before children
    # for inserts/updates, children before parents for deletes.
    pending.sort(key=_apply_order)
    node = node_id_of(session)
    first_seq, first_hlc = allocate(session, len(pending))
    for i, p in enumerate(pending):
        p.seq, p.hlc = first_seq + i, first_hlc + i
        if p.op == UPSERT and p.columns is None:
            info = _TABLES[type(p.obj)]
            if info.has_hlc:
                p.obj.hlc = p.hlc  # type: ignore[attr-defined]
            if (
                hasattr(p.obj, "node_id")
                and getattr(p.obj, "node_id", None) is None
                and info.replication == "ledger"
            ):
                p.obj.node_id = node
    session.info[_PENDING_KEY] = pending


def _apply_order(p: _Pending) -> tuple[int, int]:
    order = _TABLES[type(p.obj)].order
    return (0, order) if p.op == UPSERT else (1, -order)


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    pending: list[_Pending] = session.info.pop(_PENDING_KEY, [])
    _update_derived_caches(session, (o for o in session.new))
    if session.info.get("replaying"):
        return
    seen = {id(p.obj) for p in pending}
    # Deletions cascaded during the flush itself (delete-orphan) were not known before it.
    extra = [
        _Pending(obj, DELETE, None)
        for obj in session.deleted
        if id(obj) not in seen and _table_info(type(obj)) is not None
    ]
    if extra:
        first_seq, first_hlc = allocate(session, len(extra))
        for i, p in enumerate(extra):
            p.seq, p.hlc = first_seq + i, first_hlc + i
        pending.extend(extra)
    if not pending:
        return
    node = node_id_of(session)
    rows = [_change_row(node, p) for p in pending]
    session.execute(insert(Change), rows)


def _change_row(node: str, p: _Pending) -> dict[str, Any]:
    info = _TABLES[type(p.obj)]
    state = inspect(p.obj)
    pk = state.dict.get(info.pk_key)
    if pk is None:
        pk = state.identity[0] if state.identity else None
    if pk is None:
        raise ReplicationError(f"cannot capture a change to {info.table.name} without a primary key")
    data: str | None = None
    if p.op == UPSERT:
        wanted = None if p.columns is None else set(p.columns)
        values = {
            col.name: codec.encode_value(col, state.dict.get(key))
            for key, col in info.columns
            if wanted is None or key in wanted
        }
        data = codec.dumps(values)
    return {
        "origin_node": node,
        "seq": p.seq,
        "hlc": p.hlc,
        "table_name": info.table.name,
        "pk": str(pk),
        "op": p.op,
        "data": data,
    }


def _guard_bulk_dml(orm_execute_state: ORMExecuteState) -> None:
    if not (orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert):
        return
    if orm_execute_state.session.info.get("replaying") or orm_execute_state.execution_options.get(
        "vaultsync_captured"
    ):
        return
    mapper = orm_execute_state.bind_mapper
    if mapper is not None and _table_info(mapper.class_) is not None:
        raise ReplicationError(
            f"bulk {orm_execute_state.statement.__class__.__name__.lower()} on replicated table "
            f"{mapper.class_.__tablename__} would bypass change capture; use ORM objects or "
            "vaultsync.store.capture.bulk_insert"
        )


def install(session_class: type[Session]) -> None:
    """Attach capture to a Session class (done once for VaultSession)."""
    event.listen(session_class, "before_flush", _before_flush)
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "do_orm_execute", _guard_bulk_dml)


# --------------------------------------------------------------------------- derived caches


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def upsert(
    session: Session,
    table: Table,
    keys: Sequence[str],
    rows: list[dict[str, Any]],
    assign: Callable[[Any], dict[str, Any]],
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET assign(excluded), for SQLite and PostgreSQL.

    ``assign`` receives the dialect's ``excluded`` namespace and returns the SET clause.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(table)
        stmt: Any = pg_stmt.on_conflict_do_update(index_elements=list(keys), set_=assign(pg_stmt.excluded))
    elif dialect == "sqlite":
        sq_stmt = sqlite.insert(table)
        stmt = sq_stmt.on_conflict_do_update(index_elements=list(keys), set_=assign(sq_stmt.excluded))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ReplicationError(f"unsupported database dialect {dialect}")
    session.execute(stmt, rows)


def _upsert_add(
    session: Session, table: Table, keys: Sequence[str], value_col: str, rows: list[dict[str, Any]]
) -> None:
    """Add ``value_col`` of each row to the stored value (a derived-cache delta)."""
    upsert(session, table, keys, rows, lambda excluded: {value_col: table.c[value_col] + excluded[value_col]})


def _aggregate_stock(movements: Iterable[tuple[str, str, int]]) -> list[dict[str, Any]]:
    sums: dict[tuple[str, str], int] = {}
    for sku, loc, delta in movements:
        sums[(sku, loc)] = sums.get((sku, loc), 0) + delta
    return [{"sku_id": s, "location_id": loc, "on_hand": d} for (s, loc), d in sums.items()]


def _aggregate_credit(entries: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    sums: dict[str, int] = {}
    for cust, delta in entries:
        sums[cust] = sums.get(cust, 0) + delta
    return [{"customer_id": c, "balance_cents": d} for c, d in sums.items()]


def _update_derived_caches(session: Session, new_objects: Iterable[object]) -> None:
    moves: list[tuple[str, str, int]] = []
    credits: list[tuple[str, int]] = []
    for obj in new_objects:
        if isinstance(obj, StockMovement):
            moves.append((obj.sku_id, obj.location_id, obj.delta))
        elif isinstance(obj, CreditEntry):
            credits.append((obj.customer_id, obj.delta_cents))
    apply_derived(session, moves, credits)


def apply_derived(
    session: Session, moves: Sequence[tuple[str, str, int]], credits: Sequence[tuple[str, int]]
) -> None:
    """Add ledger deltas to the on-hand and balance caches (also used by the sync engine)."""
    _upsert_add(session, _table(StockLevel), ("sku_id", "location_id"), "on_hand", _aggregate_stock(moves))
    _upsert_add(
        session, _table(CustomerBalance), ("customer_id",), "balance_cents", _aggregate_credit(credits)
    )


# --------------------------------------------------------------------------- bulk path


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows of a replicated model with full change capture, fast.

    ``rows`` use attribute names; missing ``id`` values are generated, Python-side
    column defaults are applied, ledger rows get their ``node_id`` and ``hlc``.
    Used for demo data and large imports where ORM objects would be too slow. How each
    column is filled and encoded is decided once per call, not once per cell. Callers
    loading hundreds of thousands of rows should commit in chunks: one huge SQLite
    transaction grows the write-ahead log until every page lookup slows down.
    """
    if not rows:
        return
    info = _table_info(model)
    if info is None:
        raise ReplicationError(f"{model.__name__} is not a replicated table")
    node = node_id_of(session)
    first_seq, first_hlc = allocate(session, len(rows))
    plan = [_fill_plan(info, key, col) for key, col in info.columns]
    pk_name = next(col.name for key, col in info.columns if key == info.pk_key)
    db_rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for i, src in enumerate(rows):
        hlc = first_hlc + i
        db_row: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for key, name, col, fill, arg, encode in plan:
            if fill == _FILL_HLC:
                value: Any = hlc
            elif key in src:
                value = src[key]
            elif fill == _FILL_ID:
                value = new_id()
            elif fill == _FILL_NODE:
                value = node
            elif fill == _FILL_CALL:
                value = arg(None)
            else:
                value = arg
            db_row[name] = value
            data[name] = codec.encode_value(col, value) if encode and value is not None else value
        db_rows.append(db_row)
        changes.append(
            {
                "origin_node": node,
                "seq": first_seq + i,
                "hlc": hlc,
                "table_name": info.table.name,
                "pk": str(db_row[pk_name]),
                "op": UPSERT,
                "data": codec.dumps(data),
            }
        )
    session.execute(info.table.insert(), db_rows, execution_options={"vaultsync_captured": True})
    session.execute(insert(Change), changes)
    if model is StockMovement:
        apply_derived(session, [(r["sku_id"], r["location_id"], r["delta"]) for r in db_rows], [])
    elif model is CreditEntry:
        apply_derived(session, [], [(r["customer_id"], r["delta_cents"]) for r in db_rows])


_FILL_SCALAR, _FILL_ID, _FILL_HLC, _FILL_NODE, _FILL_CALL = range(5)


def _fill_plan(info: _Table, key: str, col: Column[Any]) -> tuple[str, str, Column[Any], int, Any, bool]:
    """(attribute key, column name, column, how to fill a missing value, default, needs encoding)."""
    default: Any = col.default
    fill, arg = _FILL_SCALAR, None
    if key == "hlc" and info.has_hlc:
        fill = _FILL_HLC
    elif key == info.pk_key and key == "id":
        fill = _FILL_ID
    elif key == "node_id" and info.replication == "ledger":
        fill = _FILL_NODE
    elif default is not None and getattr(default, "is_callable", False):
        fill, arg = _FILL_CALL, default.arg
    elif default is not None and getattr(default, "is_scalar", False):
        arg = default.arg
    return key, col.name, col, fill, arg, codec.needs_encoding(col)
