"""``/login``: cashiers tap their name and a PIN, managers and admins use a password.

Both ways are on one screen because the same register is used by both: a manager
stepping in at the counter should not need a different station. The PIN pad works by
touch and by the physical keyboard; nothing about a failed login reveals more than the
service says (it never tells whether a username exists).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi.responses import RedirectResponse
from nicegui import events, ui

from ui.context import get_services, off_loop
from ui.layout import ROLE_LABEL, apply_theme, error_text, friendly, notice, shop_name_or_default
from ui.nav import LOGIN_PATH, landing_for, safe_target
from ui.session import remember_login, revalidate, take_flash
from vaultsync.domain.enums import StationRole
from vaultsync.domain.errors import VaultSyncError
from vaultsync.services.auth import UserView

log = logging.getLogger(__name__)

MIN_PIN = 4
MAX_PIN = 8

LoginDone = Callable[[UserView], Awaitable[None] | None]

#: keypad buttons must not take focus, or a physical Enter would also "press" the last tapped digit
NO_FOCUS = "(e) => e.preventDefault()"


def initials(name: str) -> str:
    """ "Jess Tran" -> "JT": the tile's badge, recognisable at a glance across the counter."""
    words = [w for w in name.replace("(", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


class PinPad:
    """Tiles of the PIN users; after a tap, a numeric keypad with masked dots."""

    def __init__(self, users: list[UserView], on_login: LoginDone) -> None:
        self.users = users
        self.on_login = on_login
        self.selected: UserView | None = None
        self.pin = ""
        self.busy = False
        self._build()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        with ui.column().classes("w-full gap-3") as self.tiles_box:
            ui.label("Tap your name").classes("text-base text-slate-600")
            if not self.users:
                ui.label("No one can log in with a PIN yet. A manager can add PINs for cashiers.").classes(
                    "text-slate-500"
                ).mark("pin-none")
            with ui.element("div").classes("grid grid-cols-2 sm:grid-cols-3 gap-3 w-full"):
                for user in self.users:
                    with (
                        ui.button(on_click=lambda u=user: self.select(u))
                        .props("no-caps unelevated color=white text-color=primary padding=sm")
                        .classes("h-36 w-full rounded-xl border border-slate-200 shadow-sm")
                        .mark(f"pin-user:{user.username}"),
                        ui.column().classes("items-center gap-1 w-full"),
                    ):
                        ui.label(initials(user.display_name)).classes(
                            "w-12 h-12 rounded-full bg-primary text-white text-lg font-bold "
                            "flex items-center justify-center"
                        )
                        ui.label(user.display_name).classes(
                            "text-base font-semibold leading-tight text-center line-clamp-2"
                        )
                        ui.label(ROLE_LABEL[user.role]).classes("text-xs text-slate-500")
        with ui.column().classes("w-full items-center gap-3") as self.pad_box:
            with ui.row().classes("w-full items-center no-wrap"):
                ui.button(icon="arrow_back", on_click=self.back).props("flat round size=lg").mark(
                    "pin-change-user"
                ).tooltip("Choose another person")
                with ui.column().classes("gap-0"):
                    self.who = ui.label().classes("text-xl font-semibold").mark("pin-who")
                    ui.label("Enter your PIN").classes("text-slate-600")
            self.dots = (
                ui.label().classes("text-4xl tracking-[0.4em] text-primary leading-none").mark("pin-dots")
            )
            self.error = ui.label().classes("text-negative text-base font-medium text-center min-h-[1.5rem]")
            self.error.mark("pin-error")
            with ui.element("div").classes("grid grid-cols-3 gap-3"):
                for digit in "123456789":
                    self._key(digit)
                self._button("Clear", self.clear, "pin-clear", color="grey-3", text_color="grey-9")
                self._key("0")
                self._button(
                    "", self.backspace, "pin-backspace", icon="backspace", color="grey-3", text_color="grey-9"
                )
            enter = ui.button("Enter", icon="login", on_click=self.submit)
            enter.props("unelevated size=xl no-caps").classes("w-full max-w-[20rem] h-14").mark("pin-enter")
            enter.on("mousedown", js_handler=NO_FOCUS)
            self.enter = enter
        self.keyboard = ui.keyboard(on_key=self.on_key, active=False, ignore=["input", "select", "textarea"])
        self._show_tiles()

    def _key(self, digit: str) -> None:
        self._button(
            digit, lambda: self.press(digit), f"pin-key-{digit}", color="white", text_color="primary"
        )

    def _button(
        self,
        text: str,
        handler: Callable[[], object],
        marker: str,
        *,
        icon: str | None = None,
        color: str,
        text_color: str,
    ) -> None:
        button = ui.button(text, icon=icon, on_click=handler)
        button.props(f"unelevated color={color} text-color={text_color} no-caps").classes(
            "w-24 h-16 text-2xl rounded-xl border border-slate-200"
        ).mark(marker)
        button.on("mousedown", js_handler=NO_FOCUS)

    def _show_tiles(self) -> None:
        self.tiles_box.set_visibility(True)
        self.pad_box.set_visibility(False)
        self.keyboard.active = False

    # ------------------------------------------------------------------ actions

    def select(self, user: UserView) -> None:
        self.selected = user
        self.pin = ""
        self.who.set_text(f"{user.display_name} · {ROLE_LABEL[user.role]}")
        self._set_error("")
        self._update_dots()
        self.tiles_box.set_visibility(False)
        self.pad_box.set_visibility(True)
        self.keyboard.active = True

    def back(self) -> None:
        self.selected = None
        self.pin = ""
        self._show_tiles()

    def press(self, digit: str) -> None:
        if self.busy or len(self.pin) >= MAX_PIN:
            return
        self.pin += digit
        self._set_error("")
        self._update_dots()

    def backspace(self) -> None:
        self.pin = self.pin[:-1]
        self._update_dots()

    def clear(self) -> None:
        self.pin = ""
        self._set_error("")
        self._update_dots()

    async def on_key(self, e: events.KeyEventArguments) -> None:
        """The physical keyboard (or a USB keypad) drives the same pad as the screen."""
        if not e.action.keydown or self.selected is None:
            return
        if e.key.number is not None:
            self.press(str(e.key.number))
        elif e.key.backspace:
            self.backspace()
        elif e.key.escape:
            self.clear()
        elif e.key.enter:
            await self.submit()

    async def submit(self) -> None:
        user = self.selected
        if self.busy or user is None:
            return
        if len(self.pin) < MIN_PIN:
            self._set_error(f"Enter your PIN ({MIN_PIN} to {MAX_PIN} digits)")
            return
        pin, self.pin = self.pin, ""
        self._update_dots()
        self.busy = True
        self.enter.props("loading")
        auth = get_services().auth
        try:
            view = await off_loop(auth.login_pin, user.id, pin)
        except VaultSyncError as exc:
            self._set_error(await self._failure_text(user, exc))
            return
        except Exception as exc:
            self._set_error(error_text(exc))
            return
        finally:
            self.busy = False
            self.enter.props(remove="loading")
        result = self.on_login(view)
        if result is not None:
            await result

    async def _failure_text(self, user: UserView, exc: VaultSyncError) -> str:
        """Say "try again in N s" as soon as a wrong PIN locks the account, not one try later."""
        try:
            remaining = await off_loop(get_services().auth.lockout_remaining, user.id)
        except Exception:
            log.exception("could not read the lockout of user %s", user.id)
            return friendly(str(exc))
        if remaining.total_seconds() > 0:
            return f"Too many wrong attempts: try again in {int(remaining.total_seconds()) + 1} s"
        return friendly(str(exc))

    def _set_error(self, text: str) -> None:
        self.error.set_text(text)

    def _update_dots(self) -> None:
        shown = max(MIN_PIN, len(self.pin))
        self.dots.set_text("●" * len(self.pin) + "○" * (shown - len(self.pin)))


class PasswordForm:
    """Username and password for managers and admins (and anyone given a password)."""

    def __init__(self, on_login: LoginDone) -> None:
        self.on_login = on_login
        self.busy = False
        self.username = (
            ui.input("Username")
            .props("outlined autocomplete=username")
            .classes("w-full text-lg")
            .mark("login-username")
        )
        self.password = (
            ui.input("Password", password=True, password_toggle_button=True)
            .props("outlined autocomplete=current-password")
            .classes("w-full text-lg")
            .mark("login-password")
        )
        self.username.on("keydown.enter", self.submit)
        self.password.on("keydown.enter", self.submit)
        self.error = (
            ui.label().classes("text-negative text-base font-medium min-h-[1.5rem]").mark("password-error")
        )
        self.button = (
            ui.button("Log in", icon="login", on_click=self.submit)
            .props("unelevated size=lg no-caps")
            .classes("w-full h-14")
            .mark("login-submit")
        )

    async def submit(self) -> None:
        if self.busy:
            return
        username = (self.username.value or "").strip()
        password = self.password.value or ""
        if not username or not password:
            self.error.set_text("Enter your username and password")
            return
        self.busy = True
        self.button.props("loading")
        self.error.set_text("")
        try:
            view = await off_loop(get_services().auth.login_password, username, password)
        except Exception as exc:
            self.password.value = ""
            self.error.set_text(error_text(exc))
            return
        finally:
            self.busy = False
            self.button.props(remove="loading")
        result = self.on_login(view)
        if result is not None:
            await result


def kiosk_notice(shop_name: str) -> None:
    with ui.column().classes("w-full min-h-screen items-center justify-center p-6"):
        ui.label(shop_name).classes("text-3xl font-semibold text-primary")
        notice(
            "qr_code_scanner",
            "This is a price-check station",
            "Nobody logs in here. Staff pages are available at a cashier station or the manager desk.",
            color="primary",
            marker="kiosk-notice",
        )


def register() -> None:
    """Add the ``/login`` page."""

    @ui.page(LOGIN_PATH, title="Log in")
    async def login_page(redirect_to: str | None = None) -> RedirectResponse | None:
        services = get_services()
        apply_theme()
        try:
            shop_name = await shop_name_or_default()
            station = services.config.station_role
            if station is StationRole.KIOSK:
                ui.page_title(f"Price check · {shop_name}")
                kiosk_notice(shop_name)
                return None
            already = await revalidate()
            target = safe_target(redirect_to)
            if already is not None:
                return RedirectResponse(target or landing_for(already.role), status_code=303)
            pin_users = await off_loop(services.auth.pin_users)
        except Exception as exc:
            notice("error_outline", "Login is unavailable", error_text(exc), marker="page-error")
            return None
        flash = take_flash()
        ui.page_title(f"Log in · {shop_name}")

        async def done(view: UserView) -> None:
            remember_login(view)
            ui.navigate.to(target or landing_for(view.role))

        ui.context.client.content.style("padding: 0")
        with ui.column().classes("w-full min-h-screen items-center gap-0"):
            with (
                ui.column().classes("w-full bg-primary items-center pt-10 pb-24 px-4"),
                ui.row().classes("items-center gap-3 text-white"),
            ):
                ui.icon("style").classes("text-5xl text-amber-300")
                with ui.column().classes("gap-0"):
                    ui.label(shop_name).classes("text-3xl font-semibold").mark("shop-name")
                    ui.label(f"VaultSync · {station.value} station").classes("text-blue-200")
            body = ui.column().classes("w-full max-w-5xl -mt-16 px-4 pb-10 gap-4 items-center")
        with body:
            if flash:
                flash_classes = "items-center gap-2 bg-amber-50 text-amber-900 border border-amber-300"
                with ui.row().classes(f"{flash_classes} rounded-lg px-4 py-3").mark("flash"):
                    ui.icon("info")
                    ui.label(flash).classes("text-base")
            with ui.row().classes("w-full max-w-5xl gap-6 items-start justify-center"):
                with ui.card().classes("w-full md:w-[30rem] p-6 gap-4 rounded-2xl").mark("pin-card"):
                    with ui.row().classes("items-center gap-2"):
                        ui.icon("dialpad", color="primary").classes("text-3xl")
                        ui.label("Cashier PIN").classes("text-2xl font-semibold")
                    PinPad(pin_users, done)
                with ui.card().classes("w-full md:w-[24rem] p-6 gap-4 rounded-2xl").mark("password-card"):
                    with ui.row().classes("items-center gap-2"):
                        ui.icon("admin_panel_settings", color="primary").classes("text-3xl")
                        ui.label("Manager login").classes("text-2xl font-semibold")
                    ui.label("Managers and admins log in with their username and password.").classes(
                        "text-slate-600"
                    )
                    PasswordForm(done)
        return None
