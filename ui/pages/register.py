"""``/register``: the cashier's screen — scan, take payment, hand over the receipt.

Built for a busy Friday night at the counter: a touch screen, a keyboard-wedge scanner
and no mouse. The scan box always has the focus (it takes it back after every tap and
every dialog), Enter adds the scanned code at once (the box's own text travels with the
Enter, so a scanner is never outrun by a debounce), and anything that goes wrong —
unknown barcode, out of stock, a slab already sold, a receipt scanned here instead of on
Refund — is said in a banner above the cart, in words, never as a stack trace. What has
no barcode to scan is found with Search (F6): type part of its name, set or number and tap
the item; it is added exactly as a scan would add it.

Payment collects tenders on screen until they cover the total (split payments show what
is still due) and then completes the sale with one ``client_request_id`` made once per
sale attempt: a double tap, or a retry after a hiccup, returns the sale already made
instead of selling twice. Every manager override goes through the same PIN prompt
(:func:`ui.components.with_approval`).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import app, events, ui

from ui import hardware
from ui.components import (
    Cancelled,
    Keypad,
    ask_amount,
    ask_count,
    ask_text,
    banner,
    big_button,
    confirm,
    dialog_card,
    money_row,
    receipt_block,
    run_dialog,
    show_banner,
    with_approval,
)
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text, friendly
from ui.nav import REFUND_PATH, REGISTER_PATH, SHIFT_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Role, Tender
from vaultsync.domain.errors import NotFoundError, VaultSyncError
from vaultsync.domain.money import format_cents
from vaultsync.domain.receipt import Receipt
from vaultsync.services.auth import UserView
from vaultsync.services.checkout import CartView, HeldCart, LineView, SaleResult, TenderInput
from vaultsync.services.container import Services
from vaultsync.services.customers import CustomerHit
from vaultsync.services.inventory import SearchPage, SkuRow
from vaultsync.services.stations import StationView

log = logging.getLogger(__name__)

#: the open cart of this browser, so a reload (or a crashed tab) picks the sale up again
CART_KEY = "register_cart"
#: next round amounts offered as cash quick keys
CASH_STEPS = (500, 1000, 2000, 5000, 10000)
PERCENTS = (5, 10, 15, 20, 25, 50)
#: items shown by the register's Search; more words narrow it down
SEARCH_LIMIT = 20
TENDER_LABELS = {
    Tender.CASH: "Cash",
    Tender.CARD: "Card",
    Tender.STORE_CREDIT: "Store credit",
    Tender.GIFT_CARD: "Gift card",
}
#: the scanner's Enter carries the box's text and empties the box at once on the client,
#: so the next scan can start typing while the server is still adding this one
SCAN_ENTER_JS = (
    "(e) => { const v = e.target.value; e.target.value = ''; "
    "e.target.dispatchEvent(new Event('input')); emit(v); }"
)
#: F-keys pressed while the scan box has focus (it always has): only those reach the server
FKEY_JS = "(e) => { if (/^F([1-9]|1[0-2])$/.test(e.key)) { e.preventDefault(); emit(e.key); } }"
#: any tap on something that is not a text field gives the focus back to the scan box
REFOCUS_JS = """
<script>
document.addEventListener('click', () => setTimeout(() => {
  if (document.querySelector('.q-dialog')) return;
  const a = document.activeElement;
  if (a && (a.tagName === 'INPUT' || a.tagName === 'TEXTAREA')) return;
  const box = document.querySelector('.vs-scan input');
  if (box) box.focus();
}, 60));
</script>
"""
CSS = """
.vs-line:active { background: #eef2ff; }
.vs-tender .q-btn__content { flex-direction: column; }
"""


@dataclass(frozen=True)
class QuickKey:
    """A one-tap item from the ``pos.quick_keys`` setting (a SKU code, or a custom line)."""

    label: str
    sku_code: str | None = None
    description: str | None = None
    price_cents: int | None = None
    reason: str | None = None
    ask_quantity: bool = False

    @classmethod
    def parse(cls, raw: Any) -> QuickKey | None:
        """Tolerate a hand-edited setting: a malformed key is skipped (and logged), not a broken page."""
        if not isinstance(raw, dict) or not str(raw.get("label") or "").strip():
            return None
        label = str(raw["label"]).strip()[:40]
        ask = bool(raw.get("ask_quantity"))
        if raw.get("sku_code"):
            return cls(label, sku_code=str(raw["sku_code"]), ask_quantity=ask)
        price = raw.get("price_cents")
        if isinstance(price, int) and not isinstance(price, bool) and price >= 0 and raw.get("description"):
            reason = str(raw.get("reason") or "quick key")
            return cls(
                label, description=str(raw["description"]), price_cents=price, reason=reason, ask_quantity=ask
            )
        log.warning("ignoring malformed quick key %r", raw)
        return None


def quick_keys(setting: Any) -> list[QuickKey]:
    keys = [QuickKey.parse(raw) for raw in setting] if isinstance(setting, list) else []
    return [k for k in keys if k is not None]


def cash_quick_amounts(due: int) -> list[int]:
    """Exact, then the next round notes above what is due ($5, $10, $20, $50, $100), without repeats."""
    out = [due]
    for step in CASH_STEPS:
        amount = math.ceil(due / step) * step
        if amount == due:
            amount += step
        if amount not in out:
            out.append(amount)
    return sorted(out)[:6]


def sku_facts(row: SkuRow) -> str:
    """Set/number, then grade or condition · finish (as a cart line says it): ``DMU 107 · NM · Foil``."""
    where = " ".join(p for p in (row.set_code, row.collector_number) if p)
    if row.grader:
        kind = [" ".join(p for p in (row.grader, row.grade) if p)]
    else:
        kind = [p for p in (row.condition, None if row.finish == "normal" else row.finish.capitalize()) if p]
        if row.language and row.language != "EN":
            kind.append(row.language)
    return " · ".join(p for p in (where, *kind) if p)


@dataclass(frozen=True)
class LastSale:
    result: SaleResult
    receipt: Receipt | None
    preview: str


class Register:
    """The register of one browser: its cart, its tenders, and the screen around them."""

    def __init__(
        self, user: SessionUser, actor: UserView, station: StationView, symbol: str, keys: list[QuickKey]
    ):
        self.user = user
        self.actor = actor
        self.station = station
        self.symbol = symbol
        self.keys = keys
        self.cart: CartView | None = None
        self.tenders: list[TenderInput] = []
        self.request_id: str | None = None
        self.last_sale: LastSale | None = None
        self.busy = False
        self.customer_balance: int | None = None
        self._build()

    # ------------------------------------------------------------------ helpers

    @property
    def services(self) -> Services:
        return get_services()

    def money(self, cents: int) -> str:
        return format_cents(cents, self.symbol)

    @property
    def paid(self) -> int:
        return sum(t.amount_cents for t in self.tenders)

    @property
    def due(self) -> int:
        total = self.cart.total_cents if self.cart else 0
        return max(total - self.paid, 0)

    def focus(self) -> None:
        self.scan.run_method("focus")

    async def act(self, work: Callable[[], Awaitable[Any]]) -> bool:
        """Run one cashier action; errors go to the banner and the focus back to the scan box.

        A dismissed prompt (:class:`Cancelled`) is not an error: the action just does not happen.
        """
        try:
            await work()
            return True
        except Cancelled:
            return False
        except Exception as exc:
            self.error(error_text(exc))
            return False
        finally:
            self.focus()

    def error(self, text: str) -> None:
        show_banner(self.banner, text, kind="error")

    def info(self, text: str, kind: str = "ok") -> None:
        show_banner(self.banner, text, kind=kind)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        ui.add_css(CSS)
        ui.add_body_html(REFOCUS_JS)
        with (
            ui.element("div")
            .classes("grid grid-cols-1 lg:grid-cols-[minmax(0,1fr)_25rem] gap-3 w-full")
            .mark("register")
        ):
            with ui.column().classes("gap-3 min-w-0"):
                with ui.card().classes("w-full p-3 gap-3 rounded-2xl"):
                    with ui.row().classes("w-full items-center gap-2 no-wrap"):
                        self.scan = (
                            ui.input(placeholder="Scan or type a barcode, SKU or cert number — Enter adds it")
                            .props("outlined autofocus input-class='text-2xl' autocomplete=off")
                            .classes("grow vs-scan text-2xl")
                            .mark("scan")
                        )
                        with self.scan.add_slot("prepend"):
                            ui.icon("qr_code_scanner", color="primary").classes("text-3xl")
                        self.scan.on("keydown.enter", self._on_scan, js_handler=SCAN_ENTER_JS)
                        self.scan.on("keydown", self._on_fkey, js_handler=FKEY_JS)
                        big_button("Add", self._on_add_button, icon="add", marker="scan-add")
                        big_button("Search", self._on_search, icon="search", marker="search-open")
                    if self.keys:
                        with ui.row().classes("w-full gap-2"):
                            for i, key in enumerate(self.keys):
                                big_button(
                                    key.label,
                                    lambda k=key: self._on_quick_key(k),
                                    icon="bolt",
                                    color="secondary",
                                    marker=f"quick-key-{i}",
                                )
                self.banner = banner("register-message")
                self.cart_box = ui.column().classes("w-full gap-2")
            with ui.column().classes("gap-3 w-full"):
                self.side = ui.column().classes("w-full gap-3")

    # ------------------------------------------------------------------ state

    async def start(self) -> None:
        """Pick up this browser's open sale if it is still there, else start a new one."""
        cart_id = app.storage.user.get(CART_KEY)
        checkout = self.services.checkout
        if isinstance(cart_id, str):
            try:
                self.cart = await off_loop(checkout.view, cart_id)
            except NotFoundError:
                self.cart = None
        if self.cart is None:
            await self.new_cart()
        await self._load_customer_balance()
        self.render()

    async def new_cart(self) -> None:
        cart = await off_loop(self.services.checkout.new_cart, actor=self.actor, station_id=self.station.id)
        self.cart = cart
        app.storage.user[CART_KEY] = cart.id
        self.tenders = []
        self.request_id = None
        self.customer_balance = None

    def set_cart(self, cart: CartView) -> None:
        """A new cart state from the service; payments taken so far no longer match it."""
        if self.cart is not None and (cart.total_cents != self.cart.total_cents or cart.id != self.cart.id):
            self.tenders = []
            self.request_id = None
        self.cart = cart
        app.storage.user[CART_KEY] = cart.id

    async def _load_customer_balance(self) -> None:
        if self.cart is None or self.cart.customer_id is None:
            self.customer_balance = None
            return
        try:
            self.customer_balance = await off_loop(self.services.customers.balance, self.cart.customer_id)
        except VaultSyncError:
            self.customer_balance = None

    # ------------------------------------------------------------------ rendering

    def render(self) -> None:
        self._render_cart()
        self._render_side()

    def _render_cart(self) -> None:
        self.cart_box.clear()
        cart = self.cart
        with self.cart_box:
            if cart is not None and cart.lines:
                with ui.card().classes("w-full p-0 rounded-2xl gap-0").mark("cart"):
                    with ui.row().classes("w-full px-4 py-2 bg-slate-50 text-slate-600 text-sm no-wrap"):
                        ui.label(f"{cart.item_count} item{'s' if cart.item_count != 1 else ''}").classes(
                            "grow"
                        ).mark("item-count")
                        ui.label("Tap a line for a discount or a price change")
                    for i, line in enumerate(cart.lines):
                        self._line(i, line)
            elif self.last_sale is not None:
                self._render_last_sale(self.last_sale)
            else:
                with (
                    ui.card()
                    .classes("w-full p-10 rounded-2xl items-center text-center gap-2")
                    .mark("cart-empty")
                ):
                    ui.icon("qr_code_scanner", color="grey-5").classes("text-7xl")
                    ui.label("Scan an item to start a sale").classes("text-2xl text-slate-500")

    def _line(self, i: int, line: LineView) -> None:
        with (
            ui.row()
            .classes("w-full items-center px-3 py-2 border-t border-slate-100 gap-3 no-wrap vs-line")
            .mark("cart-line")
        ):
            with (
                ui.column()
                .classes("grow basis-0 gap-0 cursor-pointer min-w-0")
                .on("click", lambda ln=line: self._on_line(ln))
                .mark(f"line-{i}-open")
            ):
                ui.label(line.description).classes("text-lg font-semibold leading-tight").mark("line-desc")
                facts = [f for f in (line.detail, line.price_reason) if f]
                if facts:
                    ui.label(" · ".join(facts)).classes("text-sm text-slate-500").mark("line-detail")
                price = self.money(line.unit_price_cents)
                if line.unit_price_cents != line.list_price_cents:
                    price += f" (was {self.money(line.list_price_cents)})"
                ui.label(f"{price} each").classes("text-sm text-slate-600").mark("line-price")
                if line.discount_cents:
                    ui.label(f"Discount −{self.money(line.discount_cents)}").classes(
                        "text-sm font-medium text-positive"
                    ).mark("line-discount")
                if line.price_warning:  # the market spiked above the shelf price (pricing)
                    with ui.row().classes("items-center gap-1 no-wrap text-warning"):
                        ui.icon("trending_up").classes("text-lg")
                        ui.label(line.price_warning).classes("text-sm font-medium").mark("line-price-warning")
            with ui.row().classes("items-center gap-1 no-wrap"):
                minus = ui.button(icon="remove", on_click=lambda ln=line: self._on_qty(ln, ln.quantity - 1))
                minus.props("unelevated round color=grey-3 text-color=primary size=lg").mark(
                    f"line-{i}-minus"
                )
                minus.set_enabled(line.quantity > 1)
                ui.label(str(line.quantity)).classes("text-2xl font-bold w-12 text-center tabular-nums").mark(
                    f"line-{i}-qty"
                )
                plus = ui.button(icon="add", on_click=lambda ln=line: self._on_qty(ln, ln.quantity + 1))
                plus.props("unelevated round color=grey-3 text-color=primary size=lg").mark(f"line-{i}-plus")
                plus.set_enabled(not line.serialized)
            ui.label(self.money(line.total_cents - (line.tax_cents if not self._inclusive() else 0))).classes(
                "text-xl font-bold tabular-nums w-28 text-right"
            ).mark("line-total")
            ui.button(icon="delete", on_click=lambda ln=line: self._on_remove(ln)).props(
                "flat round color=negative size=lg"
            ).mark(f"line-{i}-remove")

    def _inclusive(self) -> bool:
        return bool(self.cart and self.cart.tax_inclusive)

    def _render_last_sale(self, last: LastSale) -> None:
        result = last.result
        with ui.card().classes("w-full p-5 rounded-2xl gap-4").mark("sale-done"):
            with ui.row().classes("w-full items-center gap-4"):
                ui.icon("check_circle", color="positive").classes("text-6xl")
                with ui.column().classes("gap-0 grow"):
                    ui.label(f"Sale {result.number} complete").classes("text-2xl font-semibold").mark(
                        "sale-number"
                    )
                    ui.label(f"Total {self.money(result.total_cents)}").classes("text-lg text-slate-600")
                with ui.column().classes("items-end gap-0"):
                    ui.label("Change due").classes("text-base text-slate-600")
                    ui.label(self.money(result.change_cents)).classes(
                        "text-6xl font-extrabold tabular-nums text-positive"
                    ).mark("change-due")
            with ui.row().classes("w-full gap-4 items-start"):
                receipt_block(last.preview).classes("grow max-h-[28rem] overflow-y-auto")
                with ui.column().classes("gap-2 min-w-[12rem]"):
                    if last.receipt is not None and hardware.can_print(self.services):
                        big_button("Reprint", self._on_reprint, icon="print", marker="reprint", outline=True)
                    if last.receipt is not None and hardware.can_email(self.services):
                        big_button("Email", self._on_email, icon="mail", marker="email-receipt", outline=True)
                    self.print_box = ui.column().classes("gap-2")
            ui.label("Scan the next item to start a new sale.").classes("text-slate-500")
        ui.timer(0.5, self._refresh_print_status, once=True)

    async def _refresh_print_status(self) -> None:
        box = getattr(self, "print_box", None)
        if box is None or box.is_deleted:
            return
        try:
            status = await off_loop(hardware.print_status, self.services, self.station.id)
        except Exception:
            log.exception("could not read the print queue")
            return
        if box.is_deleted:
            return
        box.clear()
        if status is None or not status.needs_attention:
            return
        with box:
            with ui.row().classes("items-center gap-2 text-warning").mark("print-problem"):
                ui.icon("print_disabled").classes("text-2xl")
                ui.label("Receipt not printed").classes("font-semibold")
            if status.last_error:
                ui.label(friendly(status.last_error)).classes("text-sm text-slate-600")
            big_button(
                "Retry printing", self._on_retry_print, icon="refresh", color="warning", marker="print-retry"
            )

    def _render_side(self) -> None:
        self.side.clear()
        cart = self.cart
        if cart is None:
            return
        with self.side:
            self._customer_card(cart)
            with ui.card().classes("w-full p-4 rounded-2xl gap-1").mark("totals"):
                money_row("Subtotal", self.money(cart.subtotal_cents), marker="subtotal")
                if cart.discount_cents:
                    money_row("Discounts", f"−{self.money(cart.discount_cents)}", marker="discounts")
                money_row(
                    "Tax (included)" if cart.tax_inclusive else "Tax",
                    self.money(cart.tax_cents),
                    marker="tax",
                )
                ui.separator().classes("my-1")
                money_row("Total", self.money(cart.total_cents), marker="total", strong=True)
                if self.tenders:
                    ui.separator().classes("my-1")
                    for i, t in enumerate(self.tenders):
                        ref = f" · {t.reference}" if t.reference else ""
                        money_row(
                            f"{TENDER_LABELS[t.kind]}{ref}", self.money(t.amount_cents), marker=f"paid-{i}"
                        )
                    with ui.row().classes("w-full justify-between items-center no-wrap"):
                        ui.label("Still due").classes("text-xl font-semibold text-negative")
                        ui.label(self.money(self.due)).classes(
                            "text-3xl font-bold tabular-nums text-negative"
                        ).mark("remaining-due")
                    big_button(
                        "Clear payments", self._on_clear_tenders, icon="undo", color="grey-7", outline=True
                    ).classes("w-full").mark("clear-payments")
            has_lines = bool(cart.lines)
            with ui.element("div").classes("grid grid-cols-2 gap-2 w-full"):
                self._tender_button("Cash", "payments", "positive", Tender.CASH, "F2", has_lines)
                self._tender_button("Card", "credit_card", "primary", Tender.CARD, "F3", has_lines)
                self._tender_button(
                    "Store credit",
                    "account_balance_wallet",
                    "secondary",
                    Tender.STORE_CREDIT,
                    "F4",
                    has_lines and cart.customer_id is not None,
                )
                self._tender_button("Gift card", "card_giftcard", "accent", Tender.GIFT_CARD, "F5", has_lines)
            with ui.element("div").classes("grid grid-cols-2 gap-2 w-full"):
                big_button(
                    "Discount sale",
                    self._on_cart_discount,
                    icon="percent",
                    outline=True,
                    marker="cart-discount",
                ).set_enabled(has_lines)
                big_button(
                    "Park", self._on_park, icon="pause_circle", outline=True, marker="park"
                ).set_enabled(has_lines)
                big_button("Resume", self._on_resume, icon="play_circle", outline=True, marker="resume")
                big_button(
                    "Void sale",
                    self._on_void,
                    icon="delete_forever",
                    color="negative",
                    outline=True,
                    marker="void",
                ).set_enabled(has_lines)

    def _tender_button(
        self, label: str, icon: str, color: str, kind: Tender, fkey: str, enabled: bool
    ) -> None:
        button = ui.button(on_click=lambda: self._on_tender(kind)).props(
            f"unelevated no-caps color={color} stack"
        )
        button.classes("h-24 rounded-2xl vs-tender").mark(f"tender-{kind.value}")
        with button:
            ui.icon(icon).classes("text-4xl")
            ui.label(label).classes("text-xl font-semibold")
            ui.label(fkey).classes("text-xs opacity-70")
        button.set_enabled(enabled and self.due > 0)

    def _customer_card(self, cart: CartView) -> None:
        with (
            ui.card().classes("w-full p-3 rounded-2xl gap-2").mark("customer-card"),
            ui.row().classes("w-full items-center no-wrap gap-3"),
        ):
            ui.icon("person", color="primary" if cart.customer_id else "grey-5").classes("text-4xl")
            with ui.column().classes("grow gap-0 min-w-0"):
                if cart.customer_id:
                    ui.label(cart.customer_name or "Customer").classes("text-lg font-semibold").mark(
                        "customer-name"
                    )
                    if self.customer_balance is not None:
                        ui.label(f"Store credit {self.money(self.customer_balance)}").classes(
                            "text-sm text-slate-600"
                        ).mark("customer-balance")
                else:
                    ui.label("No customer").classes("text-lg text-slate-500").mark("customer-name")
            if cart.customer_id:
                ui.button(icon="person_remove", on_click=self._on_detach).props(
                    "flat round size=lg color=grey-7"
                ).mark("customer-detach")
            big_button(
                "Change" if cart.customer_id else "Customer",
                self._on_customer,
                icon="person_search",
                outline=True,
                marker="customer-attach",
            )

    # ------------------------------------------------------------------ scanning

    async def _on_scan(self, e: events.GenericEventArguments) -> None:
        if isinstance(e.args, str):
            code = e.args
        else:  # no text sent along (tests, old clients): take the box as the server knows it
            code = str(self.scan.value or "")
            self.scan.value = ""
        await self.add_code(code)

    async def _on_add_button(self) -> None:
        code = str(self.scan.value or "")
        self.scan.value = ""
        await self.add_code(code)

    async def add_code(self, code: str) -> None:
        code = code.strip()
        if not code or self.cart is None:
            self.focus()
            return
        cart_id = self.cart.id

        async def work() -> None:
            view = await off_loop(self.services.checkout.scan, cart_id, code, actor=self.actor)
            self._added(view, code)

        await self.act(work)

    def _added(self, view: CartView, what: str) -> None:
        """An item went into the cart (scan or search): a new sale starts, the banner says what."""
        self.last_sale = None
        self.set_cart(view)
        added = view.lines[-1].description if view.lines else what
        self.info(f"Added {added}")
        self.render()

    async def _on_search(self) -> None:
        """Find an item without a barcode and add it the way a scan does (same checks, same banner)."""
        if self.cart is None:
            return
        cart_id = self.cart.id

        async def work() -> None:
            sku_id = await pick_sku(self.symbol)
            if sku_id is None:
                raise Cancelled
            view = await off_loop(self.services.checkout.add_sku, cart_id, sku_id, 1, actor=self.actor)
            self._added(view, "item")

        await self.act(work)

    async def _on_fkey(self, e: events.GenericEventArguments) -> None:
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "F2": lambda: self._on_tender(Tender.CASH),
            "F3": lambda: self._on_tender(Tender.CARD),
            "F4": lambda: self._on_tender(Tender.STORE_CREDIT),
            "F5": lambda: self._on_tender(Tender.GIFT_CARD),
            "F6": self._on_search,
            "F7": self._on_customer,
            "F8": self._on_park,
            "F9": self._on_resume,
        }
        action = actions.get(str(e.args))
        if action is not None:
            await action()

    async def _on_quick_key(self, key: QuickKey) -> None:
        if self.cart is None:
            return
        cart_id = self.cart.id

        async def work() -> None:
            qty = 1
            if key.ask_quantity:
                asked = await ask_count(f"How many? — {key.label}", marker="qty")
                if asked is None:
                    raise Cancelled
                qty = asked
            checkout = self.services.checkout
            if key.sku_code:
                view = await off_loop(checkout.scan, cart_id, key.sku_code, actor=self.actor)
                if qty > 1:
                    line = view.lines[-1]
                    view = await off_loop(
                        checkout.set_quantity,
                        cart_id,
                        line.line_id,
                        line.quantity + qty - 1,
                        actor=self.actor,
                    )
            else:
                view = await off_loop(
                    checkout.add_custom,
                    cart_id,
                    key.description or key.label,
                    key.price_cents or 0,
                    qty,
                    reason=key.reason or "quick key",
                    actor=self.actor,
                )
            self.last_sale = None
            self.set_cart(view)
            self.info(f"Added {qty} × {key.label}")
            self.render()

        await self.act(work)

    # ------------------------------------------------------------------ lines

    async def _on_qty(self, line: LineView, qty: int) -> None:
        if self.cart is None or qty < 1:
            return
        cart_id = self.cart.id

        async def work() -> None:
            view = await off_loop(
                self.services.checkout.set_quantity, cart_id, line.line_id, qty, actor=self.actor
            )
            self.set_cart(view)
            show_banner(self.banner, None)
            self.render()

        await self.act(work)

    async def _on_remove(self, line: LineView) -> None:
        if self.cart is None:
            return
        cart_id = self.cart.id

        async def work() -> None:
            view = await off_loop(self.services.checkout.remove_line, cart_id, line.line_id, actor=self.actor)
            self.set_cart(view)
            self.info(f"Removed {line.description}", kind="info")
            self.render()

        await self.act(work)

    async def _on_line(self, line: LineView) -> None:
        if self.cart is None:
            return
        cart_id = self.cart.id

        async def work() -> None:
            choice = await self._ask_adjustment(
                line.description, line.unit_price_cents * line.quantity, allow_price=True
            )
            if choice is None:
                raise Cancelled
            kind, value, reason = choice
            checkout = self.services.checkout
            if kind == "price":
                view = await with_approval(
                    lambda pin: checkout.override_price(
                        cart_id, line.line_id, value, reason=reason, actor=self.actor, approval_pin=pin
                    )
                )
            else:
                discount = None if kind == "none" else (kind, value)
                view = await with_approval(
                    lambda pin: checkout.discount_line(
                        cart_id, line.line_id, discount, reason=reason, actor=self.actor, approval_pin=pin
                    )
                )
            self.set_cart(view)
            self.info("Discount removed" if kind == "none" else f"Updated {line.description}")
            self.render()

        await self.act(work)

    async def _on_cart_discount(self) -> None:
        if self.cart is None:
            return
        cart_id = self.cart.id
        base = sum(li.unit_price_cents * li.quantity for li in self.cart.lines)

        async def work() -> None:
            choice = await self._ask_adjustment("the whole sale", base, allow_price=False)
            if choice is None:
                raise Cancelled
            kind, value, reason = choice
            discount = None if kind == "none" else (kind, value)
            checkout = self.services.checkout
            view = await with_approval(
                lambda pin: checkout.discount_cart(
                    cart_id, discount, reason=reason, actor=self.actor, approval_pin=pin
                )
            )
            self.set_cart(view)
            self.info("Discount removed" if kind == "none" else "Discount applied to the sale")
            self.render()

        await self.act(work)

    async def _ask_adjustment(
        self, what: str, base_cents: int, *, allow_price: bool
    ) -> tuple[str, int, str] | None:
        """Discount (percent or amount) or a new unit price, with a reason → (kind, value, reason).

        kind is ``percent`` (basis points), ``amount`` (cents), ``price`` (cents) or ``none``.
        """
        dialog, body = dialog_card(f"Discount — {what}", icon="percent", width="max-w-xl")
        with body:
            ui.label(f"Before discounts: {self.money(base_cents)}").classes("text-slate-600")
            reason = (
                ui.input("Reason (e.g. damaged corner, loyalty)")
                .props("outlined input-class=text-lg")
                .classes("w-full")
                .mark("adjust-reason")
            )
            error = ui.label().classes("text-negative font-medium").mark("adjust-error")
            ui.label("Percent off").classes("text-base font-semibold")
            with ui.element("div").classes("grid grid-cols-3 gap-2 w-full"):
                for pct in PERCENTS:
                    big_button(
                        f"{pct}%",
                        lambda p=pct: dialog.submit(("percent", p * 100, reason.value or "")),
                        color="secondary",
                        marker=f"adjust-pct-{pct}",
                    )
            ui.label("Or type an amount").classes("text-base font-semibold")
            pad = Keypad("money", marker="adjust", symbol=self.symbol)

            def amount_off() -> None:
                if pad.value <= 0:
                    error.set_text("Type the amount to take off")
                    return
                dialog.submit(("amount", pad.value, reason.value or ""))

            def new_price() -> None:
                if not (reason.value or "").strip():
                    error.set_text("A price change needs a reason")
                    return
                dialog.submit(("price", pad.value, reason.value or ""))

            with ui.row().classes("w-full gap-2 no-wrap"):
                big_button(
                    "Take amount off", amount_off, icon="remove", marker="adjust-amount", classes="grow"
                )
                if allow_price:
                    big_button(
                        "Set unit price", new_price, icon="sell", marker="adjust-price", classes="grow"
                    )
            big_button(
                "Remove discount",
                lambda: dialog.submit(("none", 0, "")),
                icon="backspace",
                color="grey-7",
                outline=True,
                marker="adjust-none",
                classes="w-full",
            )
        result = await run_dialog(dialog)
        return (str(result[0]), int(result[1]), str(result[2])) if result else None

    # ------------------------------------------------------------------ customer

    async def _on_customer(self) -> None:
        if self.cart is None:
            return
        cart_id = self.cart.id

        async def work() -> None:
            customer_id = await pick_customer(self.actor, self.symbol)
            if customer_id is None:
                raise Cancelled
            view = await off_loop(
                self.services.checkout.attach_customer, cart_id, customer_id, actor=self.actor
            )
            self.set_cart(view)
            await self._load_customer_balance()
            self.info(f"Customer: {view.customer_name}", kind="info")
            self.render()

        await self.act(work)

    async def _on_detach(self) -> None:
        if self.cart is None:
            return
        cart_id = self.cart.id

        async def work() -> None:
            view = await off_loop(self.services.checkout.attach_customer, cart_id, None, actor=self.actor)
            self.tenders = [t for t in self.tenders if t.kind is not Tender.STORE_CREDIT]
            self.set_cart(view)
            self.customer_balance = None
            self.render()

        await self.act(work)

    # ------------------------------------------------------------------ payment

    async def _on_tender(self, kind: Tender) -> None:
        if self.cart is None or not self.cart.lines or self.due <= 0 or self.busy:
            return

        async def work() -> None:
            tender = await self._ask_tender(kind)
            if tender is None:
                raise Cancelled
            self.tenders.append(tender)
            if self.paid >= (self.cart.total_cents if self.cart else 0):
                await self.complete()
            else:
                self.info(
                    f"{TENDER_LABELS[kind]} {self.money(tender.amount_cents)} taken — "
                    f"{self.money(self.due)} still due",
                    kind="info",
                )
                self.render()

        await self.act(work)

    async def _ask_tender(self, kind: Tender) -> TenderInput | None:  # noqa: PLR0911 - one branch per tender
        due = self.due
        if kind is Tender.CASH:
            amount = await self._ask_cash(due)
            return TenderInput(Tender.CASH, amount) if amount else None
        if kind is Tender.CARD:
            got = await ask_amount(
                f"Card — {self.money(due)} due",
                symbol=self.symbol,
                initial=due,
                note="Run the card on the payment terminal, then type its approval code.",
                ok_label="Card approved",
                marker="card",
                reference="Approval code from the card terminal",
                reference_required=True,
            )
            if got is None:
                return None
            if got[0] > due:
                raise _Shown(f"A card payment cannot be more than what is due ({self.money(due)})")
            return TenderInput(Tender.CARD, got[0], got[1])
        if kind is Tender.STORE_CREDIT:
            balance = self.customer_balance or 0
            if balance <= 0:
                raise _Shown(
                    f"{self.cart.customer_name if self.cart else 'This customer'} has no store credit"
                )
            got = await ask_amount(
                f"Store credit — {self.money(due)} due",
                symbol=self.symbol,
                initial=min(balance, due),
                note=f"Balance: {self.money(balance)}",
                ok_label="Use store credit",
                marker="credit",
            )
            if got is None:
                return None
            already = sum(t.amount_cents for t in self.tenders if t.kind is Tender.STORE_CREDIT)
            if got[0] + already > balance:
                raise _Shown(f"Store credit balance is only {self.money(balance)}")
            return TenderInput(Tender.STORE_CREDIT, min(got[0], due))
        got = await ask_amount(
            f"Gift card — {self.money(due)} due",
            symbol=self.symbol,
            initial=due,
            note="Scan or type the gift card's code.",
            ok_label="Use gift card",
            marker="gift",
            reference="Gift card code",
            reference_required=True,
        )
        if got is None:
            return None
        return TenderInput(Tender.GIFT_CARD, min(got[0], due), got[1])

    async def _ask_cash(self, due: int) -> int | None:
        dialog, body = dialog_card(f"Cash — {self.money(due)} due", icon="payments", width="max-w-xl")
        with body:
            ui.label("Tap what the customer handed over").classes("text-base text-slate-600")
            with ui.element("div").classes("grid grid-cols-3 gap-2 w-full"):
                for amount in cash_quick_amounts(due):
                    label = f"Exact {self.money(amount)}" if amount == due else self.money(amount)
                    big_button(
                        label,
                        lambda a=amount: dialog.submit(a),
                        color="positive",
                        marker="cash-exact" if amount == due else f"cash-quick-{amount}",
                        classes="h-16 text-xl",
                    )
            ui.label("Or type the amount").classes("text-base font-semibold")

            def typed() -> None:
                if pad.value > 0:
                    dialog.submit(pad.value)

            pad = Keypad("money", marker="cash", symbol=self.symbol, on_enter=typed)
            big_button("Take typed amount", typed, icon="check", marker="cash-ok", classes="w-full")
        result = await run_dialog(dialog)
        return int(result) if result else None

    async def _on_clear_tenders(self) -> None:
        self.tenders = []
        self.request_id = None
        show_banner(self.banner, None)
        self.render()
        self.focus()

    async def complete(self) -> None:
        """Complete the sale with the tenders taken; safe to retry (same client request id)."""
        if self.cart is None or self.busy:
            return
        self.busy = True
        if self.request_id is None:
            self.request_id = uuid.uuid4().hex
        cart_id, tenders, request_id = self.cart.id, list(self.tenders), self.request_id
        try:
            result = await off_loop(
                self.services.checkout.complete,
                cart_id,
                tenders,
                actor=self.actor,
                client_request_id=request_id,
            )
        except Exception as exc:
            # nothing was written: the cashier fixes the payment (or clears it) and tries again
            self.error(error_text(exc))
            self.render()
            return
        finally:
            self.busy = False
        receipt: Receipt | None = None
        try:
            fetched = await off_loop(self.services.receipts.for_transaction, result.transaction_id)
            preview = await off_loop(hardware.receipt_preview, self.services, fetched)
            receipt = fetched
        except Exception as exc:  # the sale is made; a preview problem must not hide that
            log.exception("could not build the receipt preview")
            preview = f"Receipt {result.number}\n({error_text(exc)})"
        self.last_sale = LastSale(result, receipt, preview)
        # a cash sale's drawer was already opened by checkout, right after the sale committed
        await self.new_cart()
        if result.change_cents:
            self.info(f"Sale {result.number} complete — give {self.money(result.change_cents)} change")
        else:
            self.info(f"Sale {result.number} complete")
        self.render()

    # ------------------------------------------------------------------ receipts

    async def _on_reprint(self) -> None:
        last = self.last_sale
        if last is None or last.receipt is None:
            return
        receipt = last.receipt

        async def work() -> None:
            await off_loop(hardware.reprint, self.services, self.station.id, receipt)
            self.info(f"Reprinting {receipt.number}", kind="info")
            ui.timer(1.0, self._refresh_print_status, once=True)

        await self.act(work)

    async def _on_email(self) -> None:
        last = self.last_sale
        if last is None or last.receipt is None:
            return
        receipt = last.receipt

        async def work() -> None:
            to = await ask_text("Email the receipt", "Email address", marker="email", ok_label="Send")
            if not to:
                raise Cancelled
            await off_loop(hardware.email_receipt, self.services, receipt, to)
            self.info(f"Receipt {receipt.number} sent to {to}", kind="info")

        await self.act(work)

    async def _on_retry_print(self) -> None:
        async def work() -> None:
            n = await off_loop(hardware.retry_prints, self.services, self.station.id)
            self.info(f"Retrying {n} receipt{'s' if n != 1 else ''}", kind="info")
            ui.timer(2.0, self._refresh_print_status, once=True)

        await self.act(work)

    # ------------------------------------------------------------------ park / resume / void

    async def _on_park(self) -> None:
        if self.cart is None or not self.cart.lines:
            return
        cart_id = self.cart.id

        async def work() -> None:
            label = await ask_text(
                "Park this sale", "Label (name or note)", required=False, marker="park", ok_label="Park"
            )
            if label is None:
                raise Cancelled
            await off_loop(self.services.checkout.park, cart_id, label=label or None, actor=self.actor)
            await self.new_cart()
            self.info(f"Sale parked{f' as “{label}”' if label else ''} — Resume brings it back", kind="info")
            self.render()

        await self.act(work)

    async def _on_resume(self) -> None:
        if self.cart is None:
            return

        async def work() -> None:
            if self.cart is not None and self.cart.lines:
                raise _Shown("Park or finish the current sale before resuming another one")
            held: list[HeldCart] = await off_loop(self.services.checkout.held_carts)
            if not held:
                raise _Shown("No parked sales")
            chosen = await pick_held(held)
            if chosen is None:
                raise Cancelled
            old = self.cart
            view = await off_loop(
                self.services.checkout.resume, chosen, actor=self.actor, station_id=self.station.id
            )
            if old is not None and not old.lines:
                # the empty cart we are leaving was never anything; drop it quietly
                await off_loop(
                    self.services.checkout.void_cart,
                    old.id,
                    actor=self.actor,
                    reason="replaced by a resumed sale",
                )
            self.last_sale = None
            self.tenders, self.request_id = [], None
            self.set_cart(view)
            await self._load_customer_balance()
            self.info("Parked sale resumed", kind="info")
            self.render()

        await self.act(work)

    async def _on_void(self) -> None:
        if self.cart is None or not self.cart.lines:
            return
        cart_id = self.cart.id
        total = self.cart.total_cents

        async def work() -> None:
            sure = await confirm(
                "Void this sale?",
                f"All {len(self.cart.lines) if self.cart else 0} lines ({self.money(total)}) are "
                "removed. Nothing is sold.",
                ok_label="Void sale",
                marker="void",
            )
            if not sure:
                raise Cancelled
            await off_loop(
                self.services.checkout.void_cart, cart_id, actor=self.actor, reason="voided at the register"
            )
            await self.new_cart()
            self.info("Sale voided", kind="info")
            self.render()

        await self.act(work)


