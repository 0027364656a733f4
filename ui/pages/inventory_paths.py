"""Routes of the manager's inventory pages (one place, so pages can link to each other)."""

from __future__ import annotations

RECEIVE_PATH = "/inventory/receive"
COUNTS_PATH = "/inventory/counts"
IMPORT_PATH = "/inventory/import"
REPORTS_PATH = "/inventory/reports"
#: the pricing work's per-SKU price history page
PRICE_HISTORY_PATH = "/pricing/sku/{sku_id}"


def count_path(count_id: str) -> str:
    return f"{COUNTS_PATH}?count={count_id}"
