"""Receiving, transfers, write-offs, reorder points and stock counts (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.enums import Tender
from vaultsync.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ReplicationError,
    ValidationError,
)
from vaultsync.services.checkout import TenderInput
from vaultsync.services.stock_ops import (
    ReceiveLine,
    StockOpsService,
    count_bases,
    count_movement_id,
    position_sum,
    weighted_average_cost,
)
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, Location, Sku, StockCountEntry, StockLevel, StockMovement


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


@pytest.fixture
def ops(pos: Pos) -> StockOpsService:
    return StockOpsService(pos.store)


def on_hand(store: Store, sku_id: str, location_id: str | None = None) -> int:
    with store.read() as s:
        stmt = select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.sku_id == sku_id)
        if location_id:
            stmt = stmt.where(StockLevel.location_id == location_id)
        return int(s.scalar(stmt) or 0)


def ledger_sum(store: Store, sku_id: str) -> int:
    with store.read() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(StockMovement.delta), 0)).where(StockMovement.sku_id == sku_id)
            )
            or 0
        )


def cost(store: Store, sku_id: str) -> int | None:
    with store.read() as s:
        sku = s.get(Sku, sku_id)
        assert sku is not None
        return sku.cost_basis_cents


def add_location(store: Store, name: str, parent: str | None = None) -> str:
    with store.uow() as uow:
        loc = Location(kind="binder", name=name, parent_id=parent)
        uow.add(loc)
        uow.flush()
        return loc.id


def sell(pos: Pos, sku_id: str, qty: int, request: str) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    view = pos.checkout.add_sku(cart.id, sku_id, qty, actor=pos.cashier)
    pos.checkout.complete(
        cart.id, [TenderInput(Tender.CASH, view.total_cents)], actor=pos.cashier, client_request_id=request
    )


def actions(store: Store) -> list[str]:
    with store.read() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.node_seq)))


# ---------------------------------------------------------------------- weighted average cost


@pytest.mark.parametrize(
    "on_hand_, old, qty, unit, expected",
    [
        (3, 4000, 2, 5000, 4400),  # (12000 + 10000) / 5
        (0, 4000, 2, 5000, 5000),  # nothing left: the new cost
        (-2, 4000, 2, 5000, 5000),  # oversold units carry no cost
        (5, None, 5, 700, 700),  # no cost yet
        (1, 100, 2, 101, 101),  # 302 / 3 = 100.67 -> 101 (half up)
        (1, 100, 1, 101, 101),  # 100.5 -> 101: half a cent rounds up
        (2, 100, 1, 101, 100),  # 100.33 -> 100
    ],
)
def test_weighted_average_cost(on_hand_: int, old: int | None, qty: int, unit: int, expected: int) -> None:
    assert weighted_average_cost(on_hand_, old, qty, unit) == expected


# ---------------------------------------------------------------------- receiving


def test_receive_adds_stock_and_averages_the_cost(pos: Pos, ops: StockOpsService) -> None:
    result = ops.receive(
        [ReceiveLine(pos.nm_id, 2, 5000), ReceiveLine(pos.empty_id, 4, 1500)],
        pos.case_id,
        actor=pos.manager,
        supplier="Alliance",
        reference="INV-77",
    )
    assert on_hand(pos.store, pos.nm_id) == 5
    assert on_hand(pos.store, pos.empty_id) == 4
    assert cost(pos.store, pos.nm_id) == 4400
    assert cost(pos.store, pos.empty_id) == 1500
    assert result.total_cost_cents == 2 * 5000 + 4 * 1500
    assert [(r.old_cost_cents, r.new_cost_cents) for r in result.lines] == [(4000, 4400), (None, 1500)]
    with pos.store.read() as s:
        moves = s.scalars(select(StockMovement).where(StockMovement.ref_id == result.receipt_id)).all()
    assert {(m.reason, m.delta, m.note) for m in moves} == {
        ("receive", 2, "Alliance · INV-77"),
        ("receive", 4, "Alliance · INV-77"),
    }
    assert "stock.receive" in actions(pos.store)


def test_receiving_one_sku_twice_in_a_delivery_averages_both_lines(pos: Pos, ops: StockOpsService) -> None:
    ops.receive(
        [ReceiveLine(pos.nm_id, 1, 6000), ReceiveLine(pos.nm_id, 4, 1000)], pos.case_id, actor=pos.manager
    )
    # 3 @ 40.00 -> +1 @ 60.00 = 45.00 -> +4 @ 10.00 = (4*4500 + 4*1000)/8 = 27.50
    assert cost(pos.store, pos.nm_id) == 2750
    assert on_hand(pos.store, pos.nm_id) == 8


@pytest.mark.parametrize(
    "line, message",
    [
        (ReceiveLine("x", 1, -5), "cannot be negative"),
        (ReceiveLine("x", 0, 100), "quantity"),
        (ReceiveLine("x", 1, 10**14), "too large"),
        (ReceiveLine("x", 2_000_000, 100), "quantity"),
    ],
)
def test_bad_receive_lines_change_nothing(
    pos: Pos, ops: StockOpsService, line: ReceiveLine, message: str
) -> None:
    good = ReceiveLine(pos.nm_id, 1, 100)
    with pytest.raises(ValidationError, match=message):
        ops.receive(
            [good, ReceiveLine(pos.nm_id, line.quantity, line.unit_cost_cents)],
            pos.case_id,
            actor=pos.manager,
        )
    assert on_hand(pos.store, pos.nm_id) == 3
    assert cost(pos.store, pos.nm_id) == 4000


def test_receive_with_an_unknown_sku_is_all_or_nothing(pos: Pos, ops: StockOpsService) -> None:
    with pytest.raises(NotFoundError):
        ops.receive(
            [ReceiveLine(pos.nm_id, 1, 100), ReceiveLine("nope", 1, 100)], pos.case_id, actor=pos.manager
        )
    assert on_hand(pos.store, pos.nm_id) == 3
    assert cost(pos.store, pos.nm_id) == 4000


def test_a_second_copy_of_a_slab_cannot_be_received(pos: Pos, ops: StockOpsService) -> None:
    with pytest.raises(ConflictError, match="serialized"):
        ops.receive([ReceiveLine(pos.slab_id, 1, 100)], pos.case_id, actor=pos.manager)


def test_cashiers_cannot_receive(pos: Pos, ops: StockOpsService) -> None:
    with pytest.raises(PermissionDenied):
        ops.receive([ReceiveLine(pos.nm_id, 1, 100)], pos.case_id, actor=pos.cashier)


# ---------------------------------------------------------------------- transfers and write-offs


def test_transfer_moves_units_between_locations(pos: Pos, ops: StockOpsService) -> None:
    binder = add_location(pos.store, "Binder 3", pos.case_id)
    ref = ops.transfer(pos.nm_id, pos.case_id, binder, 2, actor=pos.manager, note="to the binder")
    assert on_hand(pos.store, pos.nm_id, pos.case_id) == 1
    assert on_hand(pos.store, pos.nm_id, binder) == 2
    assert on_hand(pos.store, pos.nm_id) == 3
    with pos.store.read() as s:
        deltas = sorted(s.scalars(select(StockMovement.delta).where(StockMovement.ref_id == ref)))
    assert deltas == [-2, 2]


def test_transfer_refuses_more_than_is_there(pos: Pos, ops: StockOpsService) -> None:
    binder = add_location(pos.store, "Binder 3", pos.case_id)
    with pytest.raises(ConflictError, match="only 3"):
        ops.transfer(pos.nm_id, pos.case_id, binder, 4, actor=pos.manager)
    with pytest.raises(ValidationError, match="different"):
        ops.transfer(pos.nm_id, pos.case_id, pos.case_id, 1, actor=pos.manager)
    with pytest.raises(NotFoundError):
        ops.transfer(pos.nm_id, pos.case_id, "nowhere", 1, actor=pos.manager)
    assert on_hand(pos.store, pos.nm_id, pos.case_id) == 3


def test_write_off_with_reason(pos: Pos, ops: StockOpsService) -> None:
    ops.write_off(pos.nm_id, pos.case_id, 1, "damaged", actor=pos.manager, note="water damage")
    assert on_hand(pos.store, pos.nm_id) == 2
    with pos.store.read() as s:
        move = s.scalars(select(StockMovement).where(StockMovement.ref_type == "write_off")).one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "stock.write_off")).one()
    assert (move.delta, move.reason, move.note) == (-1, "adjust", "damaged: water damage")
    assert entry.after is not None and entry.after["cost_cents"] == 4000


def test_bad_write_offs_are_refused(pos: Pos, ops: StockOpsService) -> None:
    with pytest.raises(ValidationError, match="reason"):
        ops.write_off(pos.nm_id, pos.case_id, 1, "felt like it", actor=pos.manager)
    with pytest.raises(ValidationError, match="note"):
        ops.write_off(pos.nm_id, pos.case_id, 1, "other", actor=pos.manager)
    with pytest.raises(ConflictError):
        ops.write_off(pos.nm_id, pos.case_id, 9, "lost", actor=pos.manager)
    with pytest.raises(PermissionDenied):
        ops.write_off(pos.nm_id, pos.case_id, 1, "lost", actor=pos.cashier)
    assert on_hand(pos.store, pos.nm_id) == 3


# ---------------------------------------------------------------------- reorder points


def test_low_stock_list(pos: Pos, ops: StockOpsService) -> None:
    assert ops.low_stock() == []
    ops.set_reorder_point(pos.nm_id, 3, 6, actor=pos.manager)  # 3 on hand: at the point
    ops.set_reorder_point(pos.empty_id, 1, actor=pos.manager)  # 0 on hand
    ops.set_reorder_point(pos.bulk_id, 100, actor=pos.manager)  # 1000 on hand: fine
    low = ops.low_stock()
    assert [(r.sku_code, r.on_hand, r.suggested_order) for r in low] == [
        ("MTG-DMU-107-HP", 0, 2),
        ("MTG-DMU-107-NM", 3, 6),
    ]
    ops.set_reorder_point(pos.nm_id, 2, 6, actor=pos.manager)
    assert [r.sku_code for r in ops.low_stock()] == ["MTG-DMU-107-HP"]
    ops.set_reorder_point(pos.empty_id, None, actor=pos.manager)
    assert ops.low_stock() == []
    assert ops.reorder_point(pos.nm_id) == (2, 6)
    with pytest.raises(ValidationError):
        ops.set_reorder_point(pos.nm_id, -1, actor=pos.manager)


# ---------------------------------------------------------------------- counts


def test_count_shows_differences_and_commits_adjustments(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    assert count.status == "open"
    assert {li.sku_code: li.counted for li in count.lines} == {
        "MTG-DMU-107-NM": None,
        "MTG-DMU-107-PSA10": None,
        "MTG-BULK": None,
    }
    line = ops.record_count(count.id, pos.nm_id, 2, actor=pos.cashier)
    assert (line.counted, line.seen_on_hand, line.adjustment) == (2, 3, -1)
    ops.record_count(count.id, pos.bulk_id, 1000, actor=pos.cashier)
    ops.record_count(count.id, pos.empty_id, 1, actor=pos.cashier)  # found one the system did not expect
    result = ops.commit_count(count.id, actor=pos.manager)
    assert (result.adjusted, result.unchanged, result.units_delta) == (2, 1, 0)
    assert on_hand(pos.store, pos.nm_id) == 2
    assert on_hand(pos.store, pos.empty_id) == 1
    assert on_hand(pos.store, pos.slab_id) == 1  # not counted, not zeroed
    assert ops.count(count.id).status == "committed"
    with pytest.raises(ConflictError, match="committed"):
        ops.commit_count(count.id, actor=pos.manager)
    with pytest.raises(ConflictError):
        ops.record_count(count.id, pos.nm_id, 1, actor=pos.cashier)
    assert "stock.count_commit" in actions(pos.store)
    assert ledger_sum(pos.store, pos.nm_id) == on_hand(pos.store, pos.nm_id)


def test_sales_during_a_count_are_not_lost(pos: Pos, ops: StockOpsService) -> None:
    """The issue's proof: a card sold after its line was counted stays sold after the commit."""
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 2, actor=pos.cashier)  # 3 expected, 2 on the shelf
    ops.record_count(count.id, pos.bulk_id, 1000, actor=pos.cashier)
    sell(pos, pos.nm_id, 1, "sale-during-count")  # the register keeps selling
    sell(pos, pos.bulk_id, 40, "bulk-during-count")
    assert on_hand(pos.store, pos.nm_id) == 2
    ops.commit_count(count.id, actor=pos.manager)
    # counted 2, then one sold: 1 left. An overwrite with the counted figure would say 2.
    assert on_hand(pos.store, pos.nm_id) == 1
    assert on_hand(pos.store, pos.bulk_id) == 960
    assert ledger_sum(pos.store, pos.nm_id) == 1


