"""The manager's inventory tools in the browser (NiceGUI ``user``): catalog, stock operations,
counts, receiving, import, labels, valuation — and what a cashier does (not) get."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from sqlalchemy import select

from tests.ui.conftest import eventually, label_text, login_password, login_pin, services
from tests.ui.pos_helpers import open_shift_directly
from tests.ui.seed import BACKROOM, CASHIER, MANAGER, ROW_A, SHEOLDRED_BARCODE
from vaultsync.domain.enums import Tender
from vaultsync.hardware.simulated import decode_escpos
from vaultsync.services.catalog_import import TEMPLATE_HEADER
from vaultsync.services.checkout import TenderInput
from vaultsync.store.models import PrintJob

NM_CODE = "MTG-DMU-107-NM"


def element(user: User, marker: str) -> Any:
    found = user.find(marker=marker).elements
    assert len(found) == 1, f"{marker}: {len(found)} elements"
    return next(iter(found))


def set_value(user: User, marker: str, value: Any) -> None:
    element(user, marker).set_value(value)


def sku_id(code: str) -> str:
    return services().catalog.find(code)


def on_hand(code: str) -> int:
    return services().inventory.detail(sku_id(code)).row.on_hand


def location_id(path: str) -> str:
    return next(loc.id for loc in services().catalog.locations() if loc.path == path)


async def open_item(user: User, code: str, who: Any = MANAGER) -> None:
    if who is MANAGER:
        await login_password(user, MANAGER, path="/login?redirect_to=/inventory")
    else:
        await login_pin(user, who, path="/login?redirect_to=/inventory")
    await user.should_see(marker="results", retries=40)
    user.find(marker="search").trigger("keydown.enter", code)
    await user.should_see(marker="detail", retries=40)


# ---------------------------------------------------------------------- roles


async def test_cashier_gets_no_manager_tools(user: User) -> None:
    await open_item(user, SHEOLDRED_BARCODE, CASHIER)
    await user.should_not_see(marker="manager-tools")
    await user.should_not_see(marker="detail-actions")
    await user.should_not_see(marker="action-price-history")
    await user.open("/inventory/receive")
    await user.should_see(marker="forbidden")


async def test_manager_detail_has_actions_and_price_history_link(user: User) -> None:
    await open_item(user, SHEOLDRED_BARCODE)
    await user.should_see(marker="manager-tools")
    await user.should_see(marker="detail-actions")
    link = element(user, "action-price-history")
    assert link.props["href"] == f"/pricing/sku/{sku_id(NM_CODE)}"


# ---------------------------------------------------------------------- catalog


async def test_new_item_and_edit(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory")
    await user.should_see(marker="tool-new-item", retries=40)
    user.find(marker="tool-new-item").click()
    await user.should_see(marker="new-name", retries=20)
    set_value(user, "new-game", "MTG")
    user.find(marker="new-name").type("Ornithopter")
    user.find(marker="new-set").type("DMU")
    user.find(marker="new-number").type("330")
    user.find(marker="new-price").type("0.49")
    user.find(marker="new-barcode").type("4006381333932")  # wrong check digit
    user.find(marker="new-item-ok").click()
    await eventually(lambda: "check digit" in label_text(user, "new-item-error"))
    user.find(marker="new-barcode").clear().type("4006381333931")
    user.find(marker="new-item-ok").click()
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "detail-name") == "Ornithopter"
    assert label_text(user, "fact:SKU") == "MTG-DMU-330-NM"
    assert label_text(user, "detail-price") == "$0.49"
    user.find(marker="action-edit").click()
    await user.should_see(marker="edit-price", retries=20)
    user.find(marker="edit-price").clear().type("-1")
    user.find(marker="edit-sku-ok").click()
    await eventually(lambda: "negative" in label_text(user, "edit-sku-error"))
    user.find(marker="edit-price").clear().type("0.75")
    user.find(marker="edit-sku-ok").click()
    await eventually(lambda: label_text(user, "detail-price") == "$0.75")


async def test_duplicate_cert_is_refused_in_the_form(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory")
    await user.should_see(marker="tool-new-item", retries=40)
    user.find(marker="tool-new-item").click()
    await user.should_see(marker="new-name", retries=20)
    set_value(user, "new-game", "PKM")
    set_value(user, "new-kind", "graded")
    set_value(user, "new-grader", "PSA")
    user.find(marker="new-name").type("Charizard")
    user.find(marker="new-grade").type("10")
    user.find(marker="new-cert").type("81234567")  # already on the seeded slab
    user.find(marker="new-item-ok").click()
    await eventually(lambda: "possible fraud" in label_text(user, "new-item-error"))


# ---------------------------------------------------------------------- stock operations


async def test_transfer_and_write_off_from_the_detail(user: User) -> None:
    await open_item(user, SHEOLDRED_BARCODE)
    user.find(marker="action-transfer").click()
    await user.should_see(marker="transfer-to", retries=20)
    set_value(user, "transfer-from", location_id(ROW_A))
    set_value(user, "transfer-to", location_id(BACKROOM))
    set_value(user, "transfer-qty", 5)
    user.find(marker="transfer-ok").click()
    await eventually(lambda: "Only 2 of MTG-DMU-107-NM" in label_text(user, "transfer-error"))
    set_value(user, "transfer-qty", 2)
    user.find(marker="transfer-ok").click()
    await eventually(lambda: [e.text for e in user.find(marker="stock-path").elements] == [BACKROOM])
    assert on_hand(NM_CODE) == 3
    user.find(marker="action-write-off").click()
    await user.should_see(marker="write-off-reason", retries=20)
    set_value(user, "write-off-reason", "stolen")
    user.find(marker="write-off-ok").click()
    await eventually(lambda: label_text(user, "detail-on-hand") == "2 on hand")
    user.find(marker="action-history").click()
    await user.should_see(marker="history", retries=20)
    history = element(user, "history").rows
    assert (history[0]["reason"], history[0]["delta"]) == ("adjust", "-1")
    assert sorted((r["reason"], r["delta"]) for r in history[1:3]) == [("transfer", "+2"), ("transfer", "-2")]
    assert history[0]["note"] == "stolen"


async def test_reorder_point_puts_it_on_the_low_stock_list(user: User) -> None:
    await open_item(user, SHEOLDRED_BARCODE)
    user.find(marker="action-reorder").click()
    await user.should_see(marker="reorder-min", retries=20)
    user.find(marker="reorder-min").type("5")
    user.find(marker="reorder-qty").clear().type("8")
    user.find(marker="reorder-ok").click()
    await user.should_not_see(marker="reorder-min", retries=20)
    await user.open("/inventory/reports")
    await user.should_see(marker="low-stock", retries=40)
    low = element(user, "low-stock").rows
    assert [(r["sku_code"], r["on_hand"], r["order"]) for r in low] == [(NM_CODE, 3, 8)]


async def test_labels_download_a_pdf_sheet(user: User) -> None:
    await open_item(user, SHEOLDRED_BARCODE)
    user.find(marker="action-labels").click()
    await user.should_see(marker="labels-copies", retries=20)
    set_value(user, "labels-copies", 3)
    user.find(marker="labels-pdf").click()
    response = await user.download.next(timeout=5)
    assert response.content.startswith(b"%PDF-")
    await eventually(lambda: "PDF" in label_text(user, "labels-status"))


async def test_labels_for_ticked_rows_go_to_the_printer_queue(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory")
    await user.should_see(marker="results", retries=40)
    table = element(user, "results")
    await eventually(lambda: len(table.rows) > 2)
    table.selected = table.rows[:2]
    user.find(marker="tool-labels").click()
    await user.should_see(marker="labels-print", retries=20)
    user.find(marker="labels-print").click()
    await eventually(lambda: "printer" in label_text(user, "labels-status"))
    with services().store.read() as s:
        jobs = s.scalars(select(PrintJob)).all()
        assert [j.kind for j in jobs] == ["label"]
        decoded = decode_escpos(jobs[0].data)
    assert len(decoded.cuts) == 2  # two labels
    assert len(decoded.barcodes) == 2


# ---------------------------------------------------------------------- receiving


async def test_receive_a_delivery(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/receive")
    await user.should_see(marker="receive-code", retries=40)
    set_value(user, "receive-location", location_id(ROW_A))
    user.find(marker="receive-supplier").type("Alliance")
    user.find(marker="receive-code").type(SHEOLDRED_BARCODE)
    set_value(user, "receive-qty", 2)
    user.find(marker="receive-cost").type("62.00")
    user.find(marker="receive-add").click()
    await eventually(lambda: len(element(user, "receive-lines").rows) == 1)
    user.find(marker="receive-code").type("no-such-code")
    user.find(marker="receive-add").click()
    await eventually(lambda: "no item" in label_text(user, "receive-error").lower())
    assert label_text(user, "receive-total") == "2 units · $124.00"
    user.find(marker="receive-submit").click()
    await eventually(lambda: "Received 2 units" in label_text(user, "receive-done"))
    assert on_hand(NM_CODE) == 5
    # 3 @ 50.00 + 2 @ 62.00 = 54.80
    assert services().inventory.detail(sku_id(NM_CODE)).cost_basis_cents == 5480


# ---------------------------------------------------------------------- counts


async def test_count_a_location_while_the_register_sells(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/counts")
    await user.should_see(marker="counts-start", retries=40)
    set_value(user, "counts-location", location_id(ROW_A))
    user.find(marker="counts-start").click()
    await user.should_see(marker="count-code", retries=40)
    assert label_text(user, "count-location") == ROW_A
    # each scan adds one: two copies of Sheoldred on the shelf... but only one is found
    user.find(marker="count-code").type(SHEOLDRED_BARCODE).trigger("keydown.enter")
    await eventually(lambda: "1 counted" in label_text(user, "count-last"))
    set_value(user, "count-mode", "set")
    set_value(user, "count-qty", 4)
    user.find(marker="count-code").type("PKM-SV03-125-NM").trigger("keydown.enter")
    await eventually(lambda: "4 counted" in label_text(user, "count-last"))

    def lines() -> dict[str, dict[str, Any]]:
        return {r["sku_code"]: r for r in element(user, "count-lines").rows}

    await eventually(lambda: lines()["PKM-SV03-125-NM"]["counted"] == 4)
    rows = lines()
    assert (rows[NM_CODE]["expected"], rows[NM_CODE]["counted"], rows[NM_CODE]["difference"]) == (2, 1, "-1")
    assert rows["PKM-SV03-125-NM"]["difference"] == "0"
    assert rows["PKM-BS-4-PSA10"]["counted"] == "—"
    # meanwhile, the register sells the Charizard ex that was just counted
    open_shift_directly(CASHIER)
    svc = services()
    station = svc.stations.local(svc.config.station_role)
    cashier = svc.auth.by_username(CASHIER.username)
    cart = svc.checkout.new_cart(actor=cashier, station_id=station.id)
    view = svc.checkout.add_sku(cart.id, sku_id("PKM-SV03-125-NM"), 1, actor=cashier)
    svc.checkout.complete(
        cart.id,
        [TenderInput(Tender.CASH, view.total_cents)],
        actor=cashier,
        client_request_id="ui-count-sale",
    )
    user.find(marker="count-commit").click()
    await user.should_see(marker="commit-ok", retries=20)
    user.find(marker="commit-ok").click()
    await eventually(lambda: "Committed: 1 lines adjusted (-1 units)" in label_text(user, "count-last"))
    await eventually(lambda: label_text(user, "count-status") == "Committed")
    assert on_hand(NM_CODE) == 2  # row A 1 + backroom 1
    assert on_hand("PKM-SV03-125-NM") == 3  # counted 4, then one sold: the sale is not lost
    assert on_hand("PKM-BS-4-PSA10") == 1  # not counted, not zeroed


async def test_abandon_a_count(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/counts")
    await user.should_see(marker="counts-start", retries=40)
    user.find(marker="counts-start").click()
    await eventually(lambda: "Choose the location" in label_text(user, "counts-error"))
    set_value(user, "counts-location", location_id(BACKROOM))
    user.find(marker="counts-start").click()
    await user.should_see(marker="count-code", retries=40)
    user.find(marker="count-code").type("nothing-like-this").trigger("keydown.enter")
    await eventually(lambda: "no item" in label_text(user, "count-error").lower())
    user.find(marker="count-abandon").click()
    await user.should_see(marker="confirm-ok", retries=20)
    user.find(marker="confirm-ok").click()
    await eventually(lambda: label_text(user, "count-status") == "Abandoned")
    await user.should_not_see(marker="count-commit")


# ---------------------------------------------------------------------- import


def csv_text() -> str:
    from tests.ui.seed import ROW_B

    return (
        f"{TEMPLATE_HEADER}\n"
        f"MTG,Llanowar Elves,single,DMU,168,common,EN,NM,normal,,,,,,,0.25,0.05,40,{ROW_B}\n"
        "MTG,Bad Set Card,single,NOPE,1,,EN,NM,,,,,,,,1,,,\n"
        "MTG,Costly,single,DMU,2,,EN,NM,,,,,,,,1,-3,,\n"
    )


async def test_import_checks_then_imports_only_good_rows(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/import")
    await user.should_see(marker="import-check", retries=40)
    user.find(marker="import-paste").type(csv_text())
    user.find(marker="import-check").click()
    await eventually(lambda: "3 rows: 1 good, 2 with problems" in label_text(user, "import-summary"))
    errors = element(user, "import-errors").rows
    assert [(e["row"], e["column"]) for e in errors] == [(3, "set_code"), (4, "cost")]
    await user.should_not_see(marker="import-all")
    user.find(marker="import-valid").click()
    await eventually(lambda: "Imported 1 rows" in label_text(user, "import-result"))
    assert on_hand("MTG-DMU-168-NM") == 40


async def test_import_by_upload_all_or_nothing(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/import")
    await user.should_see(marker="import-upload", retries=40)
    upload = element(user, "import-upload")
    row = "MTG,Shivan Dragon,single,DMU,150,rare,EN,LP,,,,,,,,2.00,1.00,3,Main Store › Backroom"
    good = f"{TEMPLATE_HEADER}\n{row}\n"
    await upload.handle_uploads(
        [SmallFileUpload(name="stock.csv", content_type="text/csv", _data=good.encode())]
    )
    await eventually(lambda: "1 rows: 1 good, 0 with problems" in label_text(user, "import-summary"))
    user.find(marker="import-all").click()
    await eventually(lambda: "Imported 1 rows" in label_text(user, "import-result"))
    assert on_hand("MTG-DMU-150-LP") == 3
    await upload.handle_uploads(
        [SmallFileUpload(name="junk.csv", content_type="text/csv", _data=b"colour,size\nred,xl\n")]
    )
    await eventually(lambda: "Unknown column(s): colour, size" in label_text(user, "import-error"))


# ---------------------------------------------------------------------- valuation and the register


async def test_valuation_page_with_chart(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/reports")
    await user.should_see(marker="value-chart", retries=40)
    value = services().valuation.valuation(actor=services().auth.by_username(MANAGER.username))
    assert label_text(user, "value-retail") == f"${value.retail_cents / 100:,.2f}"
    assert label_text(user, "value-cost") == f"${value.cost_cents / 100:,.2f}"
    chart = element(user, "value-chart")
    assert isinstance(chart, ui.echart)
    assert chart.options["xAxis"]["data"] == [r.game for r in value.by_game()]
    games = {r["group"].split(" (")[0] for r in element(user, "value-by-game").rows}
    assert {"Magic: The Gathering", "Pokémon"} <= games


async def test_register_search_shows_where_the_card_lives(user: User) -> None:
    open_shift_directly(CASHIER)
    await login_pin(user, CASHIER)
    await user.should_see(marker="search-open", retries=40)
    user.find(marker="search-open").click()
    await user.should_see(marker="item-search", retries=20)
    user.find(marker="item-search").type("sheoldred").trigger("keydown.enter")
    await eventually(lambda: len(user.find(marker="search-where").elements) >= 1)
    wheres = sorted(e.text for e in user.find(marker="search-where").elements)
    assert "Where: Case 2 › Row A (2), Backroom (1)" in wheres
