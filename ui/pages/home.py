"""``/``: who is logged in on which station, and big tiles to the pages this role may use.

Only pages that exist are offered; the tiles come from the same registry as the drawer
and the guard, so they can never point at a page the person would be refused.
"""

from __future__ import annotations

from nicegui import ui

from ui.context import get_services
from ui.layout import ROLE_COLOR, ROLE_LABEL, app_page
from ui.nav import HOME_PATH, items_for
from ui.session import SessionUser


def register() -> None:
    """Add the ``/`` page: the role-aware landing page with tiles for the pages the role may use."""

    @app_page(HOME_PATH, title="Home")
    def home(user: SessionUser) -> None:
        station = get_services().config.station_role
        with (
            ui.card().classes("w-full p-6 rounded-2xl").mark("welcome"),
            ui.row().classes("items-center gap-4"),
        ):
            ui.icon("waving_hand", color="accent").classes("text-5xl")
            with ui.column().classes("gap-1"):
                ui.label(f"Hello, {user.display_name}").classes("text-3xl font-semibold")
                with ui.row().classes("items-center gap-2 text-slate-600 text-base"):
                    ui.label("Logged in as")
                    ui.badge(ROLE_LABEL[user.role], color=ROLE_COLOR[user.role]).classes("text-sm")
                    ui.label(f"on the {station.value} station").mark("station-role")
        tiles = [item for item in items_for(user.role) if item.path != HOME_PATH]
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 lg:grid-cols-3 gap-4 w-full"):
            for item in tiles:
                with (
                    ui.card()
                    .classes("p-6 rounded-2xl cursor-pointer hover:shadow-lg transition-shadow min-h-[10rem]")
                    .on("click", lambda p=item.path: ui.navigate.to(p))
                    .mark(f"tile:{item.path}")
                ):
                    ui.icon(item.icon, color="primary").classes("text-5xl")
                    ui.label(item.label).classes("text-2xl font-semibold")
                    ui.label(item.description).classes("text-slate-600")
