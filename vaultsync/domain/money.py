"""Money as integer cents.

Floats cannot represent most decimal prices exactly, and a register that drifts by a
cent a day is a register nobody trusts, so every amount in VaultSync is an ``int`` of
the shop currency's minor unit. Parsing and formatting live here so no other module
is tempted to divide by 100.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

Cents = int

#: Largest amount accepted anywhere (a signed 64-bit column must hold any sum of these).
MAX_CENTS: Cents = 10**13  # 100 billion in major units

_AMOUNT_RE = re.compile(r"^\s*(-)?\s*\$?\s*(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d{0,2}))?\s*$")


class MoneyError(ValueError):
    """An amount could not be understood or is out of range."""


def parse_cents(text: str | int) -> Cents:
    """Parse what a person types ("12", "12.5", "$1,299.99", "-0.49") into cents.

    Rejects more than two decimals rather than silently rounding: a price of 1.999 is
    almost always a typo, and guessing would put a wrong price on a shelf.
    """
    if isinstance(text, bool):
        raise MoneyError("an amount must be a number, not true/false")
    if isinstance(text, int):
        return check_cents(text)
    match = _AMOUNT_RE.match(text)
    if not match or (match.group(2) is None and not match.group(3)):
        raise MoneyError(f"not an amount: {text!r}")
    sign, whole, frac = match.groups()
    whole_cents = int((whole or "0").replace(",", "")) * 100
    frac_cents = int((frac or "").ljust(2, "0") or "0")
    value = whole_cents + frac_cents
    return check_cents(-value if sign else value)


def check_cents(value: int) -> Cents:
    """Return ``value`` if it is a plausible amount of cents, else raise MoneyError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"amounts are integer cents, got {type(value).__name__}")
    if abs(value) > MAX_CENTS:
        raise MoneyError(f"amount out of range: {value} cents")
    return value


def format_cents(value: Cents, symbol: str = "$") -> str:
    """Render cents for people: ``-1234`` -> ``-$12.34``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    return f"{sign}{symbol}{whole:,}.{frac:02d}"


def decimal_to_cents(value: Decimal | str, *, bankers: bool = False) -> Cents:
    """Convert a decimal major-unit amount (e.g. from a price feed) to cents.

    Feeds sometimes carry sub-cent precision; rounding half-up matches what shops
    expect from a calculator, half-even (``bankers=True``) is for tax aggregation.
    """
    try:
        dec = Decimal(value)
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {value!r}") from exc
    if not dec.is_finite():
        raise MoneyError(f"not an amount: {value!r}")
    rounding = ROUND_HALF_EVEN if bankers else ROUND_HALF_UP
    return check_cents(int((dec * 100).quantize(Decimal(1), rounding=rounding)))


def apply_basis_points(amount: Cents, basis_points: int) -> Cents:
    """``amount`` × ``basis_points``/10000, rounded half away from zero, in integers only."""
    num = amount * basis_points
    q, r = divmod(abs(num), 10_000)
    if r * 2 >= 10_000:
        q += 1
    return q if num >= 0 else -q
