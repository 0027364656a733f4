"""Touch components shared by the cashier screens: keypads, prompts and the manager-PIN override.

Every prompt is a dialog the caller ``await``s and gets a value (or None when dismissed),
so a page's handler reads top to bottom like the conversation at the counter: "how much
cash?" → "manager PIN?" → done. All targets are at least 56 px high for thumbs, and the
keypads also take the physical keyboard so a USB numpad works the same.

Manager overrides: services raise :class:`~vaultsync.services.approval.ApprovalRequired`
when an action needs a manager. :func:`with_approval` catches it, asks for a manager PIN
(with the service's reason), retries the very same call with ``approval_pin``, and asks
again on a wrong PIN — one implementation for discounts, refunds, voids, pay-outs and
no-sales, so every screen behaves the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from nicegui import events, ui

from ui.context import off_loop
from ui.layout import friendly
from vaultsync.domain.errors import AuthenticationError
from vaultsync.domain.money import MAX_CENTS, format_cents
from vaultsync.services.approval import ApprovalRequired

R = TypeVar("R")

#: keypad buttons must not take focus, or a physical Enter would also "press" the last tapped key
NO_FOCUS = "(e) => e.preventDefault()"
BIG = "h-14 min-h-[56px] text-lg"
KeypadMode = Literal["money", "count", "pin"]
MAX_COUNT = 99_999
MAX_PIN = 8


class Cancelled(Exception):
    """The person dismissed a prompt (or a manager PIN prompt); the action simply does not happen."""


class Keypad:
    """A 3×4 numeric keypad with a big display: money (typed as cents), a count, or a masked PIN.

    Money is typed the way cash registers do it — digits shift in from the right, so
    "1 2 5 0" reads $12.50 — which never needs a decimal point key.
    """

    def __init__(
        self,
        mode: KeypadMode,
        *,
        marker: str,
        symbol: str = "$",
        initial: int | None = None,
        on_enter: Callable[[], Any] | None = None,
    ) -> None:
        self.mode = mode
        self.marker = marker
        self.symbol = symbol
        self.on_enter = on_enter
        self.digits = str(initial) if initial else ""
        #: a suggested value (the amount due, the current count) is replaced by the first key,
        #: like a calculator showing a result: typing starts a new number, not appends to it
        self._replace = bool(initial)
        self.display = (
            ui.label()
            .classes(
                "w-full text-right text-4xl font-bold tabular-nums text-primary bg-slate-50 "
                "rounded-xl px-4 py-3 border border-slate-200 min-h-[4.5rem]"
            )
            .mark(f"{marker}-display")
        )
        with ui.element("div").classes("grid grid-cols-3 gap-2 w-full"):
            for digit in "123456789":
                self._key(digit, self._presser(digit), f"{marker}-key-{digit}")
            self._key("C", self.clear, f"{marker}-clear", color="grey-3")
            self._key("0", lambda: self.press("0"), f"{marker}-key-0")
            self._key("", self.backspace, f"{marker}-backspace", icon="backspace", color="grey-3")
        self.keyboard = ui.keyboard(on_key=self._on_key, ignore=["input", "select", "textarea"])
        self._refresh()

    def _key(
        self,
        text: str,
        handler: Callable[[], None],
        marker: str,
        *,
        icon: str | None = None,
        color: str = "white",
    ) -> None:
        button = ui.button(text, icon=icon, on_click=handler)
        button.props(f"unelevated color={color} text-color=primary no-caps").classes(
            "h-16 text-2xl rounded-xl border border-slate-200"
        ).mark(marker)
        button.on("mousedown", js_handler=NO_FOCUS)

    def _presser(self, digit: str) -> Callable[[], None]:
        return lambda: self.press(digit)

    @property
    def value(self) -> int:
        return int(self.digits) if self.digits else 0

    @property
    def text(self) -> str:
        return self.digits

    def set(self, value: int) -> None:
        self._replace = False
        self.digits = str(value) if value else ""
        self._refresh()

    def press(self, digit: str) -> None:
        limit = {"money": len(str(MAX_CENTS)) - 1, "count": len(str(MAX_COUNT)), "pin": MAX_PIN}[self.mode]
        if self._replace:
            self.digits, self._replace = "", False
        if len(self.digits) >= limit or (self.mode != "pin" and not self.digits and digit == "0"):
            return
        self.digits += digit
        self._refresh()

    def backspace(self) -> None:
        self._replace = False
        self.digits = self.digits[:-1]
        self._refresh()

    def clear(self) -> None:
        self._replace = False
        self.digits = ""
        self._refresh()

    async def _on_key(self, e: events.KeyEventArguments) -> None:
        if not e.action.keydown:
            return
        if e.key.number is not None:
            self.press(str(e.key.number))
        elif e.key.backspace:
            self.backspace()
        elif e.key.escape:
            self.clear()
        elif e.key.enter and self.on_enter is not None:
            result = self.on_enter()
            if hasattr(result, "__await__"):
                await result

    def _refresh(self) -> None:
        if self.mode == "money":
            self.display.set_text(format_cents(self.value, self.symbol))
        elif self.mode == "count":
            self.display.set_text(str(self.value))
        else:
            shown = max(4, len(self.digits))
            self.display.set_text("●" * len(self.digits) + "○" * (shown - len(self.digits)))


def dialog_card(
    title: str, *, icon: str | None = None, width: str = "max-w-lg"
) -> tuple[ui.dialog, ui.column]:
    """A dialog with a titled card; returns the dialog and the card's body column to fill."""
    with ui.dialog() as dialog, ui.card().classes(f"w-full {width} p-0 rounded-2xl gap-0"):
        with ui.row().classes("w-full items-center bg-primary text-white px-5 py-3 no-wrap"):
            if icon:
                ui.icon(icon).classes("text-3xl")
            ui.label(title).classes("text-xl font-semibold grow").mark("dialog-title")
            ui.button(icon="close", on_click=lambda: dialog.submit(None)).props(
                "flat round color=white size=lg"
            ).mark("dialog-close")
        body = ui.column().classes("w-full p-5 gap-3")
    return dialog, body