def test_a_receipt_during_a_count_stays_on_top(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 3, actor=pos.cashier)
    ops.receive([ReceiveLine(pos.nm_id, 5, 4000)], pos.case_id, actor=pos.manager)
    result = ops.commit_count(count.id, actor=pos.manager)
    assert result.adjusted == 0
    assert on_hand(pos.store, pos.nm_id) == 8


def test_sale_before_the_line_was_counted_is_part_of_the_base(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    sell(pos, pos.nm_id, 1, "sale-before-line")
    ops.record_count(count.id, pos.nm_id, 2, actor=pos.cashier)  # matches the 2 left
    assert ops.commit_count(count.id, actor=pos.manager).adjusted == 0
    assert on_hand(pos.store, pos.nm_id) == 2


def test_recounting_a_line_keeps_the_newest_figure(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 1, actor=pos.cashier)
    line = ops.record_count(count.id, pos.nm_id, 3, actor=pos.cashier)
    assert (line.counted, line.adjustment) == (3, 0)
    ops.commit_count(count.id, actor=pos.manager)
    assert on_hand(pos.store, pos.nm_id) == 3
    with pos.store.read() as s:
        assert s.scalar(select(func.count()).select_from(StockCountEntry)) == 2  # both on record


def test_abandoned_count_changes_no_stock(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 0, actor=pos.cashier)
    ops.abandon_count(count.id, actor=pos.manager, reason="wrong case")
    assert on_hand(pos.store, pos.nm_id) == 3
    assert ops.count(count.id).status == "abandoned"
    with pytest.raises(ConflictError):
        ops.commit_count(count.id, actor=pos.manager)


def test_zero_missing_writes_off_what_nobody_found(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 3, actor=pos.cashier)
    view = ops.count(count.id)
    assert view.missing_lines == 2  # slab and bulk not counted
    result = ops.commit_count(count.id, actor=pos.manager, zero_missing=True)
    assert result.zeroed == 2
    assert on_hand(pos.store, pos.slab_id) == 0
    assert on_hand(pos.store, pos.bulk_id) == 0
    assert on_hand(pos.store, pos.nm_id) == 3


def test_counting_a_sub_location_and_refusing_outside_ones(pos: Pos, ops: StockOpsService) -> None:
    binder = add_location(pos.store, "Binder 3", pos.case_id)
    elsewhere = add_location(pos.store, "Other shop binder")
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 1, actor=pos.cashier, location_id=binder)
    with pytest.raises(ValidationError, match="not part of this count"):
        ops.record_count(count.id, pos.nm_id, 1, actor=pos.cashier, location_id=elsewhere)
    ops.commit_count(count.id, actor=pos.manager)
    assert on_hand(pos.store, pos.nm_id, binder) == 1
    assert on_hand(pos.store, pos.nm_id, pos.case_id) == 3


