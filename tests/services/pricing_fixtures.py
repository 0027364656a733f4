"""A small catalog with known prices for the pricing tests (service, API and UI share it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from vaultsync.domain.enums import Role
from vaultsync.services.auth import AuthService, UserView
from vaultsync.services.pricing import PricingService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import CardSet, Game, Product, Sku
from vaultsync.store.types import utcnow


@dataclass
class Shop:
    store: Store
    pricing: PricingService
    manager: UserView
    cashier: UserView
    game_id: str
    nm: str  # Sheoldred NM: market $70.00, shelf $74.99, cost $40.00, code MTG-DMU-107-NM
    lp: str  # Sheoldred LP: market $60.00, shelf $62.99, cost $35.00
    foil: str  # Sheoldred NM foil: market $120.00, shelf $129.99, no cost
    bolt: str  # Lightning Bolt NM: market $1.00, shelf $1.49, cost $0.30
    slab: str  # Charizard PSA 10: market $9,000.00, shelf $9,499.99
    fresh: str  # no market price yet, shelf $5.00, code MTG-DMU-1-NM


def build_shop(store: Store) -> Shop:
    auth = AuthService(store)
    shop = ShopService(store)
    manager = auth.add_user("mia", "Mia Manager", Role.MANAGER, password="manager pass", pin="2468")
    cashier = auth.add_user("sam", "Sam Cashier", Role.CASHIER, pin="1234")
    as_of = utcnow() - timedelta(days=1)
    with store.uow() as uow:
        s = uow.session
        mtg = Game(code="MTG", name="Magic: The Gathering")
        pkm = Game(code="PKM", name="Pokémon")
        s.add_all([mtg, pkm])
        s.flush()
        dmu = CardSet(game_id=mtg.id, code="DMU", name="Dominaria United")
        m10 = CardSet(game_id=mtg.id, code="M10", name="Magic 2010")
        base = CardSet(game_id=pkm.id, code="BS", name="Base Set")
        s.add_all([dmu, m10, base])
        s.flush()
        sheoldred = Product(
            game_id=mtg.id,
            set_id=dmu.id,
            kind="single",
            name="Sheoldred, the Apocalypse",
            collector_number="107",
        )
        bolt = Product(
            game_id=mtg.id, set_id=m10.id, kind="single", name="Lightning Bolt", collector_number="146"
        )
        other = Product(
            game_id=mtg.id, set_id=dmu.id, kind="single", name="Academy Loremaster", collector_number="1"
        )
        zard = Product(game_id=pkm.id, set_id=base.id, kind="graded", name="Charizard", collector_number="4")
        s.add_all([sheoldred, bolt, other, zard])
        s.flush()

        def sku(
            product: Product, code: str, shelf: int, market: int | None, cost: int | None, **kw: object
        ) -> Sku:
            row = Sku(
                product_id=product.id,
                sku_code=code,
                shelf_price_cents=shelf,
                market_price_cents=market,
                cost_basis_cents=cost,
                price_source="tcgplayer" if market else None,
                price_as_of=as_of if market else None,
                **kw,
            )
            s.add(row)
            return row

        nm = sku(sheoldred, "MTG-DMU-107-NM", 7499, 7000, 4000, condition="NM")
        lp = sku(sheoldred, "MTG-DMU-107-LP", 6299, 6000, 3500, condition="LP")
        foil = sku(sheoldred, "MTG-DMU-107-NM-F", 12999, 12000, None, condition="NM", finish="foil")
        bolt_sku = sku(bolt, "MTG-M10-146-NM", 149, 100, 30, condition="NM")
        slab = sku(zard, "PKM-BS-4-PSA10", 949999, 900000, 500000, grader="PSA", grade="10", serialized=True)
        fresh = sku(other, "MTG-DMU-1-NM", 500, None, None, condition="NM")
        s.flush()
        ids = (mtg.id, nm.id, lp.id, foil.id, bolt_sku.id, slab.id, fresh.id)
    return Shop(store, PricingService(store, auth, shop), manager, cashier, *ids)
