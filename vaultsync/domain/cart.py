"""A sale being rung up: plain data, serialisable, priced by vaultsync.domain.pricing.

Kept free of the database so the register can rebuild totals on every scan in
microseconds, and so a parked cart is just this object's JSON in the ``carts`` table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vaultsync.domain.ids import new_id
from vaultsync.domain.pricing import LineInput, Totals, price_cart

Discount = tuple[str, int]  # ("percent", basis points) | ("amount", cents)


@dataclass
class CartLine:
    sku_id: str | None  # None: a custom line
    description: str
    quantity: int
    unit_price_cents: int
    list_price_cents: int
    tax_category: str
    detail: str | None = None
    cost_cents: int | None = None
    serialized: bool = False
    discount: Discount | None = None
    discount_reason: str | None = None
    #: why the price differs from the shelf (override) or what a custom line is
    price_reason: str | None = None
    #: manager who approved an override on this line
    approved_by: str | None = None
    #: the market moved above the shelf price since the item was priced (shown to the cashier)
    price_warning: str | None = None
    line_id: str = field(default_factory=new_id)

    def to_input(self) -> LineInput:
        return LineInput(self.unit_price_cents, self.quantity, self.tax_category, self.discount)


@dataclass
class CartState:
    station_id: str | None
    user_id: str | None
    id: str = field(default_factory=new_id)
    customer_id: str | None = None
    customer_name: str | None = None
    tax_exempt: bool = False
    lines: list[CartLine] = field(default_factory=list)
    cart_discount: Discount | None = None
    cart_discount_reason: str | None = None
    cart_approved_by: str | None = None

    def line(self, line_id: str) -> CartLine:
        for li in self.lines:
            if li.line_id == line_id:
                return li
        raise KeyError(line_id)

    def price(self, rates_bps: dict[str, int], *, tax_inclusive: bool) -> Totals:
        return price_cart(
            [li.to_input() for li in self.lines],
            rates_bps=rates_bps,
            tax_inclusive=tax_inclusive,
            tax_exempt=self.tax_exempt,
            cart_discount=self.cart_discount,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CartState:
        lines = []
        for raw in data.get("lines", []):
            li = dict(raw)
            if li.get("discount") is not None:
                li["discount"] = tuple(li["discount"])
            lines.append(CartLine(**li))
        body = {k: v for k, v in data.items() if k != "lines"}
        if body.get("cart_discount") is not None:
            body["cart_discount"] = tuple(body["cart_discount"])
        return cls(lines=lines, **body)
