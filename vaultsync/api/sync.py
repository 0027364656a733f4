"""Sync endpoints for managers: status, sync now, pairing codes, revocation, merge alerts.

No ``from __future__ import annotations``: FastAPI must see the real ``Annotated``
dependency objects built inside :func:`router`.
"""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.services.auth import UserView
from vaultsync.services.container import Services


def router(services: Services) -> APIRouter:
    r = APIRouter(prefix="/sync", tags=["sync"], route_class=ErrorMappingRoute)
    User = Annotated[UserView, Depends(current_user_dependency(services))]
    sync = services.sync

    @r.get("/status")
    def status(user: User) -> dict[str, Any]:
        return asdict(sync.view_status(actor=user))

    @r.post("/now")
    def sync_now(user: User) -> list[dict[str, Any]]:
        return [asdict(x) for x in sync.sync_now(actor=user)]

    @r.post("/pairing-codes", status_code=201)
    def pairing_code(user: User) -> dict[str, Any]:
        issued = sync.create_pairing_code(actor=user)
        node = sync.node
        return {
            "code": issued.code,
            "expires_at": issued.expires_at,
            "pairing_port": node.pairing_port if node is not None and node.started else None,
        }

    @r.post("/terminals/{node_id}/revoke")
    def revoke(user: User, node_id: str) -> dict[str, Any]:
        return asdict(sync.revoke(node_id, actor=user))

    @r.post("/alerts/{alert_id}/resolve")
    def resolve(user: User, alert_id: str) -> dict[str, Any]:
        return asdict(sync.resolve_alert(alert_id, actor=user))

    return r
