"""Liveness and detailed health. ``/health`` answers as soon as the server is up and is
deliberately dependency-free; ``/health/detailed`` checks the database and friends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vaultsync import __version__
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.services import health
from vaultsync.services.container import Services


def router(services: Services) -> APIRouter:
    r = APIRouter(tags=["health"], route_class=ErrorMappingRoute)

    @r.get("/health")
    def live() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "node_id": services.store.node_id}

    @r.get("/health/detailed")
    def detailed() -> JSONResponse:
        report = health.check(services.store)
        body = report.as_dict()
        body.pop("database_url", None)  # reachable without login: do not describe the database
        return JSONResponse(body, status_code=200 if report.database_ok else 503)

    return r
