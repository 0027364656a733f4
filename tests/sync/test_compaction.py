"""Change-log compaction: the merge stays correct and new peers still bootstrap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.links import direct
from tests.sync.test_apply import count, on_hand, sell, set_sku, sku_field, snapshot
from vaultsync.store import Store, open_store
from vaultsync.store.models import Change, ColumnVersion, Customer, Node
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.protocol import bootstrap, compact, handle, pull, reconcile


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[tuple[Pos, Store, Store, Store]]:
    stores = [open_store(f"sqlite:///{tmp_path / f'{n}.db'}") for n in "abc"]
    a, b, c = stores
    pos = build_pos(a)
    pull(b, direct(b, a))
    pull(c, direct(c, a))
    yield pos, a, b, c
    for s in stores:
        s.close()


def heal(*nodes: Store) -> None:
    for _ in range(2):
        for x in nodes:
            for y in nodes:
                if x is not y:
                    pull(x, direct(x, y))


def acks(*peers: Store) -> dict[str, dict[str, int]]:
    return {p.node_id: vector_clock(p) for p in peers}


def test_compaction_drops_acknowledged_entries_and_keeps_the_state(
    mesh: tuple[Pos, Store, Store, Store],
) -> None:
    _pos, a, b, c = mesh
    before = snapshot(a)
    result = compact(a, acks(b, c))
    # everything but a's newest entry (kept as the tip a hello reports: see compaction's doc)
    assert (
        result.dropped > 0
        and result.folded > 0
        and result.floors == {a.node_id: vector_clock(a)[a.node_id] - 1}
    )
    assert count(a, Change) == 1 and snapshot(a) == before
    again = compact(a, acks(b, c))
    assert again.dropped == 0


def test_nothing_is_dropped_that_a_peer_lacks(mesh: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, c = mesh
    set_sku(a, pos.nm_id, notes="c has not seen this")
    pull(b, direct(b, a))
    result = compact(a, acks(b, c))
    assert result.floors[a.node_id] == vector_clock(c)[a.node_id]
    with a.read() as s:
        assert s.scalar(select(func.count()).select_from(Change)) == 1
    pull(c, direct(c, a))  # C is still served by the diff
    assert sku_field(c, pos.nm_id, "notes") == "c has not seen this"


def test_no_acknowledgement_no_compaction(mesh: tuple[Pos, Store, Store, Store]) -> None:
    _, a, b, c = mesh
    assert compact(a, {}).dropped == 0
    with a.uow() as uow:  # a trusted terminal that never reported holds everything back
        uow.add(Node(node_id=c.node_id, name="Register 3"))
    result = compact(a, acks(b))
    assert result.dropped == 0 and result.waiting_for == [c.node_id]


def test_an_older_write_still_loses_after_the_newer_one_was_compacted(
    mesh: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, c = mesh
    set_sku(c, pos.nm_id, shelf_price_cents=1000)  # C, offline, first
    time.sleep(0.002)
    set_sku(a, pos.nm_id, shelf_price_cents=2000)  # A, later: the winner
    pull(b, direct(b, a))
    pull(c, direct(c, a))
    compact(a, acks(b, c))  # A's own write is now only in column_versions
    with a.read() as s:
        assert s.get(ColumnVersion, ("skus", pos.nm_id, "shelf_price_cents")) is not None
    pull(a, direct(a, c))  # C's older write arrives late
    heal(a, b, c)
    for node in (a, b, c):
        assert sku_field(node, pos.nm_id, "shelf_price_cents") == 2000
    assert snapshot(a) == snapshot(b) == snapshot(c)


def test_a_row_deleted_after_compaction_is_rebuilt_by_a_newer_concurrent_update(
    mesh: tuple[Pos, Store, Store, Store],
) -> None:
    _, a, b, c = mesh
    with a.uow() as uow:
        cust = Customer(first_name="Misty", last_name="W", phone="1")
        uow.add(cust)
        uow.flush()
        cid = cust.id
    heal(a, b, c)
    compact(a, acks(b, c))  # the customer's insert is folded away on A
    with a.uow() as uow:
        uow.session.delete(uow.session.get(Customer, cid))
    time.sleep(0.002)
    with b.uow() as uow:
        row = uow.session.get(Customer, cid)
        assert row is not None
        row.phone = "2"  # newer than the delete: the customer lives on
    heal(a, b, c)
    for node in (a, b, c):
        with node.read() as s:
            got = s.get(Customer, cid)
            assert got is not None and got.phone == "2" and got.first_name == "Misty"
    assert snapshot(a) == snapshot(b) == snapshot(c)


def test_a_peer_behind_the_floor_is_told_to_reconcile(
    mesh: tuple[Pos, Store, Store, Store], tmp_path: Path
) -> None:
    pos, a, b, c = mesh
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale")
    pull(b, direct(b, a))
    pull(c, direct(c, a))
    compact(a, acks(b, c))
    late = open_store(f"sqlite:///{tmp_path / 'late.db'}")  # a stranger A never heard of
    try:
        reply = handle(a, "changes", {"clock": vector_clock(late)})
        assert reply["compacted"] is True and reply["changes"] == [] and a.node_id in reply["behind"]
        result = pull(late, direct(late, a))
        assert result.needs_reconcile and result.applied == 0
    finally:
        late.close()
    # a new terminal still bootstraps, compacted log or not
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        bootstrap(fresh, direct(fresh, a))
        assert snapshot(fresh) == snapshot(a) and on_hand(fresh, pos.nm_id) == 2
        set_sku(b, pos.nm_id, notes="after bootstrap")
        pull(fresh, direct(fresh, b))
        assert sku_field(fresh, pos.nm_id, "notes") == "after bootstrap"
    finally:
        fresh.close()


def test_reconcile_lets_a_restored_peer_continue_past_a_floor(
    mesh: tuple[Pos, Store, Store, Store], tmp_path: Path
) -> None:
    pos, a, b, c = mesh
    import shutil

    b.engine.dispose()
    shutil.copy(tmp_path / "b.db", tmp_path / "old-b.db")
    set_sku(a, pos.nm_id, notes="compacted before the restore")
    set_sku(a, pos.bulk_id, notes="the newest entry, which compaction keeps")
    heal(a, b, c)
    compact(a, acks(b, c))
    old = open_store(f"sqlite:///{tmp_path / 'old-b.db'}")
    try:
        assert pull(old, direct(old, a)).needs_reconcile
        assert reconcile(old, direct(old, a)).identical
        assert sku_field(old, pos.nm_id, "notes") == "compacted before the restore"
        set_sku(a, pos.nm_id, notes="and later")
        result = pull(old, direct(old, a))
        assert not result.needs_reconcile and result.applied == 1
        assert snapshot(old) == snapshot(a)
    finally:
        old.close()