async def run_dialog(dialog: ui.dialog) -> Any:
    """Open ``dialog``, wait for its answer (None if dismissed) and remove it from the page."""
    try:
        return await dialog
    finally:
        if not dialog.is_deleted:
            dialog.delete()


def big_button(
    text: str,
    on_click: Callable[..., Any] | None = None,
    *,
    icon: str | None = None,
    color: str = "primary",
    marker: str | None = None,
    classes: str = "",
    outline: bool = False,
) -> ui.button:
    """The standard touch button: 56 px high, large text, no shouting capitals."""
    button = ui.button(text, icon=icon, on_click=on_click)
    button.props(f"{'outline' if outline else 'unelevated'} no-caps color={color}").classes(
        f"{BIG} rounded-xl {classes}"
    )
    if marker:
        button.mark(marker)
    return button


async def ask_manager_pin(reason: str, *, error: str | None = None) -> str | None:
    """Ask a manager to approve ``reason`` with their PIN; None if dismissed."""
    dialog, body = dialog_card("Manager approval", icon="admin_panel_settings", width="max-w-md")
    dialog.props("persistent")
    with body:
        ui.label(friendly(reason)).classes("text-lg font-medium").mark("mgr-reason")
        ui.label("A manager enters their PIN to approve.").classes("text-slate-600")
        ui.label(error or "").classes("text-negative font-medium min-h-[1.5rem]").mark("mgr-error")

        def ok() -> None:
            if len(pad.text) >= 4:
                dialog.submit(pad.text)

        pad = Keypad("pin", marker="mgr", on_enter=ok)
        with ui.row().classes("w-full gap-2 no-wrap"):
            big_button(
                "Cancel", lambda: dialog.submit(None), color="grey-7", outline=True, classes="grow"
            ).mark("mgr-cancel")
            big_button("Approve", ok, icon="check", marker="mgr-ok", classes="grow")
    result = await run_dialog(dialog)
    return str(result) if result else None


async def with_approval(call: Callable[[str | None], R]) -> R:
    """Run ``call(approval_pin)`` off the event loop, asking for a manager PIN when a service wants one.

    First try without a PIN (a manager ringing up approves herself); on
    :class:`ApprovalRequired` ask, retry with the PIN; a wrong PIN asks again with the
    service's message. Dismissing the prompt raises :class:`Cancelled`.
    """
    pin: str | None = None
    reason = ""
    error: str | None = None
    while True:
        try:
            return await off_loop(call, pin)
        except ApprovalRequired as exc:
            reason, error = exc.reason, None
        except AuthenticationError as exc:
            if pin is None:
                raise
            error = friendly(str(exc))
        pin = await ask_manager_pin(reason, error=error)
        if pin is None:
            raise Cancelled


async def ask_count(
    title: str, *, initial: int = 1, unit: str = "", marker: str = "count", allow_zero: bool = False
) -> int | None:
    """A whole count from the keypad (bulk commons, notes of one kind); None if dismissed."""
    dialog, body = dialog_card(title, icon="pin", width="max-w-sm")
    with body:
        if unit:
            ui.label(unit).classes("text-slate-600")

        def ok() -> None:
            if pad.value > 0 or allow_zero:
                dialog.submit(pad.value)

        pad = Keypad("count", marker=marker, initial=initial, on_enter=ok)
        big_button("OK", ok, icon="check", marker=f"{marker}-ok", classes="w-full")
    result = await run_dialog(dialog)
    return None if result is None else int(result)


