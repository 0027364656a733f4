"""Shift endpoints: open, pay-ins/outs, no-sale, close, X/Z reports (and printing them).

No ``from __future__ import annotations``: FastAPI must see the real ``Annotated``
dependency objects built inside :func:`router`.
"""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.errors import ValidationError
from vaultsync.domain.money import MAX_CENTS
from vaultsync.services.auth import UserView
from vaultsync.services.container import Services
from vaultsync.services.shifts import z_report_text

Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]
Pin = Annotated[str, Field(min_length=1, max_length=16)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenIn(Body):
    station_id: str | None = Field(default=None, max_length=64)
    opening_float_cents: Cents | None = None
    #: denomination in cents (as a string key, JSON objects have no int keys) -> count
    denominations: dict[str, Annotated[int, Field(ge=0, le=100_000)]] | None = None


class CashIn(Body):
    amount_cents: Annotated[int, Field(gt=0, le=MAX_CENTS)]
    reason: str = Field(min_length=1, max_length=200)
    approval_pin: Pin | None = None


class NoSaleIn(Body):
    reason: str | None = Field(default=None, max_length=200)
    approval_pin: Pin | None = None


class CloseIn(Body):
    counted_cents: Cents | None = None
    counted_denominations: dict[str, Annotated[int, Field(ge=0, le=100_000)]] | None = None
    approval_pin: Pin | None = None


def _denoms(raw: dict[str, int] | None) -> dict[int, int] | None:
    if raw is None:
        return None
    if not all(key.isdigit() for key in raw):
        raise ValidationError('denominations are keyed by their value in cents, e.g. {"2000": 3}')
    return {int(key): count for key, count in raw.items()}


def router(services: Services) -> APIRouter:
    r = APIRouter(prefix="/shifts", tags=["shifts"], route_class=ErrorMappingRoute)
    User = Annotated[UserView, Depends(current_user_dependency(services))]
    shifts = services.shifts

    def station(explicit: str | None) -> str:
        return explicit or services.stations.local(services.config.station_role).id

    @r.post("", status_code=201)
    def open_shift(user: User, body: OpenIn) -> dict[str, Any]:
        view = shifts.open_shift(
            station(body.station_id),
            user,
            opening_float_cents=body.opening_float_cents,
            denominations=_denoms(body.denominations),
        )
        return asdict(view)

    @r.get("/current")
    def current(user: User, station_id: str | None = None) -> dict[str, Any] | None:
        view = shifts.current(station(station_id))
        return asdict(view) if view else None

    @r.get("/{shift_id}")
    def get(user: User, shift_id: str) -> dict[str, Any]:
        view = shifts.get(shift_id)
        return {**asdict(view), "expected_cash_cents": shifts.expected_cash(shift_id)}

    @r.post("/{shift_id}/pay-in", status_code=201)
    def pay_in(user: User, shift_id: str, body: CashIn) -> dict[str, Any]:
        return asdict(shifts.pay_in(shift_id, body.amount_cents, body.reason, user))

    @r.post("/{shift_id}/pay-out", status_code=201)
    def pay_out(user: User, shift_id: str, body: CashIn) -> dict[str, Any]:
        return asdict(
            shifts.pay_out(shift_id, body.amount_cents, body.reason, user, approval_pin=body.approval_pin)
        )

    @r.post("/{shift_id}/no-sale", status_code=201)
    def no_sale(user: User, shift_id: str, body: NoSaleIn) -> dict[str, Any]:
        movement = shifts.record_no_sale(shift_id, user, approval_pin=body.approval_pin, reason=body.reason)
        drawer = services.devices.open_drawer(
            movement.station_id,
            user_id=user.id,
            reason=f"no sale: {body.reason or 'authorized'}",
            approved_by=movement.approved_by,
        )
        return {**asdict(movement), "drawer_opened": drawer.opened, "drawer_error": drawer.error}

    @r.post("/{shift_id}/close")
    def close(user: User, shift_id: str, body: CloseIn) -> dict[str, Any]:
        view = shifts.close_shift(
            shift_id,
            user,
            counted_denominations=_denoms(body.counted_denominations),
            counted_cents=body.counted_cents,
            approval_pin=body.approval_pin,
        )
        return asdict(view)

    @r.get("/{shift_id}/report")
    def report(user: User, shift_id: str) -> dict[str, Any]:
        """The Z report of a closed shift (the stored copy), or the X report of an open one."""
        z = shifts.z_report(shift_id)
        return {"report": z.to_json(), "text": z_report_text(z)}

    @r.post("/{shift_id}/report/print", status_code=202)
    def print_report(user: User, shift_id: str) -> dict[str, str]:
        z = shifts.z_report(shift_id)
        shift = shifts.get(shift_id)
        job = services.devices.print_text(shift.station_id, "z_report", z_report_text(z), ref_id=shift_id)
        return {"job_id": job}

    return r