def test_two_counts_of_one_shelf_do_not_adjust_twice(pos: Pos, ops: StockOpsService) -> None:
    first = ops.start_count(pos.case_id, actor=pos.manager, name="Morning")
    second = ops.start_count(pos.case_id, actor=pos.manager, name="Evening")
    assert ops.count(first.id).overlapping == ["Evening"]
    ops.record_count(first.id, pos.nm_id, 2, actor=pos.cashier)
    ops.record_count(second.id, pos.nm_id, 2, actor=pos.cashier)
    ops.commit_count(first.id, actor=pos.manager)
    assert on_hand(pos.store, pos.nm_id) == 2
    # the second count's base already includes the first count's correction (positioned earlier)
    assert ops.commit_count(second.id, actor=pos.manager).adjusted == 0
    assert on_hand(pos.store, pos.nm_id) == 2


def test_an_older_count_committed_late_is_superseded(pos: Pos, ops: StockOpsService) -> None:
    old = ops.start_count(pos.case_id, actor=pos.manager, name="Old")
    new = ops.start_count(pos.case_id, actor=pos.manager, name="New")
    ops.record_count(old.id, pos.nm_id, 2, actor=pos.cashier)
    ops.record_count(new.id, pos.nm_id, 2, actor=pos.cashier)
    ops.commit_count(new.id, actor=pos.manager)
    line = next(li for li in ops.count(old.id).lines if li.sku_id == pos.nm_id)
    assert line.superseded and line.adjustment is None
    result = ops.commit_count(old.id, actor=pos.manager)
    assert (result.superseded, result.adjusted) == (1, 0)
    assert on_hand(pos.store, pos.nm_id) == 2


