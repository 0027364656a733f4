"""``/shift``: open the drawer with a counted float, move cash in and out, close and print the Z report.

Counting is done the way it is done at the till: note by note. Each denomination is a
big tile; tapping it opens a keypad for "how many of these", and the running total is
always in view. At close the screen shows what the drawer should hold, what was counted
and the difference BEFORE the cashier confirms, because a shift cannot be reopened to fix
a miscount. The Z report is the service's own text layout (the same the printer gets), so
the screen and the paper never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ui import hardware
from ui.components import (
    Cancelled,
    ask_amount,
    ask_count,
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
from ui.layout import app_page, error_text, friendly
from ui.nav import REGISTER_PATH, SHIFT_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.domain.money import format_cents
from vaultsync.services.auth import UserView
from vaultsync.services.shifts import ShiftView, z_report_text
from vaultsync.services.shop import DEFAULTS
from vaultsync.services.stations import StationView

log = logging.getLogger(__name__)

RECENT = 10


class DenominationCounter:
    """Tiles per note/coin with a count each; the total is Σ denomination × count."""

    def __init__(
        self,
        denominations: list[int],
        symbol: str,
        *,
        marker: str,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.denominations = denominations
        self.symbol = symbol
        self.marker = marker
        self.on_change = on_change
        self.counts: dict[int, int] = dict.fromkeys(denominations, 0)
        self.box = ui.element("div").classes("grid grid-cols-2 sm:grid-cols-3 md:grid-cols-5 gap-2 w-full")
        self.total_label = (
            ui.label().classes("text-3xl font-bold tabular-nums text-primary").mark(f"{marker}-total")
        )
        self.render()

    @property
    def total(self) -> int:
        return sum(d * n for d, n in self.counts.items())

    def render(self) -> None:
        self.box.clear()
        with self.box:
            for d in self.denominations:
                n = self.counts[d]
                with (
                    ui.button(on_click=lambda d=d: self.ask(d))
                    .props(
                        "unelevated no-caps "
                        + ("color=primary text-color=white" if n else "color=white text-color=primary")
                    )
                    .classes("h-24 rounded-xl border border-slate-200")
                    .mark(f"{self.marker}-{d}"),
                    ui.column().classes("items-center gap-0"),
                ):
                    ui.label(format_cents(d, self.symbol)).classes("text-xl font-bold")
                    ui.label(f"× {n}").classes("text-lg").mark(f"{self.marker}-{d}-count")
                    ui.label(format_cents(d * n, self.symbol)).classes("text-xs opacity-80")
        self.total_label.set_text(f"Counted {format_cents(self.total, self.symbol)}")

    async def ask(self, denomination: int) -> None:
        count = await ask_count(
            f"How many {format_cents(denomination, self.symbol)}?",
            initial=self.counts[denomination],
            marker="denom",
            allow_zero=True,
        )
        if count is not None:
            self.counts[denomination] = count
            self.render()
            if self.on_change is not None:
                self.on_change()

    def nonzero(self) -> dict[int, int]:
        return {d: n for d, n in self.counts.items() if n}


class ShiftPage:
    def __init__(
        self, user: SessionUser, actor: UserView, station: StationView, symbol: str, denominations: list[int]
    ) -> None:
        self.user = user
        self.actor = actor
        self.station = station
        self.symbol = symbol
        self.denominations = denominations
        self.shift: ShiftView | None = None
        #: the shift just closed here: its Z report leads the page until the next visit
        self.just_closed: str | None = None
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("account_balance_wallet", color="primary").classes("text-4xl")
            with ui.column().classes("gap-0"):
                ui.label("Shift").classes("text-3xl font-semibold")
                ui.label(station.name).classes("text-slate-600").mark("shift-station")
        self.banner = banner("shift-message")
        self.main = ui.column().classes("w-full gap-4")
        self.recent = ui.column().classes("w-full gap-2")

    def money(self, cents: int) -> str:
        return format_cents(cents, self.symbol)

    async def act(self, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await work()
        except Cancelled:
            return
        except Exception as exc:
            show_banner(self.banner, error_text(exc))

    async def refresh(self) -> None:
        services = get_services()
        self.shift = await off_loop(services.shifts.current, self.station.id)
        self.main.clear()
        with self.main:
            if self.just_closed is not None:
                await self._report_card(self.just_closed, title="Shift closed — Z report")
            if self.shift is None:
                self._open_form()
            else:
                expected = await off_loop(services.shifts.expected_cash, self.shift.id)
                self._status(self.shift, expected)
        await self._recent()

    # ------------------------------------------------------------------ open

    def _open_form(self) -> None:
        with ui.card().classes("w-full p-5 rounded-2xl gap-3").mark("open-shift-card"):
            ui.label("Open a shift").classes("text-2xl font-semibold")
            ui.label("Count the float in the drawer: tap each note and coin and enter how many.").classes(
                "text-slate-600"
            )
            counter = DenominationCounter(self.denominations, self.symbol, marker="float")
            with ui.row().classes("w-full gap-2"):
                big_button(
                    "Open shift with this count",
                    lambda: self._open(counter.nonzero() or dict.fromkeys(self.denominations[:1], 0), None),
                    icon="lock_open",
                    color="positive",
                    marker="open-shift",
                ).classes("text-xl")
                big_button(
                    "Type the float amount instead",
                    self._open_by_amount,
                    icon="dialpad",
                    outline=True,
                    marker="open-amount",
                )

    async def _open_by_amount(self) -> None:
        async def work() -> None:
            got = await ask_amount(
                "Opening float",
                symbol=self.symbol,
                ok_label="Open shift",
                marker="float-amount",
                allow_zero=True,
            )
            if got is None:
                raise Cancelled
            await self._open(None, got[0])

        await self.act(work)

    async def _open(self, counts: dict[int, int] | None, amount: int | None) -> None:
        async def work() -> None:
            shift = await off_loop(
                get_services().shifts.open_shift,
                self.station.id,
                self.actor,
                opening_float_cents=amount,
                denominations=counts,
            )
            show_banner(
                self.banner,
                f"Shift open with a float of {self.money(shift.opening_float_cents)} — ready to sell",
                kind="ok",
            )
            await self.refresh()

        await self.act(work)

    # ------------------------------------------------------------------ open shift

    def _status(self, shift: ShiftView, expected: int) -> None:
        with ui.card().classes("w-full p-5 rounded-2xl gap-3").mark("shift-status"):
            with ui.row().classes("w-full items-center gap-6"):
                ui.badge("OPEN", color="positive").classes("text-lg px-3 py-1")
                with ui.column().classes("gap-0 grow"):
                    ui.label(f"Opened by {shift.opened_by_name}").classes("text-lg font-semibold").mark(
                        "shift-opened-by"
                    )
                    ui.label(shift.opened_at.astimezone().strftime("%a %d %b, %H:%M")).classes(
                        "text-slate-600"
                    )
                with ui.column().classes("gap-0 items-end"):
                    ui.label("Opening float").classes("text-sm text-slate-500")
                    ui.label(self.money(shift.opening_float_cents)).classes("text-xl tabular-nums").mark(
                        "shift-float"
                    )
                with ui.column().classes("gap-0 items-end"):
                    ui.label("Cash expected in the drawer").classes("text-sm text-slate-500")
                    ui.label(self.money(expected)).classes(
                        "text-4xl font-bold tabular-nums text-primary"
                    ).mark("expected-cash")
            with ui.element("div").classes("grid grid-cols-2 md:grid-cols-5 gap-2 w-full"):
                big_button(
                    "Register",
                    lambda: ui.navigate.to(REGISTER_PATH),
                    icon="point_of_sale",
                    marker="go-register",
                )
                big_button("Pay in", self._pay_in, icon="south_west", outline=True, marker="pay-in")
                big_button("Pay out", self._pay_out, icon="north_east", outline=True, marker="pay-out")
                big_button("No sale", self._no_sale, icon="point_of_sale", outline=True, marker="no-sale")
                big_button("X report", self._x_report, icon="summarize", outline=True, marker="x-report")
        self.close_box = ui.column().classes("w-full")
        with self.close_box:
            big_button(
                "Close shift…",
                lambda: self._close_form(shift, expected),
                icon="lock",
                color="negative",
                marker="close-start",
            ).classes("text-xl")

    async def _pay_in(self) -> None:
        await self._movement("pay_in")

    async def _pay_out(self) -> None:
        await self._movement("pay_out")

    async def _movement(self, kind: str) -> None:
        shift = self.shift
        if shift is None:
            return
        what = "Pay in" if kind == "pay_in" else "Pay out"

        async def work() -> None:
            got = await ask_amount(
                f"{what} — amount", symbol=self.symbol, ok_label="Next", marker=kind.replace("_", "-")
            )
            if got is None:
                raise Cancelled
            reason = await ask_text(f"{what} — reason", "Reason", marker="movement-reason", ok_label=what)
            if reason is None:
                raise Cancelled
            shifts = get_services().shifts
            if kind == "pay_in":
                await off_loop(shifts.pay_in, shift.id, got[0], reason, self.actor)
            else:
                await with_approval(
                    lambda pin: shifts.pay_out(shift.id, got[0], reason, self.actor, approval_pin=pin)
                )
                await self._kick(f"pay-out: {reason}")
            show_banner(self.banner, f"{what} of {self.money(got[0])} recorded", kind="ok")
            await self.refresh()

        await self.act(work)

    async def _no_sale(self) -> None:
        shift = self.shift
        if shift is None:
            return

        async def work() -> None:
            reason = await ask_text(
                "No sale — open the drawer",
                "Reason",
                required=False,
                marker="no-sale",
                ok_label="Open drawer",
            )
            if reason is None:
                raise Cancelled
            shifts = get_services().shifts
            await with_approval(
                lambda pin: shifts.record_no_sale(
                    shift.id, self.actor, approval_pin=pin, reason=reason or None
                )
            )
            await self._kick(f"no sale{': ' + reason if reason else ''}")
            show_banner(
                self.banner,
                "No-sale recorded" + ("" if self.station.has_drawer else " (this station has no drawer)"),
                kind="ok",
            )
            await self.refresh()

        await self.act(work)

    async def _kick(self, reason: str) -> None:
        if not self.station.has_drawer:
            return
        problem = await off_loop(
            hardware.open_drawer, get_services(), self.station.id, user_id=self.actor.id, reason=reason
        )
        if problem:
            show_banner(self.banner, friendly(problem))

    async def _x_report(self) -> None:
        shift = self.shift
        if shift is not None:
            await self.act(lambda: show_report(shift.id, self.station.id))

    # ------------------------------------------------------------------ close

    def _close_form(self, shift: ShiftView, expected: int) -> None:
        self.close_box.clear()
        with self.close_box, ui.card().classes("w-full p-5 rounded-2xl gap-3").mark("close-card"):
            ui.label("Close the shift: count the drawer").classes("text-2xl font-semibold")
            ui.label("Count every note and coin in the drawer, including the float.").classes(
                "text-slate-600"
            )
            summary = ui.row().classes("w-full gap-8 items-end")

            def update() -> None:
                summary.clear()
                counted = counter.total
                variance = counted - expected
                with summary:
                    for label, value, marker in (
                        ("Expected", expected, "close-expected"),
                        ("Counted", counted, "close-counted"),
                    ):
                        with ui.column().classes("gap-0"):
                            ui.label(label).classes("text-sm text-slate-500")
                            ui.label(self.money(value)).classes("text-2xl font-bold tabular-nums").mark(
                                marker
                            )
                    with ui.column().classes("gap-0"):
                        word = "over" if variance > 0 else "short" if variance < 0 else "balanced"
                        ui.label(f"Variance ({word})").classes("text-sm text-slate-500")
                        color = "text-positive" if variance == 0 else "text-negative"
                        ui.label(self.money(variance)).classes(
                            f"text-3xl font-extrabold tabular-nums {color}"
                        ).mark("close-variance")

            counter = DenominationCounter(self.denominations, self.symbol, marker="count", on_change=update)
            update()
            with ui.row().classes("w-full gap-2"):
                big_button(
                    "Close shift",
                    lambda: self._close(shift, counter, expected),
                    icon="lock",
                    color="negative",
                    marker="close-shift",
                ).classes("text-xl")
                big_button("Cancel", self.refresh, color="grey-7", outline=True, marker="close-cancel")

    async def _close(self, shift: ShiftView, counter: DenominationCounter, expected: int) -> None:
        async def work() -> None:
            variance = counter.total - expected
            sure = await confirm(
                "Close the shift?",
                f"Counted {self.money(counter.total)}, expected {self.money(expected)}: "
                f"variance {self.money(variance)}. "
                "A closed shift cannot be reopened.",
                ok_label="Close shift",
                marker="close",
            )
            if not sure:
                raise Cancelled
            shifts = get_services().shifts
            counts = counter.nonzero() or dict.fromkeys(self.denominations[:1], 0)
            closed = await with_approval(
                lambda pin: shifts.close_shift(
                    shift.id, self.actor, counted_denominations=counts, approval_pin=pin
                )
            )
            self.just_closed = closed.id
            await self.refresh()
            show_banner(
                self.banner, f"Shift closed. Variance {self.money(closed.variance_cents or 0)}", kind="ok"
            )

        await self.act(work)

    async def _report_card(self, shift_id: str, *, title: str) -> None:
        report = await off_loop(get_services().shifts.z_report, shift_id)
        text = z_report_text(report)
        with ui.card().classes("w-full p-5 rounded-2xl gap-3").mark("z-report-card"):
            with ui.row().classes("w-full items-center"):
                ui.label(title).classes("text-2xl font-semibold grow")
                if hardware.can_print(get_services()):
                    big_button(
                        "Print",
                        lambda: self.act(lambda: print_report(text, self.station.id)),
                        icon="print",
                        outline=True,
                        marker="z-print",
                    )
            receipt_block(text, marker="z-report")

    # ------------------------------------------------------------------ history

    async def _recent(self) -> None:
        shifts = await off_loop(get_services().shifts.list_shifts, self.station.id, limit=RECENT)
        self.recent.clear()
        closed = [s for s in shifts if not s.is_open]
        if not closed:
            return
        with self.recent:
            ui.label("Recent shifts").classes("text-xl font-semibold mt-2")
            with ui.card().classes("w-full p-0 rounded-2xl gap-0"):
                for i, s in enumerate(closed):
                    with (
                        ui.row()
                        .classes("w-full items-center px-4 py-2 border-t border-slate-100 gap-4 no-wrap")
                        .mark("recent-shift")
                    ):
                        ui.label(s.opened_at.astimezone().strftime("%a %d %b %H:%M")).classes(
                            "text-base w-40"
                        )
                        ui.label(s.opened_by_name).classes("text-base grow")
                        v = s.variance_cents or 0
                        ui.label(f"Variance {self.money(v)}").classes(
                            f"text-base tabular-nums {'text-negative' if v else 'text-positive'}"
                        )
                        big_button(
                            "Z report",
                            lambda sid=s.id: self.act(lambda: show_report(sid, self.station.id)),
                            icon="receipt_long",
                            outline=True,
                            marker=f"recent-z-{i}",
                        )


async def show_report(shift_id: str, station_id: str) -> None:
    """The (X or Z) report of a shift in a dialog, with Print when printing exists."""
    report = await off_loop(get_services().shifts.z_report, shift_id)
    text = z_report_text(report)
    dialog, body = dialog_card(
        "Z report" if report.final else "X report (shift still open)", icon="receipt_long"
    )
    with body:
        receipt_block(text, marker="z-report-dialog").classes("w-full max-h-[60vh] overflow-y-auto")
        if hardware.can_print(get_services()):
            big_button(
                "Print",
                lambda: print_report(text, station_id),
                icon="print",
                outline=True,
                marker="z-dialog-print",
            )
    await run_dialog(dialog)


async def print_report(text: str, station_id: str) -> None:
    await off_loop(hardware.print_text, get_services(), station_id, "z_report", text)
    ui.notify("Report sent to the printer", type="positive")


def register() -> None:
    """Add the ``/shift`` page."""

    @app_page(SHIFT_PATH, title="Shift", min_role=Role.CASHIER)
    async def shift_page(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        station = await off_loop(services.stations.local, services.config.station_role)
        settings = await off_loop(services.shop.all)
        symbol = str(settings.get("shop.currency_symbol") or "$")
        raw = settings.get("shift.denominations")
        denominations = (
            sorted({int(d) for d in raw if isinstance(d, int) and d > 0}, reverse=True)
            if isinstance(raw, list)
            else list(DEFAULTS["shift.denominations"])
        ) or list(DEFAULTS["shift.denominations"])
        page = ShiftPage(user, actor, station, symbol, denominations)
        await page.refresh()
