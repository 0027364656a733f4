"""Catalog management: games, sets, products, SKUs by kind, cert numbers, barcodes, locations."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from vaultsync.services.catalog import (
    CatalogService,
    DuplicateCertError,
    ProductInput,
    SkuInput,
    check_barcode,
    gtin_check_digit,
    is_valid_gtin,
)
from vaultsync.services.inventory import InventoryService
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, PriceUpdate, Sku, StockMovement


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


@pytest.fixture
def catalog(pos: Pos) -> CatalogService:
    return CatalogService(pos.store)


def sku_of(store: Store, sku_id: str) -> Sku:
    with store.read() as s:
        sku = s.get(Sku, sku_id)
        assert sku is not None
        return sku


def test_gtin_check_digits() -> None:
    assert gtin_check_digit("400638133393") == 1
    assert is_valid_gtin("4006381333931")  # EAN-13
    assert is_valid_gtin("036000291452")  # UPC-A
    assert is_valid_gtin("96385074")  # EAN-8
    assert not is_valid_gtin("4006381333932")
    with pytest.raises(ValidationError, match="check digit"):
        check_barcode("4006381333932")
    assert check_barcode("  ") is None
    assert check_barcode("B-MTG-0001") == "B-MTG-0001"
    with pytest.raises(ValidationError):
        check_barcode("tab\there")


def test_single_with_generated_sku_code(pos: Pos, catalog: CatalogService) -> None:
    product = catalog.create_product(
        ProductInput(
            game_code="mtg", name="Ornithopter", set_code="dmu", collector_number="230", rarity="common"
        ),
        actor=pos.manager,
    )
    foil = catalog.create_sku(
        SkuInput(
            product_id=product, condition="nm", finish="foil", shelf_price_cents=150, barcode="4006381333931"
        ),
        actor=pos.manager,
    )
    jp = catalog.create_sku(SkuInput(product_id=product, condition="LP", language="JP"), actor=pos.manager)
    assert sku_of(pos.store, foil).sku_code == "MTG-DMU-230-NM-F"
    assert sku_of(pos.store, foil).condition == "NM"
    assert sku_of(pos.store, jp).sku_code == "MTG-DMU-230-LP-JP"
    again = catalog.create_sku(SkuInput(product_id=product, condition="NM", finish="foil"), actor=pos.manager)
    assert sku_of(pos.store, again).sku_code == "MTG-DMU-230-NM-F-2"
    found = InventoryService(pos.store).search("ornithopter")
    assert found.total == 3


def test_single_needs_a_condition_from_the_ladder(pos: Pos, catalog: CatalogService) -> None:
    product = catalog.create_product(ProductInput(game_code="MTG", name="Card"), actor=pos.manager)
    with pytest.raises(ValidationError, match="condition"):
        catalog.create_sku(SkuInput(product_id=product), actor=pos.manager)
    with pytest.raises(ValidationError, match="condition must be"):
        catalog.create_sku(SkuInput(product_id=product, condition="MINT"), actor=pos.manager)
    with pytest.raises(ValidationError, match="finish"):
        catalog.create_sku(SkuInput(product_id=product, condition="NM", finish="gold"), actor=pos.manager)


def test_graded_slab_with_sub_grades(pos: Pos, catalog: CatalogService) -> None:
    product = catalog.create_product(
        ProductInput(game_code="MTG", name="Black Lotus", kind="graded"), actor=pos.manager
    )
    with pytest.raises(ValidationError, match="grader, grade and certificate"):
        catalog.create_sku(SkuInput(product_id=product, grader="BGS"), actor=pos.manager)
    slab = catalog.create_sku(
        SkuInput(
            product_id=product,
            grader="bgs",
            grade="9.5",
            cert_number="0012345678",
            sub_grades={"Centering": "9.5", "corners": "10"},
            shelf_price_cents=5_000_000,
        ),
        actor=pos.manager,
    )
    sku = sku_of(pos.store, slab)
    assert (sku.grader, sku.grade, sku.serialized, sku.condition) == ("BGS", "9.5", True, None)
    assert sku.sub_grades == {"centering": "9.5", "corners": "10"}
    with pytest.raises(ValidationError, match="grade"):
        catalog.create_sku(
            SkuInput(product_id=product, grader="PSA", grade="11", cert_number="99999999"), actor=pos.manager
        )


def test_duplicate_cert_number_is_refused_and_flagged(pos: Pos, catalog: CatalogService) -> None:
    product = catalog.create_product(
        ProductInput(game_code="MTG", name="Slab", kind="graded"), actor=pos.manager
    )
    with pytest.raises(DuplicateCertError, match="possible fraud"):
        catalog.create_sku(
            SkuInput(product_id=product, grader="PSA", grade="10", cert_number="55555555"), actor=pos.manager
        )
    with pos.store.read() as s:
        flag = s.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.cert_duplicate")).one()
        assert flag.after is not None
        assert flag.after["existing_sku"] == "MTG-DMU-107-PSA10"
        assert flag.after["flag"] == "possible fraud"
        assert flag.entity_id == pos.slab_id
        assert s.scalar(select(Sku.id).where(Sku.product_id == product)) is None
    # changing another slab's cert to a taken one is refused the same way
    other = catalog.create_sku(
        SkuInput(product_id=product, grader="PSA", grade="9", cert_number="66666666"), actor=pos.manager
    )
    with pytest.raises(DuplicateCertError):
        catalog.update_sku(other, {"cert_number": "55555555"}, actor=pos.manager)
    assert sku_of(pos.store, other).cert_number == "66666666"


def test_kinds_sealed_bulk_supplies_one_offs(pos: Pos, catalog: CatalogService) -> None:
    sealed = catalog.create_product(
        ProductInput(game_code="MTG", name="DMU Draft Booster Box", kind="sealed", set_code="DMU"),
        actor=pos.manager,
    )
    box = catalog.create_sku(SkuInput(product_id=sealed, shelf_price_cents=11999), actor=pos.manager)
    assert sku_of(pos.store, box).condition is None
    supplies = catalog.create_product(
        ProductInput(game_code="MTG", name="Sleeves", kind="supply"), actor=pos.manager
    )
    with pytest.raises(ValidationError, match="cannot be a graded slab"):
        catalog.create_sku(
            SkuInput(product_id=supplies, grader="PSA", grade="10", cert_number="12121212"), actor=pos.manager
        )
    bulk = catalog.create_product(
        ProductInput(game_code="MTG", name="Bulk Rares", kind="bulk"), actor=pos.manager
    )
    lot = catalog.create_sku(
        SkuInput(product_id=bulk, unit_size=1000, shelf_price_cents=5000), actor=pos.manager
    )
    assert sku_of(pos.store, lot).unit_size == 1000
    one_off = catalog.create_product(
        ProductInput(
            game_code="MTG", name="Signed Sheoldred", kind="one_off", attributes={"artist": "Chris Rahn"}
        ),
        actor=pos.manager,
    )
    signed = catalog.create_sku(SkuInput(product_id=one_off, shelf_price_cents=30000), actor=pos.manager)
    assert sku_of(pos.store, signed).serialized


def test_unknown_game_and_set_codes(pos: Pos, catalog: CatalogService) -> None:
    with pytest.raises(NotFoundError, match="unknown game"):
        catalog.create_product(ProductInput(game_code="XYZ", name="Card"), actor=pos.manager)
    with pytest.raises(NotFoundError, match="unknown set code"):
        catalog.create_product(ProductInput(game_code="MTG", name="Card", set_code="NOPE"), actor=pos.manager)


def test_prices_and_costs_are_checked(pos: Pos, catalog: CatalogService) -> None:
    product = catalog.create_product(ProductInput(game_code="MTG", name="Card"), actor=pos.manager)
    with pytest.raises(ValidationError, match="negative"):
        catalog.create_sku(
            SkuInput(product_id=product, condition="NM", cost_basis_cents=-1), actor=pos.manager
        )
    with pytest.raises(ValidationError, match="too large"):
        catalog.create_sku(
            SkuInput(product_id=product, condition="NM", shelf_price_cents=10**15), actor=pos.manager
        )


def test_edit_sku_records_price_history_and_audit(pos: Pos, catalog: CatalogService) -> None:
    catalog.update_sku(pos.nm_id, {"shelf_price_cents": 6999, "notes": "binder copy"}, actor=pos.manager)
    sku = sku_of(pos.store, pos.nm_id)
    assert (sku.shelf_price_cents, sku.notes) == (6999, "binder copy")
    with pos.store.read() as s:
        update = s.scalars(select(PriceUpdate)).one()
        assert (update.old_cents, update.new_cents, update.source) == (7499, 6999, "manual")
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "catalog.sku_edit"))
    with pytest.raises(ValidationError, match="cannot edit"):
        catalog.update_sku(pos.nm_id, {"sku_code": "X"}, actor=pos.manager)
    with pytest.raises(ValidationError, match="condition"):
        catalog.update_sku(pos.nm_id, {"condition": None}, actor=pos.manager)
    with pytest.raises(PermissionDenied):
        catalog.update_sku(pos.nm_id, {"notes": "x"}, actor=pos.cashier)


def test_edit_product(pos: Pos, catalog: CatalogService) -> None:
    with pos.store.read() as s:
        product_id = sku_of(pos.store, pos.nm_id).product_id
        assert s.scalar(select(StockMovement.id).limit(1))
    catalog.update_product(
        product_id, {"name": "Sheoldred, the Apocalypse", "rarity": "mythic"}, actor=pos.manager
    )
    assert InventoryService(pos.store).detail(pos.nm_id).row.name == "Sheoldred, the Apocalypse"
    with pytest.raises(ValidationError):
        catalog.update_product(product_id, {"name": "  "}, actor=pos.manager)


def test_games_sets_and_locations(pos: Pos, catalog: CatalogService) -> None:
    catalog.create_game("PKM", "Pokémon", actor=pos.manager)
    with pytest.raises(ConflictError):
        catalog.create_game("pkm", "Again", actor=pos.manager)
    catalog.create_set("PKM", "SV03", "Obsidian Flames", actor=pos.manager)
    with pytest.raises(ConflictError):
        catalog.create_set("PKM", "sv03", "Again", actor=pos.manager)
    assert [s.code for s in catalog.sets("pkm")] == ["SV03"]
    binder = catalog.create_location(
        "Binder 3", "binder", parent_id=pos.case_id, code="B3", actor=pos.manager
    )
    with pytest.raises(ConflictError):
        catalog.create_location("binder 3", "binder", parent_id=pos.case_id, actor=pos.manager)
    with pytest.raises(ValidationError):
        catalog.create_location("X", "spaceship", actor=pos.manager)
    paths = {loc.id: (loc.path, loc.depth) for loc in catalog.locations()}
    assert paths[binder] == ("Main › Case 1 › Binder 3", 2)


def test_where_it_lives_for_the_register_and_kiosk(pos: Pos, catalog: CatalogService) -> None:
    inventory = InventoryService(pos.store)
    places = inventory.where_is(pos.nm_id)
    assert [(p.path, p.on_hand) for p in places] == [("Case 1", 3)]  # the shop root is left out
    row = inventory.search("111111111111").rows[0]
    assert row.where == "Case 1 (3)"
    assert inventory.where_is(pos.empty_id) == []
    assert inventory.search("MTG-DMU-107-HP").rows[0].where is None
