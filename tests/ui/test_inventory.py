"""The inventory browser: search as you type, scanner Enter, filters, paging, detail."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement
from nicegui.testing import User

from tests.ui.conftest import eventually, label_text, login_password, login_pin, services
from tests.ui.seed import (
    BACKROOM,
    CASHIER,
    CHARIZARD_CERT,
    FILLER_COUNT,
    MANAGER,
    ROW_A,
    ROW_B,
    SHEOLDRED_BARCODE,
)
from ui.layout import GENERIC_ERROR

TOTAL_SKUS = 7 + FILLER_COUNT


def table(user: User) -> ui.table:
    found = user.find(marker="results").elements
    assert len(found) == 1
    element = next(iter(found))
    assert isinstance(element, ui.table)
    return element


def rows(user: User) -> list[dict[str, Any]]:
    return list(table(user).rows)


def names(user: User) -> set[str]:
    return {row["name"] for row in rows(user)}


def count_text(user: User) -> str:
    return label_text(user, "result-count")


def texts(user: User, marker: str) -> list[str]:
    return sorted(e.text for e in user.find(marker=marker).elements if isinstance(e, TextElement))


async def open_inventory(user: User) -> None:
    await login_pin(user, CASHIER, path="/login?redirect_to=/inventory")
    await user.should_see(marker="results", retries=40)
    await eventually(lambda: len(rows(user)) > 0)


async def search(user: User, text: str) -> None:
    box = user.find(marker="search")
    box.clear()
    box.type(text)


def choose(user: User, marker: str, option: str) -> None:
    user.find(marker=marker).click()  # opens the menu
    user.find(option).click()


async def test_first_page_and_paging(user: User) -> None:
    await open_inventory(user)
    assert len(rows(user)) == 25
    assert count_text(user) == f"Showing 1\u201325 of {TOTAL_SKUS} items"
    first_page = {row["sku_id"] for row in rows(user)}
    user.find(marker="page-next").click()
    await eventually(lambda: count_text(user) == f"Showing 26\u2013{TOTAL_SKUS} of {TOTAL_SKUS} items")
    second_page = {row["sku_id"] for row in rows(user)}
    assert len(second_page) == TOTAL_SKUS - 25
    assert not first_page & second_page
    next_button = next(iter(user.find(marker="page-next").elements))
    assert isinstance(next_button, ui.button)
    assert not next_button.enabled
    user.find(marker="page-prev").click()
    await eventually(lambda: {row["sku_id"] for row in rows(user)} == first_page)


async def test_table_columns_show_formatted_values(user: User) -> None:
    await open_inventory(user)
    await search(user, "sheoldred")
    await eventually(lambda: names(user) == {"Sheoldred, the Apocalypse"})
    by_code = {(r["condition"], r["finish"]): r for r in rows(user)}
    nm = by_code[("NM", "Normal")]
    assert nm["game"] == "Magic: The Gathering"
    assert nm["set_code"] == "DMU"
    assert nm["number"] == "107"
    assert nm["price"] == "$74.99"
    assert nm["on_hand"] == 3
    assert nm["grade"] == "—"
    assert by_code[("NM", "Foil")]["on_hand"] == 0
    assert by_code[("LP", "Normal")]["price"] == "$65.00"
    assert count_text(user) == "Showing 1\u20133 of 3 items"


async def test_search_by_name_words_in_any_order(user: User) -> None:
    await open_inventory(user)
    await search(user, "ex charizard")
    await eventually(lambda: names(user) == {"Charizard ex"})


async def test_search_by_set_code(user: User) -> None:
    await open_inventory(user)
    await search(user, "LOB")
    await eventually(lambda: names(user) == {"Blue-Eyes White Dragon"})


async def test_scanned_barcode_opens_the_item_with_its_locations(user: User) -> None:
    await open_inventory(user)
    await search(user, SHEOLDRED_BARCODE)
    user.find(marker="search").trigger("keydown.enter")
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "detail-name") == "Sheoldred, the Apocalypse"
    assert texts(user, "stock-path") == sorted([ROW_A, BACKROOM])
    assert label_text(user, "detail-on-hand") == "3 on hand"
    assert label_text(user, "detail-price") == "$74.99"
    assert label_text(user, "fact:Barcode") == SHEOLDRED_BARCODE
    assert label_text(user, "fact:Condition") == "NM · Near Mint"
    assert names(user) == {"Sheoldred, the Apocalypse"}


async def test_scanner_enter_wins_the_race_with_the_debounced_box(user: User) -> None:
    """A wedge scanner's Enter arrives before the debounced text: the Enter carries the code."""
    await open_inventory(user)
    user.find(marker="search").trigger("keydown.enter", SHEOLDRED_BARCODE)
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "detail-name") == "Sheoldred, the Apocalypse"