async def ask_amount(
    title: str,
    *,
    symbol: str,
    initial: int = 0,
    note: str | None = None,
    ok_label: str = "OK",
    marker: str = "amount",
    reference: str | None = None,
    reference_required: bool = False,
    allow_zero: bool = False,
) -> tuple[int, str] | None:
    """An amount typed on the keypad, optionally with a text reference; None if dismissed."""
    dialog, body = dialog_card(title, icon="payments", width="max-w-md")
    with body:
        if note:
            ui.label(note).classes("text-base text-slate-600").mark(f"{marker}-note")
        ref_input: ui.input | None = None
        if reference is not None:
            ref_input = (
                ui.input(reference)
                .props("outlined input-class=text-lg")
                .classes("w-full")
                .mark(f"{marker}-ref")
            )
        error = ui.label().classes("text-negative font-medium").mark(f"{marker}-error")

        def ok() -> None:
            ref = (ref_input.value or "").strip() if ref_input is not None else ""
            if pad.value <= 0 and not allow_zero:
                error.set_text("Enter an amount")
                return
            if reference_required and not ref:
                error.set_text(f"Enter the {(reference or 'reference').lower()}")
                return
            dialog.submit((pad.value, ref))

        pad = Keypad("money", marker=marker, symbol=symbol, initial=initial, on_enter=ok)
        big_button(ok_label, ok, icon="check", marker=f"{marker}-ok", classes="w-full")
    result = await run_dialog(dialog)
    return (int(result[0]), str(result[1])) if result else None


async def ask_text(
    title: str,
    label: str,
    *,
    required: bool = True,
    marker: str = "text",
    ok_label: str = "OK",
    value: str = "",
) -> str | None:
    """One line of text (a reason, a label for a parked sale); None if dismissed."""
    dialog, body = dialog_card(title, icon="edit_note", width="max-w-md")
    with body:
        box = ui.input(label, value=value).props("outlined autofocus input-class=text-lg").classes("w-full")
        box.mark(f"{marker}-input")
        error = ui.label().classes("text-negative font-medium").mark(f"{marker}-error")

        def ok() -> None:
            text = (box.value or "").strip()
            if required and not text:
                error.set_text(f"Enter {label.lower()}")
                return
            dialog.submit(text or "")

        box.on("keydown.enter", ok)
        big_button(ok_label, ok, icon="check", marker=f"{marker}-ok", classes="w-full")
    result = await run_dialog(dialog)
    return None if result is None else str(result)


async def confirm(
    title: str, text: str, *, ok_label: str, color: str = "negative", marker: str = "confirm"
) -> bool:
    """Yes/no for something that cannot be taken back (void, close shift)."""
    dialog, body = dialog_card(title, icon="help_outline", width="max-w-md")
    with body:
        ui.label(text).classes("text-lg").mark(f"{marker}-text")
        with ui.row().classes("w-full gap-2 no-wrap"):
            big_button("Cancel", lambda: dialog.submit(False), color="grey-7", outline=True, classes="grow")
            big_button(
                ok_label, lambda: dialog.submit(True), color=color, marker=f"{marker}-ok", classes="grow"
            )
    return bool(await run_dialog(dialog))


def banner(marker: str) -> tuple[ui.row, ui.icon, ui.label]:
    """A hidden message strip (see :func:`show_banner`).

    Errors stay here until the next action, never in a popup that vanishes while the
    cashier is still looking at the customer.
    """
    with ui.row().classes("w-full items-center gap-3 rounded-xl px-4 py-3 no-wrap") as row:
        icon = ui.icon("error").classes("text-3xl")
        label = ui.label().classes("text-lg font-medium").mark(marker)
    row.set_visibility(False)
    return row, icon, label


def show_banner(parts: tuple[ui.row, ui.icon, ui.label], text: str | None, *, kind: str = "error") -> None:
    row, icon, label = parts
    if not text:
        row.set_visibility(False)
        label.set_text("")
        return
    styles = {
        "error": ("error", "bg-red-50 text-red-900 border border-red-300"),
        "ok": ("check_circle", "bg-green-50 text-green-900 border border-green-300"),
        "info": ("info", "bg-sky-50 text-sky-900 border border-sky-300"),
    }
    name, classes = styles.get(kind, styles["error"])
    icon.props(f"name={name}")
    row.classes(
        remove="bg-red-50 text-red-900 border-red-300 bg-green-50 text-green-900 border-green-300 "
        "bg-sky-50 text-sky-900 border-sky-300"
    )
    row.classes(classes)
    label.set_text(text)
    row.set_visibility(True)


def receipt_block(text: str, *, marker: str = "receipt-preview") -> ui.label:
    """A receipt (or Z report) as the printer lays it out: monospace, on a paper-white strip."""
    return (
        ui.label(text)
        .classes(
            "font-mono text-sm whitespace-pre bg-white text-slate-900 border border-slate-300 "
            "rounded-lg px-4 py-3 shadow-inner overflow-x-auto leading-snug"
        )
        .mark(marker)
    )


def money_row(label: str, value: str, *, marker: str | None = None, strong: bool = False) -> None:
    with ui.row().classes("w-full justify-between items-baseline no-wrap"):
        ui.label(label).classes("text-xl font-semibold" if strong else "text-base text-slate-600")
        value_label = ui.label(value).classes(
            "text-3xl font-bold tabular-nums text-primary" if strong else "text-lg tabular-nums"
        )
        if marker:
            value_label.mark(marker)
