"""Cash shifts: open, pay-ins/outs, no-sales, overrides, close with variance, the X/Z report.

Sales, refunds and voids are written directly as ledger rows following checkout's
conventions (positive sale tenders with cash change, negative refund/void tenders), so
these tests pin down the arithmetic of the drawer independently of the checkout code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC

import pytest
from sqlalchemy import func, select

from vaultsync.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from vaultsync.services import audit
from vaultsync.services.approval import ApprovalRequired, approve
from vaultsync.services.auth import AuthService, UserView
from vaultsync.services.shifts import ShiftService, ZReport, z_report_text
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import (
    AuditEntry,
    CashMovement,
    Shift,
    Station,
    Transaction,
    TransactionLine,
    TransactionTender,
)

MANAGER_PIN = "9090"
_numbers = itertools.count(1)


@dataclass
class Shop:
    store: Store
    auth: AuthService
    svc: ShiftService
    alice: UserView  # cashier
    bob: UserView  # cashier
    mgr: UserView  # manager
    station: str
    kiosk: str


def _shop(store: Store) -> Shop:
    auth = AuthService(store)
    alice = auth.add_user("alice", "Alice", "cashier", pin="1111")
    bob = auth.add_user("bob", "Bob", "cashier", pin="2222")
    mgr = auth.add_user("mia", "Mia Manager", "manager", password="manager-pass", pin=MANAGER_PIN)
    with store.uow() as uow:
        reg = Station(name="Register 1", role="cashier", receipt_prefix="T1", has_drawer=True)
        kiosk = Station(name="Price Check", role="kiosk", receipt_prefix="K1")
        uow.session.add_all([reg, kiosk])
        uow.flush()
        reg_id, kiosk_id = reg.id, kiosk.id
    return Shop(store, auth, ShiftService(store, auth), alice, bob, mgr, reg_id, kiosk_id)


@pytest.fixture
def shop(sqlite_store: Store) -> Shop:
    return _shop(sqlite_store)


@pytest.fixture
def any_shop(store: Store) -> Shop:
    """Same as ``shop`` but on SQLite and PostgreSQL."""
    return _shop(store)


def ring(
    store: Store,
    shift_id: str,
    user: UserView,
    kind: str,
    *,
    subtotal: int,
    tax: int,
    total: int,
    tenders: list[tuple[str, int, int]],
    discount: int = 0,
) -> str:
    """Write a completed transaction the way checkout does: (tender, amount, change) per tender."""
    sign = -1 if kind in ("refund", "void") else 1
    with store.uow() as uow:
        s = uow.session
        tx = Transaction(
            number=f"T1-{next(_numbers):06d}",
            kind=kind,
            shift_id=shift_id,
            user_id=user.id,
            subtotal_cents=subtotal,
            discount_cents=discount,
            tax_cents=tax,
            total_cents=total,
        )
        s.add(tx)
        s.flush()
        s.add(
            TransactionLine(
                transaction_id=tx.id,
                line_no=1,
                description="Sheoldred, the Apocalypse NM",
                quantity=sign,
                unit_price_cents=abs(subtotal),
                discount_cents=discount,
                tax_cents=tax,
                total_cents=total,
            )
        )
        for tender, amount, change in tenders:
            s.add(
                TransactionTender(
                    transaction_id=tx.id,
                    tender=tender,
                    amount_cents=amount,
                    change_cents=change,
                    reference="APPROVED-1234" if tender == "card" else None,
                )
            )
        return tx.id


def void_cart(store: Store, shift_id: str, user: UserView, total: int, lines: int) -> None:
    """What checkout records when an open cart is voided (no transaction exists)."""
    with store.uow() as uow:
        audit.record(
            uow.session,
            "cart.void",
            user_id=user.id,
            entity_type="cart",
            entity_id="c" * 32,
            after={"shift_id": shift_id, "total_cents": total, "lines": lines},
        )


def counts(store: Store) -> tuple[int, int, int]:
    """(shifts, cash movements, audit entries): to prove that a refused call wrote nothing."""
    with store.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Shift)) or 0,
            s.scalar(select(func.count()).select_from(CashMovement)) or 0,
            s.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def audit_rows(store: Store, action: str) -> list[AuditEntry]:
    with store.read() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.node_seq))
        )


# --------------------------------------------------------------------------- the worked example


def test_full_shift_worked_example(any_shop: Shop) -> None:
    """A whole Friday on one drawer, every number computed by hand.

    Float $150.00 counted as 5×$20 + 2×$10 + 4×$5 + 10×$1.
    S1 Alice  sub 40.00 tax 3.30 = 43.30, cash 50.00 change 6.70           -> cash kept 43.30
    S2 Alice  sub 100.00 disc 10.00 tax 7.43 = 97.43, card 50.00 + cash 50.00 change 2.57
                                                                          -> cash kept 47.43
    S3 Bob    sub 25.00 tax 2.06 = 27.06, store credit 27.06
    S4 Bob    sub 12.00 disc 2.00 tax 0.83 = 10.83, gift card 10.00 + cash 1.00 change 0.17
                                                                          -> cash kept 0.83
    R1 Bob    refund part of S1: sub -20.00 tax -1.65 = -21.65 cash -21.65
    V1 Alice  void S3 (manager approved): -27.06 back to store credit
    carts voided: 15.99 (2 lines) on this shift; 9.99 on another shift (not ours)
    pay-in 20.00, pay-out 15.00, pay-out 60.00 (manager), one no-sale (manager)

    cash kept on sales 91.56, cash refunds -21.65 -> +69.91
    expected = 150.00 + 69.91 + 20.00 - 15.00 - 60.00 = 164.91; counted 165.00 -> over 0.09
    """
    shop, svc = any_shop, any_shop.svc
    opened = svc.open_shift(shop.station, shop.alice, denominations={2000: 5, 1000: 2, 500: 4, 100: 10})
    assert opened.opening_float_cents == 15000 and opened.is_open
    assert opened.station_name == "Register 1" and opened.opened_by_name == "Alice"
    sid = opened.id
    store = shop.store

    ring(store, sid, shop.alice, "sale", subtotal=4000, tax=330, total=4330, tenders=[("cash", 5000, 670)])
    ring(
        store,
        sid,
        shop.alice,
        "sale",
        subtotal=10000,
        discount=1000,
        tax=743,
        total=9743,
        tenders=[("card", 5000, 0), ("cash", 5000, 257)],
    )
    ring(
        store, sid, shop.bob, "sale", subtotal=2500, tax=206, total=2706, tenders=[("store_credit", 2706, 0)]
    )
    ring(
        store,
        sid,
        shop.bob,
        "sale",
        subtotal=1200,
        discount=200,
        tax=83,
        total=1083,
        tenders=[("gift_card", 1000, 0), ("cash", 100, 17)],
    )
    ring(store, sid, shop.bob, "refund", subtotal=-2000, tax=-165, total=-2165, tenders=[("cash", -2165, 0)])
    ring(
        store,
        sid,
        shop.alice,
        "void",
        subtotal=-2500,
        tax=-206,
        total=-2706,
        tenders=[("store_credit", -2706, 0)],
    )
    void_cart(store, sid, shop.alice, 1599, 2)
    void_cart(store, "someothershift", shop.alice, 999, 1)

    assert svc.expected_cash(sid) == 15000 + 6991
    svc.pay_in(sid, 2000, "Change from the safe", shop.alice)
    svc.pay_out(sid, 1500, "Pizza for the draft night", shop.bob)
    big = svc.pay_out(sid, 6000, "Supplier COD", shop.alice, approval_pin=MANAGER_PIN)
    assert big.approved_by == shop.mgr.id
    no_sale = svc.record_no_sale(sid, shop.bob, MANAGER_PIN, "Customer needed change")
    assert no_sale.station_id == shop.station and no_sale.amount_cents == 0
    assert svc.expected_cash(sid) == 16491

    x = svc.z_report(sid)  # an X report: the shift is still open
    assert not x.final and x.cash.counted_cents is None and x.cash.expected_cents == 16491

    closed = svc.close_shift(sid, shop.alice, counted_denominations={2000: 5, 1000: 3, 500: 5, 100: 10})
    assert closed.status == "closed" and closed.closed_by == shop.alice.id and closed.closed_at is not None
    assert (closed.expected_cash_cents, closed.counted_cash_cents, closed.variance_cents) == (16491, 16500, 9)
    assert closed.denominations == {2000: 5, 1000: 3, 500: 5, 100: 10}

    z = svc.z_report(sid)
    assert z.final and z.closed_by_name == "Alice" and z.opened_by_name == "Alice"
    assert (z.sales.count, z.sales.subtotal_cents, z.sales.discount_cents) == (4, 17700, 1200)
    assert (z.sales.tax_cents, z.sales.total_cents) == (1362, 17862)
    assert (z.refunds.count, z.refunds.total_cents, z.refunds.tax_cents) == (1, -2165, -165)
    assert (z.voids.count, z.voids.total_cents) == (1, -2706)
    assert (z.voided_carts_count, z.voided_carts_cents) == (1, 1599)
    assert z.gross_sales_cents == 17700 and z.discounts_cents == 1200
    assert z.tax_cents == 1362 - 165 - 206 == 991
    assert z.net_total_cents == 12991 and z.net_sales_cents == 12000
    assert z.other == ()

    tenders = {t.tender: (t.sales_cents, t.refunds_cents, t.net_cents) for t in z.tenders}
    assert tenders == {
        "cash": (9156, -2165, 6991),
        "card": (5000, 0, 5000),
        "store_credit": (2706, -2706, 0),
        "gift_card": (1000, 0, 1000),
    }
    assert [t.tender for t in z.tenders] == ["cash", "card", "store_credit", "gift_card"]
    assert sum(t.net_cents for t in z.tenders) == z.net_total_cents

    c = z.cash
    assert (c.opening_float_cents, c.cash_sales_cents, c.cash_refunds_cents) == (15000, 9156, -2165)
    assert (c.pay_ins_cents, c.pay_outs_cents, c.expected_cents) == (2000, 7500, 16491)
    assert (c.counted_cents, c.variance_cents) == (16500, 9)
    assert (z.pay_ins_count, z.pay_outs_count, z.no_sales) == (1, 2, 1)
    assert [(m.kind, m.amount_cents) for m in z.movements] == [
        ("pay_in", 2000),
        ("pay_out", 1500),
        ("pay_out", 6000),
        ("no_sale", 0),
    ]
    assert z.movements[2].approved_by_name == "Mia Manager"

    by_name = {ct.name: ct for ct in z.cashiers}
    assert set(by_name) == {"Alice", "Bob"}
    a, b = by_name["Alice"], by_name["Bob"]
    assert (a.transactions, a.sales_count, a.sales_cents, a.refunds_count, a.refunds_cents) == (
        3,
        2,
        14073,
        1,
        -2706,
    )
    assert a.net_sales_cents == 4000 + 9000 - 2500
    assert (b.transactions, b.sales_count, b.sales_cents, b.refunds_count, b.refunds_cents) == (
        3,
        2,
        3789,
        1,
        -2165,
    )
    assert b.net_sales_cents == 2500 + 1000 - 2000
    assert a.net_sales_cents + b.net_sales_cents == z.net_sales_cents

    # the stored copy is what a re-print shows, and it matches a fresh computation from the ledgers
    assert svc.z_report(sid) == z
    assert svc.z_report(sid, recompute=True) == z
    assert ZReport.from_json(z.to_json()) == z
    with store.read() as s:
        row = s.get(Shift, sid)
        assert row is not None and row.z_report == z.to_json()

    # X report numbers were the same before the count
    assert replace(x, generated_at=z.generated_at) == replace(
        z,
        final=False,
        closed_at=None,
        closed_by_id=None,
        closed_by_name=None,
        cash=replace(z.cash, counted_cents=None, variance_cents=None),
        denominations=None,
    )

    closes = audit_rows(store, "shift.close")
    assert len(closes) == 1 and closes[0].after is not None and closes[0].after["variance_cents"] == 9
    assert len(audit_rows(store, "shift.open")) == 1
    opening = audit_rows(store, "shift.open")[0].after
    assert opening == {
        "opening_float_cents": 15000,
        "denominations": {"2000": 5, "1000": 2, "500": 4, "100": 10},
    }

    text = z_report_text(z, tz=UTC)
    lines = text.splitlines()
    assert all(len(line) <= 42 for line in lines), [line for line in lines if len(line) > 42]
    assert "Z REPORT" in text and "Register 1" in text
    assert any(line.startswith("  Net sales (ex tax)") and line.endswith("$120.00") for line in lines)
    assert any(line.startswith("  Variance (over)") and line.endswith("$0.09") for line in lines)
    assert any(line.startswith("  Expected in drawer") and line.endswith("$164.91") for line in lines)
    assert any(line.startswith("  Voided carts (1)") and line.endswith("$15.99") for line in lines)
    assert z_report_text(svc.z_report(sid), tz=UTC) == text  # re-print is identical


# --------------------------------------------------------------------------- open


def test_double_open_refused_naming_who_and_when(any_shop: Shop) -> None:
    shop = any_shop
    first = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=10000)
    before = counts(shop.store)
    with pytest.raises(ConflictError, match=r"already has an open shift, opened by Alice at \d{4}-\d\d-\d\d"):
        shop.svc.open_shift(shop.station, shop.bob, opening_float_cents=5000)
    assert counts(shop.store) == before
    current = shop.svc.current(shop.station)
    assert current is not None and current.id == first.id
    shop.svc.close_shift(first.id, shop.alice, counted_cents=10000)
    assert shop.svc.current(shop.station) is None
    second = shop.svc.open_shift(shop.station, shop.bob, opening_float_cents=5000)
    assert [v.id for v in shop.svc.list_shifts(shop.station)] == [second.id, first.id]
    assert [v.id for v in shop.svc.list_shifts(status="closed")] == [first.id]
    assert shop.svc.get(first.id).status == "closed"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"opening_float_cents": -100}, ValidationError, "cannot be negative"),
        ({"opening_float_cents": 10.5}, ValidationError, "whole number of cents"),
        ({"opening_float_cents": True}, ValidationError, "whole number of cents"),
        ({"opening_float_cents": 10**15}, ValidationError, "out of range"),
        ({}, ValidationError, "exactly one"),
        ({"opening_float_cents": 100, "denominations": {100: 1}}, ValidationError, "exactly one"),
        ({"denominations": {300: 2}}, ValidationError, r"\$3.00 is not one of this shop's denominations"),
        ({"denominations": {2000: -1}}, ValidationError, "whole number, 0 or more"),
        ({"denominations": {2000: 1.5}}, ValidationError, "whole number, 0 or more"),
        ({"denominations": {"x": 1}}, ValidationError, "not a denomination"),
        ({"denominations": {100: 1, "100": 2}}, ValidationError, "counted twice"),
        ({"denominations": {100: 10**7}}, ValidationError, "more than a drawer holds"),
        ({"denominations": [100, 200]}, ValidationError, "number of each note"),
    ],
)
def test_open_bad_input_writes_nothing(shop: Shop, kwargs: dict, error: type, message: str) -> None:
    before = counts(shop.store)
    with pytest.raises(error, match=message):
        shop.svc.open_shift(shop.station, shop.alice, **kwargs)
    assert counts(shop.store) == before


def test_open_by_denomination_accepts_json_style_keys_and_zero_counts(shop: Shop) -> None:
    view = shop.svc.open_shift(shop.station, shop.alice, denominations={"2000": 2, "25": 8, "1": 0})  # type: ignore[dict-item]
    assert view.opening_float_cents == 4200


def test_open_unknown_or_cashless_station_and_roles(shop: Shop) -> None:
    before = counts(shop.store)
    with pytest.raises(NotFoundError, match="no such station"):
        shop.svc.open_shift("nope", shop.alice, opening_float_cents=0)
    with pytest.raises(ConflictError, match="does not take cash"):
        shop.svc.open_shift(shop.kiosk, shop.alice, opening_float_cents=0)
    disabled = replace(shop.alice, is_active=False)
    with pytest.raises(PermissionDenied, match="disabled"):
        shop.svc.open_shift(shop.station, disabled, opening_float_cents=0)
    with pytest.raises(AuthenticationError):
        shop.svc.open_shift(shop.station, None, opening_float_cents=0)  # type: ignore[arg-type]
    assert counts(shop.store) == before


def test_shop_denominations_come_from_settings(shop: Shop) -> None:
    ShopService(shop.store).set("shift.denominations", [500, 200, 100, 50])  # e.g. a euro shop
    with pytest.raises(ValidationError, match="not one of this shop's denominations"):
        shop.svc.open_shift(shop.station, shop.alice, denominations={2000: 1})
    view = shop.svc.open_shift(shop.station, shop.alice, denominations={200: 3, 50: 1})
    assert view.opening_float_cents == 650


# --------------------------------------------------------------------------- pay-ins and pay-outs


def test_pay_in_out_bad_input_writes_nothing(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=10000).id
    before = counts(shop.store)
    for call, match in [
        (lambda: shop.svc.pay_in(sid, 0, "x", shop.alice), "more than zero"),
        (lambda: shop.svc.pay_in(sid, -500, "x", shop.alice), "more than zero"),
        (lambda: shop.svc.pay_in(sid, "5", "x", shop.alice), "whole number of cents"),  # type: ignore[arg-type]
        (lambda: shop.svc.pay_in(sid, 500, "   ", shop.alice), "reason for the pay-in is required"),
        (lambda: shop.svc.pay_out(sid, -1, "x", shop.alice), "more than zero"),
        (lambda: shop.svc.pay_out(sid, 100, "", shop.alice), "reason for the pay-out is required"),
        (lambda: shop.svc.pay_out(sid, 100, "x" * 201, shop.alice), "at most 200"),
    ]:
        with pytest.raises(ValidationError, match=match):
            call()
    with pytest.raises(NotFoundError, match="no such shift"):
        shop.svc.pay_in("missing", 500, "float", shop.alice)
    with pytest.raises(NotFoundError, match="no such shift"):
        shop.svc.expected_cash("missing")
    with pytest.raises(ConflictError, match="more than the drawer should hold"):
        shop.svc.pay_out(sid, 10001, "typo", shop.mgr)
    assert counts(shop.store) == before

    shop.svc.close_shift(sid, shop.alice, counted_cents=10000)
    before = counts(shop.store)
    with pytest.raises(ConflictError, match="already closed"):
        shop.svc.pay_in(sid, 500, "late", shop.alice)
    with pytest.raises(ConflictError, match="already closed"):
        shop.svc.record_no_sale(sid, shop.mgr)
    assert counts(shop.store) == before


def test_payout_override(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=20000).id
    small = shop.svc.pay_out(sid, 5000, "Exactly at the threshold", shop.alice)
    assert small.approved_by is None and small.kind == "pay_out"

    before = counts(shop.store)
    with pytest.raises(ApprovalRequired) as info:
        shop.svc.pay_out(sid, 5001, "Supplier", shop.alice)
    assert "pay-out of $50.01" in info.value.reason
    assert isinstance(info.value, PermissionDenied)
    assert counts(shop.store) == before  # asking for a PIN is not an attempt

    with pytest.raises(AuthenticationError, match="not a manager PIN"):
        shop.svc.pay_out(sid, 5001, "Supplier", shop.alice, approval_pin="0000")
    with pytest.raises(AuthenticationError):  # a cashier's own PIN is not a manager's
        shop.svc.pay_out(sid, 5001, "Supplier", shop.alice, approval_pin="1111")
    denied = audit_rows(shop.store, "override.denied")
    assert len(denied) == 2
    assert denied[0].user_id == shop.alice.id and denied[0].station_id == shop.station
    assert denied[0].after is not None and denied[0].after["action"] == "shift.pay_out"
    assert denied[0].after["amount_cents"] == 5001
    with shop.store.read() as s:
        assert s.scalar(select(func.count()).select_from(CashMovement)) == 1  # only the small one

    ok = shop.svc.pay_out(sid, 5001, "Supplier", shop.alice, approval_pin=MANAGER_PIN)
    assert ok.approved_by == shop.mgr.id and ok.user_id == shop.alice.id
    logged = audit_rows(shop.store, "shift.pay_out")
    assert [e.approved_by for e in logged] == [None, shop.mgr.id]
    assert logged[-1].after == {
        "shift_id": sid,
        "kind": "pay_out",
        "amount_cents": 5001,
        "reason": "Supplier",
    }

    own = shop.svc.pay_out(sid, 6000, "Bank drop", shop.mgr)  # a manager approves herself
    assert own.approved_by == shop.mgr.id
    assert shop.svc.expected_cash(sid) == 20000 - 5000 - 5001 - 6000
    assert [m.amount_cents for m in shop.svc.movements(sid)] == [5000, 5001, 6000]


def test_payout_threshold_is_a_setting(shop: Shop) -> None:
    ShopService(shop.store).set("shift.payout_approval_cents", 1000)
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=20000).id
    with pytest.raises(ApprovalRequired):
        shop.svc.pay_out(sid, 1001, "Supplies", shop.alice)


def test_approve_helper(shop: Shop) -> None:
    with pytest.raises(ApprovalRequired, match="manager approval needed: discount of 30%") as info:
        approve(shop.auth, None, "discount of 30%", actor=shop.alice)
    assert info.value.reason == "discount of 30%" and info.value.http_status == 403
    with pytest.raises(ApprovalRequired):
        approve(shop.auth, "  ", "discount of 30%")
    assert approve(shop.auth, MANAGER_PIN, "discount of 30%", actor=shop.alice).id == shop.mgr.id
    assert approve(shop.auth, None, "discount", actor=shop.mgr).id == shop.mgr.id
    with pytest.raises(AuthenticationError):
        approve(shop.auth, "1234", "void sale", action="sale.void")
    (row,) = audit_rows(shop.store, "override.denied")
    assert row.after == {"action": "sale.void", "reason": "void sale"} and row.user_id is None


# --------------------------------------------------------------------------- no-sale


def test_no_sale_requires_manager_approval(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=10000).id
    before = counts(shop.store)
    with pytest.raises(ApprovalRequired, match="no-sale"):
        shop.svc.record_no_sale(sid, shop.alice)
    assert counts(shop.store) == before
    with pytest.raises(AuthenticationError):
        shop.svc.record_no_sale(sid, shop.alice, "4444")
    assert len(audit_rows(shop.store, "override.denied")) == 1

    view = shop.svc.record_no_sale(sid, shop.alice, MANAGER_PIN, "Make change for the vending machine")
    assert (view.kind, view.amount_cents, view.approved_by) == ("no_sale", 0, shop.mgr.id)
    assert view.station_id == shop.station and view.user_id == shop.alice.id
    (entry,) = audit_rows(shop.store, "drawer.no_sale")
    assert entry.approved_by == shop.mgr.id and entry.user_id == shop.alice.id
    assert entry.station_id == shop.station and entry.entity_id == view.id
    assert shop.svc.expected_cash(sid) == 10000  # a no-sale moves no money

    ShopService(shop.store).set("shift.no_sale_requires_approval", False)
    free = shop.svc.record_no_sale(sid, shop.alice)
    assert free.approved_by is None
    assert shop.svc.z_report(sid).no_sales == 2


# --------------------------------------------------------------------------- close


def test_close_by_amount_with_shortage(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=10000).id
    ring(shop.store, sid, shop.alice, "sale", subtotal=1999, tax=0, total=1999, tenders=[("cash", 2000, 1)])
    ring(shop.store, sid, shop.alice, "sale", subtotal=5000, tax=0, total=5000, tenders=[("card", 5000, 0)])
    closed = shop.svc.close_shift(sid, shop.alice, counted_cents=11900)
    assert (closed.expected_cash_cents, closed.counted_cash_cents, closed.variance_cents) == (
        11999,
        11900,
        -99,
    )
    assert closed.denominations is None
    z = shop.svc.z_report(sid)
    assert z.cash.variance_cents == -99 and z.denominations is None
    assert "Variance (short)" in z_report_text(z) and "-$0.99" in z_report_text(z)


def test_close_bad_input_and_twice(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=10000).id
    before = counts(shop.store)
    with pytest.raises(ValidationError, match="exactly one"):
        shop.svc.close_shift(sid, shop.alice)
    with pytest.raises(ValidationError, match="exactly one"):
        shop.svc.close_shift(sid, shop.alice, counted_denominations={100: 1}, counted_cents=100)
    with pytest.raises(ValidationError, match="cannot be negative"):
        shop.svc.close_shift(sid, shop.alice, counted_cents=-1)
    with pytest.raises(ValidationError, match="not one of this shop's denominations"):
        shop.svc.close_shift(sid, shop.alice, counted_denominations={7: 1})
    with pytest.raises(NotFoundError, match="no such shift"):
        shop.svc.close_shift("nope", shop.alice, counted_cents=0)
    assert counts(shop.store) == before
    assert shop.svc.get(sid).is_open

    shop.svc.close_shift(sid, shop.alice, counted_cents=10000)
    before = counts(shop.store)
    with pytest.raises(ConflictError, match=r"already closed \(by Alice at"):
        shop.svc.close_shift(sid, shop.alice, counted_cents=10000)
    assert counts(shop.store) == before


def test_closing_someone_elses_shift_needs_a_manager(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=10000).id
    with pytest.raises(ApprovalRequired, match="another cashier's shift"):
        shop.svc.close_shift(sid, shop.bob, counted_cents=10000)
    with pytest.raises(AuthenticationError):
        shop.svc.close_shift(sid, shop.bob, counted_cents=10000, approval_pin="2222")
    assert shop.svc.get(sid).is_open
    closed = shop.svc.close_shift(sid, shop.bob, counted_cents=10000, approval_pin=MANAGER_PIN)
    assert closed.closed_by == shop.bob.id and closed.closed_by_name == "Bob" and closed.variance_cents == 0
    (entry,) = audit_rows(shop.store, "shift.close")
    assert entry.user_id == shop.bob.id and entry.approved_by == shop.mgr.id

    sid2 = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=0).id
    by_mgr = shop.svc.close_shift(sid2, shop.mgr, counted_cents=0)  # a manager may, without a PIN
    assert by_mgr.closed_by == shop.mgr.id


def test_x_report_and_text_for_an_empty_open_shift(shop: Shop) -> None:
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=0).id
    x = shop.svc.z_report(sid)
    assert not x.final and x.sales.count == 0 and x.tenders == () and x.cashiers == ()
    text = z_report_text(x, width=32)
    assert "X REPORT" in text and "(no transactions)" in text
    assert all(len(line) <= 32 for line in text.splitlines())
    with pytest.raises(ValidationError):
        z_report_text(x, width=20)
    with pytest.raises(NotFoundError):
        shop.svc.z_report("nope")
    with pytest.raises(ValidationError, match="limit"):
        shop.svc.list_shifts(limit=0)


def test_other_kinds_follow_the_signed_cash_convention(shop: Shop) -> None:
    """A cash buylist payout (negative cash tender) leaves the drawer and shows under "other"."""
    sid = shop.svc.open_shift(shop.station, shop.alice, opening_float_cents=20000).id
    ring(shop.store, sid, shop.alice, "buy", subtotal=-3000, tax=0, total=-3000, tenders=[("cash", -3000, 0)])
    assert shop.svc.expected_cash(sid) == 17000
    x = shop.svc.z_report(sid)
    assert [(o.kind, o.count, o.total_cents) for o in x.other] == [("buy", 1, -3000)]
    assert x.cash.cash_other_cents == -3000 and x.sales.count == 0 and x.net_sales_cents == 0
    assert x.cashiers[0].transactions == 1 and x.cashiers[0].net_sales_cents == 0
    assert "Buy (1)" in z_report_text(x)
