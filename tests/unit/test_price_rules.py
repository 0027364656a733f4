"""Worked examples of the pricing rules (vaultsync.domain.price_rules)."""

from __future__ import annotations

import pytest

from vaultsync.domain.price_rules import (
    DEFAULT_RULE,
    MAX_MARKET_CENTS,
    Rounding,
    Rule,
    RuleBook,
    ScopedRule,
    check_rule,
    condition_price,
    held_by_guard,
    market_problem,
    move_bps,
    round_price,
    shelf_price,
)


@pytest.mark.parametrize(
    ("cents", "mode", "expected"),
    [
        (1203, Rounding.NONE, 1203),
        (1203, Rounding.END_99, 1299),
        (1299, Rounding.END_99, 1299),
        (1300, Rounding.END_99, 1399),
        (50, Rounding.END_99, 99),
        (1203, Rounding.END_49_99, 1249),
        (1249, Rounding.END_49_99, 1249),
        (1250, Rounding.END_49_99, 1299),
        (20, Rounding.END_49_99, 49),
        (13, Rounding.QUARTER, 25),
        (130, Rounding.QUARTER, 150),
        (1203, Rounding.DOLLAR, 1300),
        (1200, Rounding.DOLLAR, 1200),
        (0, Rounding.END_99, 0),
    ],
)
def test_rounding_goes_up_to_the_ending(cents: int, mode: Rounding, expected: int) -> None:
    assert round_price(cents, mode) == expected
    assert round_price(cents, mode) >= cents


def test_shelf_is_market_times_markup_rounded_half_up() -> None:
    # $10.00 market, +10 %: $11.00
    assert shelf_price(1000, Rule(markup_bps=11_000)).cents == 1100
    # $0.05 × 1.1 = 5.5 cents -> 6 (half up)
    assert shelf_price(5, Rule(markup_bps=11_000)).cents == 6
    # $12.34 × 1.15 = 14.191 -> 1419 -> up to .49/.99 -> 14.49
    assert shelf_price(1234, Rule(markup_bps=11_500, rounding=Rounding.END_49_99)).cents == 1449


def test_minimum_floor_then_rounding() -> None:
    rule = Rule(markup_bps=10_000, min_price_cents=25, rounding=Rounding.QUARTER)
    quote = shelf_price(3, rule)
    assert quote.cents == 25
    assert quote.floors == ("minimum",)


def test_never_below_cost_unless_overridden() -> None:
    rule = Rule(markup_bps=10_000, rounding=Rounding.END_99)
    # market fell to $8.00, the shop paid $9.20: shelf goes to cost, rounded up to $9.99
    quote = shelf_price(800, rule, cost_cents=920)
    assert quote.cents == 999
    assert quote.floors == ("cost",)
    assert shelf_price(800, rule, cost_cents=920, allow_below_cost=True).cents == 899


def test_condition_multipliers_from_near_mint() -> None:
    assert condition_price(1000, DEFAULT_RULE, "NM") == 1000
    assert condition_price(1000, DEFAULT_RULE, "LP") == 850
    assert condition_price(1000, DEFAULT_RULE, "DMG") == 400
    assert condition_price(1000, DEFAULT_RULE, None) == 1000  # sealed, graded: no condition
    custom = Rule(condition_bps={"LP": 9_000})
    assert condition_price(999, custom, "LP") == 899  # 899.1 -> 899
    assert condition_price(1000, custom, "MP") == 700  # not in the rule: the default


def test_guard_needs_both_percent_and_amount() -> None:
    rule = Rule(guard_pct_bps=2_500, guard_abs_cents=200)
    assert held_by_guard(1000, 1300, rule)  # +30 %, +$3
    assert held_by_guard(1000, 700, rule)  # -30 %, -$3
    assert not held_by_guard(10, 20, rule)  # +100 % but 10 cents
    assert not held_by_guard(500_000, 505_000, rule)  # $50 but 1 %
    assert held_by_guard(800, 1000, rule)  # exactly 25 % and exactly $2: held
    assert not held_by_guard(None, 99_999, rule)  # a first price has nothing to compare with


def test_garbage_prices_are_named() -> None:
    assert market_problem(None) == "no price"
    assert market_problem(0) is not None
    assert market_problem(-5) is not None
    assert market_problem(MAX_MARKET_CENTS + 1) is not None
    assert market_problem(MAX_MARKET_CENTS) is None
    assert move_bps(1000, 1250) == 2500
    assert move_bps(None, 5) is None


def test_most_specific_rule_wins() -> None:
    generic = ScopedRule(Rule(markup_bps=11_000), rule_id="all", order=0)
    magic = ScopedRule(Rule(markup_bps=12_000), game_id="mtg", rule_id="mtg", order=1)
    magic_foil = ScopedRule(
        Rule(markup_bps=13_000), game_id="mtg", finish="foil", rule_id="mtg-foil", order=2
    )
    sealed = ScopedRule(Rule(markup_bps=10_500), kind="sealed", rule_id="sealed", order=3)
    book = RuleBook([generic, magic, magic_foil, sealed])
    assert book.resolve("mtg", "single", "NM", "foil")[1] == "mtg-foil"
    assert book.resolve("mtg", "single", "NM", "normal")[1] == "mtg"
    assert book.resolve("pkm", "single", "NM", "normal")[1] == "all"
    # game and category are equally specific: the game wins the tie
    assert book.resolve("mtg", "sealed", None, "normal")[1] == "mtg"
    assert book.resolve("pkm", "sealed", None, "normal")[1] == "sealed"
    assert RuleBook([]).resolve("x", None, None, None) == (DEFAULT_RULE, None)


def test_rule_checks() -> None:
    assert check_rule(Rule()) == []
    assert check_rule(Rule(markup_bps=100))
    assert check_rule(Rule(min_price_cents=-1))
    assert check_rule(Rule(condition_bps={"XX": 5000}))
    assert check_rule(Rule(condition_bps={"LP": 20_000}))