class _Shown(VaultSyncError):
    """A register-side message for the banner (same path as a service's own messages)."""


async def pick_held(held: list[HeldCart]) -> str | None:
    """Choose a parked sale; returns its id."""
    dialog, body = dialog_card("Resume a parked sale", icon="play_circle", width="max-w-lg")
    with body:
        for i, h in enumerate(held):
            when = h.updated_at[11:16] if len(h.updated_at) >= 16 else h.updated_at
            with (
                ui.button(on_click=lambda hid=h.id: dialog.submit(hid))
                .props("unelevated no-caps color=white text-color=primary align=left")
                .classes("w-full min-h-[64px] rounded-xl border border-slate-200")
                .mark(f"held-{i}"),
                ui.row().classes("w-full items-center no-wrap gap-3"),
            ):
                ui.icon("shopping_basket").classes("text-3xl")
                with ui.column().classes("grow gap-0 items-start"):
                    ui.label(h.label or "Unlabelled sale").classes("text-lg font-semibold").mark("held-label")
                    ui.label(
                        f"{h.total_items} item{'s' if h.total_items != 1 else ''} · parked {when}"
                    ).classes("text-sm text-slate-500")
    result = await run_dialog(dialog)
    return str(result) if result else None


async def pick_sku(symbol: str) -> str | None:
    """Find an item by name, set, number or code (as you type, or on Enter); returns its SKU id.

    Out-of-stock items are listed too (dimmed): tapping one lets checkout say why it cannot be sold.
    """
    inventory = get_services().inventory
    dialog, body = dialog_card("Find an item", icon="search", width="max-w-3xl")
    latest = 0  # only the newest search may fill the list (an older, slower one arrives late)
    with body:
        search = (
            ui.input("Name, set, number or code")
            .props("outlined autofocus clearable debounce=250 input-class=text-xl autocomplete=off")
            .classes("w-full")
            .mark("item-search")
        )
        with search.add_slot("prepend"):
            ui.icon("search", color="primary").classes("text-3xl")
        error = ui.label().classes("text-negative font-medium").mark("item-search-error")
        results = ui.column().classes("w-full gap-2 max-h-[60vh] overflow-y-auto")

        def hint() -> None:
            results.clear()
            with results:
                ui.label("Type part of a name, a set code or a collector number").classes(
                    "text-slate-500"
                ).mark("item-search-hint")

        async def run_search(text: str) -> None:
            nonlocal latest
            latest += 1
            mine = latest
            text = text.strip()
            if not text:
                error.set_text("")
                hint()
                return
            try:
                page: SearchPage = await off_loop(inventory.search, text, in_stock=False, limit=SEARCH_LIMIT)
            except Exception as exc:
                if mine == latest and not results.is_deleted:
                    error.set_text(error_text(exc))
                    results.clear()  # no list from an older text under the error
                return
            if mine != latest or results.is_deleted:
                return
            error.set_text("")
            results.clear()
            with results:
                if not page.rows:
                    ui.label(f"No match for “{text}”").classes("text-slate-500").mark("item-search-none")
                for i, row in enumerate(page.rows):
                    _sku_hit(dialog, i, row, symbol)
                if page.total > len(page.rows):
                    ui.label(
                        f"Showing {len(page.rows)} of {page.total} — type more to narrow it down"
                    ).classes("text-sm text-slate-500").mark("item-search-more")

        search.on_value_change(lambda e: run_search(str(e.value or "")))
        search.on(
            "keydown.enter",
            lambda e: run_search(e.args if isinstance(e.args, str) else str(search.value or "")),
            js_handler="(e) => emit(e.target.value)",
        )
        hint()
    result = await run_dialog(dialog)
    return str(result) if result else None


