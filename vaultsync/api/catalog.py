"""Catalog management endpoints: games, sets, products, SKUs, locations, CSV import, labels.

No ``from __future__ import annotations``: FastAPI must see the real ``Annotated``
dependency objects built inside :func:`router`. Roles are checked by the services.
"""

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ValidationError
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.catalog import ProductInput, SkuInput
from vaultsync.services.catalog_import import MAX_BYTES
from vaultsync.services.container import Services
from vaultsync.services.labels import LabelRequest

Cents = Annotated[int, Field(ge=0)]  # the upper bound and its message come from the service


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GameIn(Body):
    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=80)
    tax_category: str = Field(default="standard", max_length=32)


class SetIn(Body):
    game_code: str = Field(min_length=1, max_length=16)
    code: str = Field(min_length=1, max_length=24)
    name: str = Field(min_length=1, max_length=120)
    released_on: date | None = None


class ProductIn(Body):
    game_code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="single", max_length=16)
    set_code: str | None = Field(default=None, max_length=24)
    collector_number: str | None = Field(default=None, max_length=24)
    rarity: str | None = Field(default=None, max_length=24)
    language: str = Field(default="EN", max_length=8)
    image_path: str | None = Field(default=None, max_length=400)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ProductPatch(Body):
    name: str | None = Field(default=None, max_length=200)
    set_code: str | None = Field(default=None, max_length=24)
    collector_number: str | None = Field(default=None, max_length=24)
    rarity: str | None = Field(default=None, max_length=24)
    language: str | None = Field(default=None, max_length=8)
    image_path: str | None = Field(default=None, max_length=400)
    is_active: bool | None = None


class SkuIn(Body):
    product_id: str = Field(min_length=1, max_length=64)
    condition: str | None = Field(default=None, max_length=8)
    finish: str = Field(default="normal", max_length=16)
    language: str | None = Field(default=None, max_length=8)
    grader: str | None = Field(default=None, max_length=8)
    grade: str | None = Field(default=None, max_length=8)
    sub_grades: dict[str, str] | None = None
    cert_number: str | None = Field(default=None, max_length=32)
    barcode: str | None = Field(default=None, max_length=32)
    sku_code: str | None = Field(default=None, max_length=64)
    unit_size: int = 1
    shelf_price_cents: int = 0
    cost_basis_cents: int | None = None
    notes: str | None = Field(default=None, max_length=2000)


class SkuPatch(Body):
    condition: str | None = Field(default=None, max_length=8)
    finish: str | None = Field(default=None, max_length=16)
    language: str | None = Field(default=None, max_length=8)
    grader: str | None = Field(default=None, max_length=8)
    grade: str | None = Field(default=None, max_length=8)
    sub_grades: dict[str, str] | None = None
    cert_number: str | None = Field(default=None, max_length=32)
    barcode: str | None = Field(default=None, max_length=32)
    unit_size: int | None = None
    shelf_price_cents: int | None = None
    cost_basis_cents: int | None = None
    notes: str | None = Field(default=None, max_length=2000)
    is_active: bool | None = None


class LocationIn(Body):
    name: str = Field(min_length=1, max_length=80)
    kind: str = Field(max_length=16)
    parent_id: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, max_length=24)


class LabelIn(Body):
    sku_id: str = Field(min_length=1, max_length=64)
    copies: int = 1


class LabelsIn(Body):
    labels: list[LabelIn] = Field(min_length=1, max_length=500)
    station_id: str | None = Field(default=None, max_length=64)


def router(services: Services) -> APIRouter:
    r = APIRouter(tags=["catalog"], route_class=ErrorMappingRoute)
    User = Annotated[UserView, Depends(current_user_dependency(services))]
    catalog = services.catalog

    @r.post("/catalog/games", status_code=201)
    def create_game(user: User, body: GameIn) -> dict[str, str]:
        return {"id": catalog.create_game(body.code, body.name, actor=user, tax_category=body.tax_category)}

    @r.get("/catalog/sets")
    def sets(user: User, game: str | None = None) -> list[dict[str, Any]]:
        require_role(user, Role.CASHIER)
        return [asdict(s) for s in catalog.sets(game)]

    @r.post("/catalog/sets", status_code=201)
    def create_set(user: User, body: SetIn) -> dict[str, str]:
        return {
            "id": catalog.create_set(
                body.game_code, body.code, body.name, actor=user, released_on=body.released_on
            )
        }

    @r.post("/catalog/products", status_code=201)
    def create_product(user: User, body: ProductIn) -> dict[str, str]:
        return {"id": catalog.create_product(ProductInput(**body.model_dump()), actor=user)}

    @r.patch("/catalog/products/{product_id}")
    def edit_product(user: User, product_id: str, body: ProductPatch) -> dict[str, str]:
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise ValidationError("nothing to change")
        catalog.update_product(product_id, changes, actor=user)
        return {"id": product_id}

    @r.post("/catalog/skus", status_code=201)
    def create_sku(user: User, body: SkuIn) -> dict[str, str]:
        return {"id": catalog.create_sku(SkuInput(**body.model_dump()), actor=user)}

    @r.patch("/catalog/skus/{sku_id}")
    def edit_sku(user: User, sku_id: str, body: SkuPatch) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise ValidationError("nothing to change")
        catalog.update_sku(sku_id, changes, actor=user)
        return asdict(services.inventory.detail(sku_id, viewer=user.role))

    @r.get("/locations")
    def locations(user: User) -> list[dict[str, Any]]:
        require_role(user, Role.CASHIER)
        return [asdict(loc) for loc in catalog.locations()]

    @r.post("/locations", status_code=201)
    def create_location(user: User, body: LocationIn) -> dict[str, str]:
        return {
            "id": catalog.create_location(
                body.name, body.kind, actor=user, parent_id=body.parent_id, code=body.code
            )
        }

    @r.get("/skus/{sku_id}/where")
    def where(user: User, sku_id: str) -> list[dict[str, Any]]:
        """Where the copies live ("Case B › Binder 3"): for the register and the price-check kiosk."""
        require_role(user, Role.CASHIER)
        return [asdict(p) for p in services.inventory.where_is(sku_id)]

    @r.post("/catalog/import")
    async def import_csv(
        user: User,
        request: Request,
        dry_run: bool = True,
        only_valid: bool = False,
        location_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """Body: the CSV file itself (text/csv). ``dry_run`` (default) only checks and previews."""
        require_role(user, Role.MANAGER)
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_BYTES:
            raise ValidationError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
        data = await request.body()
        report = await run_in_threadpool(
            services.catalog_import.run,
            data,
            actor=user,
            dry_run=dry_run,
            only_valid=only_valid,
            default_location_id=location_id,
        )
        out = asdict(report)
        out["error_rows"] = report.error_rows
        return out

    @r.post("/labels/sheet")
    def label_sheet(user: User, body: LabelsIn, format: Literal["pdf", "png"] = "pdf") -> Response:
        data = services.labels.sheet(
            [LabelRequest(li.sku_id, li.copies) for li in body.labels], format, actor=user
        )
        media = "application/pdf" if format == "pdf" else "image/png"
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="labels.{format}"'}
        )

    @r.post("/labels/print", status_code=202)
    def print_labels(user: User, body: LabelsIn) -> dict[str, str]:
        station = body.station_id or services.stations.local(services.config.station_role).id
        job = services.labels.print(
            [LabelRequest(li.sku_id, li.copies) for li in body.labels], station, actor=user
        )
        return {"job_id": job}

    return r
