"""The local apply engine: real SQLite replicas in temp dirs exchanging change batches.

No network: ``sync(src, dst)`` is one direction of an anti-entropy round (the peer's
vector clock in, what it lacks out, applied in bounded batches).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.enums import Tender
from vaultsync.services.auth import AuthService
from vaultsync.services.checkout import CheckoutService, TenderInput
from vaultsync.services.shop import ShopService
from vaultsync.store import Store, open_store
from vaultsync.store.base import replicated_tables
from vaultsync.store.models import (
    Change,
    ColumnVersion,
    Customer,
    Shift,
    Sku,
    Station,
    StockLevel,
    StockMovement,
    SyncAlert,
    VectorClockEntry,
)
from vaultsync.sync import hlc
from vaultsync.sync.apply import (
    ApplyError,
    ApplyResult,
    RemoteChange,
    apply_batch,
    changes_since,
    vector_clock,
)

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Store]]:
    """Three empty replicas (A, B, C), each its own SQLite file."""
    stores = [open_store(f"sqlite:///{tmp_path / f'{name}.db'}") for name in "abc"]
    yield stores
    for s in stores:
        s.close()


def sync(src: Store, dst: Store, limit: int = 25) -> list[ApplyResult]:
    """One direction of anti-entropy in bounded batches (small limit: exercises batching)."""
    results: list[ApplyResult] = []
    for _ in range(1000):
        batch = changes_since(src, vector_clock(dst), limit)
        if not batch:
            return results
        result = apply_batch(dst, batch)
        assert result.applied > 0, "a non-empty diff must make progress"
        results.append(result)
    raise AssertionError("sync did not finish")


def exchange(a: Store, b: Store) -> list[ApplyResult]:
    return sync(a, b) + sync(b, a)


def snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every replicated table (and the derived caches) as sorted row dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    tables = [m.__table__ for m in replicated_tables().values()] + [StockLevel.__table__]
    with store.read() as s:
        for table in tables:
            rows = [dict(r) for r in s.execute(select(table)).mappings()]
            out[table.name] = sorted(rows, key=repr)  # type: ignore[attr-defined]
    return out


def on_hand(store: Store, sku_id: str) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id == sku_id)) or 0)


def own_changes(store: Store, after: int = 0) -> list[RemoteChange]:
    with store.read() as s:
        rows = s.scalars(
            select(Change).where(Change.origin_node == store.node_id, Change.seq > after).order_by(Change.seq)
        )
        return [RemoteChange.of(c) for c in rows]


def count(store: Store, model: Any) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def second_register(pos: Pos, store: Store, prefix: str) -> tuple[CheckoutService, str]:
    """A CheckoutService on another replica with its own station (receipt prefix) and shift."""
    with store.uow() as uow:
        station = Station(name=f"Register {prefix}", role="cashier", receipt_prefix=prefix, has_drawer=True)
        uow.add(station)
        uow.flush()
        uow.add(Shift(station_id=station.id, opened_by=pos.cashier.id, opening_float_cents=0))
        station_id = station.id
    auth = AuthService(store)
    return CheckoutService(store, auth, ShopService(store)), station_id


def sell(checkout: CheckoutService, pos: Pos, station_id: str, sku_id: str, request: str) -> None:
    cart = checkout.new_cart(actor=pos.cashier, station_id=station_id)
    view = checkout.add_sku(cart.id, sku_id, 1, actor=pos.cashier)
    checkout.complete(
        cart.id, [TenderInput(Tender.CASH, view.total_cents)], actor=pos.cashier, client_request_id=request
    )


def sell_the_slab_on_both(pos: Pos, b: Store, prefix: str) -> None:
    """The shop's one and only slab sold on A and again on B while they are partitioned."""
    checkout_b, station_b = second_register(pos, b, prefix)
    sell(pos.checkout, pos, pos.station_id, pos.slab_id, "slab-a")
    sell(checkout_b, pos, station_b, pos.slab_id, "slab-b")


