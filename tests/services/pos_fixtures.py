"""A small, exactly known shop for checkout/refund tests (hand-made, so amounts are checkable)."""

from __future__ import annotations

from dataclasses import dataclass

from vaultsync.domain.enums import Role
from vaultsync.services.auth import AuthService, UserView
from vaultsync.services.checkout import CheckoutService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import (
    CardSet,
    CreditEntry,
    Customer,
    Game,
    GiftCard,
    GiftCardEntry,
    Location,
    Product,
    Shift,
    Sku,
    Station,
    StockMovement,
)


@dataclass
class Pos:
    store: Store
    auth: AuthService
    shop: ShopService
    checkout: CheckoutService
    cashier: UserView
    manager: UserView
    station_id: str
    shift_id: str
    case_id: str
    nm_id: str  # Sheoldred NM, $74.99, cost $40.00, 3 in stock, barcode 111111111111
    slab_id: str  # PSA 10 slab, $500.00, serialized, cert 55555555
    empty_id: str  # out of stock, barcode 222222222222
    bulk_id: str  # bulk commons $0.25 each, 1000 in stock, barcode 333333333333
    customer_id: str  # $50.00 store credit
    exempt_id: str  # tax-exempt dealer


def build_pos(store: Store) -> Pos:
    auth = AuthService(store)
    shop = ShopService(store)
    shop.set("tax.rates", {"standard": 825, "supplies": 825})
    cashier = auth.add_user("sam", "Sam Cashier", Role.CASHIER, pin="1234")
    manager = auth.add_user("mia", "Mia Manager", Role.MANAGER, password="manager pass", pin="2468")
    with store.uow() as uow:
        s = uow.session
        station = Station(name="Register 1", role="cashier", receipt_prefix="T1", has_drawer=True)
        game = Game(code="mtg", name="Magic")
        s.add_all([station, game])
        s.flush()
        dmu = CardSet(game_id=game.id, code="DMU", name="Dominaria United")
        shop_loc = Location(kind="store", name="Main")
        s.add_all([dmu, shop_loc])
        s.flush()
        case = Location(kind="case", name="Case 1", parent_id=shop_loc.id)
        sheol = Product(
            game_id=game.id, set_id=dmu.id, kind="single", name="Sheoldred", collector_number="107"
        )
        bulk = Product(game_id=game.id, kind="bulk", name="Bulk Commons")
        s.add_all([case, sheol, bulk])
        s.flush()
        nm = Sku(
            product_id=sheol.id,
            sku_code="MTG-DMU-107-NM",
            condition="NM",
            barcode="111111111111",
            shelf_price_cents=7499,
            cost_basis_cents=4000,
        )
        slab = Sku(
            product_id=sheol.id,
            sku_code="MTG-DMU-107-PSA10",
            grader="PSA",
            grade="10",
            cert_number="55555555",
            serialized=True,
            shelf_price_cents=50000,
            cost_basis_cents=30000,
        )
        empty = Sku(
            product_id=sheol.id,
            sku_code="MTG-DMU-107-HP",
            condition="HP",
            barcode="222222222222",
            shelf_price_cents=3000,
        )
        bulk_sku = Sku(
            product_id=bulk.id,
            sku_code="MTG-BULK",
            barcode="333333333333",
            shelf_price_cents=25,
            cost_basis_cents=5,
        )
        customer = Customer(first_name="Ash", last_name="Ketchum")
        exempt = Customer(first_name="Dealer", last_name="Co", tax_exempt=True)
        card = GiftCard(code="GIFT-0001")
        s.add_all([nm, slab, empty, bulk_sku, customer, exempt, card])
        s.flush()
        s.add_all(
            [
                StockMovement(sku_id=nm.id, location_id=case.id, delta=3, reason="receive"),
                StockMovement(sku_id=slab.id, location_id=case.id, delta=1, reason="receive"),
                StockMovement(sku_id=bulk_sku.id, location_id=case.id, delta=1000, reason="receive"),
                CreditEntry(customer_id=customer.id, delta_cents=5000, reason="buylist"),
                GiftCardEntry(gift_card_id=card.id, delta_cents=2000),
                Shift(station_id=station.id, opened_by=cashier.id, opening_float_cents=10000),
            ]
        )
        s.flush()
        shift_id = s.query(Shift.id).scalar()
        ids = (station.id, case.id, nm.id, slab.id, empty.id, bulk_sku.id, customer.id, exempt.id)
    checkout = CheckoutService(store, auth, shop)
    return Pos(
        store,
        auth,
        shop,
        checkout,
        cashier,
        manager,
        ids[0],
        shift_id,
        ids[1],
        ids[2],
        ids[3],
        ids[4],
        ids[5],
        ids[6],
        ids[7],
    )
