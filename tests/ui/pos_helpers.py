"""Helpers shared by the cashier-screen tests (register, refund, shift)."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.conftest import eventually, label_text, login_pin, services
from tests.ui.seed import CASHIER, Login
from vaultsync.services.shifts import ShiftView


def open_shift_directly(who: Login = CASHIER, float_cents: int = 10000) -> ShiftView:
    """Open this terminal's shift through the service (tests that are not about the shift screen)."""
    svc = services()
    station = svc.stations.local(svc.config.station_role)
    actor = svc.auth.by_username(who.username)
    return svc.shifts.open_shift(station.id, actor, opening_float_cents=float_cents)


async def register_ready(user: User, who: Login = CASHIER) -> None:
    """Log in with an open shift and wait for the register's scan box."""
    open_shift_directly(who)
    await login_pin(user, who)
    await user.should_see(marker="scan", retries=40)


async def scan(user: User, code: str) -> None:
    """Type into the scan box and press Enter, as a keyboard-wedge scanner does."""
    user.find(marker="scan").type(code).trigger("keydown.enter")


def message(user: User) -> str:
    return label_text(user, "register-message")


async def wait_message(user: User, text: str) -> None:
    await eventually(lambda: text in message(user))


def texts(user: User, marker: str) -> list[str]:
    """Texts of every label with ``marker`` (page order); [] when there is none."""
    from nicegui.elements.mixins.text_element import TextElement

    try:
        elements = user.find(marker=marker).elements
    except AssertionError:
        return []
    return [e.text for e in elements if isinstance(e, TextElement)]


async def press_keys(user: User, prefix: str, digits: str) -> None:
    for d in digits:
        user.find(marker=f"{prefix}-key-{d}").click()
