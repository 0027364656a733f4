"""Refunds through the real page: by scanned receipt number, voids and returns without receipt."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.conftest import eventually, label_text, login_pin, services
from tests.ui.pos_helpers import open_shift_directly, press_keys, texts
from tests.ui.seed import CASHIER, MANAGER, SHEOLDRED_BARCODE
from vaultsync.domain.enums import Tender
from vaultsync.services.checkout import TenderInput


def sell(codes: list[str], tenders: list[TenderInput] | None = None) -> str:
    """Ring up a sale through the service (these tests are about the refund screen)."""
    svc = services()
    actor = svc.auth.by_username(CASHIER.username)
    station = svc.stations.local(svc.config.station_role)
    cart = svc.checkout.new_cart(actor=actor, station_id=station.id)
    for code in codes:
        view = svc.checkout.scan(cart.id, code, actor=actor)
    tenders = tenders or [TenderInput(Tender.CASH, view.total_cents)]
    return svc.checkout.complete(cart.id, tenders, actor=actor, client_request_id=f"test-{cart.id}").number


async def open_refund(user: User) -> None:
    await login_pin(user, CASHIER, path="/login?redirect_to=/refund")
    await user.should_see(marker="receipt-scan", retries=40)


async def scan_receipt(user: User, number: str) -> None:
    user.find(marker="receipt-scan").type(number).trigger("keydown.enter")
    await user.should_see(marker="refund-sale", retries=40)


async def test_refund_by_scanned_receipt_number(user: User) -> None:
    open_shift_directly()
    number = sell([SHEOLDRED_BARCODE, SHEOLDRED_BARCODE, "PKM-SV03-125-NM"])
    await open_refund(user)
    await scan_receipt(user, number.lower())  # scanners and people type either case
    assert label_text(user, "refund-number") == f"Receipt {number}"
    assert sorted(texts(user, "refund-line-desc")) == [
        "Charizard ex [SV03 125] (NM)",
        "Sheoldred, the Apocalypse [DMU 107] (NM)",
    ]
    on_hand_before = services().inventory.search(SHEOLDRED_BARCODE).rows[0].on_hand
    sold = services().refunds.lookup(number).lines  # the page lists them in this order
    line = next(i for i, li in enumerate(sold) if li.description.startswith("Sheoldred"))
    user.find(marker=f"refund-{line}-plus").click()
    await eventually(lambda: label_text(user, f"refund-{line}-qty") == "1 / 2")
    user.find(marker="refund-submit").click()
    await user.should_see(marker="refund-done", retries=40)
    assert label_text(user, "refund-amount") == "$74.99"
    assert label_text(user, "refund-given") == "Give back: Cash $74.99"
    refund_number = label_text(user, "refund-result").split()[1]
    assert refund_number != number
    preview = label_text(user, "receipt-preview")
    assert refund_number in preview
    assert number in preview  # the original receipt is named on the refund slip
    assert services().inventory.search(SHEOLDRED_BARCODE).rows[0].on_hand == on_hand_before + 1
    # scanning it again shows what is left to return
    await scan_receipt(user, number)
    await eventually(lambda: any("returned 1" in t for t in texts(user, "refund-line-facts")))


async def test_unknown_receipt_is_shown_inline(user: User) -> None:
    open_shift_directly()
    await open_refund(user)
    user.find(marker="receipt-scan").type("ZZ-999999").trigger("keydown.enter")
    await eventually(lambda: label_text(user, "refund-message") == "No receipt 'ZZ-999999'")
    await user.should_not_see(marker="refund-sale")


async def test_void_whole_sale_needs_a_manager(user: User) -> None:
    open_shift_directly()
    number = sell(["PKM-SV03-125-NM"])
    await open_refund(user)
    await scan_receipt(user, number)
    user.find(marker="void-sale").click()
    await user.should_see(marker="void-sale-ok")
    user.find(marker="void-sale-ok").click()
    await user.should_see(marker="void-reason-input", retries=40)
    user.find(marker="void-reason-input").type("rung up twice")
    user.find(marker="void-reason-ok").click()
    await user.should_see(marker="mgr-reason", retries=40)
    assert label_text(user, "mgr-reason") == f"Void of {number}"
    await press_keys(user, "mgr", MANAGER.pin or "")
    user.find(marker="mgr-ok").click()
    await user.should_see(marker="refund-done", retries=40)
    assert label_text(user, "refund-amount") == "$29.99"
    assert label_text(user, "refund-result").startswith("Void ")
