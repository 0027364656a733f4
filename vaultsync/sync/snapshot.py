"""Bootstrap a brand-new terminal from a peer's snapshot plus the changes since (DESIGN.md §4).

Replaying a shop's whole history change by change would take minutes for a large shop, and
after compaction the history is not even there. Instead the peer serves a **consistent
snapshot**: one read transaction, held open across the chunk requests of one bootstrap
(SQLite WAL / PostgreSQL REPEATABLE READ), from which it streams, in foreign-key order,

* every replicated table's rows (as the change log encodes values),
* its change log (so the new terminal can relay and fold it like the peer does),
* ``column_versions`` (what compaction folded away), its vector clock and compaction floors.

The new terminal inserts them as they are (each chunk in its own transaction, bounded in
rows and bytes), rebuilds the derived caches (on-hand, balances) from the ledgers, adopts
the snapshot's vector clock, and then runs a normal :func:`~vaultsync.sync.protocol.pull`
for whatever was written while it was copying. Until the last step commits, a marker row
says the bootstrap is incomplete: such a database refuses to sync (start again from an
empty database rather than trusting half a copy).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
from sqlalchemy import Column, Table, delete, func, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from vaultsync.domain.errors import ReplicationError
from vaultsync.store import capture, codec
from vaultsync.store.base import Base, replicated_tables
from vaultsync.store.database import Store
from vaultsync.store.models import (
    Change,
    ColumnVersion,
    CompactionFloor,
    CreditEntry,
    CustomerBalance,
    NodeState,
    StockLevel,
    StockMovement,
    VectorClockEntry,
)
from vaultsync.sync.messages import (
    MAX_BATCH_BYTES,
    Call,
    Payload,
    ProtocolError,
    field_of,
    int_field,
    parse_clock,
)

#: A vector-clock/compaction-floor key no real node id can take: "a bootstrap is in progress".
BOOTSTRAP_MARKER: Final = "~bootstrap"
#: Snapshots idle longer than this are closed (a bootstrap that died half-way).
IDLE_SECONDS: Final = 120.0
#: Most snapshots one database serves at once (each holds a read transaction open).
MAX_OPEN: Final = 4
DEFAULT_CHUNK: Final = 5000
MAX_CHUNK: Final = 20_000

#: Meta tables streamed after the replicated ones, with their ordering key.
_META = {"changes": Change, "column_versions": ColumnVersion}


def _tables() -> list[Table]:
    """Replicated tables in foreign-key order, then the change log and column versions."""
    names = replicated_tables()
    out = [t for t in Base.metadata.sorted_tables if t.name in names]
    for model in _META.values():
        table = model.__table__
        assert isinstance(table, Table)
        out.append(table)
    return out


def _table(name: str) -> Table:
    for t in _tables():
        if t.name == name:
            return t
    raise ProtocolError(f"{name[:48]!r} is not part of a snapshot")


def _key_cols(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


# --------------------------------------------------------------------------- server side


@dataclass
class _Open:
    session: Session
    engine_id: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=time.monotonic)


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, _Open] = {}

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, snap in list(self._open.items()):
            if now - snap.used > IDLE_SECONDS and snap.lock.acquire(blocking=False):
                try:
                    snap.session.close()
                finally:
                    snap.lock.release()
                self._open.pop(sid, None)

    def begin(self, store: Store) -> tuple[str, Session]:
        with self._lock:
            self._expire()
            if sum(1 for o in self._open.values() if o.engine_id == id(store.engine)) >= MAX_OPEN:
                raise ProtocolError("too many snapshots in progress on this peer; try again in a minute")
            session = store.read()
            if store.engine.dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            sid = secrets.token_hex(16)
            self._open[sid] = _Open(session, id(store.engine))
            return sid, session

    def get(self, sid: str, store: Store) -> _Open:
        with self._lock:
            self._expire()
            snap = self._open.get(sid)
        if snap is None or snap.engine_id != id(store.engine):
            raise ProtocolError("unknown or expired snapshot; start the bootstrap again")
        return snap

    def end(self, sid: str) -> bool:
        with self._lock:
            snap = self._open.pop(sid, None)
        if snap is None:
            return False
        with snap.lock:
            snap.session.close()
        return True


REGISTRY = _Registry()


def _encoders(table: Table) -> list[tuple[Column[Any], bool]]:
    return [(c, codec.needs_encoding(c)) for c in table.columns]


def handle_begin(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    sid, s = REGISTRY.begin(store)
    # the first statement pins the snapshot every later chunk reads
    clock = {str(o): int(q) for o, q in s.execute(select(VectorClockEntry.origin_node, VectorClockEntry.seq))}
    state = s.get(NodeState, 1)
    if state is None:
        REGISTRY.end(sid)
        raise ProtocolError("peer has no node identity")
    clock[state.node_id] = int(state.last_seq)
    floor = {str(o): int(q) for o, q in s.execute(select(CompactionFloor.origin_node, CompactionFloor.seq))}
    if BOOTSTRAP_MARKER in floor:
        REGISTRY.end(sid)
        raise ProtocolError("peer is itself still bootstrapping; use another peer")
    return {
        "id": sid,
        "clock": clock,
        "floor": floor,
        "shop_id": state.shop_id,
        "tables": [t.name for t in _tables()],
        "dialect": store.engine.dialect.name,
    }


def _cursor(table: Table, value: Any) -> list[Any] | None:
    keys = _key_cols(table)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != len(keys):
        raise ProtocolError(f"'after' for {table.name} must be a list of {len(keys)} key values")
    for k, v in zip(keys, value, strict=True):
        expected = int if k.name == "seq" else str
        if isinstance(v, bool) or not isinstance(v, expected):
            raise ProtocolError(f"'after' value for {table.name}.{k.name} has the wrong type")
    return value


def handle_chunk(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    sid = field_of(payload, "id", str, "a snapshot id")
    table = _table(field_of(payload, "table", str, "a table name"))
    after = _cursor(table, payload.get("after"))
    limit = int_field(payload, "limit", 1, MAX_CHUNK, default=DEFAULT_CHUNK)
    snap = REGISTRY.get(sid, store)
    if payload.get("raw") is True:
        return _raw_chunk(store, snap, table, after, limit)
    keys = _key_cols(table)
    stmt = select(table).order_by(*keys).limit(limit)
    if after is not None:
        stmt = stmt.where(tuple_(*keys) > tuple_(*after)) if len(keys) > 1 else stmt.where(keys[0] > after[0])
    encoders = _encoders(table)
    rows: list[list[Any]] = []
    size = 0
    last: list[Any] | None = None
    more = False
    with snap.lock:
        snap.used = time.monotonic()
        for row in snap.session.execute(stmt):
            values = [codec.encode_value(c, v) if e else v for (c, e), v in zip(encoders, row, strict=True)]
            size += sum(len(v) if isinstance(v, str) else 8 for v in values)
            rows.append(values)
            last = [row._mapping[k] for k in keys]
            if size > MAX_BATCH_BYTES:
                more = True
                break
    if len(rows) == limit:
        more = True
    return {"columns": [c.name for c in table.columns], "rows": rows, "next": last if more else None}


def _quote(store: Store, name: str) -> str:
    return str(store.engine.dialect.identifier_preparer.quote(name))


def _raw_chunk(store: Store, snap: _Open, table: Table, after: list[Any] | None, limit: int) -> Payload:
    """SQLite to SQLite: rows exactly as stored, no decoding and re-encoding of every value.

    Both ends run this VaultSync's schema on SQLite, so the stored form of every column
    (dates as SQLAlchemy writes them, JSON as text, booleans as 0/1) is the same on both;
    skipping the codec round trip makes the snapshot several times cheaper.
    """
    if store.engine.dialect.name != "sqlite":
        raise ProtocolError("raw snapshot rows are only served between SQLite databases")
    keys = [_quote(store, k.name) for k in _key_cols(table)]
    cols = ", ".join(_quote(store, c.name) for c in table.columns)
    where = ""
    params: list[Any] = []
    if after is not None:
        where = f" WHERE ({', '.join(keys)}) > ({', '.join('?' for _ in keys)})"
        params.extend(after)
    sql = f"SELECT {cols} FROM {_quote(store, table.name)}{where} ORDER BY {', '.join(keys)} LIMIT ?"  # noqa: S608 - names from our own metadata, values bound
    params.append(limit)
    positions = [list(table.columns).index(k) for k in _key_cols(table)]
    rows: list[list[Any]] = []
    size = 0
    more = False
    with snap.lock:
        snap.used = time.monotonic()
        # the driver's own cursor on the snapshot's connection: no per-row Row objects
        cursor = snap.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, tuple(params))
            while not more:
                part = cursor.fetchmany(_RAW_PART)
                if not part:
                    break
                # what the part costs on the wire, measured by the wire format itself (C speed)
                cost = len(msgpack.packb(part, use_bin_type=True))
                if size + cost <= MAX_BATCH_BYTES:
                    rows.extend(map(list, part))
                    size += cost
                    continue
                for row in part:  # the last part: row by row up to the bound, as a cursor resumes
                    rows.append(list(row))
                    size += len(msgpack.packb(row, use_bin_type=True))
                    if size > MAX_BATCH_BYTES:
                        break
                more = True
        finally:
            cursor.close()
    more = more or len(rows) == limit
    last = [rows[-1][i] for i in positions] if rows and more else None
    return {"columns": [c.name for c in table.columns], "rows": rows, "next": last, "raw": True}


#: rows fetched (and sized) at a time by :func:`_raw_chunk`
_RAW_PART: Final = 500


def handle_end(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    sid = field_of(payload, "id", str, "a snapshot id")
    return {"closed": REGISTRY.end(sid)}


HANDLERS: dict[str, Callable[[Store, Payload, str | None], Payload]] = {
    "snapshot.begin": handle_begin,
    "snapshot.chunk": handle_chunk,
    "snapshot.end": handle_end,
}


# --------------------------------------------------------------------------- client side


@dataclass(frozen=True)
class BootstrapResult:
    rows: int
    changes: int
    tables: int
    #: changes pulled after the snapshot (written on the peer while copying)
    pulled: int
    seconds: float


def is_bootstrapping(store: Store) -> bool:
    with store.read() as s:
        return s.get(CompactionFloor, BOOTSTRAP_MARKER) is not None


def _is_empty(store: Store) -> bool:
    with store.read() as s:
        state = s.get(NodeState, 1)
        if state is None or state.last_seq:
            return False
        if s.execute(select(Change.seq).limit(1)).first() is not None:
            return False
        if s.execute(select(VectorClockEntry.seq).limit(1)).first() is not None:
            return False
        for table in _tables():
            if s.execute(select(text("1")).select_from(table).limit(1)).first() is not None:
                return False
    return True


def bootstrap(store: Store, call: Call, *, chunk: int = DEFAULT_CHUNK) -> BootstrapResult:
    """Fill this empty database from the peer's snapshot, then pull what changed meanwhile.

    Raises ReplicationError if this database already holds data (or a bootstrap broke off
    half-way: delete the file and start again), ProtocolError for a bad reply.
    """
    from vaultsync.sync.protocol import pull  # the dispatcher imports this module

    started = time.perf_counter()
    if not 1 <= chunk <= MAX_CHUNK:
        raise ValueError(f"chunk must be in 1..{MAX_CHUNK}")
    if not _is_empty(store):
        raise ReplicationError(
            "bootstrap needs an empty database; this one already holds data"
            + (
                " from a bootstrap that broke off — delete it and start again"
                if is_bootstrapping(store)
                else ""
            )
        )
    begin = call("snapshot.begin", {})
    sid = field_of(begin, "id", str, "a snapshot id")
    clock = parse_clock(field_of(begin, "clock", dict, "a vector clock"))
    floor = parse_clock(field_of(begin, "floor", dict, "compaction floors"), "floor")
    shop_id = field_of(begin, "shop_id", str, "a shop id")
    if not 0 < len(shop_id) <= 32:
        raise ProtocolError("snapshot shop id is malformed")
    with store.uow() as uow:
        uow.session.add(CompactionFloor(origin_node=BOOTSTRAP_MARKER, seq=0))
    raw = begin.get("dialect") == "sqlite" and store.engine.dialect.name == "sqlite"
    indexes = _drop_indexes(store) if raw else []
    rows = changes = 0
    try:
        for table in _tables():
            n = (_copy_raw if raw else _copy_table)(store, call, sid, table, chunk)
            if table.name == "changes":
                changes = n
            elif table.name != "column_versions":
                rows += n
    finally:
        with contextlib.suppress(ReplicationError):  # the peer expires it anyway
            call("snapshot.end", {"id": sid})
    _finish(store, clock, floor, shop_id, indexes)
    pulled = pull(store, call).applied
    return BootstrapResult(rows, changes, len(_tables()), pulled, time.perf_counter() - started)


def _copy_table(store: Store, call: Call, sid: str, table: Table, chunk: int) -> int:
    names = [c.name for c in table.columns]
    decoders = {c.name: c for c in table.columns if codec.needs_encoding(c)}
    self_fks = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    pk_name = _key_cols(table)[0].name
    deferred: list[tuple[str, str, Any]] = []
    after: list[Any] | None = None
    total = 0
    while True:
        reply = call("snapshot.chunk", {"id": sid, "table": table.name, "after": after, "limit": chunk})
        if field_of(reply, "columns", list, "a list") != names:
            raise ProtocolError(
                f"peer's {table.name} has other columns than this terminal's (another schema?)"
            )
        batch = field_of(reply, "rows", list, "a list of rows")
        dicts: list[dict[str, Any]] = []
        for values in batch:
            if not isinstance(values, list) or len(values) != len(names):
                raise ProtocolError(f"malformed {table.name} row in snapshot")
            row = dict(zip(names, values, strict=True))
            for name, col in decoders.items():
                try:
                    row[name] = codec.decode_value(col, row[name])
                except (ValueError, TypeError) as exc:
                    raise ProtocolError(f"bad {table.name}.{name} value in snapshot: {exc}") from exc
            for fk in self_fks:
                if row[fk] is not None:
                    deferred.append((fk, row[pk_name], row[fk]))
                    row[fk] = None
            dicts.append(row)
        if dicts:
            with store.uow() as uow:
                uow.session.info["replaying"] = True
                uow.session.execute(insert(table), dicts)
        total += len(dicts)
        nxt = reply.get("next")
        if nxt is None:
            break
        if not isinstance(nxt, list) or not batch:
            raise ProtocolError(f"malformed snapshot cursor for {table.name}")
        after = nxt
    if deferred:
        pk_col = table.c[pk_name]
        with store.uow() as uow:
            uow.session.info["replaying"] = True
            for fk, pk, parent in deferred:
                uow.session.execute(update(table).where(pk_col == pk).values({fk: parent}))
    return total


#: rows the raw copy writes per transaction
_WRITE_ROWS: Final = 50_000



def _copy_raw(store: Store, call: Call, sid: str, table: Table, chunk: int) -> int:
    """Copy one table SQLite-to-SQLite as stored (see :func:`_raw_chunk`); types still checked."""
    names = [c.name for c in table.columns]
    index = {n: i for i, n in enumerate(names)}
    self_fks = [index[fk.parent.name] for fk in table.foreign_keys if fk.column.table is table]
    pk_pos = index[_key_cols(table)[0].name]
    sql = (
        f"INSERT INTO {_quote(store, table.name)} ({', '.join(_quote(store, n) for n in names)}) "  # noqa: S608
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    deferred: list[tuple[int, Any, Any]] = []
    pending: list[list[Any]] = []  # the driver binds a list like a tuple
    after: list[Any] | None = None
    total = 0
    while True:
        reply = call(
            "snapshot.chunk", {"id": sid, "table": table.name, "after": after, "limit": chunk, "raw": True}
        )
        if field_of(reply, "columns", list, "a list") != names:
            raise ProtocolError(
                f"peer's {table.name} has other columns than this terminal's (another schema?)"
            )
        batch = field_of(reply, "rows", list, "a list of rows")
        width = len(names)
        if not all(type(v) is list and len(v) == width for v in batch):
            raise ProtocolError(f"malformed {table.name} row in snapshot")
        # each value's type is checked by the driver as it binds it (a list, a map or an
        # extension type from msgpack is refused there and reported as a ProtocolError):
        # a second pass over millions of values here cost a tenth of a bootstrap
        for pos in self_fks:
            for values in batch:
                if values[pos] is not None:
                    deferred.append((pos, values[pk_pos], values[pos]))
                    values[pos] = None
        pending.extend(batch)
        total += len(batch)
        nxt = reply.get("next")
        # one transaction per ~50k rows: a commit costs a WAL sync, while one huge
        # transaction would grow the write-ahead log without bound
        if pending and (nxt is None or len(pending) >= _WRITE_ROWS):
            with store.uow() as uow:
                # the driver's cursor, in the session's transaction: it binds the rows as
                # msgpack decoded them (lists), where SQLAlchemy would want a tuple made of each
                conn = uow.session.connection()
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.executemany(sql, pending)
                except conn.dialect.dbapi.Error as exc:  # type: ignore[union-attr]
                    raise ProtocolError(f"snapshot rows of {table.name} do not fit here: {exc}") from exc
                finally:
                    cursor.close()
            pending = []
        if nxt is None:
            break
        if not isinstance(nxt, list) or not batch:
            raise ProtocolError(f"malformed snapshot cursor for {table.name}")
        after = nxt
    if deferred:
        pk_col = table.c[names[pk_pos]]
        with store.uow() as uow:
            uow.session.info["replaying"] = True
            for pos, pk, parent in deferred:
                uow.session.execute(update(table).where(pk_col == pk).values({names[pos]: parent}))
    return total


def _drop_indexes(store: Store) -> list[str]:
    """Drop the copied tables' secondary indexes for the copy; their DDL, to re-create them.

    Inserting a million rows into indexed tables updates every index row by row, in
    random order for most of them; building an index once over the loaded table is a
    sort, several times cheaper. Safe because the marker row is already committed: a
    copy that breaks off leaves a database that refuses to sync and must be started
    again from empty, indexes or not. SQLite only (the raw copy path): the statements
    come from ``sqlite_master`` exactly as the migrations created them, so the database
    ends up with the very same schema.
    """
    names = [t.name for t in _tables()]
    with store.uow() as uow:
        conn = uow.session.connection()
        marks = ", ".join("?" for _ in names)
        query = f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY name"  # noqa: S608, E501 - placeholders only
        found = conn.exec_driver_sql(query, tuple(names)).all()
        for name, _sql in found:
            conn.exec_driver_sql(f"DROP INDEX {_quote(store, str(name))}")
    return [str(sql) for _name, sql in found]


def _finish(
    store: Store, clock: dict[str, int], floor: dict[str, int], shop_id: str, indexes: list[str]
) -> None:
    """Adopt the snapshot's clock and floors, rebuild derived caches and indexes, drop the
    marker: one transaction."""
    with store.uow() as uow:
        s = uow.session
        s.info["replaying"] = True
        for ddl in indexes:  # before anything below queries the copied tables
            s.connection().exec_driver_sql(ddl)
        for origin, seq in clock.items():
            if origin != store.node_id and seq > 0:
                s.add(VectorClockEntry(origin_node=origin, seq=seq))
        for origin, seq in floor.items():
            if origin != BOOTSTRAP_MARKER:
                s.add(CompactionFloor(origin_node=origin, seq=seq))
        s.execute(delete(StockLevel))
        s.execute(delete(CustomerBalance))
        s.execute(
            insert(StockLevel).from_select(
                ["sku_id", "location_id", "on_hand"],
                select(
                    StockMovement.sku_id, StockMovement.location_id, func.sum(StockMovement.delta)
                ).group_by(StockMovement.sku_id, StockMovement.location_id),
            )
        )
        s.execute(
            insert(CustomerBalance).from_select(
                ["customer_id", "balance_cents"],
                select(CreditEntry.customer_id, func.sum(CreditEntry.delta_cents)).group_by(
                    CreditEntry.customer_id
                ),
            )
        )
        newest = s.scalar(select(func.max(Change.hlc)))
        if newest:
            capture.observe_hlc(s, int(newest))
        state = s.get(NodeState, 1)
        assert state is not None
        state.shop_id = shop_id
        s.execute(delete(CompactionFloor).where(CompactionFloor.origin_node == BOOTSTRAP_MARKER))
    store.shop_id = shop_id
    info = store.factory.kw.get("info")
    if isinstance(info, dict):
        info["shop_id"] = shop_id