def test_count_adjustments_have_ids_derived_from_their_entries(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 1, actor=pos.cashier)
    ops.commit_count(count.id, actor=pos.manager)
    with pos.store.read() as s:
        entry = s.scalars(select(StockCountEntry)).one()
        move = s.get(StockMovement, count_movement_id(entry.id))
        assert move is not None and (move.delta, move.reason, move.ref_id) == (-2, "count", entry.id)
        assert position_sum(s, pos.nm_id, pos.case_id, entry.hlc) == 1  # the adjustment sits at the entry


def test_count_entries_are_insert_only(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 1, actor=pos.cashier)
    with pytest.raises(ReplicationError), pos.store.uow() as uow:
        entry = uow.session.scalars(select(StockCountEntry)).one()
        entry.counted = 5
        uow.flush()


def test_count_input_is_checked(pos: Pos, ops: StockOpsService) -> None:
    count = ops.start_count(pos.case_id, actor=pos.manager)
    with pytest.raises(ValidationError):
        ops.record_count(count.id, pos.nm_id, -1, actor=pos.cashier)
    with pytest.raises(ValidationError, match="serialized"):
        ops.record_count(count.id, pos.slab_id, 2, actor=pos.cashier)
    with pytest.raises(NotFoundError):
        ops.record_count(count.id, "nope", 1, actor=pos.cashier)
    with pytest.raises(NotFoundError):
        ops.record_count("nope", pos.nm_id, 1, actor=pos.cashier)
    with pytest.raises(PermissionDenied):
        ops.start_count(pos.case_id, actor=pos.cashier)
    with pytest.raises(PermissionDenied):
        ops.commit_count(count.id, actor=pos.cashier)
    line = ops.count_by_code(count.id, "111111111111", 3, actor=pos.cashier)
    assert line.sku_id == pos.nm_id
    with pytest.raises(NotFoundError):
        ops.count_by_code(count.id, "999", 3, actor=pos.cashier)


