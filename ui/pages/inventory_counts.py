"""``/inventory/counts``: stock counts — start one, count a location, see the differences, commit.

Counting is done by scanning: in "each scan adds 1" mode every scan of a card adds one to its
line (the way people count a binder), in "type the quantity" mode the number typed is the count
(a box of 500 commons). Any staff member may count; starting, committing and abandoning a count
is a manager's. The difference shown is exactly what committing would write now; sales made at
the register while the count runs stay sold after the commit (see ``services/stock_ops``).
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from ui.components import big_button, confirm
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.pages.inventory_paths import COUNTS_PATH, count_path
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.services.auth import UserView
from vaultsync.services.stock_ops import CountLine, CountView

ALL, COUNTED, MISSING, DIFFERENT = "all", "counted", "missing", "different"
FILTERS = {
    ALL: "Everything",
    COUNTED: "Counted",
    MISSING: "Not counted yet",
    DIFFERENT: "Differences",
}
STATUS_COLOR = {"open": "info", "committed": "positive", "abandoned": "grey-7"}

LINE_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Item", "field": "name", "align": "left"},
    {"name": "sku_code", "label": "SKU", "field": "sku_code", "align": "left"},
    {"name": "location", "label": "Where", "field": "location", "align": "left"},
    {"name": "expected", "label": "System", "field": "expected", "align": "right"},
    {"name": "counted", "label": "Counted", "field": "counted", "align": "right"},
    {"name": "difference", "label": "Difference", "field": "difference", "align": "right"},
]


def line_row(li: CountLine) -> dict[str, Any]:
    if li.superseded:
        difference = "newer count"
    elif li.adjustment is None:
        difference = "—"
    else:
        difference = f"{li.adjustment:+d}" if li.adjustment else "0"
    return {
        "key": f"{li.sku_id}:{li.location_id}",
        "sku_id": li.sku_id,
        "name": li.name,
        "sku_code": li.sku_code,
        "location": li.location,
        "expected": li.on_hand_now,
        "counted": "—" if li.counted is None else li.counted,
        "difference": difference,
    }


def keep(li: CountLine, which: str) -> bool:
    if which == COUNTED:
        return li.counted is not None
    if which == MISSING:
        return li.counted is None
    if which == DIFFERENT:
        return bool(li.adjustment) or (li.counted is None and li.on_hand_now != 0)
    return True


class CountScreen:
    def __init__(self, user: SessionUser, actor: UserView, view: CountView) -> None:
        self.user = user
        self.actor = actor
        self.view = view
        self.manager = actor.role.at_least(Role.MANAGER)
        self._build()
        self._show()

    def _build(self) -> None:
        v = self.view
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("fact_check", color="primary").classes("text-4xl")
            with ui.column().classes("gap-0 grow"):
                ui.label(v.name).classes("text-3xl font-semibold").mark("count-name")
                ui.label(v.location).classes("text-slate-600").mark("count-location")
            self.status = ui.badge().classes("text-base px-3 py-1").mark("count-status")
        self.warning = ui.label().classes("text-warning font-medium").mark("count-overlap")
        self.error = ui.label().classes("text-negative font-medium text-lg").mark("count-error")
        self.last = ui.label().classes("text-positive font-medium text-lg").mark("count-last")
        with ui.card().classes("w-full p-4 gap-3 rounded-2xl") as self.scan_card:
            with ui.row().classes("w-full gap-3 items-center no-wrap"):
                self.code = (
                    ui.input(placeholder="Scan or type a barcode, SKU code or cert number")
                    .props("outlined autofocus clearable input-class=text-lg")
                    .classes("grow")
                    .mark("count-code")
                )
                self.qty = (
                    ui.number("Quantity", value=1, min=0, precision=0)
                    .props("outlined")
                    .classes("w-32")
                    .mark("count-qty")
                )
            with ui.row().classes("w-full gap-3 items-center"):
                self.mode = (
                    ui.toggle({"add": "Each scan adds 1", "set": "Type the quantity"}, value="add")
                    .props("no-caps")
                    .mark("count-mode")
                )
                places = {li.location_id: li.location for li in self.view.lines}
                places.setdefault(v.location_id, v.location)
                self.where = (
                    ui.select(places, value=v.location_id, label="Counting at")
                    .props("outlined")
                    .classes("min-w-[16rem]")
                    .mark("count-where")
                )
                big_button("Record", self._record, icon="add_task", marker="count-record")
            self.code.on("keydown.enter", self._record)
        with ui.row().classes("w-full items-center gap-3"):
            self.summary = ui.label().classes("text-lg font-medium").mark("count-summary")
            ui.space()
            self.filter = (
                ui.select(FILTERS, value=ALL, on_change=self._show)
                .props("outlined dense")
                .classes("min-w-[12rem]")
                .mark("count-filter")
            )
        self.table = (
            ui.table(columns=LINE_COLUMNS, rows=[], row_key="key")
            .props("flat bordered wrap-cells")
            .classes("w-full")
            .mark("count-lines")
        )
        with ui.row().classes("w-full gap-3 items-center") as self.manager_row:
            self.zero = ui.checkbox("Items not found are gone (set them to 0)").mark("count-zero-missing")
            ui.space()
            big_button(
                "Abandon", self._abandon, icon="block", color="grey-7", outline=True, marker="count-abandon"
            )
            big_button("Commit count", self._commit, icon="done_all", color="positive", marker="count-commit")
        self.manager_row.set_visibility(self.manager)
        ui.link("All counts", COUNTS_PATH).classes("text-primary").mark("count-back")

    def _show(self) -> None:
        v = self.view
        open_ = v.status == "open"
        self.status.set_text(v.status.capitalize())
        self.status.props(f"color={STATUS_COLOR.get(v.status, 'grey-7')}")
        self.scan_card.set_visibility(open_)
        self.manager_row.set_visibility(self.manager and open_)
        self.warning.set_text(
            f"Also being counted in: {', '.join(v.overlapping)}" if v.overlapping and open_ else ""
        )
        changes = sum(1 for li in v.lines if li.adjustment)
        self.summary.set_text(
            f"{v.counted_lines} of {len(v.lines)} lines counted · {changes} with a difference · "
            f"{v.missing_lines} expected but not counted"
        )
        which = str(self.filter.value or ALL)
        self.table.rows = [line_row(li) for li in v.lines if keep(li, which)]

    async def _reload(self) -> None:
        self.view = await off_loop(get_services().stock.count, self.view.id)
        self._show()

    async def _record(self) -> None:
        code = str(self.code.value or "").strip()
        self.error.set_text("")
        if not code:
            self.error.set_text("Scan or type the item's code")
            return
        stock = get_services().stock
        try:
            if self.mode.value == "add":
                sku_id = await off_loop(get_services().catalog.find, code)
                current = next(
                    (
                        li.counted or 0
                        for li in self.view.lines
                        if li.sku_id == sku_id and li.location_id == self.where.value
                    ),
                    0,
                )
                line = await off_loop(
                    stock.record_count,
                    self.view.id,
                    sku_id,
                    current + 1,
                    actor=self.actor,
                    location_id=str(self.where.value),
                )
            else:
                qty = self.qty.value
                if qty is None or qty < 0 or qty != int(qty):
                    self.error.set_text("Enter the quantity counted as a whole number")
                    return
                line = await off_loop(
                    stock.count_by_code,
                    self.view.id,
                    code,
                    int(qty),
                    actor=self.actor,
                    location_id=str(self.where.value),
                )
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        self.last.set_text(f"{line.name} ({line.sku_code}): {line.counted} counted")
        self.code.set_value("")
        await self._reload()

    async def _commit(self) -> None:
        zero = bool(self.zero.value)
        text = "Write the differences to the stock ledger?"
        if zero:
            text += f" {self.view.missing_lines} item lines nobody counted will be set to 0."
        if not await confirm("Commit count", text, ok_label="Commit", color="positive", marker="commit"):
            return
        try:
            result = await off_loop(
                get_services().stock.commit_count, self.view.id, actor=self.actor, zero_missing=zero
            )
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        self.last.set_text(
            f"Committed: {result.adjusted} lines adjusted ({result.units_delta:+d} units), "
            f"{result.unchanged} matched" + (f", {result.superseded} superseded" if result.superseded else "")
        )
        await self._reload()

    async def _abandon(self) -> None:
        if not await confirm("Abandon count", "Close this count without changing stock?", ok_label="Abandon"):
            return
        try:
            await off_loop(get_services().stock.abandon_count, self.view.id, actor=self.actor)
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        await self._reload()


async def count_list(user: SessionUser, actor: UserView) -> None:
    services = get_services()
    with ui.row().classes("w-full items-center gap-3"):
        ui.icon("fact_check", color="primary").classes("text-4xl")
        ui.label("Stock counts").classes("text-3xl font-semibold")
    error = ui.label().classes("text-negative font-medium").mark("counts-error")
    if actor.role.at_least(Role.MANAGER):
        locations = await off_loop(services.catalog.locations)
        with ui.card().classes("w-full p-4 rounded-2xl"), ui.row().classes("w-full gap-3 items-center"):
            where = (
                ui.select({loc.id: loc.path for loc in locations}, label="Location to count", with_input=True)
                .props("outlined")
                .classes("min-w-[20rem] grow")
                .mark("counts-location")
            )
            name = ui.input("Name (optional)").props("outlined").mark("counts-name")

            async def start() -> None:
                if not where.value:
                    error.set_text("Choose the location to count")
                    return
                try:
                    view = await off_loop(
                        services.stock.start_count, str(where.value), actor=actor, name=str(name.value or "")
                    )
                except Exception as exc:
                    error.set_text(error_text(exc))
                    return
                ui.navigate.to(count_path(view.id))

            big_button("Start count", start, icon="play_arrow", marker="counts-start")
    counts = await off_loop(services.stock.counts)
    columns = [
        {"name": "name", "label": "Count", "field": "name", "align": "left"},
        {"name": "location", "label": "Location", "field": "location", "align": "left"},
        {"name": "status", "label": "Status", "field": "status", "align": "left"},
        {"name": "entries", "label": "Entries", "field": "entries", "align": "right"},
        {"name": "created", "label": "Started", "field": "created", "align": "left"},
    ]
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "location": c.location,
            "status": c.status,
            "entries": c.entries,
            "created": c.created_at.strftime("%Y-%m-%d %H:%M"),
        }
        for c in counts
    ]
    table = (
        ui.table(columns=columns, rows=rows, row_key="id")
        .props('flat bordered no-data-label="No counts yet"')
        .classes("w-full cursor-pointer")
        .mark("counts-table")
    )
    table.on(
        "rowClick", lambda e: ui.navigate.to(count_path(str(e.args))), js_handler="(evt, row) => emit(row.id)"
    )


def register() -> None:
    """Add ``/inventory/counts``: the list, or one count with ``?count=<id>``."""

    @app_page(COUNTS_PATH, title="Stock counts", min_role=Role.CASHIER)
    async def counts(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        count_id = ui.context.client.request.query_params.get("count")
        if count_id:
            view = await off_loop(services.stock.count, count_id[:64])
            CountScreen(user, actor, view)
        else:
            await count_list(user, actor)
