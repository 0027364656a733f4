"""Inventory valuation by game and category, at cost and at retail."""

from __future__ import annotations

import pytest

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.errors import PermissionDenied
from vaultsync.services.catalog import CatalogService, ProductInput, SkuInput
from vaultsync.services.stock_ops import ReceiveLine, StockOpsService
from vaultsync.services.valuation import ValuationService
from vaultsync.store import Store


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


def test_valuation_by_game_and_category(pos: Pos) -> None:
    catalog, ops = CatalogService(pos.store), StockOpsService(pos.store)
    pkm = catalog.create_game("PKM", "Pokémon", actor=pos.manager)
    assert pkm
    box = catalog.create_product(
        ProductInput(game_code="PKM", name="Booster Box", kind="sealed"), actor=pos.manager
    )
    box_sku = catalog.create_sku(SkuInput(product_id=box, shelf_price_cents=14999), actor=pos.manager)
    ops.receive([ReceiveLine(box_sku, 4, 10000)], pos.case_id, actor=pos.manager)
    loose = catalog.create_product(ProductInput(game_code="PKM", name="Pikachu"), actor=pos.manager)
    no_cost = catalog.create_sku(
        SkuInput(product_id=loose, condition="NM", shelf_price_cents=100), actor=pos.manager
    )
    ops.receive([ReceiveLine(no_cost, 1, 0)], pos.case_id, actor=pos.manager)
    value = ValuationService(pos.store).valuation(actor=pos.manager)
    rows = {(r.game, r.category): r for r in value.rows}
    # Magic singles: Sheoldred NM 3 x (40.00 / 74.99) + slab 1 x (300.00 / 500.00); HP has none
    singles = rows[("Magic", "single")]
    assert (singles.skus, singles.units) == (2, 4)
    assert singles.cost_cents == 3 * 4000 + 30000
    assert singles.retail_cents == 3 * 7499 + 50000
    bulk = rows[("Magic", "bulk")]
    assert (bulk.units, bulk.cost_cents, bulk.retail_cents) == (1000, 5000, 25000)
    sealed = rows[("Pokémon", "sealed")]
    assert (sealed.units, sealed.cost_cents, sealed.retail_cents) == (4, 40000, 59996)
    assert rows[("Pokémon", "single")].cost_cents == 0  # received at cost 0: a real zero, counted
    by_game = {r.game: r for r in value.by_game()}
    assert by_game["Magic"].retail_cents == 3 * 7499 + 50000 + 25000
    assert value.retail_cents == sum(r.retail_cents for r in value.by_category())
    assert value.units == 4 + 1000 + 4 + 1


def test_units_without_cost_are_reported_and_cost_is_for_managers(pos: Pos) -> None:
    catalog = CatalogService(pos.store)
    catalog.update_sku(pos.nm_id, {"cost_basis_cents": None}, actor=pos.manager)
    value = ValuationService(pos.store).valuation(actor=pos.manager)
    singles = next(r for r in value.rows if r.category == "single")
    assert singles.units_without_cost == 3
    with pytest.raises(PermissionDenied):
        ValuationService(pos.store).valuation(actor=pos.cashier)
