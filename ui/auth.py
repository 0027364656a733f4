"""The page guard in front of every NiceGUI page.

It runs before a page is built, so nothing of a protected page reaches a browser that
is not logged in. The REST API and NiceGUI's own assets are left alone: the API has its
own JWT authentication and the services check permissions themselves.

On a price-check kiosk station nobody logs in (customers use it), so every page except
``/login`` — which then only says what this station is — is refused, whatever URL is
typed into the kiosk browser.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import Client, app
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import Match, Route

from ui.context import get_services
from ui.nav import LOGIN_PATH
from ui.session import revalidate
from vaultsync.domain.enums import StationRole

log = logging.getLogger(__name__)


def is_page_request(request: Request) -> bool:
    """True if the request is for a NiceGUI page (not the API, assets or websockets)."""
    page_paths = set(Client.page_routes.values())
    for route in app.routes:
        if isinstance(route, Route) and route.path in page_paths:
            match, _ = route.matches(request.scope)
            if match is Match.FULL:
                return True
    return False


def login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to the login page, remembering where it wanted to go."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'redirect_to': target})}", status_code=303)


class AuthMiddleware(BaseHTTPMiddleware):
    """Redirect unauthenticated (or kiosk) page requests to ``/login``.

    Role checks for logged-in users happen when the page is built (see
    :func:`ui.layout.app_page`), which can show a proper "not allowed" notice inside the
    normal frame instead of a bare error.
    """

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in {"GET", "HEAD"} or not is_page_request(request):
            return await call_next(request)
        path = request.url.path
        if get_services().config.station_role is StationRole.KIOSK:
            # customers use a kiosk: no page but the "this is a price-check station" notice
            return await call_next(request) if path == LOGIN_PATH else RedirectResponse(LOGIN_PATH, 303)
        if path == LOGIN_PATH:
            return await call_next(request)
        try:
            user = await revalidate()
        except Exception:  # a broken database must not turn into an open door or a stack trace
            log.exception("could not check the login of a page request")
            return Response(
                "VaultSync cannot check your login right now (database unavailable). Please try again.",
                status_code=503,
                media_type="text/plain",
            )
        if user is None:
            return login_redirect(request)
        return await call_next(request)
