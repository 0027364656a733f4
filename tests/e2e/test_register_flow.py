"""A new demo user's whole day at the counter, in a real Chromium against the real server.

PIN login → /register asks for a shift → open a shift with a typed float → scan a barcode
(typed + Enter, as a keyboard-wedge scanner does) → pay cash "exact" → sale number and
receipt preview → refund that sale on /refund → close the shift with a counted drawer →
the Z report shows the sale, the refund and the variance.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import Shop
from vaultsync.services.demo import DEMO_CREDENTIALS, SHOP_SETTINGS
from vaultsync.services.shop import DEFAULTS

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.e2e

CASHIER = next(c for c in DEMO_CREDENTIALS if c.role == "cashier")
MANAGER = next(c for c in DEMO_CREDENTIALS if c.role == "manager")

SCAN_PLACEHOLDER = "Scan or type a barcode, SKU or cert number — Enter adds it"
RECEIPT_PLACEHOLDER = "Scan the receipt barcode or type the receipt number"
MONEY = r"\$[\d,]+\.\d\d"
REFUND_APPROVAL_CENTS = int(
    SHOP_SETTINGS.get("pos.refund_approval_cents", DEFAULTS["pos.refund_approval_cents"])
)


def cents(text: str) -> int:
    return int(text.replace("$", "").replace(",", "").replace(".", ""))


def no_traceback(page: Page) -> None:
    assert "Traceback" not in page.content()


def type_on_keypad(dialog: Locator, digits: str) -> None:
    for digit in digits:
        dialog.get_by_role("button", name=digit, exact=True).click()


def test_sell_refund_and_close_the_shift(page: Page, demo_shop: Shop) -> None:
    from playwright.sync_api import expect

    dialog = page.locator(".q-dialog")

    # --- the cashier logs in with the PIN pad and lands on the register
    page.goto(f"{demo_shop.url}/login")
    page.get_by_text(CASHIER.display_name).first.click()
    for digit in CASHIER.pin or "":
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_role("button", name="Enter").click()
    expect(page).to_have_url(re.compile(r"/register$"))
    expect(page.get_by_text("Open a shift to start selling")).to_be_visible()
    expect(page.get_by_text(CASHIER.display_name).first).to_be_visible()
    no_traceback(page)

    # --- opens a shift with a typed opening float of $150.00
    page.get_by_role("button", name="Open a shift").click()
    expect(page).to_have_url(re.compile(r"/shift$"))
    expect(page.get_by_text("Count the float in the drawer")).to_be_visible()
    page.get_by_role("button", name="Type the float amount instead").click()
    expect(dialog.get_by_text("Opening float")).to_be_visible()
    type_on_keypad(dialog, "15000")  # cents shift in from the right: $150.00
    expect(dialog.get_by_text("$150.00", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Open shift").click()
    expect(page.get_by_text("Shift open with a float of $150.00 — ready to sell")).to_be_visible()
    expect(page.get_by_text(f"Opened by {CASHIER.display_name}")).to_be_visible()
    expect(page.get_by_text("OPEN", exact=True)).to_be_visible()
    no_traceback(page)

    # --- back on the register: scan the barcode (type + Enter) into the focused scan box
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page).to_have_url(re.compile(r"/register$"))
    scan = page.get_by_placeholder(SCAN_PLACEHOLDER)
    expect(page.get_by_text("Scan an item to start a sale")).to_be_visible()
    expect(scan).to_be_focused()
    page.keyboard.type(demo_shop.barcode)  # into whatever has the focus: the scan box
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Added {demo_shop.barcode_name}")).to_be_visible()
    line_name = re.compile(rf"^{re.escape(demo_shop.barcode_name)}")  # the line (not the banner)
    expect(page.get_by_text(line_name)).to_be_visible()
    expect(page.get_by_text("1 item", exact=True)).to_be_visible()
    expect(scan).to_have_value("")
    total = page.get_by_text("Total", exact=True).locator("xpath=following-sibling::*[1]")
    expect(total).to_have_text(re.compile(rf"^{MONEY}$"))
    total_text = total.inner_text().strip()
    no_traceback(page)

    # --- pays cash, "Exact"
    page.get_by_role("button", name="Cash F2").click()
    expect(dialog.get_by_text(f"Cash — {total_text} due")).to_be_visible()
    dialog.get_by_role("button", name=f"Exact {total_text}").click()
    sale_label = page.get_by_text(re.compile(r"^Sale \S+ complete$")).first
    expect(sale_label).to_be_visible()
    found = re.fullmatch(r"Sale ([A-Z0-9]+-\d{6}) complete", sale_label.inner_text().strip())
    assert found, sale_label.inner_text()
    sale_number = found.group(1)
    expect(page.get_by_text(f"Total {total_text}", exact=True)).to_be_visible()
    expect(page.get_by_text("Change due")).to_be_visible()
    receipt = page.locator(".font-mono.whitespace-pre").first
    expect(receipt).to_be_visible()
    expect(receipt).to_contain_text(sale_number)
    expect(receipt).to_contain_text(demo_shop.barcode_name[:20])
    expect(receipt).to_contain_text(total_text)
    expect(receipt).to_contain_text("Dragon's Hoard")
    expect(dialog).to_have_count(0)
    expect(scan).to_be_focused()  # the next customer's first scan goes straight in
    no_traceback(page)

    # --- refund that sale on /refund: the receipt number + Enter finds it
    page.goto(f"{demo_shop.url}/refund")
    receipt_box = page.get_by_placeholder(RECEIPT_PLACEHOLDER)
    expect(receipt_box).to_be_focused()
    receipt_box.fill(sale_number)
    receipt_box.press("Enter")
    expect(page.get_by_text(f"Receipt {sale_number}", exact=True)).to_be_visible()
    expect(page.get_by_text(line_name)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Sold 1 · returned 0 · paid "))).to_be_visible()
    expect(page.get_by_text(f"Paid by Cash {total_text}")).to_be_visible()
    expect(page.get_by_text("0 / 1", exact=True)).to_be_visible()
    page.locator("button").filter(has_text=re.compile(r"^add$")).click()  # the line's "+"
    expect(page.get_by_text("1 / 1", exact=True)).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Refund 1 item$")).click()
    done = page.get_by_text(re.compile(r"^Refund \S+ done$"))
    if cents(total_text) > REFUND_APPROVAL_CENTS:  # above the shop's threshold: a manager approves
        expect(dialog.get_by_text("Manager approval")).to_be_visible()
        expect(dialog.get_by_text("A manager enters their PIN to approve.")).to_be_visible()
        type_on_keypad(dialog, MANAGER.pin or "")
        dialog.get_by_role("button", name="Approve").click()
    expect(done).to_be_visible()
    expect(dialog).to_have_count(0)
    found = re.fullmatch(r"Refund ([A-Z0-9]+-\d{6}) done", done.inner_text().strip())
    assert found, done.inner_text()
    refund_number = found.group(1)
    assert refund_number != sale_number
    expect(page.get_by_text(f"Give back: Cash {total_text}")).to_be_visible()
    expect(page.get_by_text(f"Refund of {total_text} recorded")).to_be_visible()
    expect(page.locator(".font-mono.whitespace-pre").first).to_contain_text(refund_number)
    no_traceback(page)

    # --- close the shift: the drawer should hold the float again; count $150 + $2 (over)
    page.goto(f"{demo_shop.url}/shift")
    expect(page.get_by_text("Cash expected in the drawer")).to_be_visible()
    expect(page.get_by_text("$150.00", exact=True).first).to_be_visible()
    page.get_by_role("button", name="Close shift…").click()
    expect(page.get_by_text("Close the shift: count the drawer")).to_be_visible()
    for denomination, count in (("$100.00", "1"), ("$50.00", "1"), ("$1.00", "2")):
        tile = page.get_by_role("button").filter(has=page.get_by_text(denomination, exact=True)).first
        tile.click()
        expect(dialog.get_by_text(f"How many {denomination}?")).to_be_visible()
        type_on_keypad(dialog, count)
        dialog.get_by_role("button", name="OK").click()
        expect(dialog).to_have_count(0)
    expect(page.get_by_text("Counted $152.00")).to_be_visible()
    expect(page.get_by_text("Variance (over)")).to_be_visible()
    page.get_by_role("button", name="Close shift", exact=True).click()
    expect(dialog.get_by_text("Counted $152.00, expected $150.00: variance $2.00.")).to_be_visible()
    dialog.get_by_role("button", name="Close shift").click()

    # --- the Z report: one sale, one refund, the counted drawer and the variance
    expect(page.get_by_text("Shift closed — Z report")).to_be_visible()
    expect(page.get_by_text("Shift closed. Variance $2.00")).to_be_visible()
    z = page.locator(".font-mono.whitespace-pre").first
    expect(z).to_contain_text("Z REPORT")
    expect(z).to_contain_text(re.compile(rf"Sales \(1\) +{re.escape(total_text)}"))
    expect(z).to_contain_text(re.compile(rf"Refunds \(1\) +-{re.escape(total_text)}"))
    expect(z).to_contain_text(re.compile(r"Opening float +\$150\.00"))
    expect(z).to_contain_text(re.compile(r"Expected in drawer +\$150\.00"))
    expect(z).to_contain_text(re.compile(r"Counted +\$152\.00"))
    expect(z).to_contain_text(re.compile(r"Variance \(over\) +\$2\.00"))
    expect(z).to_contain_text(CASHIER.display_name)
    expect(page.get_by_text("Count the float in the drawer")).to_be_visible()  # ready for the next shift
    no_traceback(page)
