"""Where pages find the running terminal's services, and how they call them.

NiceGUI page functions are registered globally and get no constructor arguments, so the
:class:`~vaultsync.services.container.Services` built by the CLI (or a test) is parked
here once by :func:`ui.server.create_app`. Keeping it in one small module (rather than
importing a global store anywhere) means a test can build a fresh temporary database
per run and the pages follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from nicegui import core, run

from vaultsync.services.container import Services

P = ParamSpec("P")
R = TypeVar("R")

_services: Services | None = None


def set_services(services: Services) -> None:
    """Install the services every page uses (called by ``create_app``)."""
    global _services  # noqa: PLW0603 - one terminal, one set of services per process
    _services = services


def get_services() -> Services:
    """The services of this terminal; a clear error if the app was started without them."""
    if _services is None:
        raise RuntimeError("ui.server.create_app(services) has not been called")
    return _services


async def off_loop(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking service call in NiceGUI's thread pool and return its result.

    Service calls touch the database (and argon2 for logins); on the event loop they
    would stall every connected screen of this terminal while they run.
    """
    result = await run.io_bound(fn, *args, **kwargs)
    if result is None and core.app.is_stopping:
        # io_bound skips the call while the server shuts down; there is no result to show
        # and nobody left to show it to, so end the handler like a cancelled task
        raise asyncio.CancelledError
    return cast(R, result)