def _sku_hit(dialog: ui.dialog, i: int, row: SkuRow, symbol: str) -> None:
    """One search result: a big row to tap (dimmed, still tappable, when none are on hand)."""
    in_stock = row.on_hand > 0
    dimmed = "" if in_stock else " opacity-50"
    with (
        ui.button(on_click=lambda sid=row.sku_id: dialog.submit(sid))
        .props("unelevated no-caps color=white text-color=primary align=left")
        .classes(f"w-full min-h-[64px] rounded-xl border border-slate-200{dimmed}")
        .mark(f"search-hit search-hit-{i}"),
        ui.row().classes("w-full items-center no-wrap gap-3"),
    ):
        ui.icon("style" if in_stock else "remove_shopping_cart").classes("text-3xl")
        with ui.column().classes("grow gap-0 items-start min-w-0"):
            ui.label(row.name).classes("text-lg font-semibold leading-tight text-left").mark(
                "search-name", f"search-{i}-name"
            )
            facts = sku_facts(row)
            if facts:
                ui.label(facts).classes("text-sm text-slate-500").mark("search-facts", f"search-{i}-facts")
            if row.where:  # where the copies live, so the cashier can fetch the card
                ui.label(f"Where: {row.where}").classes("text-sm text-primary").mark(
                    "search-where", f"search-{i}-where"
                )
        with ui.column().classes("gap-0 items-end"):
            ui.label(format_cents(row.shelf_price_cents, symbol)).classes(
                "text-xl font-bold tabular-nums"
            ).mark("search-price", f"search-{i}-price")
            ui.label(f"{row.on_hand} on hand" if in_stock else "Out of stock").classes(
                "text-sm " + ("text-slate-600" if in_stock else "text-negative font-medium")
            ).mark("search-stock", f"search-{i}-stock")


