"""Worked examples for the cart arithmetic rules in vaultsync/domain/pricing.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultsync.domain.pricing import LineInput, allocate, price_cart, round_div

RATES = {"standard": 825, "food": 0, "reduced": 500}  # 8.25 %, 0 %, 5 %


def test_round_half_away_from_zero() -> None:
    assert round_div(5, 10) == 1
    assert round_div(4, 10) == 0
    assert round_div(-5, 10) == -1
    assert round_div(15, 10) == 2


def test_allocate_largest_remainder() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [0, 0]) == [5, 5]
    assert allocate(-7, [1, 2]) == [-2, -5]
    assert allocate(0, []) == []


@given(st.integers(-(10**9), 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=30))
def test_allocate_sums_exactly(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    assert sum(shares) == total
    assert len(shares) == len(weights)


def test_worked_example_tax_exclusive() -> None:
    # 3 × $0.25 commons, a $19.99 booster box at 10% off, sleeves $8.99; 8.25% tax
    t = price_cart(
        [
            LineInput(25, 3, "standard"),
            LineInput(1999, 1, "standard", ("percent", 1000)),
            LineInput(899, 1, "standard"),
        ],
        rates_bps=RATES,
    )
    assert [p.gross_cents for p in t.lines] == [75, 1999, 899]
    assert [p.line_discount_cents for p in t.lines] == [0, 200, 0]  # 199.9 -> 200
    assert t.subtotal_cents == 2973
    net = 75 + 1799 + 899  # 2773
    assert t.tax_cents == 229  # 2773 × 8.25% = 228.77 -> 229, once for the category
    assert sum(p.tax_cents for p in t.lines) == 229
    assert t.total_cents == net + 229 == 3002


def test_per_category_rounding_beats_per_line() -> None:
    # ten $0.10 cards: per-line tax would be 10 × round(0.825) = 10 cents; on the total it is 8
    t = price_cart([LineInput(10, 1, "standard")] * 10, rates_bps=RATES)
    assert t.tax_cents == 8
    assert sum(p.tax_cents for p in t.lines) == 8


def test_worked_example_tax_inclusive() -> None:
    # shelf prices include 5%: $10.50 + $4.20 = $14.70, of which tax = 14.70 − 14.70/1.05 = 0.70
    t = price_cart(
        [LineInput(1050, 1, "reduced"), LineInput(420, 1, "reduced")], rates_bps=RATES, tax_inclusive=True
    )
    assert t.total_cents == 1470
    assert t.tax_cents == 70
    assert [p.tax_cents for p in t.lines] == [50, 20]


def test_cart_discount_is_spread_by_line_value() -> None:
    t = price_cart(
        [LineInput(1000, 1, "food"), LineInput(3000, 1, "food")],
        rates_bps=RATES,
        cart_discount=("amount", 100),
    )
    assert [p.cart_discount_cents for p in t.lines] == [25, 75]
    assert t.total_cents == 3900 and t.discount_cents == 100


def test_mixed_categories_and_exempt_customer() -> None:
    lines = [LineInput(1000, 2, "standard"), LineInput(500, 1, "food")]
    t = price_cart(lines, rates_bps=RATES)
    assert t.tax_by_category == {"standard": 165, "food": 0}
    exempt = price_cart(lines, rates_bps=RATES, tax_exempt=True)
    assert exempt.tax_cents == 0 and exempt.total_cents == 2500


@pytest.mark.parametrize(
    "discount",
    [("percent", -1), ("percent", 10_001), ("amount", -5), ("bogus", 1)],
)
def test_bad_discounts(discount: tuple[str, int]) -> None:
    with pytest.raises(ValueError):
        price_cart([LineInput(100, 1, "standard", discount)], rates_bps=RATES)


def test_amount_discount_never_exceeds_line() -> None:
    t = price_cart([LineInput(100, 1, "standard", ("amount", 500))], rates_bps=RATES)
    assert t.lines[0].net_cents == 0 and t.total_cents == 0


def test_unknown_tax_category_is_an_error() -> None:
    with pytest.raises(ValueError, match="no tax rate"):
        price_cart([LineInput(100, 1, "luxury")], rates_bps=RATES)


@given(
    st.lists(
        st.tuples(st.integers(0, 100_000), st.integers(1, 50), st.sampled_from(sorted(RATES))),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
    st.integers(0, 10_000),
)
def test_totals_are_consistent(raw: list[tuple[int, int, str]], inclusive: bool, cart_bps: int) -> None:
    t = price_cart(
        [LineInput(p, q, c) for p, q, c in raw],
        rates_bps=RATES,
        tax_inclusive=inclusive,
        cart_discount=("percent", cart_bps),
    )
    assert t.total_cents == sum(p.total_cents for p in t.lines)
    assert t.tax_cents == sum(t.tax_by_category.values())
    assert t.subtotal_cents - t.discount_cents + (0 if inclusive else t.tax_cents) == t.total_cents
    assert all(p.net_cents >= 0 and p.tax_cents >= 0 for p in t.lines)
