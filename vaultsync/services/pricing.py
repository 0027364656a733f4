"""Pricing for managers: rules, imports, the volatility guard's review queue, manual prices, history.

Also the two questions other parts of the shop ask about a SKU's price:

* :func:`spike_warning` — the register: has the market moved above the shelf price since
  the card was priced (an applied market above the shelf, or a move the guard is still
  holding)? The cashier sees a warning before selling a card under its value.
* :meth:`PricingService.buylist_guard` — the buylist: may an offer be based on this
  market price? Volatile or stale prices cap the offer's basis and are flagged.

Every price change writes a :class:`~vaultsync.store.models.PriceUpdate` (source, old, new,
who, when, batch) in the same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import Condition, Finish, PriceReviewStatus, ProductKind, Role
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.domain.money import format_cents
from vaultsync.domain.price_rules import (
    Rounding,
    Rule,
    RuleBook,
    check_rule,
    held_by_guard,
    market_problem,
    shelf_price,
)
from vaultsync.domain.pricing import BPS
from vaultsync.pricing.csv_formats import FileProblem, decode
from vaultsync.services import audit
from vaultsync.services.approval import approve
from vaultsync.services.auth import AuthService, UserView, require_role
from vaultsync.services.price_age import price_age, price_ages
from vaultsync.services.price_import import ImportReport, ImportRequest, import_prices, load_rulebook
from vaultsync.services.shop import ShopService
from vaultsync.store import Store, capture
from vaultsync.store.models import CardSet, Game, PriceReview, PriceRule, PriceUpdate, Product, Sku
from vaultsync.store.types import utcnow

#: shop settings this module reads (defaults here, overridable in the settings table)
SETTING_STALE_DAYS = "pricing.stale_days"
SETTING_VOLATILE_DAYS = "pricing.volatile_days"
SETTING_STALE_CAP_BPS = "pricing.stale_buylist_cap_bps"
DEFAULTS: dict[str, int] = {
    SETTING_STALE_DAYS: 14,
    SETTING_VOLATILE_DAYS: 7,
    SETTING_STALE_CAP_BPS: 8_000,
}
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_PAGE = 500
MAX_DECISIONS = 100_000
SOURCE_MAX = 32


# ============================================================================ views


@dataclass(frozen=True)
class RuleView:
    id: str
    name: str
    game_id: str | None
    game: str | None
    kind: str | None
    condition: str | None
    finish: str | None
    markup_bps: int
    rounding: str
    min_price_cents: int
    guard_pct_bps: int
    guard_abs_cents: int
    condition_bps: dict[str, int] | None
    reprice_shelf: bool
    is_active: bool


@dataclass(frozen=True)
class RuleInput:
    name: str
    game_id: str | None = None
    kind: str | None = None
    condition: str | None = None
    finish: str | None = None
    markup_bps: int = BPS
    rounding: str = Rounding.NONE.value
    min_price_cents: int = 0
    guard_pct_bps: int = 2_500
    guard_abs_cents: int = 200
    condition_bps: dict[str, int] | None = None
    reprice_shelf: bool = True
    is_active: bool = True


@dataclass(frozen=True)
class ReviewView:
    id: str
    sku_id: str
    sku_code: str
    name: str
    detail: str
    source: str
    old_cents: int | None
    proposed_cents: int
    move_pct: float | None
    shelf_cents: int
    cost_cents: int | None
    status: str
    final_cents: int | None
    reason: str | None
    created_at: datetime
    price_as_of: datetime | None


@dataclass(frozen=True)
class ReviewPage:
    total: int
    rows: list[ReviewView]


@dataclass(frozen=True)
class ReviewDecision:
    review_id: str
    action: str  # "accept" | "reject" | "edit"
    cents: int | None = None  # the manager's price for "edit"


@dataclass(frozen=True)
class DecisionResult:
    accepted: int
    rejected: int
    edited: int
    repriced: int


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    field: str
    source: str
    old_cents: int | None
    new_cents: int
    shelf_old_cents: int | None
    shelf_new_cents: int | None
    user: str | None
    note: str | None


@dataclass(frozen=True)
class SkuPrices:
    sku_id: str
    sku_code: str
    name: str
    detail: str
    shelf_price_cents: int
    market_price_cents: int | None
    cost_basis_cents: int | None
    price_source: str | None
    price_as_of: datetime | None
    age_days: float | None
    stale: bool
    pending_review: ReviewView | None
    warning: str | None
    rule_name: str | None
    rule_shelf_cents: int | None  # what the rules would make the shelf price of the market
    history: list[HistoryEntry]
    #: a manager locked the shelf price: imports, feeds and rules leave it alone
    price_locked: bool = False


class BuylistGuard(NamedTuple):
    """What the buylist may base an offer on. Unpacks as ``(cap_cents, flags)``.

    ``cap_cents``: the highest market price an offer may be computed from (None: no cap,
    use the market price). ``flags``: ``"no_market"`` (no price to base an offer on: ask a
    manager), ``"volatile"`` (a move is held for review, or the market moved past the
    guard's threshold within ``pricing.volatile_days``: capped at the lowest recent
    market), ``"stale"`` (no feed confirmed the price for ``pricing.stale_days``: capped
    at ``pricing.stale_buylist_cap_bps`` of it).
    """

    cap_cents: int | None
    flags: tuple[str, ...]


# ============================================================================ helpers for others


def latest_market(session: Session, sku_id: str, market: int | None) -> int | None:
    """The newest market price known for a SKU: a pending review's proposal, else the applied one."""
    proposed = session.scalar(
        select(PriceReview.proposed_cents).where(
            PriceReview.sku_id == sku_id, PriceReview.status == PriceReviewStatus.PENDING.value
        )
    )
    return proposed if proposed is not None else market


