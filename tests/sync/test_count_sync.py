"""Stock counts across replicas: started on one terminal, counted and committed on another."""

from __future__ import annotations

from sqlalchemy import select

from tests.services.pos_fixtures import Pos
from tests.sync.test_apply import exchange, nodes, on_hand, second_register, sell, shop, snapshot, sync
from vaultsync.services.stock_ops import StockOpsService
from vaultsync.store import Store
from vaultsync.store.models import StockMovement

__all__ = ["nodes", "shop"]  # fixtures used here


def test_offline_sale_made_before_the_count_is_not_subtracted_twice(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    checkout_b, station_b = second_register(pos, b, "T2")
    sell(checkout_b, pos, station_b, pos.nm_id, "offline-sale")  # B is cut off: A does not know yet
    ops_a = StockOpsService(a)
    count = ops_a.start_count(pos.case_id, actor=pos.manager)
    ops_a.record_count(count.id, pos.nm_id, 2, actor=pos.cashier)  # the shelf shows 2: one was sold
    before = next(li for li in ops_a.count(count.id).lines if li.sku_id == pos.nm_id)
    assert before.adjustment == -1  # A alone thinks 3 -> 2
    exchange(a, b)  # B's sale arrives; its HLC is before the counted line
    line = next(li for li in ops_a.count(count.id).lines if li.sku_id == pos.nm_id)
    assert line.adjustment == 0
    ops_a.commit_count(count.id, actor=pos.manager)
    exchange(a, b)
    assert on_hand(a, pos.nm_id) == on_hand(b, pos.nm_id) == 2
    assert snapshot(a) == snapshot(b)


def test_count_started_on_one_terminal_is_committed_on_another(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    ops_a, ops_b = StockOpsService(a), StockOpsService(b)
    count = ops_a.start_count(pos.case_id, actor=pos.manager)
    ops_a.record_count(count.id, pos.nm_id, 1, actor=pos.cashier)
    sync(a, b)
    ops_b.record_count(count.id, pos.bulk_id, 990, actor=pos.cashier)  # a second counter on B
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-on-a-during-count")
    exchange(a, b)
    result = ops_b.commit_count(count.id, actor=pos.manager)
    assert (result.adjusted, result.units_delta) == (2, -12)
    exchange(a, b)
    assert on_hand(a, pos.nm_id) == on_hand(b, pos.nm_id) == 0  # counted 1, then sold 1
    assert on_hand(a, pos.bulk_id) == 990
    assert ops_a.count(count.id).status == "committed"
    assert snapshot(a) == snapshot(b)


def test_the_same_count_committed_on_two_partitioned_terminals_adjusts_once(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    ops_a, ops_b = StockOpsService(a), StockOpsService(b)
    count = ops_a.start_count(pos.case_id, actor=pos.manager)
    ops_a.record_count(count.id, pos.nm_id, 1, actor=pos.cashier)
    sync(a, b)
    ops_a.commit_count(count.id, actor=pos.manager)
    ops_b.commit_count(count.id, actor=pos.manager)  # B did not hear of A's commit
    exchange(a, b)
    assert on_hand(a, pos.nm_id) == on_hand(b, pos.nm_id) == 1
    # one adjustment per counted line, and the same row on both replicas: each wrote that id
    # with its own node and HLC; the earlier version wins everywhere
    assert movements(a, pos.nm_id) == movements(b, pos.nm_id)
    assert snapshot(a) == snapshot(b)


def test_zero_missing_on_two_partitioned_terminals_zeroes_each_line_once(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    ops_a, ops_b = StockOpsService(a), StockOpsService(b)
    count = ops_a.start_count(pos.case_id, actor=pos.manager)
    ops_a.record_count(count.id, pos.nm_id, 3, actor=pos.cashier)
    sync(a, b)
    before = on_hand(a, pos.bulk_id)
    assert before > 0
    # both managers commit with "set what nobody counted to 0" while the terminals are cut off
    assert ops_a.commit_count(count.id, actor=pos.manager, zero_missing=True).zeroed == 2
    assert ops_b.commit_count(count.id, actor=pos.manager, zero_missing=True).zeroed == 2
    exchange(a, b)
    for sku_id in (pos.slab_id, pos.bulk_id):
        assert on_hand(a, sku_id) == on_hand(b, sku_id) == 0  # zeroed once, not driven negative
        assert movements(a, sku_id) == movements(b, sku_id)
        assert [r for _i, _d, r in movements(a, sku_id)].count("count") == 1
    assert on_hand(a, pos.nm_id) == on_hand(b, pos.nm_id) == 3
    assert snapshot(a) == snapshot(b)  # the same entries and adjustments, to the last column


def movements(store: Store, sku_id: str) -> list[tuple[str, int, str]]:
    with store.read() as s:
        rows = s.execute(
            select(StockMovement.id, StockMovement.delta, StockMovement.reason).where(
                StockMovement.sku_id == sku_id
            )
        )
        return sorted((str(i), int(d), str(r)) for i, d, r in rows)

