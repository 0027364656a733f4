"""Cart arithmetic in integer cents: discounts, their allocation, and sales tax.

The rules (worked examples in tests/unit/test_pricing.py):

1. A line's gross is unit price × quantity.
2. A line discount is a percentage (basis points) or an amount; a percentage rounds
   half away from zero to the cent; an amount never exceeds the line's gross.
3. A whole-cart discount (percentage of, or amount off, the cart after line discounts)
   is spread over the lines in proportion to their net amounts by the largest-remainder
   method, so the shares add up exactly and a later partial refund returns exactly what
   that line really cost.
4. Tax is computed per tax category on the category's total net amount, once (not per
   line, which would accumulate rounding), half away from zero:
   - tax-exclusive shops: tax = round(net × rate);
   - tax-inclusive shops: the net already contains the tax; tax = net − round(net / (1 + rate)).
   Each category's tax is then spread over its lines by largest remainder, so every line
   carries its own tax for refunds and line taxes add up to the receipt's tax.
5. A tax-exempt sale has zero tax (inclusive prices are then charged as marked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BPS = 10_000


def round_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def percent_of(amount: int, bps: int) -> int:
    return round_div(amount * bps, BPS)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` over ``weights`` proportionally; shares are integers that sum to ``total``.

    Largest remainder: floor shares first, then the leftover cents go to the largest
    fractional parts (ties: earlier position). All-zero weights split evenly.
    """
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("cannot allocate a non-zero amount over nothing")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    sign = -1 if total < 0 else 1
    amount = abs(total)
    wsum = sum(weights)
    if wsum == 0:
        weights = [1] * n
        wsum = n
    shares = [amount * w // wsum for w in weights]
    remainders = [(amount * w % wsum, -i) for i, w in enumerate(weights)]
    leftover = amount - sum(shares)
    for _, neg_i in sorted(remainders, reverse=True)[:leftover]:
        shares[-neg_i] += 1
    return [sign * s for s in shares]


@dataclass(frozen=True)
class PricedLine:
    """The money of one line after discounts and tax."""

    gross_cents: int
    line_discount_cents: int
    cart_discount_cents: int
    net_cents: int  # gross − discounts (inclusive shops: still contains the tax)
    tax_cents: int
    total_cents: int  # what the customer pays for the line

    @property
    def discount_cents(self) -> int:
        return self.line_discount_cents + self.cart_discount_cents


@dataclass(frozen=True)
class LineInput:
    unit_price_cents: int
    quantity: int
    tax_category: str
    #: ("percent", bps) or ("amount", cents) or None
    discount: tuple[str, int] | None = None


@dataclass(frozen=True)
class Totals:
    lines: list[PricedLine]
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    #: tax per category, for the receipt and the Z report
    tax_by_category: dict[str, int]


def line_discount(gross: int, discount: tuple[str, int] | None) -> int:
    if discount is None:
        return 0
    kind, value = discount
    if value < 0:
        raise ValueError("a discount cannot be negative")
    if kind == "percent":
        if value > BPS:
            raise ValueError("a discount cannot exceed 100%")
        return percent_of(gross, value)
    if kind == "amount":
        return min(value, gross) if gross >= 0 else 0
    raise ValueError(f"unknown discount kind {kind!r}")


def price_cart(
    lines: Sequence[LineInput],
    *,
    rates_bps: dict[str, int],
    tax_inclusive: bool = False,
    tax_exempt: bool = False,
    cart_discount: tuple[str, int] | None = None,
) -> Totals:
    """Apply the rules in the module docstring. Unknown tax categories are an error:
    silently charging no tax is the kind of bug a shop finds at audit time."""
    gross = [li.unit_price_cents * li.quantity for li in lines]
    after_line = []
    line_disc = []
    for li, g in zip(lines, gross, strict=True):
        d = line_discount(g, li.discount)
        line_disc.append(d)
        after_line.append(g - d)
    pre_cart = sum(after_line)
    cart_disc_total = line_discount(pre_cart, cart_discount) if pre_cart > 0 else 0
    cart_shares = allocate(cart_disc_total, [max(a, 0) for a in after_line]) if lines else []
    net = [a - c for a, c in zip(after_line, cart_shares, strict=True)]

    tax = [0] * len(lines)
    by_category: dict[str, int] = {}
    if not tax_exempt:
        categories: dict[str, list[int]] = {}
        for i, li in enumerate(lines):
            if li.tax_category not in rates_bps:
                raise ValueError(f"no tax rate configured for category {li.tax_category!r}")
            categories.setdefault(li.tax_category, []).append(i)
        for cat, idx in categories.items():
            rate = rates_bps[cat]
            cat_net = sum(net[i] for i in idx)
            if tax_inclusive:
                cat_tax = cat_net - round_div(cat_net * BPS, BPS + rate)
            else:
                cat_tax = percent_of(cat_net, rate)
            shares = allocate(cat_tax, [max(net[i], 0) for i in idx])
            for i, share in zip(idx, shares, strict=True):
                tax[i] = share
            by_category[cat] = cat_tax
    priced = [
        PricedLine(
            gross_cents=g,
            line_discount_cents=ld,
            cart_discount_cents=cd,
            net_cents=n,
            tax_cents=t,
            total_cents=n if tax_inclusive else n + t,
        )
        for g, ld, cd, n, t in zip(gross, line_disc, cart_shares, net, tax, strict=True)
    ]
    return Totals(
        lines=priced,
        subtotal_cents=sum(gross),
        discount_cents=sum(p.discount_cents for p in priced),
        tax_cents=sum(tax),
        total_cents=sum(p.total_cents for p in priced),
        tax_by_category=by_category,
    )
