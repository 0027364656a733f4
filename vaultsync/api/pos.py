"""Point-of-sale endpoints: the cart and sale lifecycle, receipts, refunds and voids.

No ``from __future__ import annotations``: FastAPI must see the real ``Annotated``
dependency objects built inside :func:`router`.

A call that needs a manager answers 403 with ``approval_required: true`` and the
reason; the client asks for a manager PIN and repeats the call with ``approval_pin``.
"""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.enums import Tender
from vaultsync.domain.money import MAX_CENTS
from vaultsync.services.auth import UserView
from vaultsync.services.checkout import CartView, TenderInput
from vaultsync.services.container import Services
from vaultsync.services.refunds import ReturnLine

Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]
Qty = Annotated[int, Field(ge=1, le=9999)]
Pin = Annotated[str, Field(min_length=1, max_length=16)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewCart(Body):
    station_id: str | None = Field(default=None, max_length=64)


class Scan(Body):
    code: str = Field(min_length=1, max_length=64)


class AddSku(Body):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: Qty = 1


class AddCustom(Body):
    description: str = Field(min_length=1, max_length=200)
    unit_price_cents: Cents
    quantity: Qty = 1
    reason: str = Field(min_length=1, max_length=200)
    tax_category: str = Field(default="standard", max_length=32)


class SetQuantity(Body):
    quantity: Qty


class DiscountIn(Body):
    kind: Literal["percent", "amount"] | None = None
    value: Annotated[int, Field(ge=0, le=MAX_CENTS)] = 0
    reason: str | None = Field(default=None, max_length=200)
    approval_pin: Pin | None = None


class PriceIn(Body):
    unit_price_cents: Cents
    reason: str = Field(min_length=1, max_length=200)
    approval_pin: Pin | None = None


class CustomerIn(Body):
    customer_id: str | None = Field(default=None, max_length=64)


class ParkIn(Body):
    label: str | None = Field(default=None, max_length=80)


class VoidIn(Body):
    reason: str | None = Field(default=None, max_length=200)


class TenderIn(Body):
    kind: Tender
    amount_cents: Annotated[int, Field(gt=0, le=MAX_CENTS)]
    reference: str | None = Field(default=None, max_length=64)


class CompleteIn(Body):
    tenders: list[TenderIn] = Field(min_length=1, max_length=20)
    client_request_id: str = Field(min_length=1, max_length=64)


class ReturnLineIn(Body):
    line_id: str = Field(min_length=1, max_length=64)
    quantity: Qty
    restock: bool = True


class RefundIn(Body):
    number: str = Field(min_length=1, max_length=32)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=500)
    to: Literal["original", "store_credit"] = "original"
    client_request_id: str = Field(min_length=1, max_length=64)
    approval_pin: Pin | None = None
    reason: str | None = Field(default=None, max_length=500)
    station_id: str | None = Field(default=None, max_length=64)


class VoidSaleIn(Body):
    client_request_id: str = Field(min_length=1, max_length=64)
    approval_pin: Pin | None = None
    reason: str | None = Field(default=None, max_length=500)
    station_id: str | None = Field(default=None, max_length=64)