async def pick_customer(actor: UserView, symbol: str) -> str | None:
    """Find a customer (name, email or phone) or add a new one; returns the customer id."""
    customers = get_services().customers
    dialog, body = dialog_card("Customer", icon="person_search", width="max-w-2xl")
    with body:
        search = (
            ui.input("Name, email or phone")
            .props("outlined autofocus clearable debounce=250 input-class=text-lg")
            .classes("w-full")
            .mark("customer-search")
        )
        error = ui.label().classes("text-negative font-medium").mark("customer-error")
        results = ui.column().classes("w-full gap-2")

        async def run_search(text: str) -> None:
            try:
                hits: list[CustomerHit] = await off_loop(customers.search, text, 12)
            except Exception as exc:
                error.set_text(error_text(exc))
                return
            error.set_text("")
            results.clear()
            with results:
                if text.strip() and not hits:
                    ui.label("No customer found — add them below.").classes("text-slate-500").mark(
                        "customer-none"
                    )
                for hit in hits:
                    c = hit.customer
                    contact = " · ".join(x for x in (c.email, c.phone) if x)
                    with (
                        ui.button(on_click=lambda cid=c.id: dialog.submit(cid))
                        .props("unelevated no-caps color=white text-color=primary align=left")
                        .classes("w-full min-h-[60px] rounded-xl border border-slate-200")
                        .mark("customer-hit"),
                        ui.row().classes("w-full items-center no-wrap gap-3"),
                    ):
                        ui.icon("person").classes("text-3xl")
                        with ui.column().classes("grow gap-0 items-start"):
                            ui.label(c.name).classes("text-lg font-semibold")
                            if contact:
                                ui.label(contact).classes("text-sm text-slate-500")
                        ui.label(f"Credit {format_cents(hit.balance_cents, symbol)}").classes("text-base")

        search.on_value_change(lambda e: run_search(str(e.value or "")))
        search.on(
            "keydown.enter",
            lambda e: run_search(e.args if isinstance(e.args, str) else str(search.value or "")),
            js_handler="(e) => emit(e.target.value)",
        )
        with ui.expansion("New customer", icon="person_add").classes("w-full text-lg").mark("customer-new"):
            with ui.element("div").classes("grid grid-cols-2 gap-2 w-full"):
                first = ui.input("First name").props("outlined").mark("new-first")
                last = ui.input("Last name").props("outlined").mark("new-last")
                email = ui.input("Email (optional)").props("outlined").mark("new-email")
                phone = ui.input("Phone (optional)").props("outlined").mark("new-phone")

            async def add() -> None:
                try:
                    view = await off_loop(
                        customers.add,
                        str(first.value or ""),
                        str(last.value or ""),
                        str(email.value or "") or None,
                        str(phone.value or "") or None,
                        actor=actor,
                    )
                except Exception as exc:
                    error.set_text(error_text(exc))
                    return
                dialog.submit(view.id)

            big_button("Add and attach", add, icon="person_add", marker="new-add", classes="w-full")
    result = await run_dialog(dialog)
    return str(result) if result else None


