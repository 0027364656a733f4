"""The UI on the generated demo shop: its logins work and its catalog is browsable.

The other UI tests use a small hand-written shop whose every fact they know; these make
sure the pages also cope with the demo generator's data (many games, graded slabs,
sealed product, deep location trees) that a shop owner sees first.
"""

from __future__ import annotations

import pytest
from nicegui.testing import User
from sqlalchemy import select

from tests.ui.conftest import eventually, label_text, services
from tests.ui.seed import DEMO_SKUS
from tests.ui.test_inventory import rows, texts
from vaultsync.store.models import Sku

pytestmark = pytest.mark.nicegui_main_file("tests/ui/app_demo_main.py")

DEMO_CASHIER = ("cashier", "1234", "Jess Tran")


async def login_demo_cashier(user: User, path: str = "/login") -> None:
    username, pin, _ = DEMO_CASHIER
    await user.open(path)
    user.find(marker=f"pin-user:{username}").click()
    for digit in pin:
        user.find(marker=f"pin-key-{digit}").click()
    user.find(marker="pin-enter").click()
    await user.should_see(marker="logout", retries=40)


async def test_demo_manager_password_and_cashier_pin(user: User) -> None:
    await login_demo_cashier(user)
    assert label_text(user, "user-name") == DEMO_CASHIER[2]
    await user.should_see("Dragon's Hoard Games")
    user.find(marker="logout").click()
    await user.should_see(marker="password-card", retries=40)
    user.find(marker="login-username").type("manager")
    user.find(marker="login-password").type("manager-demo-1")
    user.find(marker="login-submit").click()
    await user.should_see(marker="logout", retries=40)
    assert label_text(user, "user-role") == "Manager"


async def test_demo_catalog_pages_and_a_scanned_barcode(user: User) -> None:
    await login_demo_cashier(user, "/login?redirect_to=/inventory")
    await eventually(lambda: len(rows(user)) == 25)
    assert label_text(user, "result-count") == f"Showing 1\u201325 of {DEMO_SKUS} items"
    with services().store.read() as s:  # pick a stocked SKU with a barcode, whatever the demo made
        barcode, code = s.execute(
            select(Sku.barcode, Sku.sku_code).where(Sku.barcode.is_not(None)).order_by(Sku.sku_code).limit(1)
        ).one()
    assert barcode is not None
    user.find(marker="search").trigger("keydown.enter", barcode)
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "fact:SKU") == code
    detail = services().inventory.detail(services().inventory.search(barcode).rows[0].sku_id)
    assert texts(user, "stock-path") == sorted(place.path for place in detail.stock)
