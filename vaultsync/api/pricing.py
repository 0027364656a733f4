"""Pricing endpoints: rules, price-file imports, the review queue, per-SKU prices, feeds.

No ``from __future__ import annotations``: FastAPI must see the real ``Annotated``
dependency objects built inside :func:`router`. Permissions are checked by the services
(managers for everything that changes a price; any logged-in role may read a SKU's
prices and the buylist guard).

Imports take the file as the raw request body (``Content-Type: text/csv``), with
``dry_run``, ``valid_only``, ``format`` and ``source`` as query parameters; the answer is
the import report with its per-row errors (HTTP 200 even when the file was refused:
the report says why, row by row; ``committed`` tells whether anything was written).
"""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from vaultsync.api.deps import current_user_dependency
from vaultsync.api.errors import ErrorMappingRoute
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ValidationError
from vaultsync.domain.price_rules import MAX_MARKET_CENTS
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.container import Services
from vaultsync.services.price_feeds import FeedInput
from vaultsync.services.price_import import ImportReport
from vaultsync.services.pricing import MAX_UPLOAD_BYTES, ReviewDecision, RuleInput

Cents = Annotated[int, Field(ge=0, le=MAX_MARKET_CENTS)]
Pin = Annotated[str, Field(min_length=1, max_length=16)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleIn(Body):
    name: str = Field(min_length=1, max_length=80)
    game_id: str | None = Field(default=None, max_length=64)
    kind: str | None = Field(default=None, max_length=16)
    condition: str | None = Field(default=None, max_length=8)
    finish: str | None = Field(default=None, max_length=16)
    markup_bps: int = Field(default=10_000, ge=0, le=1_000_000)
    rounding: str = Field(default="none", max_length=16)
    min_price_cents: Cents = 0
    guard_pct_bps: int = Field(default=2_500, ge=0, le=1_000_000)
    guard_abs_cents: Cents = 200
    condition_bps: dict[str, int] | None = None
    reprice_shelf: bool = True
    is_active: bool = True


class DecisionIn(Body):
    review_id: str = Field(min_length=1, max_length=64)
    action: Literal["accept", "reject", "edit"]
    cents: Cents | None = None


class DecideIn(Body):
    decisions: list[DecisionIn] = Field(min_length=1, max_length=100_000)


class DecideAllIn(Body):
    action: Literal["accept", "reject"]


class ShelfIn(Body):
    cents: Cents
    reason: str | None = Field(default=None, max_length=200)
    allow_below_cost: bool = False
    approval_pin: Pin | None = None


class MarketIn(Body):
    cents: Cents
    reprice: bool = True


class LockIn(Body):
    locked: bool
    reason: str | None = Field(default=None, max_length=200)


HeaderName = Annotated[str, Field(max_length=64)]
HeaderValue = Annotated[str, Field(max_length=4096)]


class FeedIn(Body):
    name: str = Field(min_length=1, max_length=26)
    url: str = Field(min_length=1, max_length=500)
    format: Literal["auto", "tcgplayer", "pricecharting"] = "auto"
    timeout_seconds: int = Field(default=15, ge=1, le=600)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_ms: int = Field(default=1_000, ge=0, le=300_000)
    interval_minutes: int = Field(default=360, ge=5, le=10_080)
    valid_rows_only: bool = False
    is_active: bool = True
    #: API key headers, write-only: name -> value sets or replaces, name -> null removes;
    #: omitted keeps the stored ones (GET shows only ``header_names``, never a value)
    headers: dict[HeaderName, HeaderValue | None] | None = Field(default=None, max_length=8)
    clear_headers: bool = False


def report_json(report: ImportReport) -> dict[str, Any]:
    return asdict(report)


def router(services: Services) -> APIRouter:
    r = APIRouter(prefix="/pricing", tags=["pricing"], route_class=ErrorMappingRoute)
    User = Annotated[UserView, Depends(current_user_dependency(services))]
    pricing = services.pricing
    feeds = services.price_feeds

    # ------------------------------------------------------------------ rules

    @r.get("/rules")
    def rules(user: User) -> list[dict[str, Any]]:
        require_role(user, Role.MANAGER)
        return [asdict(x) for x in pricing.rules()]

    @r.post("/rules", status_code=201)
    def create_rule(user: User, body: RuleIn) -> dict[str, Any]:
        return asdict(pricing.save_rule(RuleInput(**body.model_dump()), actor=user))

    @r.put("/rules/{rule_id}")
    def update_rule(user: User, rule_id: str, body: RuleIn) -> dict[str, Any]:
        return asdict(pricing.save_rule(RuleInput(**body.model_dump()), actor=user, rule_id=rule_id))

    @r.delete("/rules/{rule_id}", status_code=204)
    def delete_rule(user: User, rule_id: str) -> None:
        pricing.delete_rule(rule_id, actor=user)

    # ------------------------------------------------------------------ imports

    @r.post("/imports")
    async def import_file(
        user: User,
        request: Request,
        dry_run: bool = False,
        valid_only: bool = False,
        format: Annotated[Literal["auto", "tcgplayer", "pricecharting"], Query()] = "auto",
        source: Annotated[str, Query(min_length=1, max_length=32)] = "csv-import",
    ) -> dict[str, Any]:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
            raise ValidationError("the file is larger than 512 MB")
        data = await request.body()
        if not data:
            raise ValidationError("send the price file as the request body (Content-Type: text/csv)")
        report = await run_in_threadpool(
            pricing.import_file,
            data,
            actor=user,
            source=source,
            dry_run=dry_run,
            valid_only=valid_only,
            expected_format=format,
        )
        return report_json(report)

    # ------------------------------------------------------------------ reviews

    @r.get("/reviews")
    def reviews(
        user: User,
        status: str = "pending",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        require_role(user, Role.MANAGER)
        page = pricing.reviews(status=status, limit=limit, offset=offset)
        return {"total": page.total, "rows": [asdict(x) for x in page.rows]}

    @r.post("/reviews/decide")
    def decide(user: User, body: DecideIn) -> dict[str, Any]:
        decisions = [ReviewDecision(d.review_id, d.action, d.cents) for d in body.decisions]
        return asdict(pricing.decide(decisions, actor=user))

    @r.post("/reviews/decide-all")
    def decide_all(user: User, body: DecideAllIn) -> dict[str, Any]:
        return asdict(pricing.decide_all_pending(body.action, actor=user))

    # ------------------------------------------------------------------ one SKU

    @r.get("/skus/{sku_id}")
    def sku_prices(user: User, sku_id: str) -> dict[str, Any]:
        require_role(user, Role.CASHIER)
        return asdict(pricing.sku_prices(sku_id))

    @r.put("/skus/{sku_id}/shelf")
    def set_shelf(user: User, sku_id: str, body: ShelfIn) -> dict[str, Any]:
        return asdict(
            pricing.set_shelf_price(
                sku_id,
                body.cents,
                actor=user,
                reason=body.reason,
                allow_below_cost=body.allow_below_cost,
                approval_pin=body.approval_pin,
            )
        )

    @r.put("/skus/{sku_id}/market")
    def set_market(user: User, sku_id: str, body: MarketIn) -> dict[str, Any]:
        return asdict(pricing.set_market_price(sku_id, body.cents, actor=user, reprice=body.reprice))

    @r.put("/skus/{sku_id}/lock")
    def set_lock(user: User, sku_id: str, body: LockIn) -> dict[str, Any]:
        """Lock (``{"locked": true}``) or unlock a SKU's shelf price; managers only, audited."""
        return asdict(pricing.set_price_lock(sku_id, body.locked, actor=user, reason=body.reason))

    @r.get("/skus/{sku_id}/buylist-guard")
    def buylist_guard(user: User, sku_id: str) -> dict[str, Any]:
        require_role(user, Role.CASHIER)
        cap, flags = pricing.buylist_guard(sku_id)
        return {"cap_cents": cap, "flags": list(flags)}

    # ------------------------------------------------------------------ feeds

    @r.get("/feeds")
    def list_feeds(user: User) -> dict[str, Any]:
        require_role(user, Role.MANAGER)
        return {"feeds": [asdict(f) for f in feeds.feeds()], "price_ages": asdict(feeds.price_ages())}

    @r.post("/feeds", status_code=201)
    def create_feed(user: User, body: FeedIn) -> dict[str, Any]:
        return asdict(feeds.save_feed(FeedInput(**body.model_dump()), actor=user))

    @r.put("/feeds/{feed_id}")
    def update_feed(user: User, feed_id: str, body: FeedIn) -> dict[str, Any]:
        return asdict(feeds.save_feed(FeedInput(**body.model_dump()), actor=user, feed_id=feed_id))

    @r.delete("/feeds/{feed_id}", status_code=204)
    def delete_feed(user: User, feed_id: str) -> None:
        feeds.delete_feed(feed_id, actor=user)

    @r.post("/feeds/{feed_id}/fetch")
    def fetch_feed(user: User, feed_id: str) -> dict[str, Any]:
        view, report = feeds.fetch(feed_id, actor=user)
        return {"feed": asdict(view), "report": report_json(report) if report else None}

    return r
