"""Stock operation endpoints: receive, transfer, write off, counts, reorder points, valuation.

No ``from __future__ import annotations``: FastAPI must see the real ``Annotated``
dependency objects built inside :func:`router`. Roles are checked by the services.
"""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ValidationError
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.container import Services
from vaultsync.services.stock_ops import CountView, ReceiveLine

Id = Annotated[str, Field(min_length=1, max_length=64)]
Note = Annotated[str | None, Field(default=None, max_length=500)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiveLineIn(Body):
    sku_id: Id
    quantity: int
    unit_cost_cents: int


class ReceiveIn(Body):
    location_id: Id
    lines: list[ReceiveLineIn] = Field(min_length=1, max_length=2000)
    supplier: Note = None
    reference: Note = None


class TransferIn(Body):
    sku_id: Id
    from_location_id: Id
    to_location_id: Id
    quantity: int
    note: Note = None


class WriteOffIn(Body):
    sku_id: Id
    location_id: Id
    quantity: int
    reason: str = Field(max_length=16)
    note: Note = None


class ReorderIn(Body):
    min_on_hand: int | None
    reorder_qty: int = 0


class CountIn(Body):
    location_id: Id
    name: str | None = Field(default=None, max_length=80)


class CountEntryIn(Body):
    counted: int
    sku_id: Id | None = None
    code: str | None = Field(default=None, max_length=64)
    location_id: Id | None = None


class CommitIn(Body):
    zero_missing: bool = False


class AbandonIn(Body):
    reason: Note = None


def _count(view: CountView) -> dict[str, Any]:
    out = asdict(view)
    out["counted_lines"] = view.counted_lines
    out["missing_lines"] = view.missing_lines
    return out


def router(services: Services) -> APIRouter:
    r = APIRouter(tags=["stock"], route_class=ErrorMappingRoute)
    User = Annotated[UserView, Depends(current_user_dependency(services))]
    stock = services.stock

    @r.post("/stock/receive", status_code=201)
    def receive(user: User, body: ReceiveIn) -> dict[str, Any]:
        lines = [ReceiveLine(li.sku_id, li.quantity, li.unit_cost_cents) for li in body.lines]
        result = stock.receive(
            lines, body.location_id, actor=user, supplier=body.supplier, reference=body.reference
        )
        return asdict(result)

    @r.post("/stock/transfer", status_code=201)
    def transfer(user: User, body: TransferIn) -> dict[str, str]:
        ref = stock.transfer(
            body.sku_id, body.from_location_id, body.to_location_id, body.quantity, actor=user, note=body.note
        )
        return {"transfer_id": ref}

    @r.post("/stock/write-off", status_code=201)
    def write_off(user: User, body: WriteOffIn) -> dict[str, str]:
        ref = stock.write_off(
            body.sku_id, body.location_id, body.quantity, body.reason, actor=user, note=body.note
        )
        return {"write_off_id": ref}

    @r.get("/stock/movements/{sku_id}")
    def movements(
        user: User, sku_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        require_role(user, Role.MANAGER)
        return [asdict(m) for m in stock.movements(sku_id, limit=limit)]

    @r.put("/stock/reorder-points/{sku_id}")
    def reorder(user: User, sku_id: str, body: ReorderIn) -> dict[str, Any]:
        stock.set_reorder_point(sku_id, body.min_on_hand, body.reorder_qty, actor=user)
        point = stock.reorder_point(sku_id)
        return {
            "sku_id": sku_id,
            "min_on_hand": point[0] if point else None,
            "reorder_qty": point[1] if point else 0,
        }

    @r.get("/stock/low")
    def low(user: User) -> list[dict[str, Any]]:
        require_role(user, Role.MANAGER)
        return [asdict(row) for row in stock.low_stock()]

    @r.get("/stock/valuation")
    def valuation(user: User) -> dict[str, Any]:
        value = services.valuation.valuation(actor=user)
        return {
            "cost_cents": value.cost_cents,
            "retail_cents": value.retail_cents,
            "units": value.units,
            "rows": [asdict(x) for x in value.rows],
            "by_game": [asdict(x) for x in value.by_game()],
            "by_category": [asdict(x) for x in value.by_category()],
        }

    @r.post("/stock/counts", status_code=201)
    def start_count(user: User, body: CountIn) -> dict[str, Any]:
        return _count(stock.start_count(body.location_id, actor=user, name=body.name))

    @r.get("/stock/counts")
    def counts(user: User, status: str | None = None) -> list[dict[str, Any]]:
        require_role(user, Role.CASHIER)
        return [asdict(c) for c in stock.counts(status=status)]

    @r.get("/stock/counts/{count_id}")
    def get_count(user: User, count_id: str) -> dict[str, Any]:
        require_role(user, Role.CASHIER)
        return _count(stock.count(count_id))

    @r.post("/stock/counts/{count_id}/entries", status_code=201)
    def count_entry(user: User, count_id: str, body: CountEntryIn) -> dict[str, Any]:
        if body.code:
            line = stock.count_by_code(
                count_id, body.code, body.counted, actor=user, location_id=body.location_id
            )
        elif body.sku_id:
            line = stock.record_count(
                count_id, body.sku_id, body.counted, actor=user, location_id=body.location_id
            )
        else:
            raise ValidationError("give the sku_id or the scanned code")
        return asdict(line)

    @r.post("/stock/counts/{count_id}/commit")
    def commit(user: User, count_id: str, body: CommitIn) -> dict[str, Any]:
        return asdict(stock.commit_count(count_id, actor=user, zero_missing=body.zero_missing))

    @r.post("/stock/counts/{count_id}/abandon")
    def abandon(user: User, count_id: str, body: AbandonIn) -> dict[str, str]:
        stock.abandon_count(count_id, actor=user, reason=body.reason)
        return {"id": count_id, "status": "abandoned"}

    return r
