"""Inventory look-up over a small hand-made catalog (the demo generator has its own tests)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.services.inventory import InventoryService
from vaultsync.store import Store
from vaultsync.store.models import CardSet, Game, Location, Product, Sku, StockMovement


@pytest.fixture
def inv(store: Store) -> InventoryService:
    with store.uow() as uow:
        s = uow.session
        mtg = Game(code="mtg", name="Magic: The Gathering")
        pkm = Game(code="pkm", name="Pokémon")
        s.add_all([mtg, pkm])
        s.flush()
        dmu = CardSet(game_id=mtg.id, code="DMU", name="Dominaria United")
        sv3 = CardSet(game_id=pkm.id, code="SV03", name="Obsidian Flames")
        s.add_all([dmu, sv3])
        s.flush()
        shop = Location(kind="store", name="Main Store")
        s.add(shop)
        s.flush()
        case = Location(kind="case", name="Case 2", parent_id=shop.id)
        back = Location(kind="backroom", name="Back Room", parent_id=shop.id)
        s.add_all([case, back])
        s.flush()
        sheol = Product(
            game_id=mtg.id,
            set_id=dmu.id,
            kind="single",
            name="Sheoldred, the Apocalypse",
            collector_number="107",
        )
        char = Product(
            game_id=pkm.id, set_id=sv3.id, kind="single", name="Charizard ex", collector_number="125"
        )
        s.add_all([sheol, char])
        s.flush()
        skus = [
            Sku(
                product_id=sheol.id,
                sku_code="MTG-DMU-107-NM",
                condition="NM",
                shelf_price_cents=7499,
                barcode="400000000017",
            ),
            Sku(
                product_id=sheol.id,
                sku_code="MTG-DMU-107-LP-F",
                condition="LP",
                finish="foil",
                shelf_price_cents=8999,
            ),
            Sku(product_id=char.id, sku_code="PKM-SV03-125-NM", condition="NM", shelf_price_cents=2999),
        ]
        s.add_all(skus)
        s.flush()
        s.add_all(
            [
                StockMovement(sku_id=skus[0].id, location_id=case.id, delta=2, reason="receive"),
                StockMovement(sku_id=skus[0].id, location_id=back.id, delta=5, reason="receive"),
                StockMovement(sku_id=skus[0].id, location_id=back.id, delta=-1, reason="sale"),
                StockMovement(sku_id=skus[2].id, location_id=case.id, delta=1, reason="receive"),
            ]
        )
    return InventoryService(store)


def test_search_by_name_words_in_any_order(inv: InventoryService) -> None:
    page = inv.search("apocalypse sheol")
    assert page.total == 2
    assert {r.sku_code for r in page.rows} == {"MTG-DMU-107-NM", "MTG-DMU-107-LP-F"}


def test_search_by_set_code_number_barcode(inv: InventoryService) -> None:
    assert inv.search("dmu 107").total == 2
    [row] = inv.search("400000000017").rows
    assert row.sku_code == "MTG-DMU-107-NM" and row.on_hand == 6
    assert inv.search("obsidian").rows[0].name == "Charizard ex"


def test_filters_and_in_stock_first(inv: InventoryService) -> None:
    assert inv.search(game="pkm").total == 1
    assert inv.search(condition="LP").rows[0].finish == "foil"
    assert inv.search(finish="foil").total == 1
    assert inv.search(in_stock=True).total == 2
    rows = inv.search("sheoldred").rows
    assert rows[0].on_hand > 0 and rows[1].on_hand == 0


def test_paging(inv: InventoryService) -> None:
    first = inv.search(limit=2)
    second = inv.search(limit=2, offset=2)
    assert first.total == second.total == 3
    assert len(first.rows) == 2 and len(second.rows) == 1
    assert {r.sku_id for r in first.rows}.isdisjoint({r.sku_id for r in second.rows})


def test_detail_shows_on_hand_per_location_path(inv: InventoryService) -> None:
    sku_id = inv.search("400000000017").rows[0].sku_id
    detail = inv.detail(sku_id)
    assert [(s.path, s.on_hand) for s in detail.stock] == [
        ("Main Store › Back Room", 4),
        ("Main Store › Case 2", 2),
    ]
    assert detail.row.on_hand == 6
    assert detail.cost_basis_cents is None  # not set on this SKU; see the cost test below
    with pytest.raises(NotFoundError):
        inv.detail("nope")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query": "x" * 500},
        {"limit": 0},
        {"limit": 10_000},
        {"offset": -1},
        {"condition": "MINT"},
        {"finish": "chrome"},
    ],
)
def test_bad_search_input(inv: InventoryService, kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        inv.search(**kwargs)


def test_like_wildcards_are_literal(inv: InventoryService) -> None:
    assert inv.search("%").total == 0
    assert inv.search("_").total == 0


def test_cost_basis_only_for_managers(inv: InventoryService, store: Store) -> None:
    from vaultsync.domain.enums import Role

    sku_id = inv.search("400000000017").rows[0].sku_id
    with store.uow() as uow:
        sku = uow.session.get(Sku, sku_id)
        assert sku is not None
        sku.cost_basis_cents = 4000
    assert inv.detail(sku_id).cost_basis_cents == 4000
    assert inv.detail(sku_id, viewer=Role.MANAGER).cost_basis_cents == 4000
    assert inv.detail(sku_id, viewer=Role.CASHIER).cost_basis_cents is None


def test_accents_and_typos_are_forgiven(inv: InventoryService) -> None:
    assert inv.search("sheoldrde").total == 2  # two letters swapped
    assert inv.search("SHEOLDRED apocalipse").total == 2
    assert inv.search("charizrd").rows[0].name == "Charizard ex"


def test_pokemon_finds_pokemon_with_accent(inv: InventoryService, store: Store) -> None:
    with store.uow() as uow:
        s = uow.session
        pkm = s.scalars(select(Game).where(Game.code == "pkm")).one()
        product = Product(game_id=pkm.id, kind="sealed", name="Pokémon Center Elite Trainer Box")
        s.add(product)
        s.flush()
        s.add(Sku(product_id=product.id, sku_code="PKM-ETB-1", shelf_price_cents=5999))
    assert [r.name for r in inv.search("Pokemon").rows] == ["Pokémon Center Elite Trainer Box"]
    assert inv.search("flabebe").total == 0


def test_exact_code_first_and_writes_show_at_once(inv: InventoryService, store: Store) -> None:
    assert inv.search("MTG-DMU-107-LP-F").rows[0].sku_code == "MTG-DMU-107-LP-F"
    with store.uow() as uow:
        sku = uow.session.scalars(select(Sku).where(Sku.sku_code == "PKM-SV03-125-NM")).one()
        sku.barcode = "400000000099"
        sku.product.name = "Charizard ex (Tera)"
    [row] = inv.search("400000000099").rows
    assert row.name == "Charizard ex (Tera)"
    assert inv.search("tera").total == 1


def test_nul_is_rejected(inv: InventoryService) -> None:
    with pytest.raises(ValidationError):
        inv.search("shiv\x00an")
