"""Shelf prices from market prices, and the volatility guard's decision: pure functions in cents.

The rules (worked examples in tests/unit/test_price_rules.py):

1. **Which rule.** A rule is scoped by any of game, category (product kind), condition
   and finish; an empty field matches anything. Of the active rules that match a SKU,
   the most specific wins (most non-empty fields; ties: game before category before
   condition before finish, then the older rule). No match: :data:`DEFAULT_RULE`.
2. **Condition multipliers.** Some feeds price a card once, as near mint (PriceCharting's
   "loose" price). A SKU in another condition then gets that price × its condition's
   multiplier (basis points of NM, from the rule or :data:`DEFAULT_CONDITION_BPS`),
   rounded half up to the cent. Feeds that price each condition (TCGplayer) are used as is.
3. **Shelf price** = market × markup (basis points, rounded half up), then
   - raised to the rule's minimum price (floor), then
   - rounded UP to the rule's price ending (:class:`Rounding`: never below the computed
     price, so rounding cannot undo a floor), then
   - raised to the cost basis (rounded up again) unless a manager has overridden that for
     this price — a shop never sells below what it paid by accident.
4. **Guard.** A new market price that moves from the last one by at least the rule's
   percentage (basis points of the old price) AND at least its absolute amount is held
   for review. Both, so a $0.10 card doubling is not a review and a $5,000 card moving
   $50 (1 %) is not either. A first price (no old one) is never held: there is nothing
   to compare with. Prices that cannot be real (zero, negative, above
   :data:`MAX_MARKET_CENTS`) are errors, never applied and never queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from vaultsync.domain.enums import Condition
from vaultsync.domain.pricing import BPS, round_div

#: the largest market price a feed row may carry ($1,000,000): a row above it is garbage
MAX_MARKET_CENTS = 100_000_000
#: markup limits a rule may use: 0.5× to 10× the market
MIN_MARKUP_BPS = 5_000
MAX_MARKUP_BPS = 100_000

DEFAULT_CONDITION_BPS: dict[str, int] = {
    Condition.NM.value: 10_000,
    Condition.LP.value: 8_500,
    Condition.MP.value: 7_000,
    Condition.HP.value: 5_500,
    Condition.DMG.value: 4_000,
}


class Rounding(StrEnum):
    """Price endings; every mode rounds up (see rule 3)."""

    NONE = "none"  # to the cent
    END_99 = "99"  # $12.03 -> $12.99
    END_49_99 = "49_99"  # $12.03 -> $12.49, $12.50 -> $12.99
    QUARTER = "quarter"  # $0.13 -> $0.25, $1.30 -> $1.50
    DOLLAR = "dollar"  # $12.03 -> $13.00

    @property
    def label(self) -> str:
        return _ROUNDING_LABELS[self]


_ROUNDING_LABELS = {
    Rounding.NONE: "To the cent",
    Rounding.END_99: "Up to .99",
    Rounding.END_49_99: "Up to .49 or .99",
    Rounding.QUARTER: "Up to a quarter",
    Rounding.DOLLAR: "Up to a whole dollar",
}


def round_price(cents: int, mode: Rounding | str) -> int:
    """The smallest price ≥ ``cents`` with the ending ``mode`` asks for (0 stays 0)."""
    if cents <= 0:
        return 0
    if type(mode) is not Rounding:
        mode = Rounding(mode)
    if mode is Rounding.NONE:
        return cents
    if mode is Rounding.END_99:
        return (cents + 1 + 99) // 100 * 100 - 1  # next n*100 - 1 that is >= cents
    if mode is Rounding.END_49_99:
        return (cents + 1 + 49) // 50 * 50 - 1
    if mode is Rounding.QUARTER:
        return (cents + 24) // 25 * 25
    return (cents + 99) // 100 * 100


@dataclass(frozen=True)
class Rule:
    """The money part of a pricing rule (scope lives in :class:`ScopedRule`)."""

    markup_bps: int = BPS
    rounding: Rounding = Rounding.NONE
    min_price_cents: int = 0
    guard_pct_bps: int = 2_500
    guard_abs_cents: int = 200
    condition_bps: Mapping[str, int] | None = None
    reprice_shelf: bool = True

    def multiplier(self, condition: str | None) -> int:
        """Basis points of the NM price for ``condition`` (graded/sealed: no condition, 100 %)."""
        if not condition:
            return BPS
        table = self.condition_bps or DEFAULT_CONDITION_BPS
        return int(table.get(condition, DEFAULT_CONDITION_BPS.get(condition, BPS)))


DEFAULT_RULE = Rule()


@dataclass(frozen=True)
class ScopedRule:
    """A rule with its scope; ``None`` fields match anything."""

    rule: Rule
    game_id: str | None = None
    kind: str | None = None
    condition: str | None = None
    finish: str | None = None
    rule_id: str | None = None
    order: int = 0  # tie-break: lower first (e.g. creation order)

    def matches(
        self, game_id: str | None, kind: str | None, condition: str | None, finish: str | None
    ) -> bool:
        return (
            (self.game_id is None or self.game_id == game_id)
            and (self.kind is None or self.kind == kind)
            and (self.condition is None or self.condition == condition)
            and (self.finish is None or self.finish == finish)
        )

    @property
    def specificity(self) -> tuple[int, ...]:
        flags = (self.game_id, self.kind, self.condition, self.finish)
        return (sum(f is not None for f in flags), *(int(f is not None) for f in flags))


@dataclass
class RuleBook:
    """Finds the rule of a SKU; answers are cached per (game, kind, condition, finish).

    A catalog has a few hundred such combinations, so an import of a million rows asks
    the scoped rules a few hundred times, not a million.
    """

    rules: list[ScopedRule]
    _cache: dict[tuple[str | None, ...], tuple[Rule, str | None]] = field(default_factory=dict)

    def resolve(
        self, game_id: str | None, kind: str | None, condition: str | None, finish: str | None
    ) -> tuple[Rule, str | None]:
        """(rule, rule id or None for the default) for a SKU."""
        key = (game_id, kind, condition, finish)
        hit = self._cache.get(key)
        if hit is None:
            best: ScopedRule | None = None
            for scoped in self.rules:
                if not scoped.matches(game_id, kind, condition, finish):
                    continue
                if best is None or (scoped.specificity, -scoped.order) > (best.specificity, -best.order):
                    best = scoped
            hit = (best.rule, best.rule_id) if best else (DEFAULT_RULE, None)
            self._cache[key] = hit
        return hit


def condition_price(nm_cents: int, rule: Rule, condition: str | None) -> int:
    """A condition's market price from a near-mint price (rule 2)."""
    return round_div(nm_cents * rule.multiplier(condition), BPS)


