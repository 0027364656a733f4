"""Change-log compaction: drop entries every known peer holds, keep what merging still needs.

The change log grows by every write; a busy shop writes hundreds of thousands of entries a
month. An entry is only needed while some peer may still lack it — or while the merge needs
its version and value to decide last-writer-wins. So compaction, per origin node:

1. takes the highest seq that **every known peer** has acknowledged (their vector clocks
   as last seen; a trusted node in ``nodes`` that has not reported yet holds everything back);
2. **folds** the entries of mutable (``lww``) tables up to there into ``column_versions`` —
   per column the winning ``(hlc, node)`` *and value*, and the tombstone — so a late, older
   write still loses, and a row deleted after its history was compacted can still be
   rebuilt when a newer concurrent update resurrects it (local writes are folded exactly
   like applied remote ones: that is what keeps the merge correct after compaction);
3. deletes the entries and records the **floor** (``compaction_floor``).

Each origin's **newest** entry is always kept: it is the ``tip`` a peer's hello reports,
which is how a terminal restored from an old backup recognises — and bounds — the changes
it wrote after the restore even where its peers have compacted the region where its log
forked from theirs (:mod:`vaultsync.sync.reidentify`). One entry per terminal.

Ledger entries need no fold: the row itself is the whole record. A peer whose clock is
below a floor can no longer be served by the diff; the ``changes`` request tells it so and
it reconciles instead (:mod:`vaultsync.sync.reconcile`). New terminals are unaffected:
they bootstrap from a snapshot that carries the rows, ``column_versions`` and the floors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Table, and_, delete, select

from vaultsync.store import capture, codec
from vaultsync.store.base import replicated_tables
from vaultsync.store.database import Store
from vaultsync.store.models import Change, ColumnVersion, CompactionFloor, Node
from vaultsync.store.models.sync_versions import TOMBSTONE
from vaultsync.sync.apply import DELETE, vector_clock
from vaultsync.sync.messages import parse_clock

#: Entries folded and deleted per transaction.
CHUNK: Final = 5000

Version = tuple[int, str]


@dataclass(frozen=True)
class CompactResult:
    dropped: int
    #: column_versions rows written or raised by the fold
    folded: int
    #: origin -> new floor, for the origins that moved
    floors: dict[str, int] = field(default_factory=dict)
    #: trusted nodes without an acknowledgement: they held compaction back
    waiting_for: list[str] = field(default_factory=list)


def floors(store: Store) -> dict[str, int]:
    with store.read() as s:
        return {
            str(o): int(q) for o, q in s.execute(select(CompactionFloor.origin_node, CompactionFloor.seq))
        }


def safe_points(store: Store, acked: Mapping[str, Mapping[str, int]]) -> tuple[dict[str, int], list[str]]:
    """Per origin, the highest seq every known peer holds (and this node holds too), below
    the origin's newest entry."""
    clocks = {
        peer: parse_clock(dict(clock), f"acknowledged clock of {peer}") for peer, clock in acked.items()
    }
    with store.read() as s:
        trusted = {str(n) for n in s.scalars(select(Node.node_id).where(Node.revoked_at.is_(None)))} - {
            store.node_id
        }
    waiting = sorted(trusted - set(clocks))
    if not clocks or waiting:
        return {}, waiting
    mine = vector_clock(store)
    # below each origin's newest entry (kept: see the module docstring)
    safe = {o: min(seq - 1, *(c.get(o, 0) for c in clocks.values())) for o, seq in mine.items()}
    return {o: s for o, s in safe.items() if s > 0}, waiting


def compact(store: Store, acked: Mapping[str, Mapping[str, int]]) -> CompactResult:
    """Drop the change-log entries every known peer has acknowledged; see the module docstring."""
    safe, waiting = safe_points(store, acked)
    current = floors(store)
    dropped = folded = 0
    moved: dict[str, int] = {}
    for origin, upto in sorted(safe.items()):
        lo = current.get(origin, 0)
        while lo < upto:
            hi = min(upto, lo + CHUNK)
            d, f = _compact_range(store, origin, lo, hi)
            dropped += d
            folded += f
            lo = hi
            moved[origin] = hi
    return CompactResult(dropped, folded, moved, waiting)


