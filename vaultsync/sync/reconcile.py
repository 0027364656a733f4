"""Full reconciliation without trusted clocks, and the replicated-state digest (DESIGN.md §4).

Anti-entropy by vector clock trusts that each side's clock describes what it holds. After a
restore from backup, a suspected divergence, or when a peer has compacted changes this node
never saw, that trust is gone: compare the data itself.

Each replicated table is described per replica as a sorted ``int64`` key column — a 64-bit
hash of the primary key — and an ``int64`` *row version*: a 64-bit hash of the row's
materialised content (every column, encoded as the change log encodes it). No clock enters
the comparison. Reconciling one table (client side, :func:`reconcile`):

1. Compare per-table digests (:func:`summary`); identical tables cost nothing more.
2. Both sides hash their rows into the same ``n`` key-range buckets
   (``vaultsync.native.diff.bucket_hashes``; keys are hashes, so the full int64 range
   spreads them evenly); :func:`~vaultsync.native.diff.diff_buckets` names the buckets that differ.
3. The peer sends ``(key, version, pk)`` for just those buckets; ``diff_sorted`` gives the
   keys only one side has and the keys whose versions differ.
4. For exactly those rows both sides exchange :class:`~vaultsync.sync.apply.RowRecord`s
   (per-column values and versions, tombstones) and merge them with the same rules as
   changes — so a row deleted on one side and alive on the other ends the way the
   tombstone and the updates decide, not the way the transfer direction happens to go.

With 1,000 differing rows among 1,000,000, this ships a few percent of the keys and only
the differing rows. :func:`verify` compares SHA-256 digests of every table's sorted
(key, version) columns: equal digests mean the two replicas hold identical replicated rows.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, func, select

from vaultsync.domain.errors import ReplicationError
from vaultsync.native import diff
from vaultsync.store import codec
from vaultsync.store.base import Base, replicated_tables
from vaultsync.store.database import Store
from vaultsync.store.models import NodeState, VectorClockEntry
from vaultsync.sync import hlc as hlc_mod
from vaultsync.sync.apply import ApplyError, RowRecord, Version, merge_records, row_records, vector_clock
from vaultsync.sync.messages import (
    MAX_PK_LEN,
    Call,
    Payload,
    ProtocolError,
    field_of,
    int_field,
    node_id_field,
    parse_clock,
)

#: Most rows one ``recon.keys`` reply carries (16 bytes + a pk each: well under the message cap).
MAX_KEYS_PER_REPLY: Final = 50_000
#: Most records one fetch/merge message carries.
MAX_RECORDS_PER_MESSAGE: Final = 500
#: Bytes of records per message (records of large rows are cut earlier).
MAX_RECORD_BYTES: Final = 2 * 1024 * 1024
MAX_BUCKETS: Final = 1 << 16
_BYTES_PER_BUCKET: Final = 8

Keys = npt.NDArray[np.int64]


def _hash64(data: bytes, person: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, person=person).digest(), "little", signed=True)


def key_of(pk: str) -> int:
    """A row's reconciliation key: 64-bit hash of its primary key (uniform over int64)."""
    return _hash64(pk.encode(), b"vs-key")


@dataclass(frozen=True)
class TableVersions:
    """One replica's view of one table: sorted keys, their row versions, and the key -> pks map."""

    keys: Keys
    versions: Keys
    pks: list[list[str]]

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def digest(self, table: str) -> str:
        h = hashlib.sha256(table.encode())
        h.update(self.keys.tobytes())
        h.update(self.versions.tobytes())
        return h.hexdigest()


