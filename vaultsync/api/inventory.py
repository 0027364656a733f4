"""Inventory look-up endpoints (any logged-in role).

No ``from __future__ import annotations`` here: FastAPI must see the real
``Annotated[..., Depends(...)]`` objects of the locally built dependency.
"""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.enums import Role
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.container import Services


def router(services: Services) -> APIRouter:
    r = APIRouter(tags=["inventory"], route_class=ErrorMappingRoute)
    current_user = current_user_dependency(services)
    User = Annotated[UserView, Depends(current_user)]

    @r.get("/games")
    def games(user: User) -> list[dict[str, str]]:
        require_role(user, Role.CASHIER)
        return [asdict(g) for g in services.inventory.games()]

    @r.get("/skus")
    def search(
        user: User,
        q: Annotated[str, Query(max_length=200)] = "",
        game: str | None = None,
        condition: str | None = None,
        finish: str | None = None,
        in_stock: bool = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        require_role(user, Role.CASHIER)
        page = services.inventory.search(
            q, game=game, condition=condition, finish=finish, in_stock=in_stock, limit=limit, offset=offset
        )
        return {"total": page.total, "rows": [asdict(row) for row in page.rows]}

    @r.get("/skus/{sku_id}")
    def detail(user: User, sku_id: str) -> dict[str, Any]:
        require_role(user, Role.CASHIER)
        return asdict(services.inventory.detail(sku_id, viewer=user.role))

    return r
