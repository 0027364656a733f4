"""The manager's inventory pages, registered together (counts, receiving, import, reports)."""

from __future__ import annotations

from ui.nav import NavItem
from ui.nav import register as add_nav
from ui.pages import inventory_counts, inventory_import, inventory_receive, inventory_reports
from ui.pages.inventory_paths import COUNTS_PATH, RECEIVE_PATH, REPORTS_PATH
from vaultsync.domain.enums import Role


def register() -> None:
    inventory_counts.register()
    inventory_receive.register()
    inventory_import.register()
    inventory_reports.register()
    add_nav(
        NavItem(
            COUNTS_PATH,
            "Stock counts",
            "fact_check",
            Role.MANAGER,
            "Count a case or binder, commit the differences",
        )
    )
    add_nav(
        NavItem(RECEIVE_PATH, "Receive", "local_shipping", Role.MANAGER, "Book in a delivery with its costs")
    )
    add_nav(
        NavItem(
            REPORTS_PATH, "Stock value", "insights", Role.MANAGER, "Valuation by game and category, low stock"
        )
    )
