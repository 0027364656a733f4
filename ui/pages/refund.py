"""``/refund``: returns against a receipt, voids of a whole sale, and returns without a receipt.

The customer hands over the receipt; its barcode IS the receipt number, so the scan box
here works exactly like the register's (Enter looks it up at once). Without the paper,
the sale is found through the customer's recent sales. The cashier picks how many of each
line come back and whether they go back on the shelf or are damaged, and where the money
goes (the original payment, or store credit). The amount is the service's exact share of
what was paid — never more — and anything above the shop's threshold, every void and
every return without a receipt goes through the manager-PIN prompt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import events, ui

from ui import hardware
from ui.components import (
    Cancelled,
    ask_text,
    banner,
    big_button,
    confirm,
    dialog_card,
    receipt_block,
    run_dialog,
    show_banner,
    with_approval,
)
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.nav import REFUND_PATH
from ui.pages.register import SCAN_ENTER_JS, pick_customer
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ValidationError
from vaultsync.domain.money import MoneyError, format_cents, parse_cents
from vaultsync.services.auth import UserView
from vaultsync.services.refunds import (
    TO_CASH,
    TO_ORIGINAL,
    TO_STORE_CREDIT,
    NoReceiptItem,
    Refundable,
    RefundResult,
    ReturnLine,
)
from vaultsync.services.stations import StationView

log = logging.getLogger(__name__)

TENDER_LABELS = {"cash": "Cash", "card": "Card", "store_credit": "Store credit", "gift_card": "Gift card"}


class RefundPage:
    def __init__(self, actor: UserView, station: StationView, symbol: str) -> None:
        self.actor = actor
        self.station = station
        self.symbol = symbol
        self.sale: Refundable | None = None
        self.qty: dict[str, int] = {}
        self.restock: dict[str, bool] = {}
        self.to = TO_ORIGINAL
        self.request_id: str | None = None
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("assignment_return", color="primary").classes("text-4xl")
            ui.label("Refund").classes("text-3xl font-semibold")
        with (
            ui.card().classes("w-full p-3 gap-3 rounded-2xl"),
            ui.row().classes("w-full items-center gap-2 no-wrap"),
        ):
            self.scan = (
                ui.input(placeholder="Scan the receipt barcode or type the receipt number")
                .props("outlined autofocus input-class='text-2xl' autocomplete=off")
                .classes("grow text-2xl vs-scan")
                .mark("receipt-scan")
            )
            with self.scan.add_slot("prepend"):
                ui.icon("receipt_long", color="primary").classes("text-3xl")
            self.scan.on("keydown.enter", self._on_scan, js_handler=SCAN_ENTER_JS)
            big_button("Find", self._on_find, icon="search", marker="receipt-find")
            big_button(
                "By customer", self._on_customer, icon="person_search", outline=True, marker="by-customer"
            )
            big_button(
                "No receipt",
                self._on_no_receipt,
                icon="help_center",
                color="warning",
                outline=True,
                marker="no-receipt",
            )
        self.banner = banner("refund-message")
        self.body = ui.column().classes("w-full gap-3")

    def money(self, cents: int) -> str:
        return format_cents(cents, self.symbol)

    async def act(self, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await work()
        except Cancelled:
            pass
        except Exception as exc:
            show_banner(self.banner, error_text(exc))
        finally:
            self.scan.run_method("focus")

    # ------------------------------------------------------------------ finding the sale

    async def _on_scan(self, e: events.GenericEventArguments) -> None:
        if isinstance(e.args, str):
            number = e.args
        else:
            number = str(self.scan.value or "")
            self.scan.value = ""
        await self.load(number)

    async def _on_find(self) -> None:
        number = str(self.scan.value or "")
        self.scan.value = ""
        await self.load(number)

    async def load(self, number: str) -> None:
        number = number.strip()
        if not number:
            return

        async def work() -> None:
            sale = await off_loop(get_services().refunds.lookup, number)
            self.show_sale(sale)
            show_banner(self.banner, None)

        await self.act(work)

    def show_sale(self, sale: Refundable) -> None:
        self.sale = sale
        self.qty = {li.line_id: 0 for li in sale.lines}
        self.restock = {li.line_id: True for li in sale.lines}
        self.to = TO_ORIGINAL
        self.request_id = None
        self.render_sale()

    async def _on_customer(self) -> None:
        async def work() -> None:
            customer_id = await pick_customer(self.actor, self.symbol)
            if customer_id is None:
                raise Cancelled
            sales: list[Refundable] = await off_loop(
                get_services().refunds.sales_of_customer, customer_id, 20
            )
            if not sales:
                raise ValidationError("this customer has no sales on record")
            dialog, body = dialog_card("Recent sales", icon="receipt_long", width="max-w-xl")
            with body:
                for i, s in enumerate(sales):
                    left = sum(li.remaining for li in s.lines)
                    with (
                        ui.button(on_click=lambda n=s.number: dialog.submit(n))
                        .props("unelevated no-caps color=white text-color=primary align=left")
                        .classes("w-full min-h-[60px] rounded-xl border border-slate-200")
                        .mark(f"customer-sale-{i}"),
                        ui.row().classes("w-full items-center no-wrap gap-3"),
                    ):
                        ui.label(s.number).classes("text-lg font-semibold font-mono")
                        ui.label(s.at.astimezone().strftime("%d %b %Y %H:%M")).classes("grow text-slate-600")
                        ui.label(f"{left} returnable").classes("text-sm text-slate-500")
                        ui.label(self.money(s.total_cents)).classes("text-lg tabular-nums")
            number = await run_dialog(dialog)
            if not number:
                raise Cancelled
            await self.load(str(number))

        await self.act(work)

    # ------------------------------------------------------------------ the sale

    def render_sale(self) -> None:
        sale = self.sale
        self.body.clear()
        if sale is None:
            return
        with self.body, ui.card().classes("w-full p-0 rounded-2xl gap-0").mark("refund-sale"):
            with ui.row().classes("w-full items-center bg-slate-50 px-4 py-3 gap-4"):
                ui.label(f"Receipt {sale.number}").classes("text-2xl font-semibold font-mono").mark(
                    "refund-number"
                )
                ui.label(sale.at.astimezone().strftime("%a %d %b %Y, %H:%M")).classes("text-slate-600 grow")
                ui.label(f"Paid {self.money(sale.total_cents)}").classes("text-lg tabular-nums")
                if sale.refunded_cents:
                    ui.label(f"Already refunded {self.money(-abs(sale.refunded_cents))}").classes(
                        "text-lg text-negative tabular-nums"
                    ).mark("already-refunded")
            for i, li in enumerate(sale.lines):
                self._line(i, li)
            with ui.row().classes("w-full items-center px-4 py-3 gap-3 border-t border-slate-200"):
                ui.label("Refund to").classes("text-lg font-semibold")
                options = {TO_ORIGINAL: "Original payment"}
                if sale.customer_id:
                    options[TO_STORE_CREDIT] = "Store credit"
                toggle = ui.toggle(options, value=self.to, on_change=lambda e: setattr(self, "to", e.value))
                toggle.props("no-caps size=lg toggle-color=primary").classes("text-lg").mark("refund-to")
                paid_by = ", ".join(
                    f"{TENDER_LABELS.get(t.tender, t.tender)} {self.money(t.kept_cents)}"
                    for t in sale.tenders
                )
                ui.label(f"Paid by {paid_by}" if paid_by else "").classes("text-slate-600 grow")
            with ui.row().classes("w-full px-4 pb-4 gap-2"):
                count = sum(self.qty.values())
                big_button(
                    f"Refund {count} item{'s' if count != 1 else ''}",
                    self._on_refund,
                    icon="assignment_return",
                    color="primary",
                    marker="refund-submit",
                ).classes("text-xl").set_enabled(count > 0)
                big_button("All remaining", self._all, icon="select_all", outline=True, marker="refund-all")
                ui.space()
                big_button(
                    "Void whole sale",
                    self._on_void,
                    icon="block",
                    color="negative",
                    outline=True,
                    marker="void-sale",
                ).set_enabled(not sale.refunded_cents)

    def _line(self, i: int, li: Any) -> None:
        remaining = li.remaining
        with (
            ui.row()
            .classes("w-full items-center px-4 py-2 border-t border-slate-100 gap-3 no-wrap")
            .mark("refund-line")
        ):
            with ui.column().classes("grow gap-0 min-w-0"):
                ui.label(li.description).classes("text-lg font-semibold").mark("refund-line-desc")
                ui.label(
                    f"Sold {li.sold_quantity} · returned {li.refunded_quantity}"
                    f" · paid {self.money(li.total_cents)}"
                ).classes("text-sm text-slate-500").mark("refund-line-facts")
            if remaining <= 0:
                ui.badge("Fully returned", color="grey-6").classes("text-base px-3 py-1")
                return
            qty = self.qty[li.line_id]
            minus = ui.button(icon="remove", on_click=lambda lid=li.line_id: self._set_qty(lid, -1))
            minus.props("unelevated round color=grey-3 text-color=primary size=lg").mark(f"refund-{i}-minus")
            ui.label(f"{qty} / {remaining}").classes("text-2xl font-bold w-20 text-center tabular-nums").mark(
                f"refund-{i}-qty"
            )
            plus = ui.button(icon="add", on_click=lambda lid=li.line_id: self._set_qty(lid, 1))
            plus.props("unelevated round color=grey-3 text-color=primary size=lg").mark(f"refund-{i}-plus")
            if li.sku_id is not None:
                restock = self.restock[li.line_id]
                ui.toggle(
                    {True: "Restock", False: "Damaged"},
                    value=restock,
                    on_change=lambda e, lid=li.line_id: self.restock.__setitem__(lid, bool(e.value)),
                ).props("no-caps").mark(f"refund-{i}-restock")

    def _set_qty(self, line_id: str, step: int) -> None:
        sale = self.sale
        if sale is None:
            return
        line = next(li for li in sale.lines if li.line_id == line_id)
        self.qty[line_id] = max(0, min(line.remaining, self.qty[line_id] + step))
        self.request_id = None
        self.render_sale()

    def _all(self) -> None:
        if self.sale is None:
            return
        self.qty = {li.line_id: li.remaining for li in self.sale.lines}
        self.request_id = None
        self.render_sale()

    async def _on_refund(self) -> None:
        sale = self.sale
        if sale is None:
            return
        lines = [ReturnLine(lid, q, self.restock[lid]) for lid, q in self.qty.items() if q > 0]
        if not lines:
            return
        if self.request_id is None:
            self.request_id = uuid.uuid4().hex
        request_id, to = self.request_id, self.to
        refunds = get_services().refunds

        async def work() -> None:
            result = await with_approval(
                lambda pin: refunds.refund(
                    sale.number,
                    lines,
                    actor=self.actor,
                    station_id=self.station.id,
                    client_request_id=request_id,
                    to=to,
                    approval_pin=pin,
                )
            )
            await self.show_result(result, "Refund")

        await self.act(work)

    async def _on_void(self) -> None:
        sale = self.sale
        if sale is None:
            return
        refunds = get_services().refunds
        request_id = uuid.uuid4().hex

        async def work() -> None:
            sure = await confirm(
                f"Void sale {sale.number}?",
                f"The whole sale ({self.money(sale.total_cents)}) is reversed and every item goes "
                "back to stock. "
                "A manager must approve.",
                ok_label="Void sale",
                marker="void-sale",
            )
            if not sure:
                raise Cancelled
            reason = await ask_text(
                "Why is the sale voided?", "Reason", marker="void-reason", ok_label="Void"
            )
            if reason is None:
                raise Cancelled
            result = await with_approval(
                lambda pin: refunds.void_sale(
                    sale.number,
                    actor=self.actor,
                    station_id=self.station.id,
                    client_request_id=request_id,
                    approval_pin=pin,
                    reason=reason,
                )
            )
            await self.show_result(result, "Void")

        await self.act(work)

    # ------------------------------------------------------------------ no receipt

    async def _on_no_receipt(self) -> None:
        services = get_services()

        async def work() -> None:
            got = await no_receipt_dialog(self.symbol)
            if got is None:
                raise Cancelled
            code, qty, unit_cents, restock, to, reason = got
            page = await off_loop(services.inventory.search, code, limit=2)
            if page.total != 1:
                raise ValidationError(f"no single item matches {code!r}: scan the item's barcode or SKU code")
            sku_id = page.rows[0].sku_id
            customer_id: str | None = None
            if to == TO_STORE_CREDIT:
                customer_id = await pick_customer(self.actor, self.symbol)
                if customer_id is None:
                    raise Cancelled
            request_id = uuid.uuid4().hex
            refunds = services.refunds
            result = await with_approval(
                lambda pin: refunds.refund_without_receipt(
                    [NoReceiptItem(sku_id, qty, unit_cents, restock)],
                    actor=self.actor,
                    station_id=self.station.id,
                    client_request_id=request_id,
                    to=to,
                    customer_id=customer_id,
                    approval_pin=pin,
                    reason=reason,
                )
            )
            await self.show_result(result, "Return without receipt")

        await self.act(work)

    # ------------------------------------------------------------------ result

    async def show_result(self, result: RefundResult, what: str) -> None:
        services = get_services()
        self.sale = None
        self.request_id = None
        try:
            receipt = await off_loop(services.receipts.for_transaction, result.transaction_id)
            preview = await off_loop(hardware.receipt_preview, services, receipt)
        except Exception as exc:
            log.exception("could not build the refund receipt preview")
            receipt, preview = None, f"Receipt {result.number}\n({error_text(exc)})"
        # a cash refund's drawer was already opened by the refund service after it committed
        self.body.clear()
        with self.body, ui.card().classes("w-full p-5 rounded-2xl gap-4").mark("refund-done"):
            with ui.row().classes("w-full items-center gap-4"):
                ui.icon("check_circle", color="positive").classes("text-6xl")
                with ui.column().classes("gap-0 grow"):
                    ui.label(f"{what} {result.number} done").classes("text-2xl font-semibold").mark(
                        "refund-result"
                    )
                    given = ", ".join(
                        f"{TENDER_LABELS.get(t, t)} {self.money(amount)}" + (f" ({ref})" if ref else "")
                        for t, amount, ref in result.tenders
                    )
                    ui.label(f"Give back: {given}").classes("text-lg text-slate-700").mark("refund-given")
                with ui.column().classes("items-end gap-0"):
                    ui.label("Refunded").classes("text-base text-slate-600")
                    ui.label(self.money(result.refund_cents)).classes(
                        "text-5xl font-extrabold tabular-nums text-primary"
                    ).mark("refund-amount")
            with ui.row().classes("w-full gap-4 items-start"):
                receipt_block(preview).classes("grow max-h-[28rem] overflow-y-auto")
                if receipt is not None and hardware.can_print(services):
                    big_button(
                        "Print receipt",
                        lambda: self.act(
                            lambda: off_loop(hardware.reprint, services, self.station.id, receipt)
                        ),
                        icon="print",
                        outline=True,
                        marker="refund-print",
                    )
        show_banner(self.banner, f"{what} of {self.money(result.refund_cents)} recorded", kind="ok")


async def no_receipt_dialog(symbol: str) -> tuple[str, int, int, bool, str, str] | None:
    """What comes back without a receipt: item code, quantity, refund per unit, restock, where to, why."""
    dialog, body = dialog_card("Return without receipt", icon="help_center", width="max-w-lg")
    with body:
        ui.label("A manager approves every return without a receipt.").classes("text-slate-600")
        code = (
            ui.input("Item barcode or SKU code")
            .props("outlined input-class=text-lg")
            .classes("w-full")
            .mark("nr-code")
        )
        with ui.row().classes("w-full gap-2 no-wrap"):
            qty = (
                ui.number("Quantity", value=1, min=1, max=999, precision=0)
                .props("outlined")
                .classes("w-32")
                .mark("nr-qty")
            )
            amount = (
                ui.input(f"Refund per item ({symbol})")
                .props("outlined input-class=text-lg")
                .classes("grow")
                .mark("nr-amount")
            )
        restock = (
            ui.toggle({True: "Restock", False: "Damaged"}, value=True).props("no-caps").mark("nr-restock")
        )
        to = (
            ui.toggle({TO_STORE_CREDIT: "Store credit", TO_CASH: "Cash"}, value=TO_STORE_CREDIT)
            .props("no-caps")
            .mark("nr-to")
        )
        reason = ui.input("Reason").props("outlined").classes("w-full").mark("nr-reason")
        error = ui.label().classes("text-negative font-medium").mark("nr-error")

        def ok() -> None:
            try:
                cents = parse_cents(str(amount.value or ""))
            except MoneyError:
                error.set_text("Enter the refund per item, e.g. 12.50")
                return
            if not (code.value or "").strip() or not (reason.value or "").strip() or cents <= 0:
                error.set_text("Enter the item, a refund amount and a reason")
                return
            dialog.submit(
                (
                    str(code.value).strip(),
                    int(qty.value or 1),
                    cents,
                    bool(restock.value),
                    str(to.value),
                    str(reason.value),
                )
            )

        big_button("Continue", ok, icon="arrow_forward", marker="nr-ok", classes="w-full")
    result = await run_dialog(dialog)
    if not result:
        return None
    code_, qty_, cents_, restock_, to_, reason_ = result
    return str(code_), int(qty_), int(cents_), bool(restock_), str(to_), str(reason_)


def register() -> None:
    """Add the ``/refund`` page."""

    @app_page(REFUND_PATH, title="Refund", min_role=Role.CASHIER)
    async def refund_page(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        station = await off_loop(services.stations.local, services.config.station_role)
        symbol = str(await off_loop(services.shop.get, "shop.currency_symbol") or "$")
        RefundPage(actor, station, symbol)