def test_movement_history_newest_first(pos: Pos, ops: StockOpsService) -> None:
    ops.write_off(pos.nm_id, pos.case_id, 1, "lost", actor=pos.manager)
    history = ops.movements(pos.nm_id)
    assert [(m.reason, m.delta) for m in history] == [("adjust", -1), ("receive", 3)]
    assert history[0].location == "Main › Case 1"


def test_bulk_bases_agree_with_the_single_line_sum(pos: Pos, ops: StockOpsService) -> None:
    first = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(first.id, pos.nm_id, 2, actor=pos.cashier)
    ops.commit_count(first.id, actor=pos.manager)
    count = ops.start_count(pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 5, actor=pos.cashier)
    sell(pos, pos.nm_id, 1, "between")
    ops.record_count(count.id, pos.bulk_id, 3, actor=pos.cashier)
    ops.record_count(count.id, pos.empty_id, 1, actor=pos.cashier)
    ops.receive([ReceiveLine(pos.nm_id, 2, 100)], pos.case_id, actor=pos.manager)
    ops.record_count(count.id, pos.nm_id, 4, actor=pos.cashier)
    with pos.store.read() as s:
        entries = s.scalars(select(StockCountEntry).where(StockCountEntry.count_id == count.id)).all()
        bases = count_bases(s, count.id)
        assert len(entries) == 4
        for e in entries:
            assert bases.get(e.id, 0) == position_sum(s, e.sku_id, e.location_id, e.hlc)
