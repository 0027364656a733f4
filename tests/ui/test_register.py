"""The register through the real page: scan, tender, receipt; errors inline; overrides; park/resume."""

from __future__ import annotations

from nicegui.testing import User
from sqlalchemy import func, select

from tests.ui.conftest import eventually, label_text, login_pin, services
from tests.ui.pos_helpers import message, press_keys, register_ready, scan, texts, wait_message
from tests.ui.seed import CASHIER, CHARIZARD_CERT, MANAGER, SHEOLDRED_BARCODE
from ui.pages.register import cash_quick_amounts, quick_keys, sku_facts
from vaultsync.store.models import Transaction


async def test_scan_pay_cash_with_a_quick_amount_shows_change_and_receipt(user: User) -> None:
    await register_ready(user)
    await scan(user, SHEOLDRED_BARCODE)
    await user.should_see(marker="cart-line", retries=40)
    assert texts(user, "line-desc") == ["Sheoldred, the Apocalypse [DMU 107]"]
    assert texts(user, "line-detail") == ["NM"]
    assert texts(user, "line-total") == ["$74.99"]
    assert label_text(user, "total") == "$74.99"
    await wait_message(user, "Added Sheoldred")
    # a second scan of the same barcode adds to the line
    await scan(user, SHEOLDRED_BARCODE)
    await eventually(lambda: label_text(user, "line-0-qty") == "2")
    assert label_text(user, "total") == "$149.98"
    user.find(marker="line-0-minus").click()
    await eventually(lambda: label_text(user, "total") == "$74.99")

    user.find(marker="tender-cash").click()
    await user.should_see(marker="cash-exact")
    await user.should_see("$80.00")
    user.find(marker="cash-quick-10000").click()  # a $100 note for $74.99
    await user.should_see(marker="sale-done", retries=40)
    assert label_text(user, "change-due") == "$25.01"
    with services().store.read() as s:
        number = s.scalar(select(Transaction.number).where(Transaction.kind == "sale"))
    assert number
    assert label_text(user, "sale-number") == f"Sale {number} complete"
    preview = label_text(user, "receipt-preview")
    assert number in preview
    assert "Sheoldred" in preview
    assert "$25.01" in preview
    # a fresh empty cart is ready for the next customer
    assert label_text(user, "total") == "$0.00"
    assert services().inventory.search(SHEOLDRED_BARCODE).rows[0].on_hand == 2


async def test_errors_are_shown_inline(user: User) -> None:
    await register_ready(user)
    await scan(user, "0000000000000")
    await wait_message(user, "No item with code '0000000000000'")
    await scan(user, "MTG-DMU-107-NM-F")  # the foil has no copies
    await wait_message(user, "Out of stock: Sheoldred, the Apocalypse — 0 left")
    await user.should_not_see(marker="cart-line")
    # the graded slab: one copy, sold, then scanned again in the next sale
    await scan(user, CHARIZARD_CERT)
    await user.should_see(marker="cart-line", retries=40)
    await scan(user, CHARIZARD_CERT)
    await wait_message(user, "is already in this sale")
    user.find(marker="tender-card").click()
    await user.should_see(marker="card-ref")
    user.find(marker="card-ref").type("AUTH-778899")
    user.find(marker="card-ok").click()
    await user.should_see(marker="sale-done", retries=40)
    assert label_text(user, "change-due") == "$0.00"
    preview = label_text(user, "receipt-preview")
    assert "Card" in preview
    assert "8899" in preview  # the approval reference (the printer layout may mask its start)
    await scan(user, CHARIZARD_CERT)
    await wait_message(user, "has already been sold")
    # a receipt scanned at the register: pointed to Refund
    with services().store.read() as s:
        number = s.scalar(select(Transaction.number))
    await scan(user, str(number))
    await wait_message(user, "is a receipt: use Refund")
    assert "Traceback" not in message(user)


