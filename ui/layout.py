"""The shared look and frame of VaultSync's pages, and the decorator that guards them.

All pages use one palette and one frame (header with the shop, the person and a logout
button; a drawer listing only what this person may open) so a cashier moving between
screens never has to hunt for the same control in a new place. Targets are large
because the registers are touch screens.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse
from nicegui import ui

from ui.context import get_services, off_loop
from ui.nav import LOGIN_PATH, items_for
from ui.session import SessionUser, current_user, forget_login
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import VaultSyncError

log = logging.getLogger(__name__)

#: one palette for every page (Quasar brand colours; Tailwind classes for the rest)
PALETTE: dict[str, str] = {
    "primary": "#1e3a5f",
    "secondary": "#3b5b7e",
    "accent": "#d97706",
    "positive": "#15803d",
    "negative": "#b91c1c",
    "warning": "#b45309",
    "info": "#0369a1",
    "dark": "#0f172a",
}

GENERIC_ERROR = "Something went wrong. Please try again, or call a manager if it keeps happening."

ROLE_LABEL: dict[Role, str] = {Role.ADMIN: "Admin", Role.MANAGER: "Manager", Role.CASHIER: "Cashier"}
ROLE_COLOR: dict[Role, str] = {Role.ADMIN: "accent", Role.MANAGER: "info", Role.CASHIER: "positive"}

PageBuilder = Callable[[SessionUser], Awaitable[None] | None]


def apply_theme() -> None:
    """Colours and page background; called by every page (NiceGUI themes are per page)."""
    ui.colors(**PALETTE)
    ui.query("body").classes("bg-slate-100 text-slate-900")


def friendly(message: str) -> str:
    """Service messages are lower-case phrases ("wrong PIN"); on screen they start a sentence."""
    message = message.strip()
    return message[:1].upper() + message[1:] if message else GENERIC_ERROR


def error_text(exc: BaseException) -> str:
    """What to show a person for ``exc``: a service's own message, or a generic one.

    Anything that is not a :class:`VaultSyncError` is a bug; its details belong in the
    log, not on a customer-facing screen.
    """
    if isinstance(exc, VaultSyncError):
        return friendly(str(exc))
    log.error("unexpected error in the UI", exc_info=exc)
    return GENERIC_ERROR


def notice(icon: str, title: str, text: str, *, color: str = "negative", marker: str = "notice") -> None:
    """A centred card explaining why there is nothing else here (403, kiosk, errors)."""
    with ui.card().classes("mx-auto mt-12 max-w-xl w-full items-center text-center p-8 gap-3").mark(marker):
        ui.icon(icon, color=color).classes("text-6xl")
        ui.label(title).classes("text-2xl font-semibold")
        ui.label(text).classes("text-lg text-slate-600")


def forbidden(user: SessionUser, needed: Role) -> None:
    """The "403" notice shown in place of a page this person's role may not use."""
    notice(
        "block",
        "Not allowed (403)",
        f"This page needs a {needed.value} or higher; you are logged in as "
        f"{user.display_name} ({user.role.value}).",
        marker="forbidden",
    )


async def shop_name_or_default() -> str:
    """The shop's name for the header; "VaultSync" if the settings cannot be read right now."""
    try:
        return str(await off_loop(get_services().shop.get, "shop.name"))
    except Exception:
        log.exception("could not read the shop name")
        return "VaultSync"


def logout() -> None:
    forget_login()
    ui.navigate.to(LOGIN_PATH)


def frame(user: SessionUser, *, shop_name: str, active_path: str, wide: bool = False) -> ui.column:
    """Header + navigation drawer; returns the content column the page fills.

    ``wide`` pages (the register) use the whole screen: a cart beside big tender buttons
    needs every pixel of a 1366-wide touch screen, while reading pages stay narrow.
    """
    apply_theme()
    with (
        ui.left_drawer(value=True, bordered=True)
        .props("show-if-above width=220")
        .classes("bg-white p-0") as drawer,
        ui.list().classes("w-full pt-2").props("padding"),
    ):
        for item in items_for(user.role):
            active = item.path == active_path
            with (
                ui.item(on_click=lambda p=item.path: ui.navigate.to(p))
                .props(f"clickable v-ripple {'active' if active else ''} active-class=nav-active")
                .classes("min-h-[56px] text-base rounded-r-full mr-3")
                .mark(f"nav:{item.path}")
            ):
                with ui.item_section().props("avatar"):
                    ui.icon(item.icon, color="primary" if active else "grey-7")
                with ui.item_section():
                    ui.item_label(item.label).classes("font-medium")
    ui.add_css(".nav-active { background: #e0e7ff; color: #1e3a5f; }")
    with ui.header(elevated=True).classes("bg-primary text-white items-center px-3 py-2 gap-2"):
        ui.button(icon="menu", on_click=drawer.toggle).props("flat round color=white size=lg").mark("menu")
        ui.icon("style").classes("text-3xl text-amber-300")
        with ui.column().classes("gap-0"):
            ui.label(shop_name).classes("text-xl font-semibold leading-tight").mark("shop-name")
            ui.label("VaultSync").classes("text-xs text-blue-200 leading-tight")
        ui.space()
        with ui.column().classes("gap-0 items-end"):
            ui.label(user.display_name).classes("text-base font-medium leading-tight").mark("user-name")
            ui.badge(ROLE_LABEL[user.role], color=ROLE_COLOR[user.role]).classes("text-sm").mark("user-role")
        ui.button("Log out", icon="logout", on_click=logout).props("flat no-caps color=white size=lg").mark(
            "logout"
        )
    if wide:
        return ui.column().classes("w-full p-3 md:p-4 gap-3")
    return ui.column().classes("w-full max-w-7xl mx-auto p-4 md:p-6 gap-4")


def app_page(
    path: str, *, title: str, min_role: Role = Role.CASHIER, wide: bool = False
) -> Callable[[PageBuilder], PageBuilder]:
    """Register ``builder`` as the page at ``path`` for logged-in users of ``min_role`` or higher.

    The middleware already sent anonymous visitors to the login page; this wrapper adds
    the frame, the role check (a "not allowed" notice instead of the content) and turns
    any error while building into a message instead of a stack trace.
    """

    def decorator(builder: PageBuilder) -> PageBuilder:
        @ui.page(path, title=title)
        async def page() -> RedirectResponse | None:
            user = current_user()
            if user is None:  # the middleware normally catches this; never render without a user
                return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'redirect_to': path})}", status_code=303)
            shop_name = await shop_name_or_default()
            ui.page_title(f"{title} · {shop_name}")
            with frame(user, shop_name=shop_name, active_path=path, wide=wide):
                if not user.role.at_least(min_role):
                    forbidden(user, min_role)
                    return None
                try:
                    result = builder(user)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    notice(
                        "error_outline", "This page could not be shown", error_text(exc), marker="page-error"
                    )
            return None

        return builder

    return decorator
