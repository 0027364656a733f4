"""``/inventory``: find a card by what you know about it and see where the copies are.

Managers get the inventory tools on the same screen: a toolbar (new item, receive, counts,
import, valuation and low stock, labels for the ticked rows) and, in an item's detail, edit,
move, write off, reorder point, labels, stock history and the link to its price history.

One search box serves typing and the barcode scanner: a keyboard-wedge scanner "types"
the code and presses Enter, so Enter searches at once (no debounce) and a single hit
opens straight away — the cashier scanned one thing and wants to know where it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import events, ui

from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.nav import INVENTORY_PATH
from ui.pages import inventory_tools as tools
from ui.pages.inventory_paths import COUNTS_PATH, IMPORT_PATH, PRICE_HISTORY_PATH, RECEIVE_PATH, REPORTS_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Condition, Finish, Role
from vaultsync.domain.money import format_cents
from vaultsync.services.auth import UserView
from vaultsync.services.inventory import GameOption, SearchPage, SkuDetail, SkuRow

PAGE_SIZE = 25
#: wait this long after the last keystroke before searching: one query per word, not per letter
DEBOUNCE_MS = 300
ALL = ""  # the "no filter" choice in the selects
DASH = "—"

COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "field": "name", "align": "left", "classes": "font-medium"},
    {"name": "game", "label": "Game", "field": "game", "align": "left"},
    {
        "name": "set_code",
        "label": "Set",
        "field": "set_code",
        "align": "left",
        "classes": "whitespace-nowrap",
    },
    {"name": "number", "label": "No.", "field": "number", "align": "left", "classes": "whitespace-nowrap"},
    {"name": "condition", "label": "Cond.", "field": "condition", "align": "center"},
    {"name": "finish", "label": "Finish", "field": "finish", "align": "center"},
    {"name": "grade", "label": "Grade", "field": "grade", "align": "center", "classes": "whitespace-nowrap"},
    {"name": "price", "label": "Price", "field": "price", "align": "right", "classes": "whitespace-nowrap"},
    {
        "name": "where",
        "label": "Where",
        "field": "where",
        "align": "left",
        "classes": "text-sm text-slate-600",
    },
    {
        "name": "on_hand",
        "label": "On hand",
        "field": "on_hand",
        "align": "right",
        "classes": "whitespace-nowrap",
    },
]

ON_HAND_SLOT = r"""
<q-td :props="props">
  <q-badge :color="props.value > 0 ? 'positive' : 'grey-5'" :label="props.value" class="text-sm px-2 py-1" />