async def test_search_adds_an_item_without_a_barcode(user: User) -> None:
    await register_ready(user)
    user.find(marker="search-open").click()
    await user.should_see(marker="item-search")
    await user.should_see(marker="item-search-hint")
    user.find(marker="item-search").type("sheold")
    await eventually(lambda: len(texts(user, "search-name")) == 3)
    assert set(texts(user, "search-name")) == {"Sheoldred, the Apocalypse"}
    hits = {label_text(user, f"search-{i}-facts"): i for i in range(3)}
    assert sorted(hits) == ["DMU 107 · LP", "DMU 107 · NM", "DMU 107 · NM · Foil"]
    lp = hits["DMU 107 · LP"]
    assert label_text(user, f"search-{lp}-price") == "$65.00"
    assert label_text(user, f"search-{lp}-stock") == "1 on hand"
    assert label_text(user, f"search-{hits['DMU 107 · NM · Foil']}-stock") == "Out of stock"
    user.find(marker=f"search-hit-{lp}").click()
    await user.should_see(marker="cart-line", retries=40)
    await user.should_not_see(marker="item-search")
    assert texts(user, "line-desc") == ["Sheoldred, the Apocalypse [DMU 107]"]
    assert texts(user, "line-detail") == ["LP"]
    assert texts(user, "line-total") == ["$65.00"]
    assert label_text(user, "total") == "$65.00"
    await wait_message(user, "Added Sheoldred")

    # an out-of-stock hit is still tappable: checkout says why it cannot be sold
    user.find(marker="search-open").click()
    await user.should_see(marker="item-search")
    user.find(marker="item-search").type("sheoldred").trigger("keydown.enter")
    await eventually(lambda: len(texts(user, "search-facts")) == 3)
    foil = next(i for i in range(3) if label_text(user, f"search-{i}-facts") == "DMU 107 · NM · Foil")
    user.find(marker=f"search-hit-{foil}").click()
    await wait_message(user, "Out of stock: Sheoldred, the Apocalypse — 0 left")
    await user.should_not_see(marker="item-search")
    assert label_text(user, "total") == "$65.00"


async def test_search_without_a_match_or_with_bad_text_says_so_in_the_dialog(user: User) -> None:
    await register_ready(user)
    user.find(marker="scan").trigger("keydown", "F6")  # the keyboard shortcut opens it too
    await user.should_see(marker="item-search")
    user.find(marker="item-search").type("xyzzyplugh")
    await user.should_see(marker="item-search-none", retries=40)
    assert label_text(user, "item-search-none") == "No match for “xyzzyplugh”"
    assert texts(user, "search-name") == []
    user.find(marker="item-search").clear().type("x" * 121)
    await eventually(lambda: label_text(user, "item-search-error") != "")
    assert label_text(user, "item-search-error") == "Search text is limited to 120 characters"
    await user.should_not_see(marker="item-search-none")
    user.find(marker="dialog-close").click()
    await user.should_not_see(marker="item-search")
    await user.should_not_see(marker="register-message")  # a dismissed search is not an error
    await user.should_see(marker="cart-empty")


async def test_discount_over_threshold_needs_a_manager_pin(user: User) -> None:
    await register_ready(user)
    await scan(user, SHEOLDRED_BARCODE)
    await user.should_see(marker="cart-line", retries=40)
    user.find(marker="line-0-open").click()
    await user.should_see(marker="adjust-reason")
    user.find(marker="adjust-reason").type("binder wear")
    user.find(marker="adjust-pct-50").click()
    await user.should_see(marker="mgr-reason", retries=40)
    assert "Discount of 50%" in label_text(user, "mgr-reason")
    await press_keys(user, "mgr", "1111")  # not a manager's PIN
    user.find(marker="mgr-ok").click()
    await eventually(lambda: label_text(user, "mgr-error") != "")
    assert texts(user, "line-discount") == []
    await press_keys(user, "mgr", MANAGER.pin or "")
    user.find(marker="mgr-ok").click()
    await eventually(lambda: texts(user, "line-discount") == ["Discount −$37.50"])
    assert label_text(user, "total") == "$37.49"
    assert label_text(user, "discounts") == "−$37.50"
    # a small discount needs nobody
    user.find(marker="line-0-open").click()
    await user.should_see(marker="adjust-pct-10")
    user.find(marker="adjust-pct-10").click()
    await eventually(lambda: texts(user, "line-discount") == ["Discount −$7.50"])


