"""What the stock on the shelves is worth, by game and by category (product kind).

Two figures per group: **cost** (Σ on hand × cost basis — what the shop paid, weighted average)
and **retail** (Σ on hand × shelf price — what it would bring at today's prices). Only positive
on-hand counts (an oversold SKU is not negative inventory value) and only active SKUs count.
SKUs without a cost basis are counted in ``units_without_cost`` so the cost figure is never
silently understated. One aggregate query in the database; integer cents throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, func, select

from vaultsync.domain.enums import Role
from vaultsync.services.auth import UserView, require_role
from vaultsync.store import Store
from vaultsync.store.models import Game, Product, Sku, StockLevel


@dataclass(frozen=True)
class ValuationRow:
    game: str
    category: str
    skus: int
    units: int
    cost_cents: int
    retail_cents: int
    units_without_cost: int


@dataclass(frozen=True)
class Valuation:
    rows: list[ValuationRow]

    @property
    def cost_cents(self) -> int:
        return sum(r.cost_cents for r in self.rows)

    @property
    def retail_cents(self) -> int:
        return sum(r.retail_cents for r in self.rows)

    @property
    def units(self) -> int:
        return sum(r.units for r in self.rows)

    def by_game(self) -> list[ValuationRow]:
        """One row per game (category "all"), largest retail value first."""
        return _roll_up(self.rows, lambda r: (r.game, "all"))

    def by_category(self) -> list[ValuationRow]:
        return _roll_up(self.rows, lambda r: ("all", r.category))


def _roll_up(rows: list[ValuationRow], key: Callable[[ValuationRow], tuple[str, str]]) -> list[ValuationRow]:
    groups: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        k = key(r)
        g = groups.setdefault(k, [0, 0, 0, 0, 0])
        for i, v in enumerate((r.skus, r.units, r.cost_cents, r.retail_cents, r.units_without_cost)):
            g[i] += v
    out = [ValuationRow(k[0], k[1], *v) for k, v in groups.items()]
    return sorted(out, key=lambda r: (-r.retail_cents, r.game, r.category))


class ValuationService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def valuation(self, *, actor: UserView) -> Valuation:
        """The inventory's value by (game, category); cost is for managers only."""
        require_role(actor, Role.MANAGER)
        on_hand = (
            select(StockLevel.sku_id, func.sum(StockLevel.on_hand).label("qty"))
            .group_by(StockLevel.sku_id)
            .subquery()
        )
        qty = on_hand.c.qty
        stmt = (
            select(
                Game.name,
                Product.kind,
                func.count(Sku.id),
                func.sum(qty),
                func.sum(qty * func.coalesce(Sku.cost_basis_cents, 0)),
                func.sum(qty * Sku.shelf_price_cents),
                func.sum(case((Sku.cost_basis_cents.is_(None), qty), else_=0)),
            )
            .select_from(Sku)
            .join(on_hand, on_hand.c.sku_id == Sku.id)
            .join(Product, Product.id == Sku.product_id)
            .join(Game, Game.id == Product.game_id)
            .where(qty > 0, Sku.is_active.is_(True))
            .group_by(Game.name, Product.kind)
        )
        with self.store.read() as s:
            rows = [
                ValuationRow(str(g), str(k), int(n), int(u or 0), int(c or 0), int(r or 0), int(w or 0))
                for g, k, n, u, c, r, w in s.execute(stmt)
            ]
        return Valuation(sorted(rows, key=lambda r: (r.game, r.category)))