def _table(name: str) -> Table:
    model = replicated_tables().get(name)
    if model is None:
        raise ReplicationError(f"{name!r} is not a replicated table")
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _scan(store: Store, name: str) -> TableVersions:
    table = _table(name)
    pk_col = next(iter(table.primary_key.columns))
    cols = list(table.columns)
    encoders = [(c.name, c, codec.needs_encoding(c)) for c in cols]
    keys: list[int] = []
    versions: list[int] = []
    pks: list[str] = []
    with store.read() as s:
        for row in s.execute(select(table)).mappings().yield_per(5000):
            enc = {n: codec.encode_value(c, row[n]) if e else row[n] for n, c, e in encoders}
            pk = str(row[pk_col.name])
            pks.append(pk)
            keys.append(key_of(pk))
            versions.append(_hash64(codec.dumps(enc).encode(), b"vs-row"))
    k = np.asarray(keys, dtype=np.int64)
    v = np.asarray(versions, dtype=np.int64)
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    grouped = [[pks[i]] for i in order.tolist()]
    if k.shape[0] > 1 and bool((k[1:] == k[:-1]).any()):  # a 64-bit key collision: fold the rows
        uk, first = np.unique(k, return_index=True)
        bounds = [*first.tolist(), k.shape[0]]
        merged_v = np.empty(uk.shape[0], dtype=np.int64)
        merged_p: list[list[str]] = []
        for j in range(uk.shape[0]):
            lo, hi = bounds[j], bounds[j + 1]
            merged_v[j] = _hash64(v[lo:hi].tobytes(), b"vs-fold")
            merged_p.append([p for g in grouped[lo:hi] for p in g])
        return TableVersions(uk, merged_v, merged_p)
    return TableVersions(k, v, grouped)


class _Cache:
    """Table scans reused while nothing changed (a reconciliation asks several times)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[int, str], tuple[tuple[int, ...], TableVersions]] = {}
        self.generation = 0

    def get(self, store: Store, name: str) -> TableVersions:
        stamp = self._stamp(store)
        key = (id(store.engine), name)  # not the URL: every in-memory database has the same one
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        tv = _scan(store, name)
        with self._lock:
            self._data[key] = (stamp, tv)
            if len(self._data) > 128:
                self._data.pop(next(iter(self._data)))
        return tv

    def _stamp(self, store: Store) -> tuple[int, ...]:
        with store.read() as s:
            state = s.get(NodeState, 1)
            total = s.scalar(select(func.coalesce(func.sum(VectorClockEntry.seq), 0)))
            return (
                int(state.last_seq) if state else 0,
                int(state.last_hlc) if state else 0,
                int(total or 0),
                self.generation,
            )

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._data.clear()


CACHE = _Cache()


def table_versions(store: Store, name: str) -> TableVersions:
    return CACHE.get(store, name)


def summary(store: Store) -> dict[str, dict[str, Any]]:
    """Per replicated table: row count and digest of its replicated content."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(replicated_tables()):
        tv = table_versions(store, name)
        out[name] = {"rows": len(tv), "digest": tv.digest(name)}
    return out


def state_digest(tables: dict[str, dict[str, Any]]) -> str:
    """One digest over every table's digest: equal iff every replicated table is equal."""
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(f"{name}:{tables[name]['rows']}:{tables[name]['digest']}\n".encode())
    return h.hexdigest()


def bucket_count(rows: int) -> int:
    """Buckets for a table of ``rows`` rows: ~16 rows per bucket, a power of two, capped."""
    n = 1
    while n * 16 < rows and n < MAX_BUCKETS:
        n *= 2
    return n


def bucket_hashes(store: Store, name: str, n: int) -> bytes:
    tv = table_versions(store, name)
    return bytes(diff.bucket_hashes(tv.keys, tv.versions, n).astype("<u8").tobytes())


def keys_in_buckets(
    store: Store, name: str, n: int, buckets: Sequence[int], max_rows: int = MAX_KEYS_PER_REPLY
) -> tuple[Keys, Keys, list[list[str]], int]:
    """(keys, versions, the pks of each key, how many of ``buckets`` were covered) — bounded."""
    tv = table_versions(store, name)
    bounds = diff.bucket_bounds(tv.keys, n)
    take: list[npt.NDArray[np.int64]] = []
    rows = 0
    done = 0
    for b in buckets:
        lo, hi = int(bounds[b]), int(bounds[b + 1])
        if take and rows + (hi - lo) > max_rows:
            break
        take.append(np.arange(lo, hi, dtype=np.int64))
        rows += hi - lo
        done += 1
    idx = np.concatenate(take) if take else np.zeros(0, dtype=np.int64)
    pks = [tv.pks[i] for i in idx.tolist()]
    return tv.keys[idx], tv.versions[idx], pks, done


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TableDiff:
    table: str
    buckets: int
    differing_buckets: int
    keys_compared: int
    fetched: int
    sent: int