async def test_scanned_cert_number_finds_the_slab(user: User) -> None:
    await open_inventory(user)
    user.find(marker="search").trigger("keydown.enter", CHARIZARD_CERT)
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "detail-name") == "Charizard"
    assert label_text(user, "fact:Grade") == "PSA 10"
    assert label_text(user, "fact:Cert number") == CHARIZARD_CERT
    assert label_text(user, "detail-price") == "$25,000.00"
    assert texts(user, "stock-path") == [ROW_A]


async def test_scanned_sku_code_finds_the_sku(user: User) -> None:
    await open_inventory(user)
    user.find(marker="search").trigger("keydown.enter", "MTG-DMU-107-LP")
    await user.should_see(marker="detail", retries=40)
    assert texts(user, "stock-path") == [ROW_B]
    assert label_text(user, "fact:SKU") == "MTG-DMU-107-LP"


async def test_enter_with_several_hits_only_lists_them(user: User) -> None:
    await open_inventory(user)
    user.find(marker="search").trigger("keydown.enter", "charizard")
    await eventually(lambda: names(user) == {"Charizard", "Charizard ex"})
    await user.should_not_see(marker="detail")


async def test_row_click_opens_detail(user: User) -> None:
    await open_inventory(user)
    await search(user, "blue-eyes")
    await eventually(lambda: names(user) == {"Blue-Eyes White Dragon"})
    sku_id = rows(user)[0]["sku_id"]
    user.find(marker="results").trigger("rowClick", sku_id)
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "detail-on-hand") == "0 on hand"
    await user.should_see(marker="detail-no-stock")
    user.find(marker="detail-close").click()


async def test_game_filter(user: User) -> None:
    await open_inventory(user)
    choose(user, "filter-game", "Pokémon")
    await eventually(lambda: names(user) == {"Charizard", "Charizard ex"})
    assert {r["game"] for r in rows(user)} == {"Pokémon"}
    assert count_text(user) == "Showing 1\u20133 of 3 items"


async def test_condition_finish_and_stock_filters(user: User) -> None:
    await open_inventory(user)
    choose(user, "filter-condition", "LP · Lightly Played")
    await eventually(
        lambda: {r["sku_id"] for r in rows(user)} and {r["condition"] for r in rows(user)} == {"LP"}
    )
    assert names(user) == {"Sheoldred, the Apocalypse", "Charizard"}
    choose(user, "filter-condition", "Any condition")
    choose(user, "filter-finish", "Foil")
    await eventually(lambda: len(rows(user)) == 1 and rows(user)[0]["finish"] == "Foil")
    user.find(marker="filter-in-stock").click()
    await eventually(lambda: count_text(user) == "No matching items")
    assert rows(user) == []
    choose(user, "filter-finish", "Any finish")
    await search(user, "blue-eyes")  # in stock only: the Blue-Eyes has none
    await eventually(lambda: count_text(user) == "No matching items")
    user.find(marker="filter-in-stock").click()
    await eventually(lambda: names(user) == {"Blue-Eyes White Dragon"})


async def test_validation_error_is_shown_inline(user: User) -> None:
    await open_inventory(user)
    await search(user, "x" * 121)
    await eventually(lambda: label_text(user, "search-error") == "Search text is limited to 120 characters")
    assert rows(user) == []
    await search(user, "sheoldred")
    await eventually(lambda: names(user) == {"Sheoldred, the Apocalypse"})
    await user.should_not_see(marker="search-error")


async def test_unexpected_search_failure_shows_generic_message(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await open_inventory(user)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("no such table: skus (internal detail)")

    monkeypatch.setattr(services().inventory, "search", broken)
    await search(user, "anything")
    await eventually(lambda: label_text(user, "search-error") == GENERIC_ERROR)
    await user.should_not_see("internal detail")
    caplog.clear()  # the logged ERROR is expected here


async def test_no_results(user: User) -> None:
    await open_inventory(user)
    await search(user, "zzzz-not-a-card")
    await eventually(lambda: count_text(user) == "No matching items")
    assert rows(user) == []


async def test_cost_basis_only_for_managers(user: User) -> None:
    await open_inventory(user)
    user.find(marker="search").trigger("keydown.enter", SHEOLDRED_BARCODE)
    await user.should_see(marker="detail", retries=40)
    await user.should_not_see(marker="fact:Cost basis")

    user.find(marker="detail-close").click()
    user.find(marker="logout").click()
    await user.should_see(marker="pin-card", retries=40)
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory")
    await user.should_see(marker="results", retries=40)
    user.find(marker="search").trigger("keydown.enter", SHEOLDRED_BARCODE)
    await user.should_see(marker="detail", retries=40)
    assert label_text(user, "fact:Cost basis") == "$50.00"
