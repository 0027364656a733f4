"""Manager actions on one SKU (edit, transfer, write off, reorder point, labels, history) and
the "new item" form — the dialogs the inventory browser opens for managers.

Each action is one dialog that collects the input, calls one service method off the event loop
and shows the service's own message inside the dialog when it refuses (the dialog stays open
with what was typed). It returns True when something changed, so the caller refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from ui.components import big_button, dialog_card, run_dialog
from ui.context import get_services, off_loop
from ui.layout import error_text
from vaultsync.domain.enums import Condition, Finish, Grader, ProductKind
from vaultsync.domain.money import MoneyError, format_cents, parse_cents
from vaultsync.services.auth import UserView
from vaultsync.services.catalog import ProductInput, SkuInput
from vaultsync.services.inventory import SkuDetail
from vaultsync.services.labels import LabelRequest
from vaultsync.services.stock_ops import WRITE_OFF_REASONS

NONE = ""
CONDITIONS = {NONE: "—"} | {c.value: f"{c.value} · {c.label}" for c in Condition}
FINISHES = {f.value: f.value.capitalize() for f in Finish}
GRADERS = {NONE: "—"} | {g.value: g.value for g in Grader}
KINDS = {k.value: k.value.replace("_", " ").capitalize() for k in ProductKind}


def money_input(label: str, cents: int | None, marker: str) -> ui.input:
    value = "" if cents is None else f"{cents / 100:.2f}"
    return ui.input(label, value=value).props("outlined inputmode=decimal").classes("w-full").mark(marker)


def read_money(box: ui.input, what: str, *, optional: bool = False) -> int | None:
    text = str(box.value or "").strip()
    if not text:
        if optional:
            return None
        raise ValueError(f"enter the {what}")
    try:
        return parse_cents(text)
    except MoneyError:
        raise ValueError(f"the {what} {text!r} is not an amount (e.g. 12.50)") from None


def read_int(box: ui.number | ui.input, what: str) -> int:
    raw = box.value
    try:
        value = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        value = None
    if value is None or value != int(value):
        raise ValueError(f"enter the {what} as a whole number")
    return int(value)


class ActionDialog:
    """A dialog with an error line and a submit button that runs ``action`` off the loop."""

    def __init__(self, title: str, icon: str, marker: str, *, width: str = "max-w-lg") -> None:
        self.dialog, self.body = dialog_card(title, icon=icon, width=width)
        self.marker = marker
        with self.body:
            self.error = ui.label().classes("text-negative font-medium").mark(f"{marker}-error")

    def submit_button(self, label: str, action: Callable[[], Any], *, icon: str = "check") -> None:
        async def go() -> None:
            self.error.set_text("")
            try:
                call = action()
                await off_loop(call)
            except ValueError as exc:  # what the form itself could not read
                self.error.set_text(str(exc)[:1].upper() + str(exc)[1:])
                return
            except Exception as exc:
                self.error.set_text(error_text(exc))
                return
            self.dialog.submit(True)

        with self.body:
            big_button(label, go, icon=icon, marker=f"{self.marker}-ok", classes="w-full")

    async def run(self) -> bool:
        return bool(await run_dialog(self.dialog))


async def edit_sku(actor: UserView, d: SkuDetail) -> bool:
    catalog = get_services().catalog
    box = ActionDialog(f"Edit {d.row.sku_code}", "edit", "edit-sku")
    graded = d.row.grader is not None
    with box.body:
        price = money_input("Shelf price", d.row.shelf_price_cents, "edit-price")
        cost = money_input("Cost basis", d.cost_basis_cents, "edit-cost")
        with ui.row().classes("w-full gap-2 no-wrap"):
            condition = (
                ui.select(CONDITIONS, value=d.row.condition or NONE, label="Condition")
                .props("outlined")
                .classes("grow")
                .mark("edit-condition")
            )
            finish = ui.select(FINISHES, value=d.row.finish, label="Finish").props("outlined").classes("grow")
            language = ui.input("Language", value=d.row.language).props("outlined").classes("w-24")
        barcode = (
            ui.input("Barcode (UPC/EAN or any code)", value=d.row.barcode or "")
            .props("outlined")
            .classes("w-full")
            .mark("edit-barcode")
        )
        cert = grade = None
        if graded:
            with ui.row().classes("w-full gap-2 no-wrap"):
                grade = ui.input("Grade", value=d.row.grade or "").props("outlined").classes("w-28")
                cert = (
                    ui.input("Certificate number", value=d.cert_number or "")
                    .props("outlined")
                    .classes("grow")
                )

    def action() -> Callable[[], None]:
        changes: dict[str, Any] = {
            "shelf_price_cents": read_money(price, "shelf price"),
            "cost_basis_cents": read_money(cost, "cost", optional=True),
            "finish": finish.value,
            "language": str(language.value or "").strip(),
        }
        if not graded:
            changes["condition"] = condition.value or None
        if (str(barcode.value or "").strip() or None) != d.row.barcode:
            changes["barcode"] = str(barcode.value or "").strip() or None
        if graded and cert is not None and grade is not None:
            changes["grade"] = str(grade.value or "").strip()
            changes["cert_number"] = str(cert.value or "").strip()
        return lambda: catalog.update_sku(d.row.sku_id, changes, actor=actor)

    box.submit_button("Save", action, icon="save")
    return await box.run()


def _locations() -> dict[str, str]:
    return {loc.id: loc.path for loc in get_services().catalog.locations()}


async def transfer(actor: UserView, d: SkuDetail) -> bool:
    stock = get_services().stock
    sources = {s.location_id: f"{s.path} ({s.on_hand})" for s in d.stock if s.on_hand > 0}
    targets = await off_loop(_locations)
    box = ActionDialog(f"Move {d.row.name}", "swap_horiz", "transfer")
    with box.body:
        if not sources:
            ui.label("Nothing in stock to move.").classes("text-slate-500")
        src = (
            ui.select(sources, value=next(iter(sources), None), label="From")
            .props("outlined")
            .classes("w-full")
            .mark("transfer-from")
        )
        dst = (
            ui.select(targets, label="To", with_input=True)
            .props("outlined")
            .classes("w-full")
            .mark("transfer-to")
        )
        qty = (
            ui.number("Quantity", value=1, min=1, precision=0)
            .props("outlined")
            .classes("w-full")
            .mark("transfer-qty")
        )

    def action() -> Callable[[], str]:
        if not src.value or not dst.value:
            raise ValueError("choose where from and where to")
        n = read_int(qty, "quantity")
        return lambda: stock.transfer(d.row.sku_id, str(src.value), str(dst.value), n, actor=actor)

    box.submit_button("Move", action, icon="swap_horiz")
    return await box.run()


async def write_off(actor: UserView, d: SkuDetail) -> bool:
    stock = get_services().stock
    sources = {s.location_id: f"{s.path} ({s.on_hand})" for s in d.stock if s.on_hand > 0}
    box = ActionDialog(f"Write off {d.row.name}", "delete_sweep", "write-off")
    with box.body:
        src = (
            ui.select(sources, value=next(iter(sources), None), label="From")
            .props("outlined")
            .classes("w-full")
            .mark("write-off-from")
        )
        qty = (
            ui.number("Quantity", value=1, min=1, precision=0)
            .props("outlined")
            .classes("w-full")
            .mark("write-off-qty")
        )
        reason = (
            ui.select(WRITE_OFF_REASONS, value="damaged", label="Reason")
            .props("outlined")
            .classes("w-full")
            .mark("write-off-reason")
        )
        note = ui.input("What happened").props("outlined").classes("w-full").mark("write-off-note")

    def action() -> Callable[[], str]:
        if not src.value:
            raise ValueError("nothing in stock to write off")
        n = read_int(qty, "quantity")
        return lambda: stock.write_off(
            d.row.sku_id, str(src.value), n, str(reason.value), actor=actor, note=str(note.value or "")
        )

    box.submit_button("Write off", action, icon="delete_sweep")
    return await box.run()


async def reorder_point(actor: UserView, d: SkuDetail) -> bool:
    stock = get_services().stock
    current = await off_loop(stock.reorder_point, d.row.sku_id)
    box = ActionDialog("Reorder point", "production_quantity_limits", "reorder")
    with box.body:
        ui.label("On the low-stock list when the total on hand falls to this or below.").classes(
            "text-slate-600"
        )
        low = (
            ui.input("Reorder at (empty: none)", value="" if current is None else str(current[0]))
            .props("outlined inputmode=numeric")
            .mark("reorder-min")
        )
        qty = (
            ui.input("Order quantity", value=str(current[1]) if current else "0")
            .props("outlined inputmode=numeric")
            .mark("reorder-qty")
        )

    def action() -> Callable[[], None]:
        if not str(low.value or "").strip():
            return lambda: stock.set_reorder_point(d.row.sku_id, None, actor=actor)
        return lambda: stock.set_reorder_point(
            d.row.sku_id, read_int(low, "reorder point"), read_int(qty, "order quantity"), actor=actor
        )

    box.submit_button("Save", action, icon="save")
    return await box.run()


async def labels(actor: UserView, sku_ids: list[str]) -> None:
    """Print labels for ``sku_ids`` on this station's printer, or download a PDF/PNG sheet."""
    services = get_services()
    box = ActionDialog(f"Labels ({len(sku_ids)} item{'s' if len(sku_ids) != 1 else ''})", "label", "labels")
    with box.body:
        copies = (
            ui.number("Copies of each", value=1, min=1, max=100, precision=0)
            .props("outlined")
            .mark("labels-copies")
        )
        status = ui.label().classes("text-positive font-medium").mark("labels-status")

    def requests() -> list[LabelRequest]:
        n = read_int(copies, "number of copies")
        return [LabelRequest(sku_id, n) for sku_id in sku_ids]

    async def sheet(fmt: str) -> None:
        box.error.set_text("")
        try:
            data = await off_loop(services.labels.sheet, requests(), fmt, actor=actor)
        except Exception as exc:
            box.error.set_text(str(exc) if isinstance(exc, ValueError) else error_text(exc))
            return
        ui.download.content(data, f"labels.{fmt}", "application/pdf" if fmt == "pdf" else "image/png")
        status.set_text(f"Label sheet ({fmt.upper()}) downloaded")

    async def to_printer() -> None:
        box.error.set_text("")
        try:
            station = await off_loop(services.stations.local, services.config.station_role)
            await off_loop(services.labels.print, requests(), station.id, actor=actor)
        except Exception as exc:
            box.error.set_text(str(exc) if isinstance(exc, ValueError) else error_text(exc))
            return
        status.set_text("Sent to the label printer")

    with box.body, ui.row().classes("w-full gap-2 no-wrap"):
        big_button("Print", to_printer, icon="print", marker="labels-print", classes="grow")
        big_button(
            "PDF sheet", lambda: sheet("pdf"), icon="picture_as_pdf", marker="labels-pdf", outline=True
        )
        big_button("PNG", lambda: sheet("png"), icon="image", marker="labels-png", outline=True)
    await box.run()