@dataclass(frozen=True)
class ShelfQuote:
    cents: int
    #: what raised the price above market × markup: "minimum", "cost" (empty: nothing)
    floors: tuple[str, ...] = ()


def shelf_price(
    market_cents: int, rule: Rule, *, cost_cents: int | None = None, allow_below_cost: bool = False
) -> ShelfQuote:
    """Shelf price for a market price under ``rule`` (rule 3)."""
    if market_cents < 0:
        raise ValueError("a market price cannot be negative")
    floors: list[str] = []
    price = round_div(market_cents * rule.markup_bps, BPS)
    if price < rule.min_price_cents:
        price = rule.min_price_cents
        floors.append("minimum")
    price = round_price(price, rule.rounding)
    if cost_cents is not None and cost_cents > 0 and price < cost_cents and not allow_below_cost:
        price = round_price(cost_cents, rule.rounding)
        floors.append("cost")
    return ShelfQuote(price, tuple(floors))


def market_problem(cents: int | None) -> str | None:
    """Why a market price cannot be real, or None when it can."""
    if cents is None:
        return "no price"
    if cents <= 0:
        return "price must be more than zero"
    if cents > MAX_MARKET_CENTS:
        return f"price above {MAX_MARKET_CENTS // 100:,} is not a real market price"
    return None


def held_by_guard(old_cents: int | None, new_cents: int, rule: Rule) -> bool:
    """Whether a move from ``old_cents`` to ``new_cents`` needs a manager (rule 4)."""
    if old_cents is None or old_cents <= 0:
        return False
    move = abs(new_cents - old_cents)
    return move >= rule.guard_abs_cents and move * BPS >= rule.guard_pct_bps * old_cents


def move_bps(old_cents: int | None, new_cents: int) -> int | None:
    """The move as signed basis points of the old price (None without an old price)."""
    if not old_cents:
        return None
    return round_div((new_cents - old_cents) * BPS, old_cents)


def check_rule(rule: Rule) -> list[str]:
    """Everything wrong with a rule's numbers, for a person (empty: fine)."""
    problems = []
    if not MIN_MARKUP_BPS <= rule.markup_bps <= MAX_MARKUP_BPS:
        problems.append(f"markup must be between {MIN_MARKUP_BPS / 100:g}% and {MAX_MARKUP_BPS / 100:g}%")
    if rule.min_price_cents < 0 or rule.min_price_cents > MAX_MARKET_CENTS:
        problems.append("minimum price must be between 0 and 1,000,000")
    if not 0 < rule.guard_pct_bps <= 1_000_000:
        problems.append("guard percentage must be more than 0")
    if rule.guard_abs_cents < 0 or rule.guard_abs_cents > MAX_MARKET_CENTS:
        problems.append("guard amount must be 0 or more")
    for cond, bps in (rule.condition_bps or {}).items():
        if cond not in DEFAULT_CONDITION_BPS:
            problems.append(f"unknown condition {cond!r}")
        elif isinstance(bps, bool) or not isinstance(bps, int) or not 0 < bps <= BPS:
            problems.append(f"{cond} multiplier must be more than 0% and at most 100%")
    return problems


def scoped(rules: Iterable[ScopedRule]) -> RuleBook:
    return RuleBook(list(rules))