@dataclass(frozen=True)
class ReconcileResult:
    tables_compared: int
    tables: list[TableDiff] = field(default_factory=list)
    #: the replicas' digests match after the reconciliation
    identical: bool = False
    alerts: int = 0

    @property
    def fetched(self) -> int:
        return sum(t.fetched for t in self.tables)

    @property
    def sent(self) -> int:
        return sum(t.sent for t in self.tables)


@dataclass(frozen=True)
class VerifyResult:
    identical: bool
    local_digest: str
    remote_digest: str
    #: table -> (rows here, rows on the peer) for every table whose digest differs
    differing: dict[str, tuple[int, int]] = field(default_factory=dict)


# --------------------------------------------------------------------------- wire forms


def record_to_wire(r: RowRecord) -> list[Any]:
    return [
        r.pk,
        r.values,
        {k: [v[0], v[1]] for k, v in r.versions.items()},
        None if r.tombstone is None else [r.tombstone[0], r.tombstone[1]],
    ]


def _version(value: Any, where: str) -> Version:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or isinstance(value[0], bool)
        or not isinstance(value[0], int)
        or not 0 <= value[0] < 1 << 63
    ):
        raise ProtocolError(f"{where} must be [hlc, node]")
    return (int(value[0]), node_id_field(value[1], where))


def record_from_wire(table: str, item: Any) -> RowRecord:
    """A peer's row record, validated against the table's columns."""
    t = _table(table)
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise ProtocolError("a record must be [pk, values, versions, tombstone]")
    pk, values, versions, tomb = item
    if not isinstance(pk, str) or not 0 < len(pk) <= MAX_PK_LEN:
        raise ProtocolError(f"record pk must be a string of 1..{MAX_PK_LEN} characters")
    if not isinstance(values, dict) or not isinstance(versions, dict):
        raise ProtocolError(f"record {pk}: values and versions must be maps")
    for name in values:
        if not isinstance(name, str) or name not in t.c:
            raise ProtocolError(f"record {pk}: {table} has no column {str(name)[:64]!r}")
    parsed: dict[str, Version] = {}
    for name, v in versions.items():
        if name not in values:
            raise ProtocolError(f"record {pk}: a version for {str(name)[:64]!r} without its value")
        parsed[name] = _version(v, f"record {pk} version of {name}")
    tombstone = None if tomb is None else _version(tomb, f"record {pk} tombstone")
    return RowRecord(table, pk, dict(values), parsed, tombstone)


def _record_size(item: list[Any]) -> int:
    return len(codec.dumps({"r": item}))


def _records_from_wire(payload: Payload) -> tuple[str, list[RowRecord]]:
    table = _table_field(payload)
    items = field_of(payload, "records", list, "a list of records")
    if len(items) > MAX_RECORDS_PER_MESSAGE:
        raise ProtocolError(f"at most {MAX_RECORDS_PER_MESSAGE} records per message")
    return table, [record_from_wire(table, it) for it in items]


def _table_field(payload: Payload) -> str:
    name = field_of(payload, "table", str, "a table name")
    if name not in replicated_tables():
        raise ProtocolError(f"{name[:48]!r} is not a replicated table")
    return str(name)


def _pks_field(payload: Payload) -> list[str]:
    pks = field_of(payload, "pks", list, "a list of keys")
    if len(pks) > MAX_RECORDS_PER_MESSAGE:
        raise ProtocolError(f"at most {MAX_RECORDS_PER_MESSAGE} keys per request")
    for pk in pks:
        if not isinstance(pk, str) or not 0 < len(pk) <= MAX_PK_LEN:
            raise ProtocolError(f"keys must be strings of 1..{MAX_PK_LEN} characters")
    return list(pks)


def _int64s(value: Any, where: str) -> Keys:
    if not isinstance(value, bytes) or len(value) % 8:
        raise ProtocolError(f"{where} must be packed int64 bytes")
    return np.frombuffer(value, dtype="<i8").astype(np.int64)


# --------------------------------------------------------------------------- server side


