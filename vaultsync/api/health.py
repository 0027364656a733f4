"""Liveness and detailed health. ``/health`` answers as soon as the server is up and is
deliberately dependency-free; ``/health/detailed`` checks the database and friends.

``/health/detailed`` is open (monitoring needs no login) and includes replication counts
(this node, sync on/port, peers known/online, lag in changes both ways, open sync alerts).
With a manager's bearer token it also lists each peer, as the manager's ``/sync`` page
does; an invalid token is refused rather than silently ignored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vaultsync import __version__
from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.enums import Role
from vaultsync.services import health
from vaultsync.services.container import Services

_optional_bearer = HTTPBearer(auto_error=False)


def router(services: Services) -> APIRouter:
    r = APIRouter(tags=["health"], route_class=ErrorMappingRoute)
    current_user = current_user_dependency(services)

    @r.get("/health")
    def live() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "node_id": services.store.node_id}

    @r.get("/health/detailed")
    def detailed(creds: HTTPAuthorizationCredentials | None = Depends(_optional_bearer)) -> JSONResponse:
        manager = creds is not None and current_user(creds).role.at_least(Role.MANAGER)
        report = health.check(services.store, sync=services.sync, with_peers=manager)
        body = report.as_dict()
        body.pop("database_url", None)  # reachable without login: do not describe the database
        return JSONResponse(body, status_code=200 if report.database_ok else 503)

    return r