async def test_split_payment_shows_what_is_still_due(user: User) -> None:
    await register_ready(user)
    await scan(user, "PKM-SV03-125-NM")
    await user.should_see(marker="cart-line", retries=40)
    assert label_text(user, "total") == "$29.99"
    user.find(marker="tender-card").click()
    await user.should_see(marker="card-clear")
    user.find(marker="card-clear").click()
    await press_keys(user, "card", "2000")
    user.find(marker="card-ref").type("A1")
    user.find(marker="card-ok").click()
    await eventually(lambda: label_text(user, "remaining-due") == "$9.99")
    user.find(marker="tender-cash").click()
    await user.should_see(marker="cash-exact")
    user.find(marker="cash-exact").click()
    await user.should_see(marker="sale-done", retries=40)
    assert label_text(user, "change-due") == "$0.00"


async def test_park_and_resume(user: User) -> None:
    await register_ready(user)
    await scan(user, "PKM-SV03-125-NM")
    await user.should_see(marker="cart-line", retries=40)
    user.find(marker="park").click()
    await user.should_see(marker="park-input")
    user.find(marker="park-input").type("Jess — getting wallet")
    user.find(marker="park-ok").click()
    await user.should_see(marker="cart-empty", retries=40)
    await wait_message(user, "Sale parked")
    user.find(marker="resume").click()
    await user.should_see(marker="held-0", retries=40)
    assert texts(user, "held-label") == ["Jess — getting wallet"]
    user.find(marker="held-0").click()
    await user.should_see(marker="cart-line", retries=40)
    assert texts(user, "line-desc") == ["Charizard ex [SV03 125]"]
    assert services().checkout.held_carts() == []


async def test_quick_key_with_count_and_void(user: User) -> None:
    await register_ready(user)
    user.find(marker="quick-key-0").click()  # bulk commons by count
    await user.should_see(marker="qty-ok")
    await press_keys(user, "qty", "250")
    user.find(marker="qty-ok").click()
    await user.should_see(marker="cart-line", retries=40)
    assert label_text(user, "line-0-qty") == "250"
    assert label_text(user, "total") == "$25.00"
    user.find(marker="void").click()
    await user.should_see(marker="void-ok")
    user.find(marker="void-ok").click()
    await user.should_see(marker="cart-empty", retries=40)
    await wait_message(user, "Sale voided")


async def test_store_credit_needs_a_customer(user: User) -> None:
    svc = services()
    cashier = svc.auth.by_username(CASHIER.username)
    ash = svc.customers.add("Ash", "Ketchum", "ash@example.com", actor=cashier)
    await register_ready(user)
    await scan(user, "PKM-SV03-125-NM")
    await user.should_see(marker="cart-line", retries=40)
    assert label_text(user, "customer-name") == "No customer"
    user.find(marker="customer-attach").click()
    await user.should_see(marker="customer-search")
    user.find(marker="customer-search").type("ash ket")
    await user.should_see(marker="customer-hit", retries=40)
    user.find(marker="customer-hit").click()
    await eventually(lambda: label_text(user, "customer-name") == "Ash Ketchum")
    assert label_text(user, "customer-balance") == "Store credit $0.00"
    user.find(marker="tender-store_credit").click()
    await wait_message(user, "Ash Ketchum has no store credit")
    with svc.store.read() as s:
        assert s.scalar(select(func.count()).select_from(Transaction)) == 0
    assert ash.id


async def test_no_open_shift_shows_the_open_shift_panel(user: User) -> None:
    await login_pin(user, CASHIER)
    await user.should_see(marker="open-shift-panel")
    await user.should_not_see(marker="scan")
    user.find(marker="go-shift").click()
    await user.should_see(marker="open-shift-card", retries=40)


def test_cash_quick_amounts_and_quick_key_parsing() -> None:
    assert cash_quick_amounts(7499) == [7499, 7500, 8000, 10000]
    assert cash_quick_amounts(2000) == [2000, 2500, 3000, 4000, 5000, 10000]
    keys = quick_keys(
        [
            {"label": "Sleeves", "sku_code": "SUP-1"},
            {"label": ""},
            {"label": "Fee", "description": "x", "price_cents": -1},
        ]
    )
    assert [k.label for k in keys] == ["Sleeves"]
    assert quick_keys("nonsense") == []


def test_sku_facts_say_grade_or_condition_and_finish() -> None:
    inventory = services().inventory
    slab = inventory.search(CHARIZARD_CERT).rows[0]
    assert sku_facts(slab) == "BS 4 · PSA 10"
    assert sku_facts(inventory.search(SHEOLDRED_BARCODE).rows[0]) == "DMU 107 · NM"
