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

import contextlib
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any, TypeAlias

from sqlalchemy import BigInteger, Boolean, Column, Table, bindparam, event, insert, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.state import InstanceState

from vaultsync.domain.errors import ReplicationError
from vaultsync.domain.ids import new_id, new_ids
from vaultsync.store import codec
from vaultsync.store.base import Base
from vaultsync.store.models import Change, CreditEntry, CustomerBalance, StockLevel, StockMovement
from vaultsync.store.types import UTCDateTime, utcnow
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
    statement(session, ("observe-hlc",), _observe_hlc, ["r"]).fetch((remote_hlc,))


def _observe_hlc() -> Any:
    return text(
        "UPDATE node_state SET last_hlc = CASE WHEN :r > last_hlc THEN :r ELSE last_hlc END WHERE id = 1"
    ).bindparams(bindparam("r", type_=BigInteger))


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
    *,
    cache_key: tuple[str, ...] | None = None,
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET assign(excluded), for SQLite and PostgreSQL.

    ``assign`` receives the dialect's ``excluded`` namespace and returns the SET clause.
    With ``cache_key`` (naming what ``assign`` does: the same key must always mean the same
    SET clause) the statement is compiled once and the rows go to the driver as they are
    — every row sets the same keys, values the driver takes untouched (text, integers):
    what the merge does on every live push. Without it, SQLAlchemy runs it as usual.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name

    def build(values: dict[str, Any] | None = None) -> Any:
        if dialect == "postgresql":
            pg_stmt = postgresql.insert(table)
            if values is not None:
                pg_stmt = pg_stmt.values(values)
            return pg_stmt.on_conflict_do_update(index_elements=list(keys), set_=assign(pg_stmt.excluded))
        if dialect == "sqlite":
            sq_stmt = sqlite.insert(table)
            if values is not None:
                sq_stmt = sq_stmt.values(values)
            return sq_stmt.on_conflict_do_update(index_elements=list(keys), set_=assign(sq_stmt.excluded))
        raise ReplicationError(f"unsupported database dialect {dialect}")  # pragma: no cover

    if cache_key is None:
        session.execute(build(), rows)
        return
    names = list(rows[0])
    runner = _Statement(
        session,
        lambda: build({n: bindparam(n) for n in names}),
        names,
        cache_key=("upsert", *cache_key, str(table.name), *names),
    )
    _run(runner, [runner.row([row[n] for n in names]) for row in rows])


def _upsert_add(
    session: Session, table: Table, keys: Sequence[str], value_col: str, rows: list[dict[str, Any]]
) -> None:
    """Add ``value_col`` of each row to the stored value (a derived-cache delta)."""
    upsert(
        session,
        table,
        keys,
        rows,
        lambda excluded: {value_col: table.c[value_col] + excluded[value_col]},
        cache_key=("add", value_col),
    )


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


# --------------------------------------------------------------------------- fast column-wise paths
#
# Price imports write hundreds of thousands of rows per file. Going through SQLAlchemy's
# per-parameter processing and json.dumps per change costs more than SQLite's own work,
# so these two paths decide once per call how each column is bound and encoded, hand the
# driver plain tuples (executemany), and build each change's JSON from per-column
# fragments that are byte-identical to :func:`codec.dumps`.

_json_str = json.encoder.encode_basestring  # what json.dumps(str, ensure_ascii=False) writes


def _json_fragment(value: Any) -> str:
    """``json.dumps(value)`` as :func:`codec.dumps` would write it inside an object."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return _json_str(value)
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@dataclass(slots=True)
class _ColumnCodec:
    """How one column's Python values become driver parameters and change-log JSON."""

    name: str
    bind: Callable[[Any], Any] | None
    encode: bool
    column: Column[Any]
    _memo: dict[Any, tuple[Any, str]] = field(default_factory=dict)

    def convert(self, value: Any) -> tuple[Any, str]:
        """(driver parameter, JSON fragment) for ``value``; repeated values are converted once."""
        if value is None:
            return None, "null"
        kind = type(value)
        if self.bind is None:
            if kind is int:
                return value, int.__repr__(value)
            if kind is str:
                return value, _json_str(value)
        try:
            return self._memo[value]
        except (KeyError, TypeError):
            pass
        param = self.bind(value) if self.bind is not None else value
        encoded = codec.encode_value(self.column, value) if self.encode else value
        out = (param, _json_fragment(encoded))
        if kind is not str and kind is not int and len(self._memo) < 64:
            with contextlib.suppress(TypeError):
                self._memo[value] = out  # datetimes, sources, batch ids: few distinct values
        return out


