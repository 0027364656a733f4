"""``/inventory/receive``: a delivery from a distributor — scan items, quantity and unit cost.

Lines are collected on screen (scan or type a code, then quantity and unit cost) and written
in one go: every line's stock movement and the cost-basis update (weighted average) commit
together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nicegui import ui

from ui.components import big_button
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.pages.inventory_paths import RECEIVE_PATH
from ui.pages.inventory_tools import money_input, read_int, read_money
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.domain.money import format_cents
from vaultsync.services.auth import UserView
from vaultsync.services.stock_ops import ReceiveLine

COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Item", "field": "name", "align": "left"},
    {"name": "sku_code", "label": "SKU", "field": "sku_code", "align": "left"},
    {"name": "quantity", "label": "Qty", "field": "quantity", "align": "right"},
    {"name": "unit", "label": "Unit cost", "field": "unit", "align": "right"},
    {"name": "total", "label": "Line total", "field": "total", "align": "right"},
]


@dataclass
class PendingLine:
    sku_id: str
    sku_code: str
    name: str
    quantity: int
    unit_cost_cents: int


class ReceiveScreen:
    def __init__(self, actor: UserView, locations: dict[str, str], symbol: str) -> None:
        self.actor = actor
        self.symbol = symbol
        self.lines: list[PendingLine] = []
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("local_shipping", color="primary").classes("text-4xl")
            ui.label("Receive stock").classes("text-3xl font-semibold")
        with ui.card().classes("w-full p-4 gap-3 rounded-2xl"):
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.location = (
                    ui.select(locations, value=next(iter(locations), None), label="Into", with_input=True)
                    .props("outlined")
                    .classes("grow")
                    .mark("receive-location")
                )
                self.supplier = ui.input("Supplier").props("outlined").mark("receive-supplier")
                self.reference = ui.input("Invoice / reference").props("outlined").mark("receive-reference")
            with ui.row().classes("w-full gap-3 items-center no-wrap"):
                self.code = (
                    ui.input(placeholder="Scan or type a barcode or SKU code")
                    .props("outlined autofocus clearable")
                    .classes("grow")
                    .mark("receive-code")
                )
                self.qty = (
                    ui.number("Qty", value=1, min=1, precision=0)
                    .props("outlined")
                    .classes("w-28")
                    .mark("receive-qty")
                )
                self.cost = money_input("Unit cost", None, "receive-cost")
                self.cost.classes(remove="w-full").classes("w-40")
                big_button("Add line", self._add, icon="add", marker="receive-add")
            self.code.on("keydown.enter", self._add)
        self.error = ui.label().classes("text-negative font-medium text-lg").mark("receive-error")
        self.done = ui.label().classes("text-positive font-medium text-lg").mark("receive-done")
        self.table = (
            ui.table(columns=COLUMNS, rows=[], row_key="i")
            .props('flat bordered no-data-label="Scan the first item of the delivery"')
            .classes("w-full")
            .mark("receive-lines")
        )
        with ui.row().classes("w-full items-center gap-3"):
            self.total = ui.label().classes("text-xl font-semibold").mark("receive-total")
            ui.space()
            big_button(
                "Clear", self._clear, icon="clear_all", color="grey-7", outline=True, marker="receive-clear"
            )
            big_button("Receive", self._submit, icon="done_all", color="positive", marker="receive-submit")
        self._show()

    def _show(self) -> None:
        self.table.rows = [
            {
                "i": i,
                "name": li.name,
                "sku_code": li.sku_code,
                "quantity": li.quantity,
                "unit": format_cents(li.unit_cost_cents, self.symbol),
                "total": format_cents(li.unit_cost_cents * li.quantity, self.symbol),
            }
            for i, li in enumerate(self.lines)
        ]
        total = sum(li.quantity * li.unit_cost_cents for li in self.lines)
        units = sum(li.quantity for li in self.lines)
        self.total.set_text(f"{units} units · {format_cents(total, self.symbol)}")

    async def _add(self) -> None:
        self.error.set_text("")
        self.done.set_text("")
        code = str(self.code.value or "").strip()
        try:
            if not code:
                raise ValueError("Scan or type the item's code")
            qty = read_int(self.qty, "quantity")
            cost = read_money(self.cost, "unit cost")
            assert cost is not None
            services = get_services()
            sku_id = await off_loop(services.catalog.find, code)
            hit = (await off_loop(services.inventory.detail, sku_id)).row
        except ValueError as exc:
            self.error.set_text(str(exc)[:1].upper() + str(exc)[1:])
            return
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        self.lines.append(PendingLine(hit.sku_id, hit.sku_code, hit.name, qty, cost))
        self.code.set_value("")
        self._show()

    def _clear(self) -> None:
        self.lines.clear()
        self._show()

    async def _submit(self) -> None:
        self.error.set_text("")
        if not self.lines:
            self.error.set_text("Add the delivery's items first")
            return
        if not self.location.value:
            self.error.set_text("Choose where the delivery goes")
            return
        try:
            result = await off_loop(
                get_services().stock.receive,
                [ReceiveLine(li.sku_id, li.quantity, li.unit_cost_cents) for li in self.lines],
                str(self.location.value),
                actor=self.actor,
                supplier=str(self.supplier.value or ""),
                reference=str(self.reference.value or ""),
            )
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        units = sum(li.quantity for li in result.lines)
        cost = format_cents(result.total_cost_cents, self.symbol)
        self.done.set_text(f"Received {units} units in {len(result.lines)} lines, {cost}")
        self.lines.clear()
        self._show()


def register() -> None:
    @app_page(RECEIVE_PATH, title="Receive stock", min_role=Role.MANAGER)
    async def receive(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        locations = {loc.id: loc.path for loc in await off_loop(services.catalog.locations)}
        symbol = str(await off_loop(services.shop.get, "shop.currency_symbol") or "$")
        ReceiveScreen(actor, locations, symbol)
