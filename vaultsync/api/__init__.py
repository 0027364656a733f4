"""REST API: a FastAPI router mounted in the NiceGUI app (one port for UI and API).

Versioned under ``/api/v1``; ``/health`` and ``/health/detailed`` sit at the root for
load balancers and monitoring. Authentication is a short-lived JWT; permissions are
checked by the services themselves.
"""

from __future__ import annotations

from fastapi import APIRouter

from vaultsync.api import auth, health, inventory, pos, shifts
from vaultsync.api import catalog as catalog_api
from vaultsync.api import pricing as pricing_api
from vaultsync.api import stock as stock_api
from vaultsync.api import sync as sync_api
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.services.container import Services

API_PREFIX = "/api/v1"


def build_router(services: Services) -> APIRouter:
    router = APIRouter(route_class=ErrorMappingRoute)
    router.include_router(health.router(services))
    v1 = APIRouter(prefix=API_PREFIX, route_class=ErrorMappingRoute)
    v1.include_router(auth.router(services))
    v1.include_router(inventory.router(services))
    v1.include_router(pos.router(services))
    v1.include_router(shifts.router(services))
    v1.include_router(pricing_api.router(services))
    v1.include_router(catalog_api.router(services))
    v1.include_router(stock_api.router(services))
    v1.include_router(sync_api.router(services))
    router.include_router(v1)
    return router


__all__ = ["API_PREFIX", "build_router"]