def router(services: Services) -> APIRouter:
    r = APIRouter(tags=["pos"], route_class=ErrorMappingRoute)
    User = Annotated[UserView, Depends(current_user_dependency(services))]
    checkout = services.checkout

    def station(explicit: str | None) -> str:
        return explicit or services.stations.local(services.config.station_role).id

    def out(view: CartView) -> dict[str, Any]:
        return asdict(view)

    @r.post("/carts", status_code=201)
    def new_cart(user: User, body: NewCart) -> dict[str, Any]:
        return out(checkout.new_cart(actor=user, station_id=station(body.station_id)))

    @r.get("/carts/held")
    def held(user: User) -> list[dict[str, Any]]:
        return [asdict(h) for h in checkout.held_carts()]

    @r.post("/carts/held/{held_id}/resume")
    def resume(user: User, held_id: str, body: NewCart) -> dict[str, Any]:
        return out(checkout.resume(held_id, actor=user, station_id=station(body.station_id)))

    @r.get("/carts/{cart_id}")
    def get_cart(user: User, cart_id: str) -> dict[str, Any]:
        return out(checkout.view(cart_id))

    @r.post("/carts/{cart_id}/scan")
    def scan(user: User, cart_id: str, body: Scan) -> dict[str, Any]:
        return out(checkout.scan(cart_id, body.code, actor=user))

    @r.post("/carts/{cart_id}/lines")
    def add_sku(user: User, cart_id: str, body: AddSku) -> dict[str, Any]:
        return out(checkout.add_sku(cart_id, body.sku_id, body.quantity, actor=user))

    @r.post("/carts/{cart_id}/custom-lines")
    def add_custom(user: User, cart_id: str, body: AddCustom) -> dict[str, Any]:
        return out(
            checkout.add_custom(
                cart_id,
                body.description,
                body.unit_price_cents,
                body.quantity,
                reason=body.reason,
                actor=user,
                tax_category=body.tax_category,
            )
        )

    @r.patch("/carts/{cart_id}/lines/{line_id}")
    def set_quantity(user: User, cart_id: str, line_id: str, body: SetQuantity) -> dict[str, Any]:
        return out(checkout.set_quantity(cart_id, line_id, body.quantity, actor=user))

    @r.delete("/carts/{cart_id}/lines/{line_id}")
    def remove_line(user: User, cart_id: str, line_id: str) -> dict[str, Any]:
        return out(checkout.remove_line(cart_id, line_id, actor=user))

    @r.post("/carts/{cart_id}/lines/{line_id}/discount")
    def discount_line(user: User, cart_id: str, line_id: str, body: DiscountIn) -> dict[str, Any]:
        discount = (body.kind, body.value) if body.kind else None
        return out(
            checkout.discount_line(
                cart_id, line_id, discount, reason=body.reason, actor=user, approval_pin=body.approval_pin
            )
        )

    @r.post("/carts/{cart_id}/lines/{line_id}/price")
    def override_price(user: User, cart_id: str, line_id: str, body: PriceIn) -> dict[str, Any]:
        return out(
            checkout.override_price(
                cart_id,
                line_id,
                body.unit_price_cents,
                reason=body.reason,
                actor=user,
                approval_pin=body.approval_pin,
            )
        )

    @r.post("/carts/{cart_id}/discount")
    def discount_cart(user: User, cart_id: str, body: DiscountIn) -> dict[str, Any]:
        discount = (body.kind, body.value) if body.kind else None
        return out(
            checkout.discount_cart(
                cart_id, discount, reason=body.reason, actor=user, approval_pin=body.approval_pin
            )
        )

    @r.put("/carts/{cart_id}/customer")
    def attach_customer(user: User, cart_id: str, body: CustomerIn) -> dict[str, Any]:
        return out(checkout.attach_customer(cart_id, body.customer_id, actor=user))

    @r.post("/carts/{cart_id}/park")
    def park(user: User, cart_id: str, body: ParkIn) -> dict[str, str]:
        return {"held_id": checkout.park(cart_id, label=body.label, actor=user)}

    @r.post("/carts/{cart_id}/void", status_code=204)
    def void(user: User, cart_id: str, body: VoidIn) -> None:
        checkout.void_cart(cart_id, actor=user, reason=body.reason)

    @r.post("/carts/{cart_id}/complete", status_code=201)
    def complete(user: User, cart_id: str, body: CompleteIn) -> dict[str, Any]:
        tenders = [TenderInput(t.kind, t.amount_cents, t.reference) for t in body.tenders]
        return asdict(
            checkout.complete(cart_id, tenders, actor=user, client_request_id=body.client_request_id)
        )

    @r.get("/receipts/{number}")
    def receipt(user: User, number: str) -> dict[str, Any]:
        return asdict(services.receipts.for_number(number))

    @r.get("/receipts/{number}/refundable")
    def refundable(user: User, number: str) -> dict[str, Any]:
        found = services.refunds.lookup(number)
        body = asdict(found)
        for line, raw in zip(found.lines, body["lines"], strict=True):
            raw["remaining"] = line.remaining
        return body

    @r.post("/refunds", status_code=201)
    def refund(user: User, body: RefundIn) -> dict[str, Any]:
        result = services.refunds.refund(
            body.number,
            [ReturnLine(li.line_id, li.quantity, li.restock) for li in body.lines],
            actor=user,
            station_id=station(body.station_id),
            client_request_id=body.client_request_id,
            to=body.to,
            approval_pin=body.approval_pin,
            reason=body.reason,
        )
        return asdict(result)

    @r.post("/receipts/{number}/void", status_code=201)
    def void_sale(user: User, number: str, body: VoidSaleIn) -> dict[str, Any]:
        result = services.refunds.void_sale(
            number,
            actor=user,
            station_id=station(body.station_id),
            client_request_id=body.client_request_id,
            approval_pin=body.approval_pin,
            reason=body.reason,
        )
        return asdict(result)

    return r