async def history(d: SkuDetail, symbol: str) -> None:
    moves = await off_loop(get_services().stock.movements, d.row.sku_id)
    dialog, body = dialog_card(f"Stock history · {d.row.sku_code}", icon="history", width="max-w-3xl")
    columns = [
        {"name": "at", "label": "When", "field": "at", "align": "left"},
        {"name": "reason", "label": "What", "field": "reason", "align": "left"},
        {"name": "location", "label": "Where", "field": "location", "align": "left"},
        {"name": "delta", "label": "±", "field": "delta", "align": "right"},
        {"name": "note", "label": "Note", "field": "note", "align": "left"},
    ]
    rows = [
        {
            "id": m.id,
            "at": m.created_at.strftime("%Y-%m-%d %H:%M"),
            "reason": m.reason,
            "location": m.location,
            "delta": f"{m.delta:+d}",
            "note": m.note or "",
        }
        for m in moves
    ]
    with body:
        ui.table(columns=columns, rows=rows, row_key="id").props("flat dense").classes("w-full").mark(
            "history"
        )
    await run_dialog(dialog)


async def new_item(actor: UserView) -> str | None:
    """Create a product and its first SKU; returns the SKU id."""
    services = get_services()
    games = await off_loop(services.inventory.games)
    box = ActionDialog("New item", "add_box", "new-item", width="max-w-2xl")
    with box.body:
        with ui.row().classes("w-full gap-2 no-wrap"):
            game = (
                ui.select({g.code: g.name for g in games}, label="Game")
                .props("outlined")
                .classes("grow")
                .mark("new-game")
            )
            kind = (
                ui.select(KINDS, value=ProductKind.SINGLE.value, label="Kind")
                .props("outlined")
                .classes("w-48")
                .mark("new-kind")
            )
        name = ui.input("Name").props("outlined").classes("w-full").mark("new-name")
        with ui.row().classes("w-full gap-2 no-wrap"):
            set_code = ui.input("Set code").props("outlined").classes("grow").mark("new-set")
            number = ui.input("Number").props("outlined").classes("w-32").mark("new-number")
            rarity = ui.input("Rarity").props("outlined").classes("w-40")
        with ui.row().classes("w-full gap-2 no-wrap"):
            condition = (
                ui.select(CONDITIONS, value="NM", label="Condition")
                .props("outlined")
                .classes("grow")
                .mark("new-condition")
            )
            finish = ui.select(FINISHES, value="normal", label="Finish").props("outlined").classes("grow")
            language = ui.input("Language", value="EN").props("outlined").classes("w-24")
        with ui.row().classes("w-full gap-2 no-wrap"):
            grader = (
                ui.select(GRADERS, value=NONE, label="Grader")
                .props("outlined")
                .classes("w-32")
                .mark("new-grader")
            )
            grade = ui.input("Grade").props("outlined").classes("w-28").mark("new-grade")
            cert = ui.input("Certificate number").props("outlined").classes("grow").mark("new-cert")
        with ui.row().classes("w-full gap-2 no-wrap"):
            price = money_input("Shelf price", None, "new-price")
            barcode = ui.input("Barcode").props("outlined").classes("w-full").mark("new-barcode")
    created: dict[str, str] = {}

    def action() -> Callable[[], None]:
        if not game.value:
            raise ValueError("choose the game")
        product = ProductInput(
            game_code=str(game.value),
            name=str(name.value or ""),
            kind=str(kind.value),
            set_code=str(set_code.value or "").strip() or None,
            collector_number=str(number.value or "").strip() or None,
            rarity=str(rarity.value or "").strip() or None,
            language=str(language.value or "EN"),
        )
        cents = read_money(price, "shelf price", optional=True) or 0
        graded = bool(grader.value)

        def create() -> None:
            created["sku"] = services.catalog.create_item(
                product,
                SkuInput(
                    product_id="",
                    condition=None if graded else (condition.value or None),
                    finish=str(finish.value),
                    grader=str(grader.value) if graded else None,
                    grade=str(grade.value or "").strip() or None,
                    cert_number=str(cert.value or "").strip() or None,
                    barcode=str(barcode.value or "").strip() or None,
                    shelf_price_cents=cents,
                ),
                actor=actor,
            )

        return create

    box.submit_button("Create", action, icon="add")
    return created.get("sku") if await box.run() else None


def price_text(cents: int | None, symbol: str) -> str:
    return "—" if cents is None else format_cents(cents, symbol)
