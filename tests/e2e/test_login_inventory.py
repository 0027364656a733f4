"""A cashier and a manager use the real app in a real Chromium, as on the shop floor."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Shop
from vaultsync.services.demo import DEMO_CREDENTIALS

pytestmark = pytest.mark.e2e

CASHIER = next(c for c in DEMO_CREDENTIALS if c.role == "cashier")
MANAGER = next(c for c in DEMO_CREDENTIALS if c.role == "manager")


def test_unauthenticated_visit_goes_to_login(page, demo_shop: Shop) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{demo_shop.url}/inventory")
    expect(page).to_have_url(re.compile(r"/login\?redirect_to=%2Finventory|/login\?redirect_to=/inventory"))
    expect(page.get_by_text("Cashier PIN")).to_be_visible()


def test_cashier_pin_pad_login_then_scan_a_barcode(page, demo_shop: Shop) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{demo_shop.url}/login")
    page.get_by_text(CASHIER.display_name).first.click()
    for digit in "0000":  # a wrong PIN first: shown inline, no stack trace
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_role("button", name="Enter").click()
    expect(page.get_by_text("wrong PIN")).to_be_visible()
    page.get_by_role("button", name="Clear").click()
    for digit in CASHIER.pin or "":
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_role("button", name="Enter").click()
    expect(page.get_by_text("Log out")).to_be_visible()
    expect(page.get_by_text(CASHIER.display_name).first).to_be_visible()

    page.goto(f"{demo_shop.url}/inventory")
    search = page.get_by_placeholder(re.compile("scan a barcode"))
    search.fill(demo_shop.barcode)
    search.press("Enter")  # what a keyboard-wedge scanner does
    expect(page.get_by_text("on hand").first).to_be_visible()
    expect(page.get_by_text(demo_shop.barcode_name).first).to_be_visible()
    expect(page.get_by_text("Cost basis")).to_have_count(0)  # not for the counter
    assert "Traceback" not in page.content()


def test_manager_password_login_and_logout(page, demo_shop: Shop) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{demo_shop.url}/login")
    page.get_by_label("Username").fill(MANAGER.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("wrong username or password")).to_be_visible()
    page.get_by_label("Password").fill(MANAGER.password or "")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(MANAGER.display_name).first).to_be_visible()
    page.get_by_text("Log out").click()
    expect(page.get_by_text("Cashier PIN")).to_be_visible()
