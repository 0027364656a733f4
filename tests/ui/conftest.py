"""Fixtures and helpers for the UI tests (NiceGUI's simulated ``user``)."""

from __future__ import annotations

import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from nicegui.elements.mixins.text_element import TextElement
from nicegui.testing import User
from nicegui.testing.general_fixtures import get_path_to_main_file
from nicegui.testing.user_simulation import user_simulation

from tests.ui.seed import Login
from ui.context import get_services
from vaultsync.services.container import Services


@pytest.fixture(scope="session", autouse=True)
def _freeze_imported_objects() -> None:
    """Move everything imported so far out of the garbage collector's sight.

    NiceGUI's test harness runs ``gc.collect()`` twice per test; with SQLAlchemy, Alembic
    and NiceGUI loaded each full collection walks hundreds of thousands of long-lived
    objects, which made GC most of the UI suite's run time. Frozen objects are never
    collected, which for module-level objects in a test process costs nothing.
    """
    import gc

    gc.collect()
    gc.freeze()


#: time for NiceGUI's outbox to deliver the last updates before the app shuts down; tearing
#: down in the middle of a delivery makes NiceGUI wait 2 s for tasks that will not cancel
SETTLE_SECONDS = 0.05


@pytest.fixture
async def user(user: User) -> AsyncIterator[User]:
    """NiceGUI's ``user`` fixture, let settle before teardown (see SETTLE_SECONDS)."""
    yield user
    await asyncio.sleep(SETTLE_SECONDS)


@pytest.fixture
async def kiosk_user(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[User]:
    """A simulated browser on a price-check kiosk station (station role from the environment)."""
    monkeypatch.setenv("VAULTSYNC_STATION_ROLE", "kiosk")
    async with user_simulation(main_file=get_path_to_main_file(request)) as user:
        yield user
        await asyncio.sleep(SETTLE_SECONDS)
    errors = [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    assert not errors, f"unexpected ERROR logs: {errors}"


def services() -> Services:
    return get_services()


async def eventually(check: Callable[[], Any], *, timeout: float = 3.0) -> None:
    """Wait until ``check()`` is truthy: searches and logins run in a thread, not instantly."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            if check():
                return
        except AssertionError:  # e.g. the element to read is not on the page (yet)
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {check}")
        await asyncio.sleep(0.02)


def label_text(user: User, marker: str) -> str:
    """The text of the one visible label with ``marker``."""
    elements = user.find(marker=marker).elements
    assert len(elements) == 1, f"expected one element marked {marker!r}, found {len(elements)}"
    element = next(iter(elements))
    assert isinstance(element, TextElement), element
    return element.text


async def enter_pin(user: User, pin: str) -> None:
    for digit in pin:
        user.find(marker=f"pin-key-{digit}").click()
    user.find(marker="pin-enter").click()


async def login_pin(user: User, who: Login, pin: str | None = None, *, path: str = "/login") -> None:
    """Log in through the PIN pad and wait until the login page is gone."""
    await user.open(path)
    user.find(marker=f"pin-user:{who.username}").click()
    await enter_pin(user, pin if pin is not None else (who.pin or ""))
    await user.should_see(marker="logout", retries=40)


async def login_password(user: User, who: Login, *, path: str = "/login") -> None:
    await user.open(path)
    user.find(marker="login-username").type(who.username)
    user.find(marker="login-password").type(who.password or "")
    user.find(marker="login-submit").click()
    await user.should_see(marker="logout", retries=40)
