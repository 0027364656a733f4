"""Map service errors to HTTP answers with a clear message; never leak a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from vaultsync.domain.errors import AuthenticationError, VaultSyncError
from vaultsync.services.approval import ApprovalRequired

log = logging.getLogger("vaultsync.api")


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status, headers=headers)


class ErrorMappingRoute(APIRoute):
    """Route class that turns VaultSyncError into ``{"error": ...}`` with its HTTP status.

    Done per route (not as an app-wide handler) so the router works the same in any
    app that includes it, including test apps.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def mapped(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthenticationError as exc:
                return error_response(401, str(exc))
            except ApprovalRequired as exc:
                # the client asks for a manager PIN and repeats the call with approval_pin
                return error_response(403, str(exc), approval_required=True, reason=exc.reason)
            except VaultSyncError as exc:
                return error_response(exc.http_status, str(exc))
            except (HTTPException, RequestValidationError):
                raise
            except Exception:
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                return error_response(500, "internal error: the details are in the terminal's log")

        return mapped
