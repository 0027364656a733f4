"""Building and starting the NiceGUI app of one terminal: pages, login guard and REST API.

UI and API share one port and one process (see DESIGN §2), so a terminal is a single
service to start, watch and firewall.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import APIRouter
from nicegui import app, ui
from nicegui.storage import Storage
from nicegui.ui_run import DocsConfig

from ui.auth import AuthMiddleware
from ui.context import set_services
from ui.pages import home, inventory, inventory_manager, login, refund, register, shift
from ui.pages import pricing as pricing_page
from ui.pages import sync as sync_page
from vaultsync import __version__
from vaultsync.services.container import Services

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
FAVICON = STATIC_DIR / "favicon.svg"
#: NiceGUI's per-browser session storage lives next to the database, not in the working directory
SESSIONS_DIRNAME = "ui-sessions"

_api_router: APIRouter | None = None


def create_app(services: Services) -> None:
    """Register every page, the login guard and the REST API on NiceGUI's global app.

    Safe to call more than once in a process (the CLI may call it before :func:`run`,
    which calls it again; the test harness calls it once per test after resetting
    NiceGUI): pages are re-registered in place and the middleware and the API router are
    added only if missing.
    """
    set_services(services)
    login.register()
    home.register()
    inventory.register()
    register.register()
    refund.register()
    shift.register()
    pricing_page.register()
    inventory_manager.register()
    sync_page.register()
    if not any(getattr(m, "cls", None) is AuthMiddleware for m in app.user_middleware):
        app.add_middleware(AuthMiddleware)
    _include_api(services)


def _include_api(services: Services) -> None:
    global _api_router  # noqa: PLW0603 - remembers what is mounted, to mount it once
    mounted = _api_router is not None and any(
        getattr(route, "original_router", None) is _api_router or getattr(route, "path", None) == "/health"
        for route in app.routes
    )
    if mounted:
        return
    from vaultsync.api import build_router

    _api_router = build_router(services)
    app.include_router(_api_router)


def _use_session_dir(data_dir: Path) -> None:
    """Keep NiceGUI's session files in the terminal's data directory (backed up, not in CWD)."""
    Storage.path = (data_dir / SESSIONS_DIRNAME).resolve()
    Storage.path.mkdir(parents=True, exist_ok=True)
    app.storage = Storage()


def run(services: Services, *, reload: bool = False) -> None:
    """Serve this terminal's UI and API until stopped (blocks).

    Auto-reload is not offered: it re-imports the app in a child process, which would
    lose the already-open database and services handed in here.
    """
    if reload:
        log.warning("auto-reload is not supported for VaultSync; starting without it")
    config = services.config
    create_app(services)
    _use_session_dir(config.ensure_data_dir())
    if "NICEGUI_SCREEN_TEST_PORT" not in os.environ:
        # NiceGUI treats any process with PYTEST_CURRENT_TEST set as its own screen test and
        # then ignores host/port; a server started as a subprocess of a test run inherits the
        # variable, but must still serve where it was told to
        os.environ.pop("PYTEST_CURRENT_TEST", None)
    ui.run(
        host=config.host,
        port=config.port,
        title=services.shop.name,
        storage_secret=config.secret(),
        reload=False,
        show=False,
        favicon=FAVICON,
        # the REST API's schema at /openapi.json (and /docs) for integrators; UI pages stay out of it
        fastapi_docs=DocsConfig(
            title="VaultSync API",
            summary="Point of sale and inventory for collectibles shops",
            description="JWT from POST /api/v1/auth/token; every call is role-checked by the services.",
            version=__version__,
            terms_of_service=None,
            contact=None,
            license_info=None,
        ),
    )
