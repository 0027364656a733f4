"""The shift screen: open with a counted float, cash moves, close with a count, the Z report."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.conftest import eventually, label_text, login_pin, services
from tests.ui.pos_helpers import open_shift_directly, press_keys, scan, texts
from tests.ui.seed import CASHIER, MANAGER, SHEOLDRED_BARCODE


async def count(user: User, prefix: str, denomination: int, n: str) -> None:
    """Tap a denomination tile and type how many on its keypad."""
    user.find(marker=f"{prefix}-{denomination}").click()
    await user.should_see(marker="denom-ok")
    await press_keys(user, "denom", n)
    user.find(marker="denom-ok").click()
    await eventually(lambda: label_text(user, f"{prefix}-{denomination}-count") == f"× {n}")


async def test_open_sell_and_close_with_variance_in_the_z_report(user: User) -> None:
    await login_pin(user, CASHIER)
    user.find(marker="go-shift").click()
    await user.should_see(marker="open-shift-card", retries=40)
    await count(user, "float", 2000, "4")
    await count(user, "float", 500, "4")
    assert label_text(user, "float-total") == "Counted $100.00"
    user.find(marker="open-shift").click()
    await user.should_see(marker="shift-status", retries=40)
    assert label_text(user, "shift-float") == "$100.00"
    assert label_text(user, "expected-cash") == "$100.00"

    # ring up a cash sale on the register: exact cash
    user.find(marker="go-register").click()
    await user.should_see(marker="scan", retries=40)
    await scan(user, SHEOLDRED_BARCODE)
    await user.should_see(marker="cart-line", retries=40)
    user.find(marker="tender-cash").click()
    await user.should_see(marker="cash-exact")
    user.find(marker="cash-exact").click()
    await user.should_see(marker="sale-done", retries=40)

    await user.open("/shift")
    await user.should_see(marker="shift-status")
    assert label_text(user, "expected-cash") == "$174.99"
    user.find(marker="close-start").click()
    await user.should_see(marker="close-card")
    await count(user, "count", 10000, "1")
    await count(user, "count", 5000, "1")
    await count(user, "count", 2000, "1")  # $170.00 in the drawer: $4.99 short
    await eventually(lambda: label_text(user, "close-variance") == "-$4.99")
    assert label_text(user, "close-expected") == "$174.99"
    assert label_text(user, "close-counted") == "$170.00"
    user.find(marker="close-shift").click()
    await user.should_see(marker="close-ok")
    assert "variance -$4.99" in label_text(user, "close-text")
    user.find(marker="close-ok").click()
    await user.should_see(marker="z-report", retries=40)
    report = label_text(user, "z-report")
    assert "Z REPORT" in report
    lines = {
        line.strip().rsplit(" ", 1)[0].strip(): line.split()[-1]
        for line in report.splitlines()
        if line.strip()
    }
    assert lines["Expected in drawer"] == "$174.99"
    assert lines["Counted"] == "$170.00"
    assert lines["Variance (short)"] == "-$4.99"
    assert "Casey Cashier" in report
    assert "Shift closed. Variance -$4.99" in label_text(user, "shift-message")
    # the register now asks for a shift again, and the closed shift is listed with its report
    await user.should_see(marker="open-shift-card")
    await user.should_see(marker="recent-shift")
    user.find(marker="recent-z-0").click()
    await user.should_see(marker="z-report-dialog", retries=40)
    assert "-$4.99" in label_text(user, "z-report-dialog")


async def test_pay_out_over_the_limit_needs_a_manager(user: User) -> None:
    open_shift_directly(CASHIER, 20000)
    await login_pin(user, CASHIER, path="/login?redirect_to=/shift")
    await user.should_see(marker="shift-status", retries=40)
    user.find(marker="pay-out").click()
    await user.should_see(marker="pay-out-ok")
    await press_keys(user, "pay-out", "6000")
    user.find(marker="pay-out-ok").click()
    await user.should_see(marker="movement-reason-input")
    user.find(marker="movement-reason-input").type("pizza for the tournament")
    user.find(marker="movement-reason-ok").click()
    await user.should_see(marker="mgr-reason", retries=40)
    assert label_text(user, "mgr-reason") == "Pay-out of $60.00 (over $50.00)"
    await press_keys(user, "mgr", MANAGER.pin or "")
    user.find(marker="mgr-ok").click()
    await eventually(lambda: label_text(user, "expected-cash") == "$140.00")
    assert "Pay out of $60.00 recorded" in label_text(user, "shift-message")
    movements = services().shifts.movements(services().shifts.list_shifts(limit=1)[0].id)
    assert [(m.kind, m.amount_cents, m.reason) for m in movements] == [
        ("pay_out", 6000, "pizza for the tournament")
    ]
    assert movements[0].approved_by == services().auth.by_username(MANAGER.username).id
    # the X report of the open shift shows it
    user.find(marker="x-report").click()
    await user.should_see(marker="z-report-dialog", retries=40)
    assert "X REPORT" in label_text(user, "z-report-dialog")
    assert texts(user, "z-report-dialog")