def _codec_for(session: Session, column: Column[Any]) -> _ColumnCodec:
    dialect = session.get_bind().dialect
    bind = column.type._cached_bind_processor(dialect)  # SQLAlchemy's own per-type hook
    return _ColumnCodec(column.name, bind, codec.needs_encoding(column), column)


class _Statement:
    """A statement compiled once by SQLAlchemy for this session's dialect, run per tuple.

    ``names`` are the statement's bind names in the order the caller builds its value
    tuples; :attr:`slots` maps each of them to its position in the compiled statement, so
    callers place values straight where the driver wants them.
    """

    def __init__(
        self, session: Session, stmt: Any, names: Sequence[str], *, cache_key: tuple[str, ...] | None = None
    ) -> None:
        self.conn = session.connection()
        dialect = self.conn.dialect
        key = None if cache_key is None else (*cache_key, dialect.name, dialect.paramstyle)
        got = None if key is None else _COMPILED.get(key)
        if got is None:
            # compiling costs about as much as SQLite writing a few rows: a live push of
            # one sale paid it twice per merge before statements were kept
            compiled = (stmt() if callable(stmt) else stmt).compile(dialect=dialect)
            positional = bool(compiled.positional)
            # binds the dialect adds with a fixed value (SQLite's OFFSET 0 after a LIMIT)
            fixed = {k: v for k, v in compiled.params.items() if k not in names}
            order = list(compiled.positiontup) if positional else list(names)
            got = (str(compiled), positional, order, fixed)
            if key is not None:
                _COMPILED[key] = got
        self.sql, self.positional, order, self.fixed = got
        self.names = order
        self.given = list(names)
        self.slots = [order.index(n) for n in names]

    def row(self, params: Sequence[Any]) -> tuple[Any, ...]:
        """Values in the caller's ``names`` order -> the statement's bind order (for executemany)."""
        values = dict(zip(self.given, params, strict=True))
        if self.fixed:
            values = {**self.fixed, **values}
        return tuple(values[n] for n in self.names)

    def ordered(self, params: Sequence[Any]) -> Any:
        """Values in the caller's ``names`` order -> what the driver's execute takes."""
        row = self.row(params)
        if self.positional:
            return row
        return {**self.fixed, **dict(zip(self.names, row, strict=True))}

    def fetch(self, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run once with ``params`` (the caller's ``names`` order); all result rows as tuples."""
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, self.ordered(params))
            return list(cursor.fetchall()) if cursor.description is not None else []
        finally:
            cursor.close()

    def executemany(self, params: list[tuple[Any, ...]]) -> int:
        """Hand the tuples to the driver on the session's own connection (same transaction)."""
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if self.positional:
                cursor.executemany(self.sql, params)
            else:
                names, fixed = self.names, self.fixed
                cursor.executemany(self.sql, [{**fixed, **dict(zip(names, p, strict=True))} for p in params])
            return int(cursor.rowcount)
        finally:
            cursor.close()


#: compiled statements by (caller's key, dialect, paramstyle): (SQL, positional, bind order,
#: fixed values of binds the caller does not name)
_COMPILED: dict[tuple[str, ...], tuple[str, bool, list[str], dict[str, Any]]] = {}


def statement(
    session: Session, key: tuple[str, ...], build: Callable[[], Any], names: Sequence[str]
) -> _Statement:
    """A small statement the sync engine runs on every merge, compiled once per ``key`` and dialect.

    ``build()`` returns the SQLAlchemy statement; every value in it must be a
    ``bindparam`` named in ``names`` (no literal values: the compiled SQL is reused). Run
    it with :meth:`_Statement.fetch` / :meth:`_Statement.executemany`
    on the session's connection, in its transaction. The values go to the driver as they
    are: keys, sequence numbers, HLCs, JSON text — nothing a type's bind processor changes.
    A live push of one sale runs about twenty of these; SQLAlchemy's per-execution work
    (cache key, parameter processing, result set-up) cost more than SQLite answering them.
    """
    return _Statement(session, build, names, cache_key=key)


_CHANGE_COLUMNS = ("origin_node", "seq", "hlc", "table_name", "pk", "op", "data")


def _change_insert() -> Any:
    return _table(Change).insert().values({c: bindparam(c) for c in _CHANGE_COLUMNS})


def _insert_changes(session: Session, changes: list[tuple[Any, ...]]) -> None:
    runner = _Statement(session, _change_insert, _CHANGE_COLUMNS, cache_key=("changes",))
    if runner.slots != list(range(len(_CHANGE_COLUMNS))):
        changes = [tuple(c[i] for i in runner.slots) for c in changes]  # pragma: no cover - table order
    runner.executemany(changes)


_MISSING = object()


_INT: frozenset[type] = frozenset({int})
_STR: frozenset[type] = frozenset({str})
_INT_OR_NONE: frozenset[type] = frozenset({int, type(None)})
_STR_OR_NONE: frozenset[type] = frozenset({str, type(None)})


def _convert_column(col_codec: _ColumnCodec, values: Sequence[Any]) -> tuple[Sequence[Any], list[str]]:
    """(driver parameters, JSON fragments) of one column's values, in one pass."""
    if col_codec.bind is None and not col_codec.encode:
        kinds = set(map(type, values))
        if kinds <= _INT:
            return values, list(map(int.__repr__, values))
        if kinds <= _STR:
            return values, list(map(_json_str, values))
        if kinds <= _INT_OR_NONE:
            return values, ["null" if v is None else int.__repr__(v) for v in values]
        if kinds <= _STR_OR_NONE:
            return values, ["null" if v is None else _json_str(v) for v in values]
        return values, [_json_fragment(v) for v in values]
    convert = col_codec.convert
    pairs = [convert(v) for v in values]
    return [p for p, _f in pairs], [f for _p, f in pairs]


class _Columns:
    """Driver tuples and change JSON of many rows, built column by column.

    A column is either the same in every row (converted once; its JSON is baked into a
    ``%`` template) or varying (converted in one pass over its values). Each row's change
    JSON is then ONE ``template % fragments`` — no per-row sort or merge — and
    byte-identical to :func:`codec.dumps` of the row, provided columns are added in
    column-name order (the order ``dumps`` sorts keys in).
    """

    def __init__(self, width: int, count: int) -> None:
        self.count = count
        self.slots: list[Any] = [None] * width  # per driver slot: a sequence, or repeat(value)
        self.pieces: list[str] = []
        self.frags: list[list[str]] = []
        self.last_name = ""

    def _key(self, name: str) -> str:
        if name <= self.last_name:
            raise AssertionError("columns must be added in column-name order")  # pragma: no cover
        self.last_name = name
        return (_json_str(name) + ":").replace("%", "%%")

    def same(self, col_codec: _ColumnCodec, slot: int, value: Any) -> Any:
        param, frag = col_codec.convert(value)
        self.slots[slot] = repeat(param)
        self.pieces.append(self._key(col_codec.name) + frag.replace("%", "%%"))
        return param

    def varying(self, col_codec: _ColumnCodec, slot: int, values: Sequence[Any]) -> Sequence[Any]:
        if len(values) != self.count:
            raise ReplicationError(f"column {col_codec.name}: {len(values)} values for {self.count} rows")
        params, frags = _convert_column(col_codec, values)
        self.slots[slot] = params
        self.pieces.append(self._key(col_codec.name) + "%s")
        self.frags.append(frags)
        return params

    def param_only(self, slot: int, values: Sequence[Any]) -> None:
        """A driver parameter that is not in the change JSON (the WHERE key of an update)."""
        self.slots[slot] = values

    def build(self) -> tuple[list[tuple[Any, ...]], list[str]]:
        template = "{" + ",".join(self.pieces) + "}"
        if self.frags:
            datas = [template % t for t in zip(*self.frags, strict=True)]
        else:
            datas = [template % ()] * self.count
        if all(type(src) is repeat for src in self.slots):
            params = [tuple(next(src) for src in self.slots)] * self.count  # pragma: no cover
        else:
            params = list(zip(*self.slots, strict=False))  # repeat() columns are endless
        return params, datas


def _change_rows(
    node: str, first_seq: int, first_hlc: int, name: str, pks: Iterable[str], datas: list[str]
) -> list[tuple[Any, ...]]:
    n = len(datas)
    return list(
        zip(
            repeat(node, n),
            range(first_seq, first_seq + n),
            range(first_hlc, first_hlc + n),
            repeat(name, n),
            pks,
            repeat(UPSERT, n),
            datas,
            strict=True,
        )
    )


def bulk_update(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> int:
    """Update many rows of a mutable (``lww``) model by primary key, with full change capture.

    The captured twin of a bulk ``UPDATE`` (which :func:`_guard_bulk_dml` refuses): one
    ``UPDATE … WHERE pk = ?`` executed for all rows at once, and one change row per
    updated row carrying exactly the columns set — what an ORM flush of the same edits
    would log. ``rows`` use attribute names; every row carries the primary key and the
    same set of other keys (group rows by the columns they change). ``updated_at`` is
    stamped unless given. Returns the number of rows.

    A primary key that matches no row raises ReplicationError (the change log must never
    describe a write that did not happen). Rows loaded as ORM objects in the same session
    are not refreshed: do not mix the two on the same rows in one unit of work. Ledger
    rows are never updated, in bulk or otherwise.
    """
    if not rows:
        return 0
    info = _table_info(model)
    if info is None:
        raise ReplicationError(f"{model.__name__} is not a replicated table")
    if info.replication != "lww":
        raise ReplicationError(f"{info.table.name} is an insert-only ledger; its rows cannot be updated")
    by_key = dict(info.columns)
    pk_key = info.pk_key
    keys = [k for k in rows[0] if k != pk_key]
    if pk_key not in rows[0] or not keys:
        raise ReplicationError("bulk_update rows need the primary key and at least one column")
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ReplicationError(f"{info.table.name} has no column(s) {unknown}")
    wanted = {pk_key, *keys}
    width = len(wanted)
    for src in rows:
        if len(src) != width or not wanted.issuperset(src):
            raise ReplicationError("bulk_update rows must all set the same columns")
    fixed: dict[str, Any] = {}
    if info.has_updated_at and "updated_at" not in keys:
        keys.append("updated_at")
        fixed["updated_at"] = utcnow()
    keys.sort(key=lambda k: by_key[k].name)  # change data is key-sorted JSON
    codecs = [_codec_for(session, by_key[k]) for k in keys]
    stmt = (
        info.table.update()
        .where(by_key[pk_key] == bindparam("_pk"))
        .values({c.name: bindparam("_v_" + c.name) for c in codecs})
    )
    runner = _Statement(session, stmt, [*("_v_" + c.name for c in codecs), "_pk"])
    built = _Columns(len(keys) + 1, len(rows))
    for key, col_codec, slot in zip(keys, codecs, runner.slots, strict=False):
        if key in fixed:
            built.same(col_codec, slot, fixed[key])
        else:
            built.varying(col_codec, slot, [src[key] for src in rows])
    pks = [src[pk_key] for src in rows]
    pk_codec = _codec_for(session, by_key[pk_key])
    built.param_only(runner.slots[-1], _convert_column(pk_codec, pks)[0])
    params, datas = built.build()
    node = node_id_of(session)
    name = str(info.table.name)  # a plain str: the driver checks subclasses for adapters per row
    first_seq, first_hlc = allocate(session, len(rows))
    changes = _change_rows(node, first_seq, first_hlc, name, map(str, pks), datas)
    matched = runner.executemany(params)
    if runner.conn.dialect.supports_sane_multi_rowcount and matched not in (-1, len(params)):
        raise ReplicationError(
            f"bulk_update of {name}: {len(params) - matched} of {len(params)} rows do not exist"
        )
    _insert_changes(session, changes)
    return len(rows)


def bulk_append(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> list[str]:
    """Insert many new rows of a replicated model, column-wise: the fast twin of :func:`bulk_insert`.

    Same result as :func:`bulk_insert` (ids, ``node_id``/``hlc`` of ledger rows and Python
    defaults filled, one change row each with every column), through the driver directly.
    Every row must set the same keys. Models with derived caches (stock movements, credit
    entries) go through :func:`bulk_insert`, which keeps those caches. Returns the ids.
    """
    if not rows:
        return []
    given = set(rows[0])
    width = len(given)
    for src in rows:
        if len(src) != width or not given.issuperset(src):
            raise ReplicationError("bulk_append rows must all set the same columns")
    return bulk_append_columns(session, model, {k: [src[k] for src in rows] for k in rows[0]}, len(rows))


def bulk_append_columns(
    session: Session,
    model: type[Base],
    columns: Mapping[str, Sequence[Any]],
    count: int,
    same: Mapping[str, Any] | None = None,
) -> list[str]:
    """:func:`bulk_append` for rows given column-wise: ``columns[key]`` holds ``count``
    values, ``same[key]`` one value for every row. Large imports build their rows this
    way: no dict per row, and a column that is the same everywhere is encoded once."""
    if count <= 0:
        return []
    same = same or {}
    info = _table_info(model)
    if info is None:
        raise ReplicationError(f"{model.__name__} is not a replicated table")
    if model is StockMovement or model is CreditEntry:
        raise ReplicationError(f"{model.__name__} keeps a derived cache: use bulk_insert")
    unknown = (set(columns) | set(same)) - {k for k, _ in info.columns}
    if unknown:
        raise ReplicationError(f"{info.table.name} has no column(s) {sorted(unknown)}")
    node = node_id_of(session)
    first_seq, first_hlc = allocate(session, count)
    plan = sorted((_fill_plan(info, key, col) for key, col in info.columns), key=lambda p: p[1])
    names = [p[1] for p in plan]
    stmt = info.table.insert().values({n: bindparam("_v_" + n) for n in names})
    runner = _Statement(session, stmt, ["_v_" + n for n in names])
    built = _Columns(len(plan), count)
    pks: Sequence[Any] = ()
    for (key, _name, col, fill, arg, _enc), slot in zip(plan, runner.slots, strict=True):
        col_codec = _codec_for(session, col)
        values: Sequence[Any] | None = None
        if fill == _FILL_HLC:
            values = range(first_hlc, first_hlc + count)
        elif key in columns:
            values = columns[key]
        elif key in same:
            if key == info.pk_key:
                raise ReplicationError("bulk_append: every row needs its own primary key")
            built.same(col_codec, slot, same[key])
            continue
        elif fill == _FILL_ID:
            values = new_ids(count)
        elif fill == _FILL_NODE:
            built.same(col_codec, slot, node)
            continue
        elif fill == _FILL_CALL:
            values = [arg(None) for _ in range(count)]
        else:
            built.same(col_codec, slot, arg)
            continue
        params = built.varying(col_codec, slot, values)
        if key == info.pk_key:
            pks = params
    params_rows, datas = built.build()
    ids = [str(pk) for pk in pks]
    runner.executemany(params_rows)
    _insert_changes(session, _change_rows(node, first_seq, first_hlc, str(info.table.name), ids, datas))
    return ids


def bulk_update_same(session: Session, model: type[Base], pks: Sequence[str], values: dict[str, Any]) -> int:
    """Set the same ``values`` on every row in ``pks`` (a mutable model), with full change capture.

    What :func:`bulk_update` does for rows that all get identical values (e.g. "a feed
    confirmed these prices at 10:02"), with the per-row work reduced to placing the key:
    the encoded values and the change JSON are built once. Returns the number of rows.
    """
    if not pks:
        return 0
    info = _table_info(model)
    if info is None or info.replication != "lww":
        raise ReplicationError(f"{model.__name__} is not a mutable replicated table")
    by_key = dict(info.columns)
    keys = list(values)
    unknown = [k for k in keys if k not in by_key or k == info.pk_key]
    if unknown:
        raise ReplicationError(f"{info.table.name}: cannot set {unknown} in bulk")
    fixed = dict(values)
    if info.has_updated_at and "updated_at" not in fixed:
        fixed["updated_at"] = utcnow()
    keys = sorted(fixed, key=lambda k: by_key[k].name)
    codecs = [_codec_for(session, by_key[k]) for k in keys]
    converted = [c.convert(fixed[k]) for k, c in zip(keys, codecs, strict=True)]
    data = (
        "{"
        + ",".join(_json_str(c.name) + ":" + frag for c, (_p, frag) in zip(codecs, converted, strict=True))
        + "}"
    )
    stmt = (
        info.table.update()
        .where(by_key[info.pk_key] == bindparam("_pk"))
        .values({c.name: bindparam("_v_" + c.name) for c in codecs})
    )
    runner = _Statement(session, stmt, [*("_v_" + c.name for c in codecs), "_pk"])
    slots = runner.slots
    width = len(slots)
    base: list[Any] = [None] * width
    for (param, _frag), slot in zip(converted, slots, strict=False):
        base[slot] = param
    pk_slot = slots[-1]
    if pk_slot == width - 1:
        head = tuple(base[:-1])
        params = [(*head, pk) for pk in pks]
    else:  # pragma: no cover - SQLAlchemy puts the WHERE parameter last
        params = []
        for pk in pks:
            row = list(base)
            row[pk_slot] = pk
            params.append(tuple(row))
    node = node_id_of(session)
    name = str(info.table.name)
    first_seq, first_hlc = allocate(session, len(pks))
    changes = [(node, first_seq + i, first_hlc + i, name, pk, UPSERT, data) for i, pk in enumerate(pks)]
    matched = runner.executemany(params)
    if runner.conn.dialect.supports_sane_multi_rowcount and matched not in (-1, len(params)):
        raise ReplicationError(
            f"bulk_update of {name}: {len(params) - matched} of {len(params)} rows do not exist"
        )
    _insert_changes(session, changes)
    return len(pks)


# --------------------------------------------------------------------------- replay (sync engine)
#
# The sync engine's merge writes rows that already carry their origin's (node, seq, hlc):
# no capture, but the same column-wise driver path as the imports above, because per-row
# SQLAlchemy parameter processing costs more than SQLite's own work on a catch-up.


def _driver_errors(runner: _Statement) -> tuple[type[Exception], ...]:
    dbapi = runner.conn.dialect.dbapi
    return (dbapi.IntegrityError,) if dbapi is not None else ()


#: per (table, dialect, paramstyle): how a change-log row becomes the driver's parameters
_Replay: TypeAlias = tuple[Callable[[Any], Any], list[tuple[int, Callable[[Any], Any]]]]
_ROW_PLANS: dict[tuple[str, str, str], _Replay] = {}


def insert_encoded_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows given as the change log encodes them (every column present), one executemany.

    What ``session.execute(table.insert(), [decoded rows])`` does, without SQLAlchemy's
    per-row parameter processing: how each column goes from its change-log form to the
    driver's (:func:`codec.decode_value`, then the type's bind processor: dates, JSON,
    booleans) is decided once, and applied only to the columns that need it; repeated
    values are converted once. A constraint failure raises
    :class:`sqlalchemy.exc.IntegrityError`, as the SQLAlchemy path would.
    """
    if not rows:
        return
    names = [c.name for c in table.columns]
    runner = _Statement(
        session,
        lambda: table.insert().values({n: bindparam("_v_" + n) for n in names}),
        ["_v_" + n for n in names],
        cache_key=("insert-all", str(table.name)),
    )
    dialect = runner.conn.dialect
    plan_key = (str(table.name), dialect.name, dialect.paramstyle)
    plan = _ROW_PLANS.get(plan_key)
    if plan is None:  # per table and dialect once: a live push inserts a handful of rows
        order = [names[runner.slots.index(i)] for i in range(len(names))]  # driver order
        converters = []
        for i, name in enumerate(order):
            converter = _converter_for(table.c[name], dialect)
            if converter is not None:
                converters.append((i, converter))
        getter: Callable[[Any], Any] = operator.itemgetter(*order)
        plan = _ROW_PLANS[plan_key] = (getter, converters)
    get, converters = plan
    if converters:
        params: list[Any] = []
        for row in rows:
            values = list(get(row))
            for i, conv in converters:
                values[i] = conv(values[i])
            params.append(values)
    else:
        params = list(map(get, rows))
    _run(runner, params)


def update_encoded_row(session: Session, table: Table, pk: str, values: Mapping[str, Any]) -> None:
    """UPDATE one row by primary key with values as the change log encodes them.

    The merge's update of an existing row (a sale's SKU) on every live push: the
    statement is compiled once per set of columns, each value converted as
    :func:`insert_encoded_rows` converts it. A constraint failure raises
    :class:`sqlalchemy.exc.IntegrityError`.
    """
    names = sorted(values)
    pk_col = next(iter(table.primary_key.columns))
    runner = _Statement(
        session,
        lambda: (
            table.update().where(pk_col == bindparam("_pk")).values({n: bindparam("_v_" + n) for n in names})
        ),
        [*("_v_" + n for n in names), "_pk"],
        cache_key=("update", str(table.name), *names),
    )
    dialect = runner.conn.dialect
    params: list[Any] = []
    for n in names:
        key = (str(table.name), n, dialect.name)
        conv = _COLUMN_CONVERTERS.get(key, _MISSING)
        if conv is _MISSING:
            conv = _COLUMN_CONVERTERS[key] = _converter_for(table.c[n], dialect)
        params.append(values[n] if conv is None else conv(values[n]))
    params.append(pk)
    _run(runner, [runner.row(params)])


_COLUMN_CONVERTERS: dict[tuple[str, str, str], Any] = {}


def _converter_for(column: Column[Any], dialect: Any) -> Callable[[Any], Any] | None:
    """How one column's change-log value becomes a driver parameter (None: as it is)."""
    bind = column.type._cached_bind_processor(dialect)
    decode = codec.needs_encoding(column)
    if bind is None and not decode:
        return None
    general = _Converter(column, bind, decode)
    if dialect.name == "sqlite" and isinstance(column.type, UTCDateTime):
        return _SqliteTimestamp(general)
    if dialect.name == "sqlite" and isinstance(column.type, Boolean):
        return _SqliteBoolean(general)
    return general


@dataclass(slots=True)
class _SqliteBoolean:
    """True, False and None bind as they are on SQLite (as 1, 0, NULL: what SQLAlchemy's
    processor makes of them); anything else is checked by the general path."""

    general: _Converter

    def __call__(self, value: Any) -> Any:
        if value is True or value is False or value is None:
            return value
        return self.general(value)


@dataclass(slots=True)
class _SqliteTimestamp:
    """A canonical change-log timestamp straight to SQLite's stored text, by slicing.

    :func:`codec.encode_value` writes every timestamp as ISO-8601 UTC
    (``2026-11-28T12:21:54.874220+00:00``, or without the fraction when it is zero);
    SQLAlchemy stores a UTC datetime in SQLite as ``2026-11-28 12:21:54.874220``. The
    general path (parse, convert the zone, strip it, format) costs several microseconds
    a value, which adds up to a large part of a catch-up merge. The C parser still
    validates the value (a bad date from a peer fails as it would on the general path);
    anything not in the canonical form takes the general path.
    """

    general: _Converter

    def __call__(self, value: Any) -> Any:
        if type(value) is str and value.endswith("+00:00") and value[10:11] == "T":
            n = len(value)
            if n == 32 and value[19] == ".":
                datetime.fromisoformat(value)  # validation only
                return value[:10] + " " + value[11:26]
            if n == 25:
                datetime.fromisoformat(value)
                return value[:10] + " " + value[11:19] + ".000000"
        return self.general(value)


@dataclass(slots=True)
class _Converter:
    """Change-log value -> driver parameter for one column (decode, then bind)."""

    column: Column[Any]
    bind: Callable[[Any], Any] | None
    decode: bool
    _memo: dict[Any, Any] = field(default_factory=dict)

    def __call__(self, value: Any) -> Any:
        # only strings, booleans and None: as dict keys 1, 1.0 and True are equal, but no
        # two of these types' values are (True == 1 never meets an int key here)
        memo = type(value) in _MEMO_TYPES
        if memo:
            got = self._memo.get(value, _MISSING)
            if got is not _MISSING:
                return got
        out = codec.decode_value(self.column, value) if self.decode else value
        if self.bind is not None:
            out = self.bind(out)
        if memo and len(self._memo) < 256:
            self._memo[value] = out
        return out


_MEMO_TYPES = frozenset({str, bool, type(None)})


def insert_replayed_changes(session: Session, changes: list[tuple[Any, ...]]) -> None:
    """Write change-log rows ``(origin_node, seq, hlc, table_name, pk, op, data)`` as given."""
    runner = _Statement(session, _change_insert, _CHANGE_COLUMNS, cache_key=("changes",))
    if runner.slots != list(range(len(_CHANGE_COLUMNS))):  # pragma: no cover - table order
        changes = [tuple(c[i] for i in runner.slots) for c in changes]
    _run(runner, changes)


def _run(runner: _Statement, params: list[Any]) -> None:
    try:
        runner.executemany(params)
    except _driver_errors(runner) as exc:
        raise IntegrityError(runner.sql, None, exc) from exc
