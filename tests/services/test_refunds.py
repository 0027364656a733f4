from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.enums import Tender
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.services.approval import ApprovalRequired
from vaultsync.services.checkout import SaleResult, TenderInput
from vaultsync.services.refunds import NoReceiptItem, RefundService, ReturnLine
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, CustomerBalance, StockLevel, StockMovement, Transaction


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


@pytest.fixture
def refunds(pos: Pos) -> RefundService:
    return RefundService(pos.store, pos.auth, pos.shop)


def sell(
    pos: Pos,
    scans: list[str],
    tenders: list[TenderInput] | None = None,
    customer: str | None = None,
    rid: str = "sale",
) -> SaleResult:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    if customer:
        pos.checkout.attach_customer(cart.id, customer, actor=pos.cashier)
    view = None
    for code in scans:
        view = pos.checkout.scan(cart.id, code, actor=pos.cashier)
    assert view is not None
    tenders = tenders or [TenderInput(Tender.CASH, view.total_cents)]
    return pos.checkout.complete(cart.id, tenders, actor=pos.cashier, client_request_id=rid)


def stock(pos: Pos, sku_id: str) -> int:
    with pos.store.read() as s:
        return int(s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id == sku_id)) or 0)


def test_partial_returns_add_up_to_exactly_what_was_paid(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["333333333333"] * 3)  # 3 × $0.25 + 8.25% tax = 75 + 6 = 81
    assert sale.total_cents == 81
    original = refunds.lookup(sale.number)
    line = original.lines[0]
    got = [
        refunds.refund(
            sale.number,
            [ReturnLine(line.line_id, 1)],
            actor=pos.cashier,
            station_id=pos.station_id,
            client_request_id=f"r{i}",
        ).refund_cents
        for i in range(3)
    ]
    assert got == [27, 27, 27] and sum(got) == 81
    with pytest.raises(ConflictError, match="already returned"):
        refunds.refund(
            sale.number,
            [ReturnLine(line.line_id, 1)],
            actor=pos.cashier,
            station_id=pos.station_id,
            client_request_id="r4",
        )
    assert refunds.lookup(sale.number).refunded_cents == 81
    assert stock(pos, pos.bulk_id) == 1000


def test_refund_by_receipt_to_cash_restocks_where_it_was_sold(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["111111111111", "111111111111"], [TenderInput(Tender.CASH, 20000)])
    assert stock(pos, pos.nm_id) == 1
    line = refunds.lookup(sale.number.lower()).lines[0]  # scanners may send lowercase
    result = refunds.refund(
        sale.number,
        [ReturnLine(line.line_id, 1)],
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="ret",
    )
    assert result.refund_cents == 8118 - 1  # cum(1 of 2) of 16235 = 8117
    assert result.tenders == [("cash", 8117, None)] and result.opens_drawer
    assert stock(pos, pos.nm_id) == 2
    with pos.store.read() as s:
        txn = s.get(Transaction, result.transaction_id)
        assert txn is not None and txn.kind == "refund" and txn.total_cents == -8117
        assert txn.tenders[0].amount_cents == -8117 and txn.lines[0].quantity == -1
        move = s.scalar(select(StockMovement).where(StockMovement.ref_id == txn.id))
        assert move is not None and move.location_id == pos.case_id and move.reason == "return"


def test_damaged_return_is_not_restocked(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["111111111111"])
    line = refunds.lookup(sale.number).lines[0]
    refunds.refund(
        sale.number,
        [ReturnLine(line.line_id, 1, restock=False)],
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="dmg",
    )
    assert stock(pos, pos.nm_id) == 2


def test_split_payment_refunds_proportionally_with_card_reference(pos: Pos, refunds: RefundService) -> None:
    sale = sell(
        pos, ["111111111111"], [TenderInput(Tender.CARD, 4000, "APP-1"), TenderInput(Tender.CASH, 5000)]
    )
    kept_cash = 8118 - 4000
    line = refunds.lookup(sale.number).lines[0]
    result = refunds.refund(
        sale.number,
        [ReturnLine(line.line_id, 1)],
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="split",
    )
    assert sorted(result.tenders) == sorted([("card", 4000, "APP-1"), ("cash", kept_cash, None)])


