"""``/inventory/locations``: the shop's location tree (store → case → binder → slot), how many
units each place holds, what is in one place, and adding a place."""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from ui.components import big_button
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.pages.inventory_paths import LOCATIONS_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.services.auth import UserView
from vaultsync.services.catalog import LOCATION_KINDS

TREE_COLUMNS: list[dict[str, Any]] = [
    {"name": "path", "label": "Location", "field": "path", "align": "left"},
    {"name": "kind", "label": "Kind", "field": "kind", "align": "left"},
    {"name": "code", "label": "Label", "field": "code", "align": "left"},
    {"name": "units", "label": "Units here", "field": "units", "align": "right"},
]
CONTENT_COLUMNS: list[dict[str, Any]] = [
    {"name": "location", "label": "Where", "field": "location", "align": "left"},
    {"name": "name", "label": "Item", "field": "name", "align": "left"},
    {"name": "sku_code", "label": "SKU", "field": "sku_code", "align": "left"},
    {"name": "on_hand", "label": "On hand", "field": "on_hand", "align": "right"},
]


class LocationsScreen:
    def __init__(self, actor: UserView) -> None:
        self.actor = actor
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("place", color="primary").classes("text-4xl")
            ui.label("Locations").classes("text-3xl font-semibold")
        with ui.card().classes("w-full p-4 rounded-2xl"), ui.row().classes("w-full gap-3 items-center"):
            self.name = ui.input("New location name").props("outlined").mark("location-name")
            self.kind = (
                ui.select({k: k.capitalize() for k in LOCATION_KINDS}, value="binder", label="Kind")
                .props("outlined")
                .mark("location-kind")
            )
            self.parent = (
                ui.select({}, label="Inside", with_input=True)
                .props("outlined")
                .classes("min-w-[16rem] grow")
                .mark("location-parent")
            )
            self.code = ui.input("Label (e.g. B-MTG-3)").props("outlined").mark("location-code")
            big_button("Add", self._add, icon="add_location", marker="location-add")
        self.error = ui.label().classes("text-negative font-medium").mark("location-error")
        self.table = (
            ui.table(columns=TREE_COLUMNS, rows=[], row_key="id")
            .props("flat bordered")
            .classes("w-full cursor-pointer")
            .mark("locations")
        )
        self.table.on("rowClick", self._open, js_handler="(evt, row) => emit(row.id)")
        self.content_title = ui.label().classes("text-xl font-semibold").mark("location-content-title")
        self.content = (
            ui.table(columns=CONTENT_COLUMNS, rows=[], row_key="key")
            .props('flat bordered no-data-label="Nothing in stock here"')
            .classes("w-full")
            .mark("location-content")
        )
        self.content.set_visibility(False)

    async def load(self) -> None:
        services = get_services()
        locations = await off_loop(services.catalog.locations)
        units = await off_loop(services.stock.location_units)
        self.paths = {loc.id: loc.path for loc in locations}
        self.parent.set_options({"": "— (top level)"} | self.paths, value=self.parent.value or "")
        self.table.rows = [
            {
                "id": loc.id,
                "path": loc.path,
                "kind": loc.kind,
                "code": loc.code or "",
                "units": units.get(loc.id, 0),
            }
            for loc in locations
        ]

    async def _add(self) -> None:
        self.error.set_text("")
        try:
            await off_loop(
                get_services().catalog.create_location,
                str(self.name.value or ""),
                str(self.kind.value),
                actor=self.actor,
                parent_id=str(self.parent.value) or None,
                code=str(self.code.value or "") or None,
            )
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        self.name.set_value("")
        self.code.set_value("")
        await self.load()

    async def _open(self, e: events.GenericEventArguments) -> None:
        location_id = str(e.args)
        try:
            items = await off_loop(get_services().stock.contents, location_id)
        except Exception as exc:
            self.error.set_text(error_text(exc))
            return
        self.content_title.set_text(f"In {self.paths.get(location_id, '?')}")
        self.content.rows = [
            {
                "key": f"{i.sku_id}:{i.location_id}",
                "location": i.location,
                "name": i.name,
                "sku_code": i.sku_code,
                "on_hand": i.on_hand,
            }
            for i in items
        ]
        self.content.set_visibility(True)


def register() -> None:
    @app_page(LOCATIONS_PATH, title="Locations", min_role=Role.MANAGER)
    async def locations(user: SessionUser) -> None:
        actor = await off_loop(get_services().auth.get, user.id)
        screen = LocationsScreen(actor)
        await screen.load()
