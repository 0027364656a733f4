from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.enums import Tender
from vaultsync.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from vaultsync.services.approval import ApprovalRequired
from vaultsync.services.checkout import TenderInput
from vaultsync.store import Store
from vaultsync.store.models import (
    AuditEntry,
    Change,
    CreditEntry,
    CustomerBalance,
    GiftCardEntry,
    StockLevel,
    StockMovement,
    Transaction,
    TransactionLine,
    TransactionTender,
)


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


def cash(amount: int) -> list[TenderInput]:
    return [TenderInput(Tender.CASH, amount)]


def on_hand(pos: Pos, sku_id: str) -> int:
    with pos.store.read() as s:
        return int(s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id == sku_id)) or 0)


def count(pos: Pos, model) -> int:  # type: ignore[no-untyped-def]
    with pos.store.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_scan_tender_cash_with_change(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    view = pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    view = pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    assert len(view.lines) == 1 and view.lines[0].quantity == 2
    assert view.subtotal_cents == 14998
    assert view.tax_cents == 1237  # 14998 × 8.25% = 1237.335
    assert view.total_cents == 16235
    result = pos.checkout.complete(cart.id, cash(20000), actor=pos.cashier, client_request_id="req-1")
    assert result.number == "T1-000001"
    assert result.change_cents == 3765
    assert result.opens_drawer
    assert on_hand(pos, pos.nm_id) == 1
    with pos.store.read() as s:
        txn = s.get(Transaction, result.transaction_id)
        assert txn is not None and txn.shift_id == pos.shift_id and txn.user_id == pos.cashier.id
        [tender] = txn.tenders
        assert (tender.tender, tender.amount_cents, tender.change_cents) == ("cash", 20000, 3765)
        [line] = txn.lines
        assert line.quantity == 2 and line.total_cents == 16235 and line.cost_cents == 4000
        moves = s.scalars(select(StockMovement).where(StockMovement.ref_id == txn.id)).all()
        assert [(m.delta, m.reason) for m in moves] == [(-2, "sale")]


def test_a_sale_is_one_transaction_with_its_change_log(pos: Pos) -> None:
    before = count(pos, Change)
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    pos.checkout.complete(cart.id, cash(10000), actor=pos.cashier, client_request_id="req-log")
    with pos.store.read() as s:
        tables = set(s.scalars(select(Change.table_name).where(Change.seq > before)))
    assert {"transactions", "transaction_lines", "transaction_tenders", "stock_movements", "skus"} <= tables


def test_retried_submit_is_idempotent(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    first = pos.checkout.complete(cart.id, cash(10000), actor=pos.cashier, client_request_id="same")
    again = pos.checkout.complete(cart.id, cash(10000), actor=pos.cashier, client_request_id="same")
    assert again.replayed and again.number == first.number and again.change_cents == first.change_cents
    assert count(pos, Transaction) == 1
    assert on_hand(pos, pos.nm_id) == 2


def test_split_tender_card_credit_gift_cash(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.attach_customer(cart.id, pos.customer_id, actor=pos.cashier)
    view = pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    total = view.total_cents  # 8118
    tenders = [
        TenderInput(Tender.STORE_CREDIT, 5000),
        TenderInput(Tender.GIFT_CARD, 1500, "gift-0001"),
        TenderInput(Tender.CARD, 1000, "APPROVAL-778"),
        TenderInput(Tender.CASH, 1000),
    ]
    result = pos.checkout.complete(cart.id, tenders, actor=pos.cashier, client_request_id="split")
    assert result.change_cents == 8500 - total
    with pos.store.read() as s:
        assert s.get(CustomerBalance, pos.customer_id).balance_cents == 0  # type: ignore[union-attr]
        gift = s.scalar(select(func.sum(GiftCardEntry.delta_cents)))
        assert gift == 500
        refs = {t.tender: t.reference for t in s.scalars(select(TransactionTender))}
        assert refs["card"] == "APPROVAL-778" and refs["gift_card"] == "GIFT-0001"


@pytest.mark.parametrize(
    ("tenders", "message"),
    [
        ([], "how the customer pays"),
        ([TenderInput(Tender.CASH, 100)], "short by"),
        ([TenderInput(Tender.CARD, 8118)], "approval reference"),
        ([TenderInput(Tender.CARD, 9000, "A1")], "cannot exceed the total"),
        ([TenderInput(Tender.CASH, -5)], "positive amount"),
        ([TenderInput(Tender.CASH, 10**15)], "positive amount"),
        ([TenderInput(Tender.STORE_CREDIT, 8118)], "attach the customer"),
        ([TenderInput(Tender.GIFT_CARD, 100), TenderInput(Tender.CASH, 9000)], "gift card"),
    ],
)
def test_bad_tenders_change_nothing(pos: Pos, tenders: list[TenderInput], message: str) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    before = count(pos, Change)
    with pytest.raises(ValidationError, match=message):
        pos.checkout.complete(cart.id, tenders, actor=pos.cashier, client_request_id="bad")
    assert count(pos, Change) == before and count(pos, Transaction) == 0
    assert pos.checkout.view(cart.id).item_count == 1  # the cart is still there to fix


def test_store_credit_never_below_zero(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.attach_customer(cart.id, pos.customer_id, actor=pos.cashier)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    with pytest.raises(ConflictError, match="store credit is short"):
        pos.checkout.complete(
            cart.id,
            [TenderInput(Tender.STORE_CREDIT, 6000), TenderInput(Tender.CASH, 3000)],
            actor=pos.cashier,
            client_request_id="credit",
        )
    assert count(pos, Transaction) == 0 and count(pos, CreditEntry) == 1


def test_unknown_gift_card(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "333333333333", actor=pos.cashier)
    with pytest.raises(NotFoundError, match="gift card"):
        pos.checkout.complete(
            cart.id, [TenderInput(Tender.GIFT_CARD, 27, "NOPE")], actor=pos.cashier, client_request_id="g"
        )


def test_serialized_items_sell_once(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    view = pos.checkout.scan(cart.id, "55555555", actor=pos.cashier)  # cert number
    assert view.lines[0].serialized and "PSA 10" in (view.lines[0].detail or "")
    with pytest.raises(ConflictError, match="already in this sale"):
        pos.checkout.scan(cart.id, "55555555", actor=pos.cashier)
    other = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(other.id, "55555555", actor=pos.cashier)  # rung up twice at once…
    pos.checkout.complete(cart.id, cash(60000), actor=pos.cashier, client_request_id="slab-1")
    with pytest.raises(ConflictError, match="already been sold"):  # …only one sale can take it
        pos.checkout.complete(other.id, cash(60000), actor=pos.cashier, client_request_id="slab-2")
    with pytest.raises(ConflictError, match="already been sold"):
        third = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
        pos.checkout.scan(third.id, "55555555", actor=pos.cashier)


def test_scan_errors(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    with pytest.raises(NotFoundError, match="no item"):
        pos.checkout.scan(cart.id, "999", actor=pos.cashier)
    with pytest.raises(ConflictError, match="out of stock"):
        pos.checkout.scan(cart.id, "222222222222", actor=pos.cashier)
    with pytest.raises(ValidationError):
        pos.checkout.scan(cart.id, "   ", actor=pos.cashier)
    with pytest.raises(ValidationError):
        pos.checkout.scan(cart.id, "abc\x00def", actor=pos.cashier)
    with pytest.raises(ValidationError, match="quantity"):
        pos.checkout.add_sku(cart.id, pos.bulk_id, -3, actor=pos.cashier)
    with pytest.raises(ConflictError, match="out of stock"):
        pos.checkout.add_sku(cart.id, pos.nm_id, 4, actor=pos.cashier)
    assert pos.checkout.view(cart.id).lines == []


def test_scanning_a_receipt_points_to_refunds(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "333333333333", actor=pos.cashier)
    pos.checkout.complete(cart.id, cash(100), actor=pos.cashier, client_request_id="r")
    cart2 = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    with pytest.raises(ValidationError, match="is a receipt"):
        pos.checkout.scan(cart2.id, "t1-000001", actor=pos.cashier)


def test_discount_over_threshold_needs_manager(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    line = pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier).lines[0]
    view = pos.checkout.discount_line(
        cart.id, line.line_id, ("percent", 1000), reason="loyal", actor=pos.cashier
    )
    assert view.lines[0].discount_cents == 750
    with pytest.raises(ApprovalRequired):
        pos.checkout.discount_line(
            cart.id, line.line_id, ("percent", 5000), reason="friend", actor=pos.cashier
        )
    with pytest.raises(AuthenticationError):
        pos.checkout.discount_line(
            cart.id, line.line_id, ("percent", 5000), reason="friend", actor=pos.cashier, approval_pin="1234"
        )
    view = pos.checkout.discount_line(
        cart.id, line.line_id, ("percent", 5000), reason="friend", actor=pos.cashier, approval_pin="2468"
    )
    assert view.lines[0].discount_cents == 3750  # 50% of 74.99 = 37.495 -> 37.50
    result = pos.checkout.complete(cart.id, cash(10000), actor=pos.cashier, client_request_id="d")
    with pos.store.read() as s:
        actions = [
            (a.action, a.approved_by) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.node_seq))
        ]
        txn = s.get(Transaction, result.transaction_id)
        assert txn is not None and txn.approved_by == pos.manager.id
    assert ("override.denied", None) in actions
    assert ("override.discount", pos.manager.id) in actions


def test_price_below_cost_needs_manager(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    line = pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier).lines[0]
    pos.checkout.override_price(cart.id, line.line_id, 5000, reason="price match", actor=pos.cashier)
    with pytest.raises(ApprovalRequired, match="below cost"):
        pos.checkout.override_price(cart.id, line.line_id, 3000, reason="clearance", actor=pos.cashier)
    view = pos.checkout.override_price(cart.id, line.line_id, 3000, reason="clearance", actor=pos.manager)
    assert view.lines[0].unit_price_cents == 3000 and view.lines[0].list_price_cents == 7499


def test_custom_line_and_cart_discount(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.add_custom(cart.id, "Signed playmat", 4000, reason="consignment", actor=pos.cashier)
    pos.checkout.add_sku(cart.id, pos.bulk_id, 40, actor=pos.cashier)
    view = pos.checkout.discount_cart(cart.id, ("amount", 500), reason="bundle", actor=pos.cashier)
    assert view.subtotal_cents == 5000 and view.discount_cents == 500
    assert view.tax_cents == 371  # 4500 × 8.25% = 371.25
    with pytest.raises(ValidationError, match="reason"):
        pos.checkout.add_custom(cart.id, "Mystery", 100, reason=" ", actor=pos.cashier)


def test_tax_exempt_customer(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    view = pos.checkout.attach_customer(cart.id, pos.exempt_id, actor=pos.cashier)
    assert view.tax_cents == 0 and view.total_cents == 7499


def test_park_and_resume_elsewhere(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    pos.checkout.park(cart.id, label="blue hoodie", actor=pos.cashier)
    with pytest.raises(NotFoundError):
        pos.checkout.view(cart.id)
    [held] = pos.checkout.held_carts()
    assert held.label == "blue hoodie" and held.total_items == 1
    from vaultsync.services.checkout import CheckoutService

    other_terminal = CheckoutService(pos.store, pos.auth, pos.shop)  # same database, another process
    view = other_terminal.resume(held.id, actor=pos.cashier, station_id=pos.station_id)
    assert view.lines[0].quantity == 1
    assert pos.checkout.held_carts() == []
    with pytest.raises(NotFoundError):
        other_terminal.resume(held.id, actor=pos.cashier, station_id=pos.station_id)
    other_terminal.complete(view.id, cash(9000), actor=pos.cashier, client_request_id="resumed")


def test_void_open_sale_is_audited(pos: Pos) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    pos.checkout.void_cart(cart.id, actor=pos.cashier, reason="customer left")
    with pytest.raises(NotFoundError):
        pos.checkout.view(cart.id)
    with pos.store.read() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "cart.void"))
        assert (
            entry is not None
            and entry.after["shift_id"] == pos.shift_id
            and entry.after["total_cents"] == 8118
        )
    assert on_hand(pos, pos.nm_id) == 3


def test_no_open_shift_no_sale(pos: Pos) -> None:
    from vaultsync.store.models import Shift

    with pos.store.uow() as uow:
        shift = uow.session.get(Shift, pos.shift_id)
        assert shift is not None
        shift.status = "closed"
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.scan(cart.id, "333333333333", actor=pos.cashier)
    with pytest.raises(ConflictError, match="open a shift"):
        pos.checkout.complete(cart.id, cash(100), actor=pos.cashier, client_request_id="x")


def test_receipt_hook_runs_inside_the_sale_transaction(pos: Pos) -> None:
    from vaultsync.services.checkout import CheckoutService

    def failing_hook(session, txn_id):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full while queueing the receipt")

    failing = CheckoutService(pos.store, pos.auth, pos.shop, receipt_hook=failing_hook)
    cart = failing.new_cart(actor=pos.cashier, station_id=pos.station_id)
    failing.scan(cart.id, "111111111111", actor=pos.cashier)
    with pytest.raises(RuntimeError):
        failing.complete(cart.id, cash(9000), actor=pos.cashier, client_request_id="hook")
    assert count(pos, Transaction) == 0 and count(pos, TransactionLine) == 0
    assert on_hand(pos, pos.nm_id) == 3  # nothing half-written