def test_refund_to_store_credit(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["111111111111"], customer=pos.customer_id)
    line = refunds.lookup(sale.number).lines[0]
    refunds.refund(
        sale.number,
        [ReturnLine(line.line_id, 1)],
        to="store_credit",
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="sc",
    )
    with pos.store.read() as s:
        assert s.get(CustomerBalance, pos.customer_id).balance_cents == 5000 + 8118  # type: ignore[union-attr]


def test_large_refund_needs_a_manager(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["55555555"])  # the $500 slab
    line = refunds.lookup(sale.number).lines[0]
    with pytest.raises(ApprovalRequired):
        refunds.refund(
            sale.number,
            [ReturnLine(line.line_id, 1)],
            actor=pos.cashier,
            station_id=pos.station_id,
            client_request_id="big",
        )
    result = refunds.refund(
        sale.number,
        [ReturnLine(line.line_id, 1)],
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="big",
        approval_pin="2468",
    )
    with pos.store.read() as s:
        txn = s.get(Transaction, result.transaction_id)
        assert txn is not None and txn.approved_by == pos.manager.id
    assert stock(pos, pos.slab_id) == 1  # the slab is back and can be sold again


def test_void_of_a_completed_sale(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["111111111111", "333333333333"])
    with pytest.raises(ApprovalRequired):
        refunds.void_sale(sale.number, actor=pos.cashier, station_id=pos.station_id, client_request_id="v")
    result = refunds.void_sale(
        sale.number,
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="v",
        approval_pin="2468",
        reason="rung on wrong customer",
    )
    assert result.refund_cents == sale.total_cents
    assert stock(pos, pos.nm_id) == 3 and stock(pos, pos.bulk_id) == 1000
    with pytest.raises(ConflictError):
        refunds.void_sale(sale.number, actor=pos.manager, station_id=pos.station_id, client_request_id="v2")
    with pos.store.read() as s:
        assert (
            s.scalar(select(AuditEntry.approved_by).where(AuditEntry.action == "void.complete"))
            == pos.manager.id
        )


def test_no_receipt_return(pos: Pos, refunds: RefundService) -> None:
    item = NoReceiptItem(pos.nm_id, 1, 6000)
    with pytest.raises(ApprovalRequired):
        refunds.refund_without_receipt(
            [item],
            actor=pos.cashier,
            station_id=pos.station_id,
            client_request_id="nr",
            customer_id=pos.customer_id,
            reason="gift",
        )
    result = refunds.refund_without_receipt(
        [item],
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="nr",
        customer_id=pos.customer_id,
        reason="gift",
        approval_pin="2468",
    )
    assert result.refund_cents == 6000 and result.tenders == [("store_credit", 6000, None)]
    with pos.store.read() as s:
        assert s.get(CustomerBalance, pos.customer_id).balance_cents == 11000  # type: ignore[union-attr]


def test_retried_refund_is_idempotent(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["111111111111"])
    line = refunds.lookup(sale.number).lines[0]
    kwargs = {"actor": pos.cashier, "station_id": pos.station_id, "client_request_id": "once"}
    first = refunds.refund(sale.number, [ReturnLine(line.line_id, 1)], **kwargs)  # type: ignore[arg-type]
    again = refunds.refund(sale.number, [ReturnLine(line.line_id, 1)], **kwargs)  # type: ignore[arg-type]
    assert again.replayed and again.number == first.number
    assert stock(pos, pos.nm_id) == 3


def test_bad_refund_requests_change_nothing(pos: Pos, refunds: RefundService) -> None:
    sale = sell(pos, ["111111111111"])
    line = refunds.lookup(sale.number).lines[0]
    common = {"actor": pos.cashier, "station_id": pos.station_id, "client_request_id": "bad"}
    with pytest.raises(NotFoundError):
        refunds.lookup("T9-999999")
    with pytest.raises(NotFoundError):
        refunds.refund(sale.number, [ReturnLine("nope", 1)], **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        refunds.refund(sale.number, [ReturnLine(line.line_id, 0)], **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        refunds.refund(sale.number, [ReturnLine(line.line_id, 1)] * 2, **common)  # type: ignore[arg-type]
    with pytest.raises(ConflictError):
        refunds.refund(sale.number, [ReturnLine(line.line_id, 2)], **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="no customer"):
        refunds.refund(sale.number, [ReturnLine(line.line_id, 1)], to="store_credit", **common)  # type: ignore[arg-type]
    with pos.store.read() as s:
        assert s.scalar(select(func.count()).select_from(Transaction)) == 1
