"""``/inventory/reports``: what the stock is worth (by game and by category, at cost and at
retail, with a chart) and the low-stock list with order suggestions."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from ui.context import get_services, off_loop
from ui.layout import app_page
from ui.pages.inventory_paths import REPORTS_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.domain.money import format_cents
from vaultsync.services.stock_ops import LowStockRow
from vaultsync.services.valuation import Valuation, ValuationRow

VALUE_COLUMNS: list[dict[str, Any]] = [
    {"name": "group", "label": "", "field": "group", "align": "left"},
    {"name": "skus", "label": "Items", "field": "skus", "align": "right"},
    {"name": "units", "label": "Units", "field": "units", "align": "right"},
    {"name": "cost", "label": "At cost", "field": "cost", "align": "right"},
    {"name": "retail", "label": "At retail", "field": "retail", "align": "right"},
    {"name": "margin", "label": "Margin", "field": "margin", "align": "right"},
]
LOW_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Item", "field": "name", "align": "left"},
    {"name": "sku_code", "label": "SKU", "field": "sku_code", "align": "left"},
    {"name": "on_hand", "label": "On hand", "field": "on_hand", "align": "right"},
    {"name": "min", "label": "Reorder at", "field": "min", "align": "right"},
    {"name": "order", "label": "Order", "field": "order", "align": "right"},
]


def value_rows(rows: list[ValuationRow], symbol: str, group: str) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        margin = f"{(r.retail_cents - r.cost_cents) * 100 // r.retail_cents}%" if r.retail_cents else "—"
        name = r.game if group == "game" else r.category.replace("_", " ").capitalize()
        out.append(
            {
                "group": name
                + (f" ({r.units_without_cost} units without cost)" if r.units_without_cost else ""),
                "skus": r.skus,
                "units": r.units,
                "cost": format_cents(r.cost_cents, symbol),
                "retail": format_cents(r.retail_cents, symbol),
                "margin": margin,
            }
        )
    return out


def chart_options(rows: list[ValuationRow], symbol: str) -> dict[str, Any]:
    """A grouped bar chart, cost beside retail per game (values in major units)."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["At cost", "At retail"]},
        "grid": {"left": 80, "right": 20, "bottom": 40},
        "xAxis": {"type": "category", "data": [r.game for r in rows]},
        "yAxis": {"type": "value", "name": symbol},
        "series": [
            {"name": "At cost", "type": "bar", "data": [r.cost_cents / 100 for r in rows]},
            {"name": "At retail", "type": "bar", "data": [r.retail_cents / 100 for r in rows]},
        ],
    }


def low_rows(rows: list[LowStockRow]) -> list[dict[str, Any]]:
    return [
        {
            "sku_id": r.sku_id,
            "name": r.name
            + (f" [{r.set_code}]" if r.set_code else "")
            + (f" {r.condition}" if r.condition else ""),
            "sku_code": r.sku_code,
            "on_hand": r.on_hand,
            "min": r.min_on_hand,
            "order": r.suggested_order,
        }
        for r in rows
    ]


def show_valuation(value: Valuation, symbol: str) -> None:
    with ui.row().classes("w-full gap-4"):
        for label, cents, marker in (
            ("Stock at cost", value.cost_cents, "value-cost"),
            ("Stock at retail", value.retail_cents, "value-retail"),
        ):
            with ui.card().classes("p-4 rounded-2xl min-w-[14rem]"):
                ui.label(label).classes("text-sm text-slate-500")
                ui.label(format_cents(cents, symbol)).classes("text-3xl font-bold text-primary").mark(marker)
        with ui.card().classes("p-4 rounded-2xl min-w-[10rem]"):
            ui.label("Units").classes("text-sm text-slate-500")
            ui.label(f"{value.units:,}").classes("text-3xl font-bold").mark("value-units")
    by_game = value.by_game()
    ui.echart(chart_options(by_game, symbol)).classes("w-full h-80").mark("value-chart")
    with ui.row().classes("w-full gap-4 no-wrap items-start"):
        with ui.column().classes("grow"):
            ui.label("By game").classes("text-xl font-semibold")
            ui.table(columns=VALUE_COLUMNS, rows=value_rows(by_game, symbol, "game"), row_key="group").props(
                "flat bordered"
            ).classes("w-full").mark("value-by-game")
        with ui.column().classes("grow"):
            ui.label("By category").classes("text-xl font-semibold")
            ui.table(
                columns=VALUE_COLUMNS,
                rows=value_rows(value.by_category(), symbol, "category"),
                row_key="group",
            ).props("flat bordered").classes("w-full").mark("value-by-category")


def register() -> None:
    @app_page(REPORTS_PATH, title="Valuation and low stock", min_role=Role.MANAGER)
    async def reports(user: SessionUser) -> None:
        services = get_services()
        actor = await off_loop(services.auth.get, user.id)
        symbol = str(await off_loop(services.shop.get, "shop.currency_symbol") or "$")
        value = await off_loop(services.valuation.valuation, actor=actor)
        low = await off_loop(services.stock.low_stock)
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("insights", color="primary").classes("text-4xl")
            ui.label("Inventory value").classes("text-3xl font-semibold")
        show_valuation(value, symbol)
        ui.separator()
        ui.label("Low stock").classes("text-2xl font-semibold")
        ui.table(columns=LOW_COLUMNS, rows=low_rows(low), row_key="sku_id").props(
            'flat bordered no-data-label="Nothing is below its reorder point"'
        ).classes("w-full").mark("low-stock")