def set_sku(store: Store, sku_id: str, **values: Any) -> None:
    with store.uow() as uow:
        sku = uow.session.get(Sku, sku_id)
        assert sku is not None
        for k, v in values.items():
            setattr(sku, k, v)


def sku_field(store: Store, sku_id: str, name: str) -> Any:
    with store.read() as s:
        sku = s.get(Sku, sku_id)
        assert sku is not None
        return getattr(sku, name)


@pytest.fixture
def shop(nodes: list[Store]) -> tuple[Pos, Store, Store, Store]:
    """A shop built on A and bootstrapped onto B and C through the engine itself."""
    a, b, c = nodes
    pos = build_pos(a)
    sync(a, b)
    sync(a, c)
    assert snapshot(a) == snapshot(b) == snapshot(c)
    return pos, a, b, c


# --------------------------------------------------------------------------- tests


def test_bootstrap_by_changes_reproduces_the_shop(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    assert on_hand(b, pos.nm_id) == 3
    assert vector_clock(b)[a.node_id] == vector_clock(a)[a.node_id]
    # the applied changes are in B's log under A's origin, so B can relay them
    assert count(b, Change) == count(a, Change)


def test_partitioned_sales_on_two_nodes_converge(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    checkout_b, station_b = second_register(pos, b, "T2")
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    sell(checkout_b, pos, station_b, pos.nm_id, "sale-b")
    assert on_hand(a, pos.nm_id) == on_hand(b, pos.nm_id) == 2
    exchange(a, b)
    assert on_hand(a, pos.nm_id) == on_hand(b, pos.nm_id) == 1  # 3 - both sales
    assert snapshot(a) == snapshot(b)
    assert vector_clock(a) == vector_clock(b)
    with b.read() as s:
        assert s.scalar(select(func.count()).where(StockMovement.sku_id == pos.nm_id)) == 3


def test_applying_the_same_batch_twice_changes_nothing(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    set_sku(a, pos.bulk_id, shelf_price_cents=30)
    batch = changes_since(a, vector_clock(b), 10_000)
    first = apply_batch(b, batch)
    state, changes = snapshot(b), count(b, Change)
    again = apply_batch(b, batch)
    assert first.applied == len(batch) and again.applied == 0 and again.skipped_duplicates == len(batch)
    assert snapshot(b) == state and count(b, Change) == changes
    assert snapshot(a) == snapshot(b)


def test_order_across_origins_does_not_matter(shop: tuple[Pos, Store, Store, Store], tmp_path: Path) -> None:
    pos, a, b, c = shop
    checkout_b, station_b = second_register(pos, b, "T2")
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    set_sku(a, pos.nm_id, shelf_price_cents=8000)
    sell(checkout_b, pos, station_b, pos.bulk_id, "sale-b")
    set_sku(b, pos.nm_id, shelf_price_cents=8100, notes="from b")
    set_sku(a, pos.bulk_id, notes="from a")
    news = changes_since(a, vector_clock(c), 10_000) + changes_since(b, vector_clock(c), 10_000)
    rng = random.Random(4)
    orders = []
    for _ in range(3):
        # shuffle across origins, keep each origin's own order
        queues = {o: [x for x in news if x.origin_node == o] for o in (a.node_id, b.node_id)}
        merged: list[RemoteChange] = []
        while any(queues.values()):
            origin = rng.choice([o for o, q in queues.items() if q])
            merged.append(queues[origin].pop(0))
        orders.append(merged)
    states = []
    for i, order in enumerate(orders):
        replica = open_store(f"sqlite:///{tmp_path / f'copy{i}.db'}")
        try:
            sync(c, replica)  # the shop as it was before the partition
            apply_batch(replica, order)
            states.append(snapshot(replica))
        finally:
            replica.close()
    exchange(a, b)
    assert states[0] == states[1] == states[2] == snapshot(a) == snapshot(b)


def test_a_gap_is_deferred_until_the_missing_change_arrives(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    start = vector_clock(a)[a.node_id]
    for price in (100, 200, 300, 400):
        set_sku(a, pos.bulk_id, shelf_price_cents=price)
    c1, c2, c3, c4 = own_changes(a, start)
    result = apply_batch(b, [c1, c3, c4])
    assert result.applied == 1 and result.deferred == [c3, c4]
    assert vector_clock(b)[a.node_id] == c1.seq
    assert sku_field(b, pos.bulk_id, "shelf_price_cents") == 100
    result = apply_batch(b, [c4, c2, c3])  # the missing one arrives, with the deferred ones
    assert result.applied == 3 and not result.deferred
    assert vector_clock(b)[a.node_id] == c4.seq
    assert sku_field(b, pos.bulk_id, "shelf_price_cents") == 400
    assert snapshot(a) == snapshot(b)


def test_lww_concurrent_edits_of_different_columns_both_survive(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    set_sku(a, pos.nm_id, shelf_price_cents=8999)
    set_sku(b, pos.nm_id, notes="signed by the artist")
    exchange(a, b)
    for node in (a, b):
        assert sku_field(node, pos.nm_id, "shelf_price_cents") == 8999
        assert sku_field(node, pos.nm_id, "notes") == "signed by the artist"
    assert snapshot(a) == snapshot(b)


@pytest.mark.parametrize("first", ["a", "b"])
def test_lww_same_column_latest_hlc_wins_on_both_nodes(
    shop: tuple[Pos, Store, Store, Store], first: str
) -> None:
    pos, a, b, _ = shop
    x, y = (a, b) if first == "a" else (b, a)
    set_sku(x, pos.nm_id, shelf_price_cents=1111)
    time.sleep(0.003)
    set_sku(y, pos.nm_id, shelf_price_cents=2222)
    [cx] = [c for c in own_changes(x) if c.table_name == "skus"][-1:]
    [cy] = [c for c in own_changes(y) if c.table_name == "skus"][-1:]
    assert cy.version > cx.version
    exchange(a, b)
    assert (
        sku_field(a, pos.nm_id, "shelf_price_cents") == sku_field(b, pos.nm_id, "shelf_price_cents") == 2222
    )
    assert snapshot(a) == snapshot(b)
    # the winning version lives in the change log on both nodes (column_versions only
    # receives what compaction folds away: tests/sync/test_compaction.py)
    for node in (a, b):
        with node.read() as s:
            assert s.scalar(select(func.count()).select_from(ColumnVersion)) == 0


def _customer(store: Store) -> str:
    with store.uow() as uow:
        cust = Customer(first_name="Misty", last_name="Waterflower", phone="555-0100")
        uow.add(cust)
        uow.flush()
        return cust.id


def _delete_customer(store: Store, cid: str) -> None:
    with store.uow() as uow:
        uow.session.delete(uow.session.get(Customer, cid))


def _set_phone(store: Store, cid: str, phone: str) -> None:
    with store.uow() as uow:
        cust = uow.session.get(Customer, cid)
        assert cust is not None
        cust.phone = phone


def _customer_row(store: Store, cid: str) -> Customer | None:
    with store.read() as s:
        return s.get(Customer, cid)


def test_delete_newer_than_a_concurrent_update_wins_everywhere(shop: tuple[Pos, Store, Store, Store]) -> None:
    _, a, b, c = shop
    cid = _customer(a)
    sync(a, b)
    _set_phone(b, cid, "555-0199")
    time.sleep(0.003)
    _delete_customer(a, cid)
    exchange(a, b)
    assert _customer_row(a, cid) is None and _customer_row(b, cid) is None
    assert snapshot(a) == snapshot(b)
    # a late, older upsert arriving at a third node after the tombstone cannot resurrect the row
    tomb = [x for x in own_changes(a) if x.pk == cid and x.op == "delete"]
    older = [x for x in own_changes(b) if x.pk == cid]
    apply_batch(c, changes_since(a, vector_clock(c), 10_000))  # includes the tombstone, not B's update
    assert _customer_row(c, cid) is None and tomb
    apply_batch(c, older)
    assert _customer_row(c, cid) is None
    assert snapshot(c) == snapshot(a)


def test_update_newer_than_a_concurrent_delete_resurrects_everywhere(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    _, a, b, _ = shop
    cid = _customer(a)
    sync(a, b)
    _delete_customer(a, cid)
    time.sleep(0.003)
    _set_phone(b, cid, "555-0199")
    exchange(a, b)
    ra, rb = _customer_row(a, cid), _customer_row(b, cid)
    assert ra is not None and rb is not None
    assert ra.phone == rb.phone == "555-0199" and ra.first_name == "Misty"  # rebuilt from history
    assert snapshot(a) == snapshot(b)


def test_an_update_that_overtakes_the_insert_is_kept_until_the_row_arrives(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    _, a, b, c = shop
    cid = _customer(a)
    sync(a, b)
    _set_phone(b, cid, "555-0142")
    [update] = [x for x in own_changes(b) if x.pk == cid]
    result = apply_batch(c, [update])  # B's edit reaches C before A's insert does
    assert result.applied == 1 and _customer_row(c, cid) is None
    sync(a, c)
    row = _customer_row(c, cid)
    assert row is not None and row.phone == "555-0142" and row.first_name == "Misty"
    sync(b, a)
    assert snapshot(c) == snapshot(a) == snapshot(b)


def test_a_ledger_row_is_never_duplicated_by_relays(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, c = shop
    sell(pos.checkout, pos, pos.station_id, pos.bulk_id, "sale-a")
    sync(a, b)
    sync(b, c)  # the sale reaches C through B ...
    sync(a, c)  # ... and A offers nothing more
    batch = [x for x in own_changes(a) if x.table_name == "stock_movements"]
    again = apply_batch(c, batch)  # a stray re-delivery
    assert again.applied == 0
    for node in (a, b, c):
        assert on_hand(node, pos.bulk_id) == 999
    assert count(c, StockMovement) == count(a, StockMovement)
    assert snapshot(a) == snapshot(b) == snapshot(c)


def test_overselling_the_last_copy_is_reported_not_hidden(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    sell_the_slab_on_both(pos, b, "T2")
    to_b = sync(a, b)
    to_a = sync(b, a)
    for results in (to_a, to_b):
        alerts = [al for r in results for al in r.oversell_alerts]
        assert [(al.sku_id, al.location_id, al.on_hand) for al in alerts] == [(pos.slab_id, pos.case_id, -1)]
    assert on_hand(a, pos.slab_id) == on_hand(b, pos.slab_id) == -1  # both sales kept
    assert snapshot(a) == snapshot(b)


def test_three_node_relay_forwards_changes(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, c = shop
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    set_sku(a, pos.nm_id, notes="relayed")
    sync(a, b)
    sync(b, c)  # C never talks to A
    assert sku_field(c, pos.nm_id, "notes") == "relayed"
    assert on_hand(c, pos.nm_id) == 2
    assert vector_clock(c)[a.node_id] == vector_clock(a)[a.node_id]
    assert snapshot(c) == snapshot(a)


def test_an_implausible_future_clock_is_rejected_and_nothing_written(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    set_sku(a, pos.nm_id, notes="fine")
    [good] = own_changes(a, vector_clock(b)[a.node_id])
    future = hlc.now_floor() + hlc.encode(3600 * 1000)
    bad = RemoteChange(a.node_id, good.seq + 1, future, "skus", pos.nm_id, "upsert", '{"notes":"2099"}')
    before = snapshot(b), count(b, Change), vector_clock(b)
    with pytest.raises(hlc.ClockDriftError, match="implausible"):
        apply_batch(b, [good, bad])
    assert (snapshot(b), count(b, Change), vector_clock(b)) == before


def test_a_foreign_key_violation_rolls_back_the_whole_batch(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    set_sku(a, pos.nm_id, notes="fine")
    [good] = own_changes(a, vector_clock(b)[a.node_id])
    orphan = RemoteChange(
        a.node_id,
        good.seq + 1,
        good.hlc + 1,
        "stock_movements",
        "f" * 32,
        "upsert",
        '{"id":"' + "f" * 32 + '","sku_id":"' + "0" * 32 + '","location_id":"' + pos.case_id + '",'
        '"delta":1,"reason":"receive","node_id":"' + a.node_id + '","hlc":' + str(good.hlc + 1) + "}",
    )
    before = snapshot(b), count(b, Change), vector_clock(b)
    with pytest.raises(ApplyError, match="rolled back"):
        apply_batch(b, [good, orphan])
    assert (snapshot(b), count(b, Change), vector_clock(b)) == before
    with b.read() as s:
        assert s.scalar(select(func.count()).select_from(VectorClockEntry)) == 1


def test_sqlite_and_postgresql_replicas_converge(store: Store, tmp_path: Path) -> None:
    """The same exchange between the parametrized store (SQLite or PostgreSQL) and a SQLite peer."""
    pos = build_pos(store)
    peer = open_store(f"sqlite:///{tmp_path / 'peer.db'}")
    try:
        sync(store, peer)
        checkout_b, station_b = second_register(pos, peer, "T2")
        sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
        sell(checkout_b, pos, station_b, pos.nm_id, "sale-b")
        set_sku(store, pos.nm_id, shelf_price_cents=8999)
        set_sku(peer, pos.nm_id, notes="peer note")
        exchange(store, peer)
        assert on_hand(store, pos.nm_id) == on_hand(peer, pos.nm_id) == 1
        assert snapshot(store) == snapshot(peer)
        assert vector_clock(store) == vector_clock(peer)
    finally:
        peer.close()


def test_an_update_of_an_existing_row_merges_per_column_against_its_newest_versions(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    """Updates of a row that exists are merged without folding its whole history (the live
    path: a sale bumps its SKU): each column still goes to its newest writer, one change
    per batch, in either direction, however many earlier changes the row has."""
    pos, a, b, _c = shop
    for i in range(30):  # a long history on both sides
        set_sku(a, pos.nm_id, popularity=i + 1)
    sync(a, b)
    set_sku(b, pos.nm_id, shelf_price_cents=1111, notes="from b")  # older
    time.sleep(0.002)
    set_sku(a, pos.nm_id, shelf_price_cents=2222)
    time.sleep(0.002)
    set_sku(a, pos.nm_id, popularity=99)  # newest
    sync(a, b, limit=1)  # each update alone in its batch
    sync(b, a, limit=1)
    for node in (a, b):
        assert sku_field(node, pos.nm_id, "shelf_price_cents") == 2222
        assert sku_field(node, pos.nm_id, "notes") == "from b"
        assert sku_field(node, pos.nm_id, "popularity") == 99
    assert snapshot(a) == snapshot(b)


def test_a_collision_with_a_row_updated_earlier_in_the_same_batch(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    """A row updated without its history fold, then needed whole by a unique-value clash in
    the same batch: the clash sees the row's update, and every node ends the same."""
    pos, a, b, c = shop
    product = str(sku_field(a, pos.nm_id, "product_id"))
    with b.uow() as uow:  # first to take the code, on B
        late = Sku(product_id=product, sku_code="MTG-DMU-107-X", condition="LP", shelf_price_cents=1)
        uow.add(late)
        uow.flush()
        new_id = late.id
    time.sleep(0.002)
    set_sku(a, pos.nm_id, sku_code="MTG-DMU-107-X")  # A's existing SKU takes it later
    sync(a, c)
    time.sleep(0.002)
    set_sku(a, pos.nm_id, popularity=7)  # no unique column: the fast update
    batch = changes_since(a, vector_clock(c), 100) + changes_since(b, vector_clock(c), 100)
    result = apply_batch(c, batch)
    assert result.collisions, "the clash is settled in this merge"
    assert sku_field(c, pos.nm_id, "popularity") == 7
    assert sku_field(c, new_id, "sku_code") == "MTG-DMU-107-X"  # the earlier writer keeps it
    assert sku_field(c, pos.nm_id, "sku_code") != "MTG-DMU-107-X"
    for _ in range(2):
        exchange(a, b)
        exchange(a, c)
        exchange(b, c)
    strip = {"sync_alerts"}
    states = [{k: v for k, v in snapshot(n).items() if k not in strip} for n in (a, b, c)]
    assert states[0] == states[1] == states[2]


# --------------------------------------------------------------------------- durability of merges


def commit_levels(store: Store) -> list[int]:
    """SQLite's ``synchronous`` level at every commit on ``store`` from now on (2 = FULL)."""
    levels: list[int] = []

    def on_commit(conn: Any) -> None:
        levels.append(int(conn.connection.dbapi_connection.execute("PRAGMA synchronous").fetchone()[0]))

    event.listen(store.engine, "commit", on_commit)
    return levels


def test_a_merge_of_other_terminals_changes_commits_without_waiting_for_the_disk(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    levels = commit_levels(b)
    [result] = sync(a, b)
    assert result.applied > 0 and levels == [1]  # NORMAL: they are durable on A; a lost one is re-fetched
    assert snapshot(a) == snapshot(b)
    set_sku(b, pos.nm_id, notes="b's own edit")  # and B's own writes stay FULL
    assert levels == [1, 2]


def test_a_merge_that_writes_this_terminals_own_changes_is_made_durable(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    sell_the_slab_on_both(pos, b, "T2")  # the oversell alert B's merge writes is B's own change
    own_before = vector_clock(b)[b.node_id]
    levels = commit_levels(b)
    [result] = sync(a, b)
    assert [al.on_hand for al in result.oversell_alerts] == [-1]
    assert levels == [2]  # the relaxed attempt rolled back (no commit), the durable one committed
    assert vector_clock(b)[b.node_id] == own_before + 1  # the alert, once
    assert vector_clock(b)[a.node_id] == vector_clock(a)[a.node_id]
    with b.read() as s:
        assert s.scalar(select(func.count()).select_from(SyncAlert)) == 1


def test_a_batch_of_several_sales_of_one_sku_does_not_read_the_skus_whole_history(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    """Each sale bumps its SKU's popularity (an LWW update): a pull from a busy mesh carries
    many of them for one row, whose history grows with every sale. The merge must look only
    at the newest versions (and its own earlier changes of the row), never fold it all."""
    pos, a, b, _ = shop
    for k in range(12):  # a history for the row on both terminals
        sell(pos.checkout, pos, pos.station_id, pos.bulk_id, f"old-{k}")
    sync(a, b)
    for k in range(4):
        sell(pos.checkout, pos, pos.station_id, pos.bulk_id, f"new-{k}")
    batch = changes_since(a, vector_clock(b), 1000)
    assert sum(1 for c in batch if c.table_name == "skus" and c.pk == pos.bulk_id) == 4
    statements: list[str] = []
    b.engine.dispose()  # new connections, traced from the start
    event.listen(b.engine, "connect", lambda dbapi, _rec: dbapi.set_trace_callback(statements.append))
    result = apply_batch(b, batch)
    assert result.applied == len(batch)
    whole_history = [
        sql for sql in statements if "FROM changes" in sql and "changes.pk =" in sql and "LIMIT" not in sql
    ]
    assert whole_history == []
    assert sku_field(b, pos.bulk_id, "popularity") == sku_field(a, pos.bulk_id, "popularity")
    assert snapshot(a) == snapshot(b)