def spike_warning(
    session: Session, sku_id: str, shelf_cents: int, market_cents: int | None, symbol: str = "$"
) -> str | None:
    """The register's warning for a line, or None.

    Raised when the newest known market price (a move still held for review counts:
    that is exactly a spike the shop has not priced yet) is above the shelf price.
    """
    market = latest_market(session, sku_id, market_cents)
    if market is None or market <= shelf_cents:
        return None
    return (
        f"Market price {format_cents(market, symbol)} is above the shelf price "
        f"{format_cents(shelf_cents, symbol)}: check the price before selling"
    )


def _describe(product: Product, card_set: CardSet | None) -> str:
    parts = [product.name]
    if card_set is not None:
        parts.append(f"· {card_set.code}")
    if product.collector_number:
        parts.append(f"#{product.collector_number}")
    return " ".join(parts)


def _detail(sku: Sku) -> str:
    if sku.grader:
        return f"{sku.grader} {sku.grade or ''}".strip()
    bits = [sku.condition or ""]
    if sku.finish and sku.finish != Finish.NORMAL.value:
        bits.append(sku.finish)
    return " ".join(b for b in bits if b)


def _check_source(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > SOURCE_MAX:
        raise ValidationError(f"a price source is 1-{SOURCE_MAX} characters")
    return source


# ============================================================================ the service


@dataclass
class PricingService:
    store: Store
    auth: AuthService
    shop: ShopService

    def _setting(self, key: str) -> int:
        value = self.shop.get(key)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else DEFAULTS[key]

    # ------------------------------------------------------------------ rules

    def rules(self) -> list[RuleView]:
        with self.store.read() as s:
            games = {g.id: g.name for g in s.scalars(select(Game))}
            rows = s.scalars(select(PriceRule).order_by(PriceRule.created_at, PriceRule.id))
            return [self._rule_view(r, games) for r in rows]

    @staticmethod
    def _rule_view(r: PriceRule, games: dict[str, str]) -> RuleView:
        return RuleView(
            id=r.id,
            name=r.name,
            game_id=r.game_id,
            game=games.get(r.game_id) if r.game_id else None,
            kind=r.kind,
            condition=r.condition,
            finish=r.finish,
            markup_bps=r.markup_bps,
            rounding=r.rounding,
            min_price_cents=r.min_price_cents,
            guard_pct_bps=r.guard_pct_bps,
            guard_abs_cents=r.guard_abs_cents,
            condition_bps=dict(r.condition_bps) if r.condition_bps else None,
            reprice_shelf=r.reprice_shelf,
            is_active=r.is_active,
        )

    def _validate_rule(self, s: Session, data: RuleInput) -> None:
        name = (data.name or "").strip()
        if not name or len(name) > 80:
            raise ValidationError("a rule needs a name (up to 80 characters)")
        if data.game_id is not None and s.get(Game, data.game_id) is None:
            raise ValidationError("no such game")
        checks = (
            (data.kind, ProductKind, "category"),
            (data.condition, Condition, "condition"),
            (data.finish, Finish, "finish"),
        )
        for value, enum, label in checks:
            if value is not None and value not in {e.value for e in enum}:
                raise ValidationError(f"unknown {label} {value!r}")
        if data.rounding not in {r.value for r in Rounding}:
            raise ValidationError(f"unknown rounding {data.rounding!r}")
        problems = check_rule(
            Rule(
                markup_bps=data.markup_bps,
                rounding=Rounding(data.rounding),
                min_price_cents=data.min_price_cents,
                guard_pct_bps=data.guard_pct_bps,
                guard_abs_cents=data.guard_abs_cents,
                condition_bps=data.condition_bps,
            )
        )
        if problems:
            raise ValidationError("; ".join(problems))

    def save_rule(self, data: RuleInput, *, actor: UserView, rule_id: str | None = None) -> RuleView:
        """Create a rule, or replace every field of ``rule_id``. One rule per scope."""
        require_role(actor, Role.MANAGER)
        with self.store.uow() as uow:
            s = uow.session
            self._validate_rule(s, data)
            clash = s.scalar(
                select(PriceRule.id).where(
                    PriceRule.game_id.is_(None)
                    if data.game_id is None
                    else PriceRule.game_id == data.game_id,
                    PriceRule.kind.is_(None) if data.kind is None else PriceRule.kind == data.kind,
                    PriceRule.condition.is_(None)
                    if data.condition is None
                    else PriceRule.condition == data.condition,
                    PriceRule.finish.is_(None) if data.finish is None else PriceRule.finish == data.finish,
                    PriceRule.id != (rule_id or ""),
                )
            )
            if clash:
                raise ConflictError("a rule with exactly this scope exists already: edit that one")
            values: dict[str, Any] = {
                "name": data.name.strip(),
                "game_id": data.game_id,
                "kind": data.kind,
                "condition": data.condition,
                "finish": data.finish,
                "markup_bps": data.markup_bps,
                "rounding": data.rounding,
                "min_price_cents": data.min_price_cents,
                "guard_pct_bps": data.guard_pct_bps,
                "guard_abs_cents": data.guard_abs_cents,
                "condition_bps": dict(data.condition_bps) if data.condition_bps else None,
                "reprice_shelf": data.reprice_shelf,
                "is_active": data.is_active,
            }
            before = None
            if rule_id is None:
                rule = PriceRule(**values)
                s.add(rule)
            else:
                found = s.get(PriceRule, rule_id)
                if found is None:
                    raise NotFoundError("no such pricing rule")
                rule = found
                before = {k: getattr(rule, k) for k in values}
                for k, v in values.items():
                    setattr(rule, k, v)
            s.flush()
            audit.record(
                s,
                "pricing.rule.save",
                user_id=actor.id,
                entity_type="price_rule",
                entity_id=rule.id,
                before=before,
                after=values,
            )
            games = {g.id: g.name for g in s.scalars(select(Game))}
            return self._rule_view(rule, games)

    def delete_rule(self, rule_id: str, *, actor: UserView) -> None:
        require_role(actor, Role.MANAGER)
        with self.store.uow() as uow:
            rule = uow.session.get(PriceRule, rule_id)
            if rule is None:
                raise NotFoundError("no such pricing rule")
            audit.record(
                uow.session,
                "pricing.rule.delete",
                user_id=actor.id,
                entity_type="price_rule",
                entity_id=rule_id,
                before={"name": rule.name},
            )
            uow.session.delete(rule)

    def games(self) -> list[tuple[str, str]]:
        with self.store.read() as s:
            return [(g.id, g.name) for g in s.scalars(select(Game).order_by(Game.sort_order, Game.name))]

    # ------------------------------------------------------------------ imports

    def import_file(
        self,
        data: bytes | str,
        *,
        actor: UserView,
        source: str | None = None,
        dry_run: bool = False,
        valid_only: bool = False,
        expected_format: str | None = None,
    ) -> ImportReport:
        """Import (or with ``dry_run`` preview) a price export. See :mod:`vaultsync.services.price_import`."""
        require_role(actor, Role.MANAGER)
        if isinstance(data, bytes):
            if len(data) > MAX_UPLOAD_BYTES:
                raise ValidationError("the file is larger than 512 MB")
            try:
                text = decode(data)
            except FileProblem as exc:
                raise ValidationError(str(exc)) from exc
        else:
            text = data
        if expected_format not in (None, "", "auto", "tcgplayer", "pricecharting"):
            raise ValidationError(f"unknown price file format {expected_format!r}")
        request = ImportRequest(
            source=_check_source(source or "csv-import"),
            user_id=actor.id,
            dry_run=dry_run,
            valid_only=valid_only,
            expected_format=expected_format,
        )
        return import_prices(self.store, text.splitlines(keepends=True), request)

    # ------------------------------------------------------------------ review queue

    def reviews(
        self, *, status: str = PriceReviewStatus.PENDING.value, limit: int = 100, offset: int = 0
    ) -> ReviewPage:
        if status not in {s.value for s in PriceReviewStatus}:
            raise ValidationError(f"unknown review status {status!r}")
        limit = max(1, min(limit, MAX_PAGE))
        with self.store.read() as s:
            total = (
                s.scalar(select(func.count()).select_from(PriceReview).where(PriceReview.status == status))
                or 0
            )
            rows = s.execute(
                select(PriceReview, Sku, Product, CardSet)
                .join(Sku, PriceReview.sku_id == Sku.id)
                .join(Product, Sku.product_id == Product.id)
                .outerjoin(CardSet, Product.set_id == CardSet.id)
                .where(PriceReview.status == status)
                .order_by(PriceReview.updated_at.desc(), PriceReview.id)
                .limit(limit)
                .offset(max(0, offset))
            ).all()
            ages = price_ages(s, [sku for _r, sku, _p, _cs in rows])
            return ReviewPage(
                int(total),
                [self._review_view(r, sku, p, cs, ages[sku.id].as_of) for r, sku, p, cs in rows],
            )

    @staticmethod
    def _review_view(
        r: PriceReview, sku: Sku, product: Product, card_set: CardSet | None, price_as_of: datetime | None
    ) -> ReviewView:
        move = None
        if r.old_cents:
            move = round((r.proposed_cents - r.old_cents) * 100 / r.old_cents, 1)
        return ReviewView(
            id=r.id,
            sku_id=sku.id,
            sku_code=sku.sku_code,
            name=_describe(product, card_set),
            detail=_detail(sku),
            source=r.source,
            old_cents=r.old_cents,
            proposed_cents=r.proposed_cents,
            move_pct=move,
            shelf_cents=sku.shelf_price_cents,
            cost_cents=sku.cost_basis_cents,
            status=r.status,
            final_cents=r.final_cents,
            reason=r.reason,
            created_at=r.created_at,
            price_as_of=price_as_of,
        )

    def decide(self, decisions: Sequence[ReviewDecision], *, actor: UserView) -> DecisionResult:
        """Accept, reject or edit held moves, many at once, in one transaction.

        Accept: the proposed market price is applied; edit: the manager's price is applied
        instead; either reprices the shelf under the SKU's rule (floors included). Reject:
        the market price stays. Every decided review records who and when; every applied
        price a ledger row pointing at its review. A review that is no longer pending, an
        unknown action or an impossible price rejects the whole batch.
        """
        require_role(actor, Role.MANAGER)
        if not decisions:
            raise ValidationError("choose at least one price to decide")
        if len(decisions) > MAX_DECISIONS:
            raise ValidationError(f"decide at most {MAX_DECISIONS:,} prices at once")
        by_id: dict[str, ReviewDecision] = {}
        for d in decisions:
            if d.action not in ("accept", "reject", "edit"):
                raise ValidationError(f"unknown decision {d.action!r}")
            if d.action == "edit":
                problem = market_problem(d.cents)
                if problem:
                    raise ValidationError(f"edited price: {problem}")
            if d.review_id in by_id:
                raise ValidationError("a price appears twice in the decisions")
            by_id[d.review_id] = d
        now = utcnow()
        counts = {"accept": 0, "reject": 0, "edit": 0}
        repriced = 0
        with self.store.uow() as uow:
            s = uow.session
            rules = load_rulebook(s)
            ids = list(by_id)
            found: list[tuple[PriceReview, Sku, Product]] = []
            for start in range(0, len(ids), 500):
                found.extend(
                    s.execute(
                        select(PriceReview, Sku, Product)
                        .join(Sku, PriceReview.sku_id == Sku.id)
                        .join(Product, Sku.product_id == Product.id)
                        .where(PriceReview.id.in_(ids[start : start + 500]))
                    ).all()
                )
            if len(found) != len(ids):
                raise NotFoundError("some of those reviews do not exist")
            review_rows: dict[str, list[dict[str, Any]]] = {}
            sku_rows: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            ledger: list[dict[str, Any]] = []
            for review, sku, product in found:
                if review.status != PriceReviewStatus.PENDING.value:
                    raise ConflictError(f"{sku.sku_code}: already {review.status}")
                d = by_id[review.id]
                counts[d.action] += 1
                status = {
                    "accept": PriceReviewStatus.ACCEPTED,
                    "reject": PriceReviewStatus.REJECTED,
                    "edit": PriceReviewStatus.EDITED,
                }[d.action].value
                final = (
                    None
                    if d.action == "reject"
                    else (d.cents if d.action == "edit" else review.proposed_cents)
                )
                review_rows.setdefault(status, []).append(
                    {
                        "id": review.id,
                        "status": status,
                        "final_cents": final,
                        "decided_by": actor.id,
                        "decided_at": now,
                    }
                )
                if final is None:
                    continue
                rule, _ = rules.resolve(product.game_id, product.kind, sku.condition, sku.finish)
                new_shelf = sku.shelf_price_cents
                if rule.reprice_shelf and not sku.price_locked:
                    new_shelf = shelf_price(final, rule, cost_cents=sku.cost_basis_cents).cents
                row: dict[str, Any] = {
                    "id": sku.id,
                    "market_price_cents": final,
                    "price_source": review.source[:SOURCE_MAX],
                    "price_as_of": now,
                }
                moved = new_shelf != sku.shelf_price_cents
                if moved:
                    row["shelf_price_cents"] = new_shelf
                    repriced += 1
                sku_rows.setdefault(tuple(row), []).append(row)
                ledger.append(
                    {
                        "sku_id": sku.id,
                        "source": review.source,
                        "field": "market",
                        "old_cents": sku.market_price_cents,
                        "new_cents": final,
                        "shelf_old_cents": sku.shelf_price_cents if moved else None,
                        "shelf_new_cents": new_shelf if moved else None,
                        "user_id": actor.id,
                        "review_id": review.id,
                        "batch_id": review.batch_id,
                        "note": f"review {'accepted' if d.action == 'accept' else 'edited'}",
                        "created_at": now,
                    }
                )
            for rows in review_rows.values():
                capture.bulk_update(s, PriceReview, rows)
            for rows in sku_rows.values():
                capture.bulk_update(s, Sku, rows)
            capture.bulk_append(s, PriceUpdate, ledger)
            audit.record(
                s,
                "pricing.review.decide",
                user_id=actor.id,
                entity_type="price_review",
                entity_id=ids[0] if len(ids) == 1 else None,
                after={"accepted": counts["accept"], "rejected": counts["reject"], "edited": counts["edit"]},
            )
        return DecisionResult(counts["accept"], counts["reject"], counts["edit"], repriced)

    def decide_all_pending(self, action: str, *, actor: UserView) -> DecisionResult:
        """Accept or reject the whole pending queue at once."""
        require_role(actor, Role.MANAGER)
        if action not in ("accept", "reject"):
            raise ValidationError("the whole queue can only be accepted or rejected")
        with self.store.read() as s:
            ids = list(
                s.scalars(select(PriceReview.id).where(PriceReview.status == PriceReviewStatus.PENDING.value))
            )
        if not ids:
            raise ValidationError("there are no prices waiting for review")
        return self.decide([ReviewDecision(i, action) for i in ids], actor=actor)

    # ------------------------------------------------------------------ manual prices

    def set_shelf_price(
        self,
        sku_id: str,
        cents: int,
        *,
        actor: UserView,
        reason: str | None = None,
        allow_below_cost: bool = False,
        approval_pin: str | None = None,
    ) -> SkuPrices:
        """A person sets the shelf price. Below cost needs ``allow_below_cost`` and a manager."""
        require_role(actor, Role.MANAGER)
        problem = market_problem(cents)
        if problem:
            raise ValidationError(f"shelf price: {problem}")
        with self.store.read() as s:
            sku = s.get(Sku, sku_id)
            if sku is None:
                raise NotFoundError("no such item")
            cost = sku.cost_basis_cents
        approver = None
        if cost is not None and cents < cost:
            if not allow_below_cost:
                raise ConflictError(
                    f"{format_cents(cents)} is below the cost of {format_cents(cost)}: a manager must "
                    "confirm a price below cost"
                )
            approver = approve(
                self.auth,
                approval_pin,
                f"shelf price below cost on {sku_id}",
                actor=actor,
                action="pricing.below_cost",
                entity_type="sku",
                entity_id=sku_id,
            )
        with self.store.uow() as uow:
            s = uow.session
            sku = s.get(Sku, sku_id)
            if sku is None:
                raise NotFoundError("no such item")
            old = sku.shelf_price_cents
            if old == cents:
                return self.sku_prices(sku_id)
            sku.shelf_price_cents = cents
            note = (reason or "").strip()[:200] or None
            if approver is not None:
                note = f"below cost, approved by {approver.display_name}" + (f": {note}" if note else "")
                note = note[:200]
            s.add(
                PriceUpdate(
                    sku_id=sku_id,
                    source="manual",
                    field="shelf",
                    old_cents=old,
                    new_cents=cents,
                    user_id=actor.id,
                    note=note,
                )
            )
            audit.record(
                s,
                "pricing.below_cost" if approver is not None else "pricing.shelf.set",
                user_id=actor.id,
                approved_by=approver.id if approver is not None else None,
                entity_type="sku",
                entity_id=sku_id,
                before={"shelf_price_cents": old},
                after={"shelf_price_cents": cents, "cost_basis_cents": cost},
            )
        return self.sku_prices(sku_id)

    def set_market_price(
        self, sku_id: str, cents: int, *, actor: UserView, reprice: bool = True
    ) -> SkuPrices:
        """A manager types a market price (e.g. from a show); the shelf follows the rule if ``reprice``."""
        require_role(actor, Role.MANAGER)
        problem = market_problem(cents)
        if problem:
            raise ValidationError(f"market price: {problem}")
        with self.store.uow() as uow:
            s = uow.session
            row = s.execute(
                select(Sku, Product).join(Product, Sku.product_id == Product.id).where(Sku.id == sku_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError("no such item")
            sku, product = row
            rule, _ = load_rulebook(s).resolve(product.game_id, product.kind, sku.condition, sku.finish)
            old_market, old_shelf = sku.market_price_cents, sku.shelf_price_cents
            new_shelf = old_shelf
            if reprice and rule.reprice_shelf and not sku.price_locked:
                new_shelf = shelf_price(cents, rule, cost_cents=sku.cost_basis_cents).cents
            sku.market_price_cents = cents
            sku.shelf_price_cents = new_shelf
            sku.price_source = "manual"
            sku.price_as_of = utcnow()
            moved = new_shelf != old_shelf
            s.add(
                PriceUpdate(
                    sku_id=sku_id,
                    source="manual",
                    field="market",
                    old_cents=old_market,
                    new_cents=cents,
                    shelf_old_cents=old_shelf if moved else None,
                    shelf_new_cents=new_shelf if moved else None,
                    user_id=actor.id,
                )
            )
            pending = s.scalars(
                select(PriceReview).where(
                    PriceReview.sku_id == sku_id, PriceReview.status == PriceReviewStatus.PENDING.value
                )
            ).all()
            for review in pending:
                review.status = PriceReviewStatus.SUPERSEDED.value
                review.decided_by = actor.id
                review.decided_at = utcnow()
            audit.record(
                s,
                "pricing.market.set",
                user_id=actor.id,
                entity_type="sku",
                entity_id=sku_id,
                before={"market_price_cents": old_market, "shelf_price_cents": old_shelf},
                after={"market_price_cents": cents, "shelf_price_cents": new_shelf},
            )
        return self.sku_prices(sku_id)

    def set_price_lock(
        self, sku_id: str, locked: bool, *, actor: UserView, reason: str | None = None
    ) -> SkuPrices:
        """Lock (or unlock) a SKU's shelf price: a showcase card priced by hand.

        While locked, imports and feeds still update its market price (and the price
        history records it) but never its shelf price; pricing rules skip it (review
        decisions and typed market prices included). Only a person changes a locked
        shelf price (:meth:`set_shelf_price`). Managers only; audited with the reason.
        """
        require_role(actor, Role.MANAGER)
        note = (reason or "").strip()[:200] or None
        with self.store.uow() as uow:
            s = uow.session
            sku = s.get(Sku, sku_id)
            if sku is None:
                raise NotFoundError("no such item")
            if sku.price_locked != locked:
                sku.price_locked = locked
                audit.record(
                    s,
                    "pricing.lock" if locked else "pricing.unlock",
                    user_id=actor.id,
                    entity_type="sku",
                    entity_id=sku_id,
                    before={"price_locked": not locked},
                    after={
                        "price_locked": locked,
                        "shelf_price_cents": sku.shelf_price_cents,
                        "reason": note,
                    },
                )
        return self.sku_prices(sku_id)

    # ------------------------------------------------------------------ per-SKU view

    def sku_prices(self, sku_id: str, *, history_limit: int = 200) -> SkuPrices:
        """Everything about one SKU's price: current, age, rule, pending review, history (newest last)."""
        symbol = str(self.shop.get("shop.currency_symbol") or "$")
        stale_days = self._setting(SETTING_STALE_DAYS)
        with self.store.read() as s:
            row = s.execute(
                select(Sku, Product, CardSet)
                .join(Product, Sku.product_id == Product.id)
                .outerjoin(CardSet, Product.set_id == CardSet.id)
                .where(Sku.id == sku_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError("no such item")
            sku, product, card_set = row
            age_of = price_age(s, sku)
            review_row = s.execute(
                select(PriceReview).where(
                    PriceReview.sku_id == sku_id, PriceReview.status == PriceReviewStatus.PENDING.value
                )
            ).scalar_one_or_none()
            pending = (
                self._review_view(review_row, sku, product, card_set, age_of.as_of) if review_row else None
            )
            rules = load_rulebook(s)
            rule, rule_id = rules.resolve(product.game_id, product.kind, sku.condition, sku.finish)
            rule_name = s.scalar(select(PriceRule.name).where(PriceRule.id == rule_id)) if rule_id else None
            rule_shelf = (
                shelf_price(sku.market_price_cents, rule, cost_cents=sku.cost_basis_cents).cents
                if sku.market_price_cents is not None
                else None
            )
            entries = list(
                s.scalars(
                    select(PriceUpdate)
                    .where(PriceUpdate.sku_id == sku_id)
                    .order_by(PriceUpdate.created_at.desc(), PriceUpdate.hlc.desc())
                    .limit(max(1, min(history_limit, 5_000)))
                )
            )
            entries.reverse()
            warning = spike_warning(s, sku_id, sku.shelf_price_cents, sku.market_price_cents, symbol)
        now = utcnow()
        age = (now - age_of.as_of).total_seconds() / 86_400 if age_of.as_of else None
        return SkuPrices(
            sku_id=sku.id,
            sku_code=sku.sku_code,
            name=_describe(product, card_set),
            detail=_detail(sku),
            shelf_price_cents=sku.shelf_price_cents,
            market_price_cents=sku.market_price_cents,
            cost_basis_cents=sku.cost_basis_cents,
            price_source=age_of.source,
            price_as_of=age_of.as_of,
            age_days=age,
            stale=age is None or age > stale_days,
            pending_review=pending,
            warning=warning,
            rule_name=rule_name,
            rule_shelf_cents=rule_shelf,
            price_locked=sku.price_locked,
            history=[
                HistoryEntry(
                    at=e.created_at,
                    field=e.field,
                    source=e.source,
                    old_cents=e.old_cents,
                    new_cents=e.new_cents,
                    shelf_old_cents=e.shelf_old_cents,
                    shelf_new_cents=e.shelf_new_cents,
                    user=e.user_id,
                    note=e.note,
                )
                for e in entries
            ],
        )

    # ------------------------------------------------------------------ register and buylist

    def price_warning(self, sku_id: str) -> str | None:
        """The register's spike warning for one SKU (see :func:`spike_warning`)."""
        symbol = str(self.shop.get("shop.currency_symbol") or "$")
        with self.store.read() as s:
            sku = s.get(Sku, sku_id)
            if sku is None:
                raise NotFoundError("no such item")
            return spike_warning(s, sku_id, sku.shelf_price_cents, sku.market_price_cents, symbol)

    def buylist_guard(self, sku_id: str) -> BuylistGuard:
        """May a buylist offer be based on this SKU's market price? See :class:`BuylistGuard`.

        Used by the buylist: ``cap, flags = pricing.buylist_guard(sku_id)``; an offer is then
        computed from ``min(market, cap)`` when ``cap`` is not None, and the flags are shown
        to the cashier (``no_market``: no automatic offer at all).
        """
        volatile_days = self._setting(SETTING_VOLATILE_DAYS)
        stale_days = self._setting(SETTING_STALE_DAYS)
        stale_cap = self._setting(SETTING_STALE_CAP_BPS)
        now = utcnow()
        with self.store.read() as s:
            row = s.execute(
                select(Sku, Product).join(Product, Sku.product_id == Product.id).where(Sku.id == sku_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError("no such item")
            sku, product = row
            market = sku.market_price_cents
            if market is None:
                return BuylistGuard(None, ("no_market",))
            flags: list[str] = []
            caps: list[int] = []
            rule: Rule = load_rulebook(s).resolve(product.game_id, product.kind, sku.condition, sku.finish)[0]
            proposed = s.scalar(
                select(PriceReview.proposed_cents).where(
                    PriceReview.sku_id == sku_id, PriceReview.status == PriceReviewStatus.PENDING.value
                )
            )
            since = now - timedelta(days=volatile_days)
            recent = s.execute(
                select(PriceUpdate.old_cents, PriceUpdate.new_cents).where(
                    PriceUpdate.sku_id == sku_id,
                    PriceUpdate.field == "market",
                    PriceUpdate.created_at >= since,
                )
            ).all()
            moved = any(old is not None and held_by_guard(old, new, rule) for old, new in recent)
            if proposed is not None or moved:
                flags.append("volatile")
                lows = [market] + [v for o, n in recent for v in (o, n) if v is not None]
                if proposed is not None:
                    lows.append(proposed)
                caps.append(min(lows))
            as_of = price_age(s, sku).as_of
            if as_of is None or now - as_of > timedelta(days=stale_days):
                flags.append("stale")
                caps.append(market * stale_cap // BPS)
        return BuylistGuard(min(caps) if caps else None, tuple(flags))


def rulebook(store: Store) -> RuleBook:
    with store.read() as s:
        return load_rulebook(s)


__all__ = [
    "BuylistGuard",
    "DecisionResult",
    "HistoryEntry",
    "PricingService",
    "ReviewDecision",
    "ReviewPage",
    "ReviewView",
    "RuleInput",
    "RuleView",
    "SkuPrices",
    "spike_warning",
]
