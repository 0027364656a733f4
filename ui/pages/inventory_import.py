"""``/inventory/import``: bulk catalog and stock from a CSV file — check first, then import.

Upload a file (or paste its text); the check shows how many rows are good, what would be
created, and every bad row with its line number and reason. Importing is all-or-nothing; when
some rows are bad, the manager can fix the file, or deliberately import only the good rows.
"""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from ui.components import big_button
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.pages.inventory_paths import IMPORT_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.services.auth import UserView
from vaultsync.services.catalog_import import MAX_BYTES, TEMPLATE_HEADER, ImportReport

ERROR_COLUMNS: list[dict[str, Any]] = [
    {"name": "row", "label": "Line", "field": "row", "align": "right"},
    {"name": "column", "label": "Column", "field": "column", "align": "left"},
    {"name": "message", "label": "Problem", "field": "message", "align": "left"},
]


class ImportScreen:
    def __init__(self, actor: UserView, locations: dict[str, str]) -> None:
        self.actor = actor
        self.data: bytes | None = None
        self.report: ImportReport | None = None
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("upload_file", color="primary").classes("text-4xl")
            ui.label("Import catalog and stock").classes("text-3xl font-semibold")
        with ui.card().classes("w-full p-4 gap-3 rounded-2xl"):
            ui.label("Columns (header row, any order):").classes("text-slate-600")
            ui.label(TEMPLATE_HEADER).classes("font-mono text-sm break-all").mark("import-columns")
            self.upload = (
                ui.upload(
                    label="CSV file",
                    auto_upload=True,
                    max_file_size=MAX_BYTES,
                    on_upload=self._uploaded,
                    on_rejected=self._too_large,
                )
                .props("accept=.csv,text/csv flat bordered")
                .classes("w-full")
                .mark("import-upload")
            )
            self.paste = (
                ui.textarea("…or paste the CSV text here")
                .props("outlined autogrow")
                .classes("w-full font-mono")
                .mark("import-paste")
            )
            self.location = (
                ui.select({"": "—"} | locations, value="", label="Location for rows without one")
                .props("outlined")
                .classes("w-full")
                .mark("import-location")
            )
            with ui.row().classes("w-full gap-3"):
                big_button("Check file", self._check, icon="rule", marker="import-check")
        self.error = ui.label().classes("text-negative font-medium text-lg").mark("import-error")
        self.summary = ui.label().classes("text-lg font-medium").mark("import-summary")
        self.errors = (
            ui.table(columns=ERROR_COLUMNS, rows=[], row_key="key")
            .props("flat bordered dense")
            .classes("w-full")
            .mark("import-errors")
        )
        self.errors.set_visibility(False)
        with ui.row().classes("w-full gap-3") as self.actions:
            self.import_all = big_button(
                "Import", lambda: self._import(False), icon="done_all", color="positive", marker="import-all"
            )
            self.import_valid = big_button(
                "Import only the good rows",
                lambda: self._import(True),
                icon="playlist_add_check",
                color="warning",
                marker="import-valid",
            )
        self.actions.set_visibility(False)
        self.result = ui.label().classes("text-positive font-medium text-lg").mark("import-result")

    def _too_large(self) -> None:
        """The browser refuses a file over the limit without sending it: say so."""
        self.error.set_text(f"That file is larger than {MAX_BYTES // (1024 * 1024)} MB: import it in parts")

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        self.data = await e.file.read()
        self.paste.set_value("")
        await self._check()

    def _source(self) -> bytes | None:
        pasted = str(self.paste.value or "")
        if pasted.strip():
            return pasted.encode("utf-8")
        return self.data

    async def _run(self, *, dry_run: bool, only_valid: bool = False) -> ImportReport | None:
        self.error.set_text("")
        data = self._source()
        if not data:
            self.error.set_text("Choose a CSV file (or paste its text) first")
            return None
        try:
            return await off_loop(
                get_services().catalog_import.run,
                data,
                actor=self.actor,
                dry_run=dry_run,
                only_valid=only_valid,
                default_location_id=str(self.location.value) or None,
            )
        except Exception as exc:
            self.error.set_text(error_text(exc))
            self.actions.set_visibility(False)
            return None

    async def _check(self) -> None:
        self.result.set_text("")
        report = await self._run(dry_run=True)
        if report is None:
            return
        self.report = report
        self.summary.set_text(
            f"{report.rows} rows: {report.valid_rows} good, {report.error_rows} with problems. "
            f"Would create {report.products_created} products and {report.skus_created} items, "
            f"add stock to {report.skus_updated} existing items, {report.units_received} units in all."
        )
        self.errors.rows = [
            {"key": i, "row": e.row, "column": e.column or "", "message": e.message}
            for i, e in enumerate(report.errors)
        ]
        self.errors.set_visibility(bool(report.errors))
        self.actions.set_visibility(report.valid_rows > 0)
        self.import_all.set_visibility(not report.errors)
        self.import_valid.set_visibility(bool(report.errors))

    async def _import(self, only_valid: bool) -> None:
        report = await self._run(dry_run=False, only_valid=only_valid)
        if report is None:
            return
        if not report.committed:
            self.error.set_text("Nothing was imported: some rows have problems (see the list)")
            return
        self.actions.set_visibility(False)
        self.result.set_text(
            f"Imported {report.valid_rows} rows: {report.skus_created} new items, "
            f"{report.units_received} units of stock"
        )


def register() -> None:
    @app_page(IMPORT_PATH, title="Import", min_role=Role.MANAGER)
    async def import_page(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        locations = {loc.id: loc.path for loc in await off_loop(services.catalog.locations)}
        ImportScreen(actor, locations)
