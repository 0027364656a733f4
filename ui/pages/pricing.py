"""``/pricing`` (managers): the review queue, price-file imports, pricing rules and price feeds;
``/pricing/sku/{sku_id}``: one SKU's prices, their age, and its price history with a small chart.

The review queue comes first because it is what needs a person: the volatility guard held
these moves back. Imports always start with a preview (a dry run) so the manager sees the
per-row errors and what would change before anything is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse
from nicegui import events, ui

from ui.context import get_services, off_loop
from ui.layout import error_text, forbidden, frame, notice, shop_name_or_default
from ui.nav import LOGIN_PATH, PRICING_PATH
from ui.session import SessionUser, current_user
from vaultsync.domain.enums import Condition, Finish, ProductKind, Role
from vaultsync.domain.money import MoneyError, format_cents, parse_cents
from vaultsync.domain.price_rules import Rounding
from vaultsync.services.auth import UserView
from vaultsync.services.price_feeds import FeedInput, FeedView
from vaultsync.services.price_import import ImportReport
from vaultsync.services.pricing import MAX_UPLOAD_BYTES, ReviewDecision, RuleInput, SkuPrices

SKU_PATH = f"{PRICING_PATH}/sku"
ANY = ""
DASH = "—"
MAX_SHOWN_ERRORS = 200

REVIEW_COLUMNS: list[dict[str, Any]] = [
    {"name": "item", "label": "Item", "field": "item", "align": "left", "classes": "font-medium"},
    {"name": "detail", "label": "", "field": "detail", "align": "left"},
    {"name": "old", "label": "Market now", "field": "old", "align": "right"},
    {"name": "proposed", "label": "New market", "field": "proposed", "align": "right"},
    {"name": "move", "label": "Move", "field": "move", "align": "right"},
    {"name": "shelf", "label": "Shelf", "field": "shelf", "align": "right"},
    {"name": "source", "label": "Source", "field": "source", "align": "left"},
    {"name": "age", "label": "Price age", "field": "age", "align": "right"},
]
RULE_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Rule", "field": "name", "align": "left", "classes": "font-medium"},
    {"name": "scope", "label": "Applies to", "field": "scope", "align": "left"},
    {"name": "markup", "label": "Markup", "field": "markup", "align": "right"},
    {"name": "rounding", "label": "Rounding", "field": "rounding", "align": "left"},
    {"name": "minimum", "label": "Minimum", "field": "minimum", "align": "right"},
    {"name": "guard", "label": "Guard", "field": "guard", "align": "right"},
]
FEED_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Feed", "field": "name", "align": "left", "classes": "font-medium"},
    {"name": "status", "label": "State", "field": "status", "align": "left"},
    {"name": "age", "label": "Last good fetch", "field": "age", "align": "right"},
    {"name": "failures", "label": "Failures", "field": "failures", "align": "right"},
    {"name": "last", "label": "Last result", "field": "last", "align": "left"},
    {"name": "key", "label": "API key", "field": "key", "align": "left"},
]
ERROR_COLUMNS: list[dict[str, Any]] = [
    {"name": "line", "label": "Line", "field": "line", "align": "right"},
    {"name": "message", "label": "Problem", "field": "message", "align": "left"},
    {"name": "text", "label": "Row", "field": "text", "align": "left", "classes": "font-mono text-xs"},
]
PREVIEW_COLUMNS: list[dict[str, Any]] = [
    {"name": "line", "label": "Line", "field": "line", "align": "right"},
    {"name": "sku", "label": "SKU", "field": "sku", "align": "left"},
    {"name": "action", "label": "What happens", "field": "action", "align": "left"},
    {"name": "market", "label": "Market", "field": "market", "align": "right"},
    {"name": "shelf", "label": "Shelf", "field": "shelf", "align": "right"},
]
STATUS_COLOR = {
    "ok": "positive",
    "never": "grey-6",
    "down": "negative",
    "slow": "warning",
    "garbage": "negative",
}
ACTION_TEXT = {"apply": "applied", "hold": "held for review", "unchanged": "unchanged (age refreshed)"}


def age_text(at: datetime | None, now: datetime | None = None) -> str:
    """ "3 h", "2 d", "—" for a price or fetch time."""
    if at is None:
        return DASH
    now = now or datetime.now(at.tzinfo)
    hours = (now - at).total_seconds() / 3600
    if hours < 1:
        return f"{max(0, int(hours * 60))} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} d"


def money_or_dash(cents: int | None, symbol: str) -> str:
    return DASH if cents is None else format_cents(cents, symbol)


class PricingPage:
    """The four manager sections of ``/pricing`` as tabs."""

    def __init__(self, user: SessionUser, actor: UserView, symbol: str, games: list[tuple[str, str]]) -> None:
        self.user = user
        self.actor = actor
        self.symbol = symbol
        self.games = games
        ui.label("Pricing").classes("text-3xl font-semibold")
        self.message = ui.label().classes("text-base font-medium").mark("pricing-message")
        with ui.tabs().classes("w-full") as tabs:
            t_reviews = ui.tab("Reviews", icon="rule").mark("tab-reviews")
            t_import = ui.tab("Import", icon="upload_file").mark("tab-import")
            t_rules = ui.tab("Rules", icon="tune").mark("tab-rules")
            t_feeds = ui.tab("Feeds", icon="rss_feed").mark("tab-feeds")
        with ui.tab_panels(tabs, value=t_reviews).classes("w-full bg-transparent"):
            with ui.tab_panel(t_reviews):
                self._build_reviews()
            with ui.tab_panel(t_import):
                self._build_import()
            with ui.tab_panel(t_rules):
                self._build_rules()
            with ui.tab_panel(t_feeds):
                self._build_feeds()

    def say(self, text: str, *, ok: bool = True) -> None:
        self.message.text = text
        self.message.classes(replace="text-base font-medium " + ("text-positive" if ok else "text-negative"))

    def fail(self, exc: BaseException) -> None:
        self.say(error_text(exc), ok=False)

    def money(self, cents: int | None) -> str:
        return money_or_dash(cents, self.symbol)

    # ------------------------------------------------------------------ reviews

    def _build_reviews(self) -> None:
        self.review_count = ui.label().classes("text-lg").mark("review-count")
        with ui.row().classes("gap-2"):
            ui.button("Accept selected", icon="check", on_click=lambda: self._decide("accept")).props(
                "unelevated no-caps color=positive"
            ).mark("review-accept")
            ui.button("Reject selected", icon="close", on_click=lambda: self._decide("reject")).props(
                "unelevated no-caps color=negative"
            ).mark("review-reject")
            self.edit_price = (
                ui.input("New market price for the selected", placeholder="e.g. 150.00")
                .props("outlined dense")
                .classes("w-64")
                .mark("review-edit-price")
            )
            ui.button("Set price", icon="edit", on_click=lambda: self._decide("edit")).props(
                "outline no-caps"
            ).mark("review-edit")
            ui.button("Accept all", on_click=lambda: self._decide_all("accept")).props("flat no-caps").mark(
                "review-accept-all"
            )
            ui.button("Reject all", on_click=lambda: self._decide_all("reject")).props("flat no-caps").mark(
                "review-reject-all"
            )
        self.review_table = (
            ui.table(columns=REVIEW_COLUMNS, rows=[], row_key="id", selection="multiple", pagination=50)
            .props('flat wrap-cells no-data-label="Nothing waiting: every price move was within the guard"')
            .classes("w-full")
            .mark("review-table")
        )
        self.review_table.on("rowClick", self._open_sku, js_handler="(evt, row) => emit(row.sku_id)")

    async def refresh_reviews(self) -> None:
        page = await off_loop(get_services().pricing.reviews, limit=500)
        self.review_count.text = f"{page.total:,} price move(s) waiting for review"
        self.review_table.rows = [
            {
                "id": r.id,
                "sku_id": r.sku_id,
                "item": f"{r.name} ({r.sku_code})",
                "detail": r.detail,
                "old": self.money(r.old_cents),
                "proposed": self.money(r.proposed_cents),
                "proposed_cents": r.proposed_cents,
                "move": DASH if r.move_pct is None else f"{r.move_pct:+.0f}%",
                "shelf": self.money(r.shelf_cents),
                "source": r.source,
                "age": age_text(r.price_as_of),
            }
            for r in page.rows
        ]
        self.review_table.selected = []
        self.review_table.update()

    async def _open_sku(self, e: events.GenericEventArguments) -> None:
        if isinstance(e.args, str):
            ui.navigate.to(f"{SKU_PATH}/{e.args}")

    async def _decide(self, action: str) -> None:
        selected = list(self.review_table.selected)
        if not selected:
            self.say("Select the price moves to decide first (tick their rows).", ok=False)
            return
        cents = None
        if action == "edit":
            try:
                cents = parse_cents(str(self.edit_price.value or ""))
            except MoneyError as exc:
                self.say(f"New price: {exc}", ok=False)
                return
        decisions = [ReviewDecision(row["id"], action, cents) for row in selected]
        try:
            result = await off_loop(get_services().pricing.decide, decisions, actor=self.actor)
        except Exception as exc:
            self.fail(exc)
            return
        self.say(
            f"Accepted {result.accepted}, rejected {result.rejected}, set {result.edited}; "
            f"{result.repriced} shelf price(s) changed."
        )
        await self.refresh_reviews()

    async def _decide_all(self, action: str) -> None:
        try:
            result = await off_loop(get_services().pricing.decide_all_pending, action, actor=self.actor)
        except Exception as exc:
            self.fail(exc)
            return
        self.say(f"Accepted {result.accepted}, rejected {result.rejected}.")
        await self.refresh_reviews()

    # ------------------------------------------------------------------ import

    def _build_import(self) -> None:
        ui.label(
            "Upload a TCGplayer-style or PriceCharting-style CSV export (or paste it). Preview first: "
            "nothing is written until you import, and a file with bad rows is imported only if you "
            "choose to import just its valid rows."
        ).classes("text-base text-slate-600")
        # the uploaded file stays here, on the server (a price export is tens of MB: not for the
        # browser's text box); text pasted into the box is imported instead when there is any
        self.upload_data: bytes | None = None
        ui.upload(
            label="Price file (.csv)",
            auto_upload=True,
            max_file_size=MAX_UPLOAD_BYTES,
            on_upload=self._on_upload,
            on_rejected=lambda: self.say("That file is larger than 512 MB.", ok=False),
        ).props("accept=.csv,text/csv").classes("w-full max-w-xl").mark("import-upload")
        self.import_text = (
            ui.textarea("…or paste the CSV here")
            .props("outlined")
            .classes("w-full font-mono")
            .mark("import-text")
        )
        with ui.row().classes("items-center gap-4"):
            self.import_format = (
                ui.select(
                    {
                        "auto": "Detect the format",
                        "tcgplayer": "TCGplayer-style",
                        "pricecharting": "PriceCharting-style",
                    },
                    value="auto",
                    label="Format",
                )
                .props("outlined dense")
                .classes("w-64")
                .mark("import-format")
            )
            self.import_source = (
                ui.input("Source", value="csv-import")
                .props("outlined dense")
                .classes("w-48")
                .mark("import-source")
            )
            self.valid_only = ui.switch("Import only the valid rows").mark("import-valid-only")
        with ui.row().classes("gap-2"):
            ui.button("Preview", icon="visibility", on_click=lambda: self._import(dry_run=True)).props(
                "unelevated no-caps color=primary"
            ).mark("import-preview")
            self.commit_button = (
                ui.button("Import", icon="file_download_done", on_click=lambda: self._import(dry_run=False))
                .props("unelevated no-caps color=positive")
                .mark("import-commit")
            )
        self.import_summary = ui.label().classes("text-lg whitespace-pre-line").mark("import-summary")
        self.error_table = (
            ui.table(columns=ERROR_COLUMNS, rows=[], row_key="line", pagination=25)
            .props("flat dense wrap-cells")
            .classes("w-full")
            .mark("import-errors")
        )
        self.error_table.set_visibility(False)
        self.preview_table = (
            ui.table(columns=PREVIEW_COLUMNS, rows=[], row_key="key", pagination=25)
            .props("flat dense")
            .classes("w-full")
            .mark("import-preview-table")
        )
        self.preview_table.set_visibility(False)

    async def _on_upload(self, e: events.UploadEventArguments) -> None:
        # kept as bytes: the service decodes (UTF-8 or Windows-1252) and refuses binary files
        self.upload_data = await e.file.read()
        self.import_text.value = ""
        self.say(f"Loaded {e.file.name} ({len(self.upload_data):,} bytes): press Preview.")

    async def _import(self, *, dry_run: bool) -> None:
        text = str(self.import_text.value or "")
        data: bytes | str | None = text if text.strip() else self.upload_data
        if not data:
            self.say("Upload or paste a price file first.", ok=False)
            return
        try:
            report: ImportReport = await off_loop(
                get_services().pricing.import_file,
                data,
                actor=self.actor,
                source=str(self.import_source.value or "csv-import"),
                dry_run=dry_run,
                valid_only=bool(self.valid_only.value),
                expected_format=str(self.import_format.value or "auto"),
            )
        except Exception as exc:
            self.fail(exc)
            return
        self._show_report(report)
        if report.committed:
            await self.refresh_reviews()

    def _show_report(self, report: ImportReport) -> None:
        head = (
            "Preview (nothing written yet)"
            if report.dry_run
            else ("Imported" if report.committed else "Not imported")
        )
        lines = [
            f"{head}: {report.lines:,} rows, {report.prices:,} prices matched — {report.applied:,} applied "
            f"({report.repriced:,} shelf prices changed, {report.locked:,} locked shelf prices kept), "
            f"{report.held:,} held for review, "
            f"{report.unchanged:,} unchanged, {report.skipped:,} skipped, {report.error_count:,} with errors."
        ]
        if report.refused:
            lines.append(report.refused)
        self.import_summary.text = "\n".join(lines)
        self.say(
            report.refused or ("Preview ready." if report.dry_run else "Prices imported."),
            ok=report.refused is None,
        )
        self.error_table.rows = [
            {"line": e.line, "message": e.message, "text": e.text} for e in report.errors[:MAX_SHOWN_ERRORS]
        ]
        self.error_table.set_visibility(bool(report.errors))
        self.preview_table.rows = [
            {
                "key": f"{p.line}-{p.sku_id}",
                "line": p.line,
                "sku": p.sku_code,
                "action": ACTION_TEXT.get(p.action, p.action),
                "market": f"{self.money(p.old_market_cents)} → {self.money(p.new_market_cents)}",
                "shelf": f"{self.money(p.old_shelf_cents)} → {self.money(p.new_shelf_cents)}",
            }
            for p in report.preview
        ]
        self.preview_table.set_visibility(bool(report.preview))

    # ------------------------------------------------------------------ rules

    def _build_rules(self) -> None:
        ui.label(
            "Shelf price = market × markup, raised to the minimum, rounded up to the ending, never below "
            "cost. The most specific rule for a card wins. The guard holds market moves of at least its "
            "percentage AND its amount for review."
        ).classes("text-base text-slate-600")
        self.rule_table = (
            ui.table(columns=RULE_COLUMNS, rows=[], row_key="id", selection="single")
            .props('flat wrap-cells no-data-label="No rules: shelf price = market, guard 25% and $2.00"')
            .classes("w-full")
            .mark("rule-table")
        )
        ui.button("Delete selected rule", icon="delete", on_click=self._delete_rule).props(
            "flat no-caps color=negative"
        ).mark("rule-delete")
        with ui.card().classes("w-full p-4 gap-2"):
            ui.label("New rule").classes("text-lg font-semibold")
            with ui.row().classes("gap-3 items-center"):
                self.r_name = ui.input("Name").props("outlined dense").mark("rule-name")
                self.r_game = (
                    ui.select({ANY: "Any game"} | dict(self.games), value=ANY, label="Game")
                    .props("outlined dense")
                    .classes("w-56")
                    .mark("rule-game")
                )
                self.r_kind = (
                    ui.select(
                        {ANY: "Any category"} | {k.value: k.value for k in ProductKind},
                        value=ANY,
                        label="Category",
                    )
                    .props("outlined dense")
                    .classes("w-44")
                    .mark("rule-kind")
                )
                self.r_condition = (
                    ui.select(
                        {ANY: "Any condition"} | {c.value: c.value for c in Condition},
                        value=ANY,
                        label="Condition",
                    )
                    .props("outlined dense")
                    .classes("w-44")
                    .mark("rule-condition")
                )
                self.r_finish = (
                    ui.select(
                        {ANY: "Any finish"} | {f.value: f.value for f in Finish}, value=ANY, label="Finish"
                    )
                    .props("outlined dense")
                    .classes("w-40")
                    .mark("rule-finish")
                )
            with ui.row().classes("gap-3 items-center"):
                self.r_markup = (
                    ui.number("Markup %", value=100, min=50, max=1000)
                    .props("outlined dense")
                    .mark("rule-markup")
                )
                self.r_rounding = (
                    ui.select(
                        {r.value: r.label for r in Rounding}, value=Rounding.NONE.value, label="Rounding"
                    )
                    .props("outlined dense")
                    .classes("w-56")
                    .mark("rule-rounding")
                )
                self.r_min = ui.input("Minimum price", value="0.00").props("outlined dense").mark("rule-min")
                self.r_guard_pct = (
                    ui.number("Guard %", value=25, min=1).props("outlined dense").mark("rule-guard-pct")
                )
                self.r_guard_abs = (
                    ui.input("Guard amount", value="2.00").props("outlined dense").mark("rule-guard-abs")
                )
            ui.button("Add rule", icon="add", on_click=self._add_rule).props(
                "unelevated no-caps color=primary"
            ).mark("rule-add")

    async def refresh_rules(self) -> None:
        rules = await off_loop(get_services().pricing.rules)
        rows = []
        for r in rules:
            scope = [x for x in (r.game, r.kind, r.condition, r.finish) if x] or ["everything"]
            rows.append(
                {
                    "id": r.id,
                    "name": r.name,
                    "scope": " · ".join(scope),
                    "markup": f"{r.markup_bps / 100:g}%",
                    "rounding": Rounding(r.rounding).label,
                    "minimum": self.money(r.min_price_cents),
                    "guard": f"{r.guard_pct_bps / 100:g}% and {self.money(r.guard_abs_cents)}",
                }
            )
        self.rule_table.rows = rows
        self.rule_table.update()

    async def _add_rule(self) -> None:
        try:
            data = RuleInput(
                name=str(self.r_name.value or ""),
                game_id=self.r_game.value or None,
                kind=self.r_kind.value or None,
                condition=self.r_condition.value or None,
                finish=self.r_finish.value or None,
                markup_bps=round(float(self.r_markup.value or 0) * 100),
                rounding=str(self.r_rounding.value),
                min_price_cents=parse_cents(str(self.r_min.value or "0")),
                guard_pct_bps=round(float(self.r_guard_pct.value or 0) * 100),
                guard_abs_cents=parse_cents(str(self.r_guard_abs.value or "0")),
            )
            rule = await off_loop(get_services().pricing.save_rule, data, actor=self.actor)
        except (MoneyError, ValueError) as exc:
            self.say(f"Check the numbers: {exc}", ok=False)
            return
        except Exception as exc:
            self.fail(exc)
            return
        self.say(f"Rule {rule.name!r} saved.")
        self.r_name.value = ""
        await self.refresh_rules()

    async def _delete_rule(self) -> None:
        if not self.rule_table.selected:
            self.say("Select a rule first.", ok=False)
            return
        rule_id = self.rule_table.selected[0]["id"]
        try:
            await off_loop(get_services().pricing.delete_rule, rule_id, actor=self.actor)
        except Exception as exc:
            self.fail(exc)
            return
        self.say("Rule deleted.")
        await self.refresh_rules()

    # ------------------------------------------------------------------ feeds

    def _build_feeds(self) -> None:
        self.ages = ui.label().classes("text-base").mark("price-ages")
        self.feed_table = (
            ui.table(columns=FEED_COLUMNS, rows=[], row_key="id", selection="single")
            .props('flat wrap-cells no-data-label="No price feeds yet"')
            .classes("w-full")
            .mark("feed-table")
        )
        self.feed_table.add_slot(
            "body-cell-status",
            r"""<q-td :props="props"><q-badge :color="props.row.color" :label="props.value" /></q-td>""",
        )
        with ui.row().classes("gap-2"):
            ui.button("Fetch selected now", icon="sync", on_click=self._fetch).props(
                "unelevated no-caps"
            ).mark("feed-fetch")
            ui.button("Delete selected", icon="delete", on_click=self._delete_feed).props(
                "flat no-caps color=negative"
            ).mark("feed-delete")
        self._build_feed_key()
        with ui.card().classes("w-full p-4 gap-2"):
            ui.label("New feed").classes("text-lg font-semibold")
            with ui.row().classes("gap-3 items-center"):
                self.f_name = ui.input("Name").props("outlined dense").mark("feed-name")
                self.f_url = (
                    ui.input("URL of the CSV export").props("outlined dense").classes("w-96").mark("feed-url")
                )
                self.f_format = (
                    ui.select(
                        {
                            "auto": "Detect",
                            "tcgplayer": "TCGplayer-style",
                            "pricecharting": "PriceCharting-style",
                        },
                        value="auto",
                        label="Format",
                    )
                    .props("outlined dense")
                    .classes("w-48")
                    .mark("feed-format")
                )
            with ui.row().classes("gap-3 items-center"):
                self.f_timeout = (
                    ui.number("Timeout (s)", value=15, min=1, max=600)
                    .props("outlined dense")
                    .mark("feed-timeout")
                )
                self.f_retries = (
                    ui.number("Retries", value=2, min=0, max=10).props("outlined dense").mark("feed-retries")
                )
                self.f_backoff = (
                    ui.number("Backoff (ms)", value=1000, min=0).props("outlined dense").mark("feed-backoff")
                )
                self.f_interval = (
                    ui.number("Every (minutes)", value=360, min=5)
                    .props("outlined dense")
                    .mark("feed-interval")
                )
                self.f_valid = ui.switch("Apply valid rows when some are bad").mark("feed-valid-only")
            with ui.row().classes("gap-3 items-center"):
                self.f_key_name, self.f_key_value = self._key_inputs("feed")
            ui.button("Add feed", icon="add", on_click=self._add_feed).props(
                "unelevated no-caps color=primary"
            ).mark("feed-add")

    async def refresh_feeds(self) -> None:
        services = get_services()
        feeds: list[FeedView] = await off_loop(services.price_feeds.feeds)
        ages = await off_loop(services.price_feeds.price_ages)
        self.ages.text = (
            f"Market prices confirmed within a day: {ages.day:,} · within a week: {ages.week:,} · "
            f"within a month: {ages.month:,} · older: {ages.older:,} · no market price: {ages.never:,}"
        )
        self.feed_table.rows = [
            {
                "id": f.id,
                "name": f"{f.name} ({f.url})",
                "status": f.status,
                "color": STATUS_COLOR.get(f.status, "grey-6"),
                "age": age_text(f.last_success_at),
                "failures": f.consecutive_failures,
                "last": f.last_error
                or (
                    f"{f.last_rows:,} rows: {f.last_applied:,} applied, {f.last_held:,} held"
                    if f.last_attempt_at
                    else DASH
                ),
                "key": f"set ({', '.join(f.header_names)})" if f.header_names else "not set",
            }
            for f in feeds
        ]
        self.feed_table.update()

    async def _add_feed(self) -> None:
        data = FeedInput(
            name=str(self.f_name.value or ""),
            url=str(self.f_url.value or ""),
            format=str(self.f_format.value or "auto"),
            timeout_seconds=int(self.f_timeout.value or 0),
            retries=int(self.f_retries.value or 0),
            backoff_ms=int(self.f_backoff.value or 0),
            interval_minutes=int(self.f_interval.value or 0),
            valid_rows_only=bool(self.f_valid.value),
            headers=self._key_change(self.f_key_name, self.f_key_value),
        )
        try:
            feed = await off_loop(get_services().price_feeds.save_feed, data, actor=self.actor)
        except Exception as exc:
            self.fail(exc)
            return
        self.f_key_value.value = ""  # a secret does not linger in the browser
        self.say(f"Feed {feed.name!r} saved.")
        await self.refresh_feeds()

    # -- the API key (request header) of a feed: write-only, so the form never shows a stored value

    @staticmethod
    def _key_inputs(prefix: str) -> tuple[ui.input, ui.input]:
        name = (
            ui.input("Key header", value="Authorization", placeholder="Authorization or X-Api-Key")
            .props("outlined dense")
            .classes("w-56")
            .mark(f"{prefix}-key-name")
        )
        value = (
            ui.input("API key (write-only)", password=True, password_toggle_button=True)
            .props('outlined dense autocomplete="off"')
            .classes("w-96")
            .mark(f"{prefix}-key-value")
        )
        return name, value

    @staticmethod
    def _key_change(name: ui.input, value: ui.input) -> dict[str, str | None] | None:
        """The header change the inputs ask for: None when no key was typed (keep what is stored)."""
        secret = str(value.value or "")
        if not secret.strip():
            return None
        return {str(name.value or "").strip(): secret}

    def _build_feed_key(self) -> None:
        with ui.row().classes("gap-3 items-center"):
            ui.label("API key of the selected feed:").classes("text-base")
            self.k_name, self.k_value = self._key_inputs("selected-feed")
            ui.button("Set key", icon="key", on_click=self._set_feed_key).props("outline no-caps").mark(
                "feed-key-set"
            )
            ui.button("Clear key", icon="key_off", on_click=self._clear_feed_key).props(
                "flat no-caps color=negative"
            ).mark("feed-key-clear")

    async def _save_feed_headers(self, headers: dict[str, str | None] | None, clear: bool) -> None:
        if not self.feed_table.selected:
            self.say("Select a feed first.", ok=False)
            return
        services = get_services()
        try:
            view: FeedView = await off_loop(services.price_feeds.feed, self.feed_table.selected[0]["id"])
            data = FeedInput(
                name=view.name,
                url=view.url,
                format=view.format,
                timeout_seconds=view.timeout_seconds,
                retries=view.retries,
                backoff_ms=view.backoff_ms,
                interval_minutes=view.interval_minutes,
                valid_rows_only=view.valid_rows_only,
                is_active=view.is_active,
                headers=headers,
                clear_headers=clear,
            )
            await off_loop(services.price_feeds.save_feed, data, actor=self.actor, feed_id=view.id)
        except Exception as exc:
            self.fail(exc)
            return
        self.k_value.value = ""
        self.say(f"{view.name}: API key {'saved' if headers else 'cleared'}.")
        await self.refresh_feeds()

    async def _set_feed_key(self) -> None:
        change = self._key_change(self.k_name, self.k_value)
        if change is None:
            self.say("Type the API key first.", ok=False)
            return
        await self._save_feed_headers(change, clear=True)  # the one key replaces any other

    async def _clear_feed_key(self) -> None:
        await self._save_feed_headers(None, clear=True)

    async def _fetch(self) -> None:
        if not self.feed_table.selected:
            self.say("Select a feed first.", ok=False)
            return
        feed_id = self.feed_table.selected[0]["id"]
        self.say("Fetching…")
        try:
            view, report = await off_loop(get_services().price_feeds.fetch, feed_id, actor=self.actor)
        except Exception as exc:
            self.fail(exc)
            return
        if view.status == "ok" and report is not None:
            self.say(f"{view.name}: {report.applied:,} applied, {report.held:,} held for review.")
        else:
            self.say(f"{view.name}: {view.status} — {view.last_error}. The last prices stay.", ok=False)
        await self.refresh_feeds()
        await self.refresh_reviews()

    async def _delete_feed(self) -> None:
        if not self.feed_table.selected:
            self.say("Select a feed first.", ok=False)
            return
        try:
            await off_loop(
                get_services().price_feeds.delete_feed, self.feed_table.selected[0]["id"], actor=self.actor
            )
        except Exception as exc:
            self.fail(exc)
            return
        self.say("Feed deleted.")
        await self.refresh_feeds()


def history_chart(prices: SkuPrices) -> dict[str, Any]:
    """ECharts options: market and shelf price over time as step lines (dollars)."""
    market: list[list[Any]] = []
    shelf: list[list[Any]] = []
    for h in prices.history:
        at = h.at.isoformat()
        if h.field == "market":
            if not market and h.old_cents is not None:
                market.append([at, h.old_cents / 100])
            market.append([at, h.new_cents / 100])
            if h.shelf_new_cents is not None:
                shelf.append([at, h.shelf_new_cents / 100])
        else:
            if not shelf and h.old_cents is not None:
                shelf.append([at, h.old_cents / 100])
            shelf.append([at, h.new_cents / 100])
    now = datetime.now().astimezone().isoformat()
    if prices.market_price_cents is not None:
        market.append([now, prices.market_price_cents / 100])
    shelf.append([now, prices.shelf_price_cents / 100])
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["Market", "Shelf"]},
        "grid": {"left": 50, "right": 20, "top": 30, "bottom": 30},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {"name": "Market", "type": "line", "step": "end", "data": market, "showSymbol": False},
            {"name": "Shelf", "type": "line", "step": "end", "data": shelf, "showSymbol": False},
        ],
    }


async def build_sku_view(sku_id: str, symbol: str, user: SessionUser | None = None) -> None:
    prices: SkuPrices = await off_loop(get_services().pricing.sku_prices, sku_id)
    money = lambda c: money_or_dash(c, symbol)  # noqa: E731 - a local shorthand
    ui.link("← Pricing", PRICING_PATH).classes("text-base")
    ui.label(prices.name).classes("text-3xl font-semibold").mark("sku-name")
    ui.label(f"{prices.sku_code} · {prices.detail}").classes("text-lg text-slate-600")
    if prices.warning:
        ui.label(prices.warning).classes("text-lg font-medium text-warning").mark("sku-warning")
    with ui.row().classes("gap-8"):
        for label, value, marker in (
            ("Shelf", money(prices.shelf_price_cents), "sku-shelf"),
            ("Market", money(prices.market_price_cents), "sku-market"),
            ("Cost", money(prices.cost_basis_cents), "sku-cost"),
            ("Rule would price it", money(prices.rule_shelf_cents), "sku-rule-shelf"),
        ):
            with ui.column().classes("gap-0"):
                ui.label(label).classes("text-sm text-slate-500")
                ui.label(value).classes("text-2xl font-semibold tabular-nums").mark(marker)
    age = DASH if prices.age_days is None else f"{prices.age_days:.1f} days"
    source = prices.price_source or DASH
    stale = " — stale" if prices.stale else ""
    ui.label(f"Price source {source}, age {age}{stale}; rule: {prices.rule_name or 'default'}").classes(
        "text-base" + (" text-warning" if prices.stale else "")
    ).mark("sku-age")
    if user is not None:
        await _build_lock(sku_id, prices, user)
    if prices.pending_review is not None:
        r = prices.pending_review
        ui.label(
            f"Held for review: market {money(r.old_cents)} → {money(r.proposed_cents)} ({r.source})"
        ).classes("text-base font-medium").mark("sku-pending")
    ui.echart(history_chart(prices)).classes("w-full h-64").mark("sku-chart")
    rows = [
        {
            "key": i,
            "at": h.at.strftime("%Y-%m-%d %H:%M"),
            "what": h.field,
            "change": f"{money(h.old_cents)} → {money(h.new_cents)}"
            + (
                f" (shelf {money(h.shelf_old_cents)} → {money(h.shelf_new_cents)})"
                if h.shelf_new_cents is not None
                else ""
            ),
            "source": h.source,
            "note": h.note or "",
        }
        for i, h in enumerate(reversed(prices.history))
    ]
    ui.table(
        columns=[
            {"name": "at", "label": "When (UTC)", "field": "at", "align": "left"},
            {"name": "what", "label": "Price", "field": "what", "align": "left"},
            {"name": "change", "label": "Change", "field": "change", "align": "left"},
            {"name": "source", "label": "Source", "field": "source", "align": "left"},
            {"name": "note", "label": "Note", "field": "note", "align": "left"},
        ],
        rows=rows,
        row_key="key",
        pagination=20,
    ).props('flat dense no-data-label="No price changes recorded yet"').classes("w-full").mark("sku-history")


LOCKED_TEXT = (
    "Shelf price locked: imports, feeds and pricing rules leave it alone (the market price still updates)."
)
UNLOCKED_TEXT = "Shelf price follows the pricing rules."


async def _build_lock(sku_id: str, prices: SkuPrices, user: SessionUser) -> None:
    """The lock of a hand-priced shelf price (a showcase card): state, reason, lock/unlock."""
    services = get_services()
    actor = await off_loop(services.auth.get, user.id)
    state = {"locked": prices.price_locked}
    with ui.row().classes("items-center gap-4"):
        icon = (
            ui.icon("lock" if prices.price_locked else "lock_open").classes("text-2xl").mark("sku-lock-icon")
        )
        status = (
            ui.label(LOCKED_TEXT if prices.price_locked else UNLOCKED_TEXT)
            .classes("text-base")
            .mark("sku-lock-state")
        )
    with ui.row().classes("items-center gap-4"):
        reason = (
            ui.input("Reason (for the audit log)").props("maxlength=200").classes("w-80").mark("lock-reason")
        )
        button = ui.button("Unlock shelf price" if prices.price_locked else "Lock shelf price").mark(
            "lock-toggle"
        )
    message = ui.label().classes("text-base font-medium").mark("lock-message")

    async def toggle() -> None:
        want = not state["locked"]
        try:
            updated: SkuPrices = await off_loop(
                services.pricing.set_price_lock, sku_id, want, actor=actor, reason=reason.value or None
            )
        except Exception as exc:
            message.text = error_text(exc)
            message.classes(replace="text-base font-medium text-negative")
            return
        state["locked"] = updated.price_locked
        icon.name = "lock" if updated.price_locked else "lock_open"
        status.text = LOCKED_TEXT if updated.price_locked else UNLOCKED_TEXT
        button.text = "Unlock shelf price" if updated.price_locked else "Lock shelf price"
        reason.value = ""
        message.text = "Shelf price locked." if updated.price_locked else "Shelf price unlocked."
        message.classes(replace="text-base font-medium text-positive")

    button.on_click(toggle)


def register() -> None:
    """Add ``/pricing`` and ``/pricing/sku/{sku_id}``."""

    @ui.page(PRICING_PATH, title="Pricing")
    async def pricing_page() -> RedirectResponse | None:
        return await _guarded(PRICING_PATH, PRICING_PATH, "Pricing", None)

    @ui.page(SKU_PATH + "/{sku_id}", title="Price history")
    async def sku_page(sku_id: str) -> RedirectResponse | None:
        return await _guarded(f"{SKU_PATH}/{sku_id}", PRICING_PATH, "Price history", sku_id)


async def _guarded(path: str, active: str, title: str, sku_id: str | None) -> RedirectResponse | None:
    """The frame, the manager check and error handling of ``app_page``, for pages with a path parameter."""
    user = current_user()
    if user is None:
        return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'redirect_to': path})}", status_code=303)
    shop_name = await shop_name_or_default()
    ui.page_title(f"{title} · {shop_name}")
    with frame(user, shop_name=shop_name, active_path=active):
        if not user.role.at_least(Role.MANAGER):
            forbidden(user, Role.MANAGER)
            return None
        try:
            services = get_services()
            symbol = str(await off_loop(services.shop.get, "shop.currency_symbol") or "$")
            if sku_id is not None:
                await build_sku_view(sku_id, symbol, user)
                return None
            games = await off_loop(services.pricing.games)
            actor = await off_loop(services.auth.get, user.id)
            page = PricingPage(user, actor, symbol, games)
            await page.refresh_reviews()
            await page.refresh_rules()
            await page.refresh_feeds()
        except Exception as exc:
            notice("error_outline", "This page could not be shown", error_text(exc), marker="page-error")
    return None