def no_shift_panel(station: StationView) -> None:
    """What the register shows without an open shift: selling needs a counted drawer first."""
    with (
        ui.card()
        .classes("mx-auto mt-8 max-w-xl w-full items-center text-center p-8 gap-4 rounded-2xl")
        .mark("open-shift-panel")
    ):
        ui.icon("lock_clock", color="warning").classes("text-7xl")
        ui.label("Open a shift to start selling").classes("text-3xl font-semibold")
        ui.label(
            f"{station.name} has no open shift. Count the float into the drawer and open a shift; "
            "every sale is then on that shift's Z report."
        ).classes("text-lg text-slate-600")
        big_button(
            "Open a shift",
            lambda: ui.navigate.to(SHIFT_PATH),
            icon="account_balance_wallet",
            marker="go-shift",
        ).classes("text-xl px-8")
        ui.link("Refunds", REFUND_PATH).classes("text-base")


def register() -> None:
    """Add the ``/register`` page."""

    @app_page(REGISTER_PATH, title="Register", min_role=Role.CASHIER, wide=True)
    async def register_page(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        station = await off_loop(services.stations.local, services.config.station_role)
        shift = await off_loop(services.shifts.current, station.id)
        if shift is None:
            no_shift_panel(station)
            return
        settings = await off_loop(services.shop.all)
        symbol = str(settings.get("shop.currency_symbol") or "$")
        page = Register(user, actor, station, symbol, quick_keys(settings.get("pos.quick_keys")))
        await page.start()