def handle_summary(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    return {"tables": summary(store), "clock": vector_clock(store)}


def handle_digest(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    tables = summary(store)
    return {"tables": tables, "digest": state_digest(tables), "node_id": store.node_id}


def _n_field(payload: Payload) -> int:
    n = int_field(payload, "n", 1, MAX_BUCKETS)
    if n & (n - 1):
        raise ProtocolError("'n' must be a power of two")
    return n


def handle_buckets(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    table, n = _table_field(payload), _n_field(payload)
    return {"hashes": bucket_hashes(store, table, n)}


def handle_keys(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    table, n = _table_field(payload), _n_field(payload)
    buckets = field_of(payload, "buckets", list, "a list of bucket numbers")
    if len(buckets) > n:
        raise ProtocolError("more buckets than 'n'")
    last = -1
    for b in buckets:
        if isinstance(b, bool) or not isinstance(b, int) or not last < b < n:
            raise ProtocolError("buckets must be increasing integers in 0..n-1")
        last = b
    keys, versions, pks, done = keys_in_buckets(store, table, n, buckets)
    return {
        "keys": keys.astype("<i8").tobytes(),
        "versions": versions.astype("<i8").tobytes(),
        "pks": pks,
        "done": done,
    }


def handle_fetch(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    """Records of the asked rows, cut at MAX_RECORD_BYTES; ``done``: how many pks were covered."""
    table, pks = _table_field(payload), _pks_field(payload)
    out: list[list[Any]] = []
    size = 0
    done = len(pks)
    for r in row_records(store, table, pks):
        item = record_to_wire(r)
        n = _record_size(item)
        if out and size + n > MAX_RECORD_BYTES:
            done = pks.index(r.pk)
            break
        out.append(item)
        size += n
    return {"records": out, "done": done}


def handle_merge(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    _, records = _records_from_wire(payload)
    result = _merge(store, records)
    return {"merged": result}


def _merge(store: Store, records: list[RowRecord]) -> int:
    try:
        result = merge_records(store, records)
    except (ApplyError, hlc_mod.ClockDriftError, ValueError, TypeError) as exc:
        raise ProtocolError(f"records rejected, nothing merged: {exc}") from exc
    finally:
        CACHE.invalidate()
    return result.merged


HANDLERS = {
    "recon.summary": handle_summary,
    "recon.buckets": handle_buckets,
    "recon.keys": handle_keys,
    "recon.fetch": handle_fetch,
    "recon.merge": handle_merge,
    "digest": handle_digest,
}


# --------------------------------------------------------------------------- client side


def _tables_field(reply: Payload) -> dict[str, dict[str, Any]]:
    tables = field_of(reply, "tables", dict, "a map of tables")
    for name, info in tables.items():
        if (
            not isinstance(info, dict)
            or not isinstance(info.get("rows"), int)
            or not isinstance(info.get("digest"), str)
        ):
            raise ProtocolError(f"summary of {str(name)[:48]!r} must carry rows and digest")
    return tables


def _fk_order() -> list[str]:
    names = replicated_tables()
    return [t.name for t in Base.metadata.sorted_tables if t.name in names]


def _reconcile_table(store: Store, call: Call, name: str, rows: int) -> TableDiff:
    n = bucket_count(rows)
    remote_hashes = np.frombuffer(
        field_of(call("recon.buckets", {"table": name, "n": n}), "hashes", bytes, "bytes"), dtype="<u8"
    ).astype(np.uint64)
    if remote_hashes.shape[0] != n:
        raise ProtocolError(f"peer sent {remote_hashes.shape[0]} bucket hashes for {name}, expected {n}")
    local = table_versions(store, name)
    local_hashes = diff.bucket_hashes(local.keys, local.versions, n)
    differing = [int(b) for b in diff.diff_buckets(local_hashes, remote_hashes)]
    if not differing:
        return TableDiff(name, n, 0, 0, 0, 0)
    rk: list[Keys] = []
    rv: list[Keys] = []
    rp: list[list[str]] = []
    pending = differing
    while pending:
        reply = call("recon.keys", {"table": name, "n": n, "buckets": pending})
        keys, versions = _int64s(reply.get("keys"), "keys"), _int64s(reply.get("versions"), "versions")
        pks = field_of(reply, "pks", list, "a list")
        done = int_field(reply, "done", 1, len(pending))
        if not keys.shape[0] == versions.shape[0] == len(pks):
            raise ProtocolError("recon.keys reply: keys, versions and pks differ in length")
        rk.append(keys)
        rv.append(versions)
        rp.extend(pks)
        pending = pending[done:]
    lk, lv, lp, _ = keys_in_buckets(store, name, n, differing, max_rows=1 << 62)
    remote_keys = np.concatenate(rk)
    try:
        only_l, only_r, diff_l, diff_r = diff.diff_sorted(lk, lv, remote_keys, np.concatenate(rv))
    except ValueError as exc:
        raise ProtocolError(f"peer's keys for {name} are malformed: {exc}") from exc
    wanted: list[str] = []
    for i in [*only_l.tolist(), *diff_l.tolist()]:
        wanted.extend(lp[i])
    for i in [*only_r.tolist(), *diff_r.tolist()]:
        group = rp[i]
        if not isinstance(group, list) or not all(
            isinstance(p, str) and 0 < len(p) <= MAX_PK_LEN for p in group
        ):
            raise ProtocolError("recon.keys reply: pks must be lists of keys")
        wanted.extend(group)
    wanted = sorted(set(wanted))
    fetched = 0
    i = 0
    while i < len(wanted):
        chunk = wanted[i : i + MAX_RECORDS_PER_MESSAGE]
        reply = call("recon.fetch", {"table": name, "pks": chunk})
        records = [record_from_wire(name, it) for it in field_of(reply, "records", list, "a list")]
        done = int_field(reply, "done", 1, len(chunk))
        for r in records:
            if r.pk not in chunk:
                raise ProtocolError(f"peer sent a record for {r.pk}, which was not asked for")
        if records:
            _merge(store, records)
        fetched += len(records)
        i += done
    sent = 0
    for j in range(0, len(wanted), MAX_RECORDS_PER_MESSAGE):
        items: list[list[Any]] = []
        size = 0
        for r in row_records(store, name, wanted[j : j + MAX_RECORDS_PER_MESSAGE]):
            item = record_to_wire(r)
            n_bytes = _record_size(item)
            if items and size + n_bytes > MAX_RECORD_BYTES:
                call("recon.merge", {"table": name, "records": items})
                sent += len(items)
                items, size = [], 0
            items.append(item)
            size += n_bytes
        if items:
            call("recon.merge", {"table": name, "records": items})
            sent += len(items)
    return TableDiff(name, n, len(differing), int(lk.shape[0] + remote_keys.shape[0]), fetched, sent)


def reconcile(store: Store, call: Call) -> ReconcileResult:
    """Make this node and the peer hold the same replicated rows, trusting no clock.

    Transfers only the rows whose content differs (in both directions) and merges them by
    the normal rules. When the replicas end identical, this node's vector clock adopts the
    peer's entries where they are higher: everything those entries stand for is now
    reflected here, so anti-entropy can continue from there (also past changes the peer
    has compacted).
    """
    reply = call("recon.summary", {})
    remote = _tables_field(reply)
    remote_clock = parse_clock(field_of(reply, "clock", dict, "a vector clock"))
    local = summary(store)
    diffs: list[TableDiff] = []
    for name in _fk_order():
        mine = local[name]
        theirs = remote.get(name)
        if theirs is None:
            raise ProtocolError(f"peer does not replicate table {name} (another schema?)")
        if mine["digest"] == theirs["digest"]:
            continue
        diffs.append(_reconcile_table(store, call, name, max(int(mine["rows"]), int(theirs["rows"]))))
    after = verify(store, call)
    if after.identical:
        _adopt_clock(store, remote_clock)
    return ReconcileResult(len(local), diffs, after.identical)


def _adopt_clock(store: Store, remote: dict[str, int]) -> None:
    with store.uow() as uow:
        s = uow.session
        for origin, seq in remote.items():
            if origin == store.node_id or seq <= 0:
                continue
            entry = s.get(VectorClockEntry, origin)
            if entry is None:
                s.add(VectorClockEntry(origin_node=origin, seq=seq))
            elif entry.seq < seq:
                entry.seq = seq


def verify(store: Store, call: Call) -> VerifyResult:
    """Prove (or disprove) that this node and the peer hold identical replicated state."""
    reply = call("digest", {})
    remote = _tables_field(reply)
    local = summary(store)
    differing = {
        name: (int(local[name]["rows"]), int(remote.get(name, {}).get("rows", 0)))
        for name in sorted(set(local) | set(remote))
        if local.get(name, {}).get("digest") != remote.get(name, {}).get("digest")
    }
    return VerifyResult(not differing, state_digest(local), state_digest(remote), differing)