</q-td>
"""

CONDITION_OPTIONS: dict[str, str] = {ALL: "Any condition"} | {
    c.value: f"{c.value} · {c.label}" for c in Condition
}
FINISH_OPTIONS: dict[str, str] = {ALL: "Any finish"} | {f.value: f.value.capitalize() for f in Finish}

TABLE_CSS = """
.vs-inventory thead th { white-space: nowrap; font-size: 0.85rem; font-weight: 600; color: #334155; }
.vs-inventory thead th { background: #f8fafc; }
.vs-inventory tbody td { height: 52px; font-size: 1rem; }
.vs-inventory th, .vs-inventory td { padding: 6px 10px; }
.vs-inventory td:first-child { min-width: 14rem; }
.vs-inventory tbody tr { cursor: pointer; }
"""


@dataclass(frozen=True)
class SearchParams:
    """Everything that decides a result page; equal params need no new query."""

    query: str
    game: str | None
    condition: str | None
    finish: str | None
    in_stock: bool
    offset: int


def grade_text(row: SkuRow) -> str:
    return " ".join(part for part in (row.grader, row.grade) if part) or DASH


def condition_text(value: str | None) -> str:
    if not value:
        return DASH
    try:
        return f"{value} · {Condition(value).label}"
    except ValueError:
        return value


def table_row(row: SkuRow, symbol: str) -> dict[str, Any]:
    return {
        "sku_id": row.sku_id,
        "name": row.name,
        "game": row.game,
        "set_code": row.set_code or DASH,
        "number": row.collector_number or DASH,
        "condition": row.condition or DASH,
        "finish": row.finish.capitalize(),
        "grade": grade_text(row),
        "price": format_cents(row.shelf_price_cents, symbol),
        "on_hand": row.on_hand,
        "where": row.where or DASH,
    }


class InventoryBrowser:
    """Search box, filters, result table with paging, and the detail dialog."""

    def __init__(
        self, user: SessionUser, games: list[GameOption], symbol: str, actor: UserView | None = None
    ) -> None:
        self.user = user
        #: the manager acting (None for cashiers: no tools, read-only browsing)
        self.actor = actor if actor is not None and actor.role.at_least(Role.MANAGER) else None
        self.symbol = symbol
        self._detail_id: str | None = None
        self.query = ""
        self.offset = 0
        self.total = 0
        self._seq = 0
        self._last: SearchParams | None = None
        self._build(games)

    # ------------------------------------------------------------------ layout

    def _build(self, games: list[GameOption]) -> None:
        ui.add_css(TABLE_CSS)
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("inventory_2", color="primary").classes("text-4xl")
            ui.label("Inventory").classes("text-3xl font-semibold")
        if self.actor is not None:
            self._toolbar()
        with ui.card().classes("w-full p-4 gap-3 rounded-2xl"):
            self.search = (
                ui.input(
                    placeholder="Search name, set code, number — or scan a barcode, SKU or cert number",
                    on_change=self._on_change,
                )
                .props(f"outlined clearable autofocus debounce={DEBOUNCE_MS} input-class=text-lg")
                .classes("w-full text-lg")
                .mark("search")
            )
            with self.search.add_slot("prepend"):
                ui.icon("search")
            # Enter carries the box's text itself: a scanner's Enter can beat the debounced value
            self.search.on(
                "keydown.enter",
                self._on_enter,
                js_handler="(e) => { emit(e.target.value); e.target.select(); }",
            )
            self.error = ui.label().classes("text-negative font-medium").mark("search-error")
            self.error.set_visibility(False)
            with ui.row().classes("w-full items-center gap-3"):
                game_options = {ALL: "All games"} | {g.code: g.name for g in games}
                self.game = self._select(game_options, "Game", "filter-game")
                self.condition = self._select(CONDITION_OPTIONS, "Condition", "filter-condition")
                self.finish = self._select(FINISH_OPTIONS, "Finish", "filter-finish")
                self.in_stock = (
                    ui.switch("In stock only", on_change=self._on_filter)
                    .props("size=lg")
                    .classes("text-base")
                    .mark("filter-in-stock")
                )
        with ui.card().classes("w-full p-0 rounded-2xl overflow-hidden"):
            self.table = (
                ui.table(
                    columns=COLUMNS,
                    rows=[],
                    row_key="sku_id",
                    pagination=0,
                    selection="multiple" if self.actor is not None else None,
                )
                .props(
                    'flat wrap-cells separator=horizontal hide-pagination no-data-label="No matching items"'
                )
                .classes("w-full vs-inventory")
                .mark("results")
            )
            self.table.add_slot("body-cell-on_hand", ON_HAND_SLOT)
            self.table.on("rowClick", self._on_row_click, js_handler="(evt, row) => emit(row.sku_id)")
            with ui.row().classes("w-full items-center justify-between px-4 py-3 bg-slate-50"):
                self.count = ui.label().classes("text-base text-slate-700").mark("result-count")
                with ui.row().classes("gap-2"):
                    self.prev = (
                        ui.button("Previous", icon="chevron_left", on_click=lambda: self._page(-1))
                        .props("outline no-caps size=lg")
                        .mark("page-prev")
                    )
                    self.next = (
                        ui.button("Next", on_click=lambda: self._page(1))
                        .props("outline no-caps size=lg icon-right=chevron_right")
                        .mark("page-next")
                    )
        with ui.dialog() as self.dialog:
            self.detail_card = ui.card().classes("w-full max-w-3xl p-0 rounded-2xl gap-0")

    def _toolbar(self) -> None:
        def link(text: str, icon: str, path: str, marker: str) -> None:
            ui.button(text, icon=icon, on_click=lambda: ui.navigate.to(path)).props(
                "outline no-caps size=md"
            ).mark(marker)

        with ui.row().classes("w-full gap-2 items-center").mark("manager-tools"):
            ui.button("New item", icon="add_box", on_click=self._new_item).props("unelevated no-caps").mark(
                "tool-new-item"
            )
            link("Receive", "local_shipping", RECEIVE_PATH, "tool-receive")
            link("Counts", "fact_check", COUNTS_PATH, "tool-counts")
            link("Import CSV", "upload_file", IMPORT_PATH, "tool-import")
            link("Valuation & low stock", "insights", REPORTS_PATH, "tool-reports")
            ui.space()
            ui.button("Labels for ticked", icon="label", on_click=self._selected_labels).props(
                "outline no-caps"
            ).mark("tool-labels")

    async def _new_item(self) -> None:
        assert self.actor is not None
        sku_id = await tools.new_item(self.actor)
        if sku_id:
            ui.notify("Item created", type="positive")
            await self.reload()
            await self.open_detail(sku_id)

    async def _selected_labels(self) -> None:
        assert self.actor is not None
        chosen = [row["sku_id"] for row in self.table.selected]
        if not chosen:
            ui.notify("Tick the items to label first", type="warning")
            return
        await tools.labels(self.actor, chosen)

    async def reload(self) -> None:
        """Search again with the same input (after a change made here)."""
        self._last = None
        await self.refresh()

    def _select(self, options: dict[str, str], label: str, marker: str) -> ui.select:
        return (
            ui.select(options, value=ALL, label=label, on_change=self._on_filter)
            .props("outlined behavior=menu")
            .classes("min-w-[12rem] text-base")
            .mark(marker)
        )

    # ------------------------------------------------------------------ events

    async def _on_change(self, e: events.ValueChangeEventArguments[str | None]) -> None:
        self.query = str(e.value or "")
        self.offset = 0
        await self.refresh()

    async def _on_enter(self, e: events.GenericEventArguments) -> None:
        if isinstance(e.args, str):
            self.query = e.args
        else:  # no text sent along (tests, old clients): take the box as the server knows it
            self.query = str(self.search.value or "")
        self.offset = 0
        await self.refresh(open_single=True)

    async def _on_filter(self) -> None:
        self.offset = 0
        await self.refresh()

    async def _page(self, step: int) -> None:
        offset = self.offset + step * PAGE_SIZE
        if 0 <= offset < max(self.total, 1):
            self.offset = offset
            await self.refresh()

    async def _on_row_click(self, e: events.GenericEventArguments) -> None:
        sku_id = e.args if isinstance(e.args, str) else None
        if sku_id:
            await self.open_detail(sku_id)

    # ------------------------------------------------------------------ search

    def params(self) -> SearchParams:
        return SearchParams(
            query=self.query.strip(),
            game=self.game.value or None,
            condition=self.condition.value or None,
            finish=self.finish.value or None,
            in_stock=bool(self.in_stock.value),
            offset=self.offset,
        )

    async def refresh(self, *, open_single: bool = False) -> None:
        """Run the search for the current box and filters and show the page of results.

        Answers can come back out of order (a slow broad query, then a quick exact one);
        only the newest request may fill the table.
        """
        params = self.params()
        if params == self._last and not open_single:
            return
        self._last = params
        self._seq += 1
        seq = self._seq
        inventory = get_services().inventory
        try:
            page = await off_loop(
                inventory.search,
                params.query,
                game=params.game,
                condition=params.condition,
                finish=params.finish,
                in_stock=params.in_stock,
                limit=PAGE_SIZE,
                offset=params.offset,
            )
        except Exception as exc:
            if seq == self._seq:
                self._last = None  # the same input must be retried, not treated as answered
                self._show_error(error_text(exc))
            return
        if seq != self._seq:
            return
        self._show(page)
        if open_single and page.total == 1:
            await self.open_detail(page.rows[0].sku_id)

    def _show(self, page: SearchPage) -> None:
        self.error.set_visibility(False)
        self.total = page.total
        self.table.rows = [table_row(row, self.symbol) for row in page.rows]
        if page.total == 0:
            self.count.set_text("No matching items")
        else:
            first, last = self.offset + 1, self.offset + len(page.rows)
            noun = "item" if page.total == 1 else "items"
            self.count.set_text(f"Showing {first}\u2013{last} of {page.total:,} {noun}")
        self.prev.set_enabled(self.offset > 0)
        self.next.set_enabled(self.offset + PAGE_SIZE < page.total)

    def _show_error(self, message: str) -> None:
        self.error.set_text(message)
        self.error.set_visibility(True)
        self.total = 0
        self.table.rows = []
        self.count.set_text("")
        self.prev.set_enabled(False)
        self.next.set_enabled(False)

    # ------------------------------------------------------------------ detail

    async def open_detail(self, sku_id: str) -> None:
        try:
            detail = await off_loop(get_services().inventory.detail, sku_id, viewer=self.user.role)
        except Exception as exc:
            ui.notify(error_text(exc), type="negative")
            return
        self._detail_id = sku_id
        self.detail_card.clear()
        with self.detail_card:
            self._detail(detail)
        self.dialog.open()

    def _detail(self, d: SkuDetail) -> None:
        row = d.row
        with ui.row().classes("w-full items-start bg-primary text-white p-5 no-wrap").mark("detail"):
            with ui.column().classes("gap-1 grow"):
                ui.label(row.name).classes("text-2xl font-semibold").mark("detail-name")
                where = " · ".join(
                    part
                    for part in (
                        row.game,
                        f"{row.set_name} ({row.set_code})" if row.set_name and row.set_code else row.set_code,
                        f"#{row.collector_number}" if row.collector_number else None,
                        d.rarity,
                    )
                    if part
                )
                ui.label(where).classes("text-blue-100")
            ui.button(icon="close", on_click=self.dialog.close).props("flat round color=white size=lg").mark(
                "detail-close"
            )
        with ui.column().classes("w-full p-5 gap-5"):
            with ui.row().classes("w-full gap-8 items-end"):
                with ui.column().classes("gap-0"):
                    ui.label("Shelf price").classes("text-sm text-slate-500")
                    ui.label(format_cents(row.shelf_price_cents, self.symbol)).classes(
                        "text-4xl font-bold text-primary"
                    ).mark("detail-price")
                with ui.column().classes("gap-0"):
                    ui.label("Market price").classes("text-sm text-slate-500")
                    market = (
                        format_cents(row.market_price_cents, self.symbol) if row.market_price_cents else DASH
                    )
                    ui.label(market).classes("text-xl")
                    source = ", ".join(p for p in (d.price_source, as_of(d.price_as_of)) if p)
                    if source:
                        ui.label(source).classes("text-xs text-slate-500")
            facts: list[tuple[str, str]] = [
                ("SKU", row.sku_code),
                ("Kind", d.kind.replace("_", " ").capitalize()),
                ("Condition", condition_text(row.condition)),
                ("Finish", row.finish.capitalize()),
                ("Language", row.language),
                ("Grade", grade_text(row)),
                ("Cert number", d.cert_number or DASH),
                ("Barcode", row.barcode or DASH),
            ]
            if self.user.role.at_least(Role.MANAGER):  # what the shop paid is not for the counter
                cost = (
                    format_cents(d.cost_basis_cents, self.symbol) if d.cost_basis_cents is not None else DASH
                )
                facts.append(("Cost basis", cost))
            with ui.element("div").classes("grid grid-cols-2 md:grid-cols-3 gap-x-6 gap-y-3 w-full"):
                for label, value in facts:
                    with ui.column().classes("gap-0"):
                        ui.label(label).classes("text-xs uppercase tracking-wide text-slate-500")
                        ui.label(value).classes("text-base font-medium break-all").mark(f"fact:{label}")
            ui.separator()
            with ui.row().classes("w-full items-center justify-between"):
                ui.label("Where it is").classes("text-lg font-semibold")
                ui.label(f"{row.on_hand} on hand").classes("text-lg font-semibold text-primary").mark(
                    "detail-on-hand"
                )
            if not d.stock:
                ui.label("Not in stock at any location.").classes("text-slate-500").mark("detail-no-stock")
            with ui.list().props("bordered separator").classes("w-full rounded-lg"):
                for place in d.stock:
                    with ui.item().classes("min-h-[52px]").mark("stock-at"):
                        with ui.item_section().props("avatar"):
                            ui.icon("place", color="primary")
                        with ui.item_section():
                            ui.item_label(place.path).classes("text-base").mark("stock-path")
                        with ui.item_section().props("side"):
                            ui.badge(
                                str(place.on_hand), color="positive" if place.on_hand > 0 else "negative"
                            ).classes("text-base px-3")
            if self.actor is not None:
                self._actions(d)

    def _actions(self, d: SkuDetail) -> None:
        """The manager's buttons under an item's detail."""
        actor = self.actor
        assert actor is not None

        async def run(action: Callable[[UserView, SkuDetail], Awaitable[bool]]) -> None:
            if await action(actor, d):
                ui.notify("Saved", type="positive")
                await self.reload()
                await self.open_detail(d.row.sku_id)

        ui.separator()
        with ui.row().classes("w-full gap-2").mark("detail-actions"):
            for text, icon, action, marker in (
                ("Edit", "edit", tools.edit_sku, "action-edit"),
                ("Move", "swap_horiz", tools.transfer, "action-transfer"),
                ("Write off", "delete_sweep", tools.write_off, "action-write-off"),
                ("Reorder point", "production_quantity_limits", tools.reorder_point, "action-reorder"),
            ):
                ui.button(text, icon=icon, on_click=lambda a=action: run(a)).props("outline no-caps").mark(
                    marker
                )
            ui.button("Labels", icon="label", on_click=lambda: tools.labels(actor, [d.row.sku_id])).props(
                "outline no-caps"
            ).mark("action-labels")
            ui.button("Stock history", icon="history", on_click=lambda: tools.history(d, self.symbol)).props(
                "outline no-caps"
            ).mark("action-history")
            ui.link("Price history", PRICE_HISTORY_PATH.format(sku_id=d.row.sku_id)).classes(
                "self-center text-primary font-medium"
            ).mark("action-price-history")


def as_of(iso: str | None) -> str | None:
    """ "2024-05-01T13:45:10+00:00" -> "as of 2024-05-01 13:45" (UTC as stored)."""
    if not iso:
        return None
    return f"as of {iso[:16].replace('T', ' ')}"


def register() -> None:
    """Add the ``/inventory`` page."""

    @app_page(INVENTORY_PATH, title="Inventory", min_role=Role.CASHIER)
    async def inventory(user: SessionUser) -> None:
        services = get_services()
        games = await off_loop(services.inventory.games)
        symbol = str(await off_loop(services.shop.get, "shop.currency_symbol") or "$")
        actor = await off_loop(services.auth.get, user.id) if user.role.at_least(Role.MANAGER) else None
        browser = InventoryBrowser(user, games, symbol, actor)
        await browser.refresh()
