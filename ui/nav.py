"""Which pages exist, who may open them, and where each role lands after logging in.

One registry feeds the drawer, the home tiles and the page guard, so a page can never be
listed for a role that the guard would then refuse (or the other way round). Only pages
that really exist are registered: a cashier should not be shown doors that lead nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultsync.domain.enums import Role

LOGIN_PATH = "/login"
HOME_PATH = "/"
INVENTORY_PATH = "/inventory"
REGISTER_PATH = "/register"
REFUND_PATH = "/refund"
SHIFT_PATH = "/shift"
PRICING_PATH = "/pricing"
SYNC_PATH = "/sync"


@dataclass(frozen=True)
class NavItem:
    """A page in the navigation: its route, how it is shown, and the least role that may use it."""

    path: str
    label: str
    icon: str
    min_role: Role
    description: str = ""


NAV: list[NavItem] = [
    NavItem(HOME_PATH, "Home", "home", Role.CASHIER, "Who is logged in and where to go next"),
    NavItem(
        REGISTER_PATH,
        "Register",
        "point_of_sale",
        Role.CASHIER,
        "Ring up a sale: scan, take payment, print the receipt",
    ),
    NavItem(
        REFUND_PATH,
        "Refund",
        "assignment_return",
        Role.CASHIER,
        "Return items from a receipt, void a sale, or a return without receipt",
    ),
    NavItem(
        SHIFT_PATH,
        "Shift",
        "account_balance_wallet",
        Role.CASHIER,
        "Open the drawer with a float, pay-ins and pay-outs, close and the Z report",
    ),
    NavItem(
        INVENTORY_PATH,
        "Inventory",
        "inventory_2",
        Role.CASHIER,
        "Find a card by name, set, number or barcode and see where the copies are",
    ),
    NavItem(
        PRICING_PATH,
        "Pricing",
        "sell",
        Role.MANAGER,
        "Price reviews, price-file imports, pricing rules and price feeds",
    ),
    NavItem(
        SYNC_PATH,
        "Sync",
        "sync",
        Role.MANAGER,
        "Other terminals: online or not, lag, merge alerts, pairing and revocation",
    ),
]

#: where each role goes after logging in when no page was asked for: a cashier logs in to
#: sell, so straight to the register; managers and admins start on the overview tiles
LANDING: dict[Role, str] = {Role.CASHIER: REGISTER_PATH, Role.MANAGER: HOME_PATH, Role.ADMIN: HOME_PATH}


def register(item: NavItem) -> None:
    """Add a page to the navigation (or replace the entry with the same path)."""
    for i, existing in enumerate(NAV):
        if existing.path == item.path:
            NAV[i] = item
            return
    NAV.append(item)


def items_for(role: Role) -> list[NavItem]:
    """The pages ``role`` may open, in menu order."""
    return [item for item in NAV if role.at_least(item.min_role)]


def landing_for(role: Role) -> str:
    return LANDING.get(role, HOME_PATH)


def safe_target(raw: str | None) -> str | None:
    """Accept a post-login redirect only if it is a path on this server.

    ``redirect_to`` arrives in the URL, so anyone can craft it; an absolute or
    protocol-relative URL would turn the login page into an open redirect to a fake
    "session expired, log in again" site.
    """
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return None
    if any(ch in raw for ch in "\r\n\t") or raw.split("?", 1)[0] == LOGIN_PATH:
        return None
    return raw