def _compact_range(store: Store, origin: str, lo: int, hi: int) -> tuple[int, int]:
    """Fold and delete ``origin``'s entries with lo < seq <= hi in one transaction."""
    lww = {name for name, m in replicated_tables().items() if m.__replication__ == "lww"}
    with store.uow() as uow:
        s = uow.session
        rows = s.execute(
            select(Change.hlc, Change.table_name, Change.pk, Change.op, Change.data).where(
                Change.origin_node == origin, Change.seq > lo, Change.seq <= hi
            )
        ).all()
        best: dict[tuple[str, str, str], tuple[Version, str | None]] = {}
        for hlc, table_name, pk, op, data in rows:
            if table_name not in lww:
                continue
            version = (int(hlc), origin)
            if op == DELETE:
                _raise(best, (table_name, pk, TOMBSTONE), version, None)
            elif data:
                for col, value in codec.loads(data).items():
                    _raise(best, (table_name, pk, col), version, json.dumps(value, sort_keys=True))
        folded = _fold(s, best)
        s.execute(delete(Change).where(Change.origin_node == origin, Change.seq > lo, Change.seq <= hi))
        floor = s.get(CompactionFloor, origin)
        if floor is None:
            s.add(CompactionFloor(origin_node=origin, seq=hi))
        else:
            floor.seq = max(floor.seq, hi)
        return len(rows), folded


def _raise(
    best: dict[tuple[str, str, str], tuple[Version, str | None]],
    key: tuple[str, str, str],
    version: Version,
    value: str | None,
) -> None:
    have = best.get(key)
    if have is None or version > have[0]:
        best[key] = (version, value)


def _fold(session: Any, best: dict[tuple[str, str, str], tuple[Version, str | None]]) -> int:
    """Write the folded versions where they are newer than what column_versions holds."""
    if not best:
        return 0
    by_row: dict[tuple[str, str], list[str]] = {}
    for table_name, pk, col in best:
        by_row.setdefault((table_name, pk), []).append(col)
    stored: dict[tuple[str, str, str], Version] = {}
    keys = list(by_row)
    for i in range(0, len(keys), 400):
        part = keys[i : i + 400]
        for table_name in {t for t, _ in part}:
            pks = [pk for t, pk in part if t == table_name]
            for t, pk, col, hlc, node in session.execute(
                select(
                    ColumnVersion.table_name,
                    ColumnVersion.pk,
                    ColumnVersion.column_name,
                    ColumnVersion.hlc,
                    ColumnVersion.node,
                ).where(and_(ColumnVersion.table_name == table_name, ColumnVersion.pk.in_(pks)))
            ):
                stored[(str(t), str(pk), str(col))] = (int(hlc), str(node))
    out = [
        {"table_name": t, "pk": pk, "column_name": col, "hlc": v[0], "node": v[1], "value": value}
        for (t, pk, col), (v, value) in best.items()
        if v > stored.get((t, pk, col), (-1, ""))
    ]
    table = ColumnVersion.__table__
    assert isinstance(table, Table)
    for i in range(0, len(out), 2000):
        capture.upsert(
            session,
            table,
            ["table_name", "pk", "column_name"],
            out[i : i + 2000],
            lambda excluded: {"hlc": excluded.hlc, "node": excluded.node, "value": excluded.value},
        )
    return len(out)


def behind_floor(floor: Mapping[str, int], clock: Mapping[str, int]) -> list[str]:
    """Origins whose compacted entries a peer with ``clock`` has not all seen."""
    return sorted(o for o, f in floor.items() if f > clock.get(o, 0) and not o.startswith("~"))
