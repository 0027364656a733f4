"""A small, fully known shop for the UI tests, built once per test process and copied per test.

Assertions need exact names, barcodes and locations, so the catalog is hand-written
(not random demo data). Seeding (users need argon2 hashes) happens once; each test gets
its own copy of the file, so a lockout or a disabled user in one test cannot leak into
the next.
"""

from __future__ import annotations

import atexit
import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")  # cheap argon2: before services are imported

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vaultsync.config import DB_FILENAME, Config
from vaultsync.domain.enums import MovementReason, ProductKind, Role
from vaultsync.services.container import Services
from vaultsync.store import Store, open_store
from vaultsync.store.engine import sqlite_url
from vaultsync.store.models import CardSet, Game, Location, Product, Sku, StockMovement

SHOP_NAME = "Dragon's Hoard Games"


@dataclass(frozen=True)
class Login:
    username: str
    display_name: str
    role: Role
    password: str | None
    pin: str | None


ADMIN = Login("ada", "Ada Admin", Role.ADMIN, "admin-pass-1", "9999")
MANAGER = Login("max", "Max Manager", Role.MANAGER, "manager-pass-1", "2468")
CASHIER = Login("casey", "Casey Cashier", Role.CASHIER, None, "1234")
CASHIER2 = Login("carl", "Carl Counter", Role.CASHIER, None, "5678")
DISABLED = Login("dana", "Dana Gone", Role.CASHIER, "dana-pass-1", "4321")
USERS = (ADMIN, MANAGER, CASHIER, CASHIER2, DISABLED)

# known catalog facts the tests look for
SHEOLDRED_BARCODE = "0810000107001"
CHARIZARD_CERT = "81234567"
ROW_A = "Main Store › Case 2 › Row A"
ROW_B = "Main Store › Case 2 › Row B"
BACKROOM = "Main Store › Backroom"
FILLER_COUNT = 40


def _seed_catalog(store: Store) -> None:
    with store.uow() as uow:
        s = uow.session
        mtg = Game(code="MTG", name="Magic: The Gathering", sort_order=1)
        pkm = Game(code="PKM", name="Pokémon", sort_order=2)
        ygo = Game(code="YGO", name="Yu-Gi-Oh!", sort_order=3)
        s.add_all([mtg, pkm, ygo])
        s.flush()
        dmu = CardSet(game_id=mtg.id, code="DMU", name="Dominaria United")
        sv3 = CardSet(game_id=pkm.id, code="SV03", name="Obsidian Flames")
        base = CardSet(game_id=pkm.id, code="BS", name="Base Set")
        lob = CardSet(game_id=ygo.id, code="LOB", name="Legend of Blue Eyes White Dragon")
        s.add_all([dmu, sv3, base, lob])
        store_loc = Location(kind="store", name="Main Store")
        s.add(store_loc)
        s.flush()
        case2 = Location(kind="case", name="Case 2", parent_id=store_loc.id)
        backroom = Location(kind="backroom", name="Backroom", parent_id=store_loc.id)
        s.add_all([case2, backroom])
        s.flush()
        row_a = Location(kind="row", name="Row A", parent_id=case2.id)
        row_b = Location(kind="row", name="Row B", parent_id=case2.id)
        s.add_all([row_a, row_b])
        s.flush()

        def product(game: Game, card_set: CardSet, name: str, number: str, rarity: str, kind: str) -> Product:
            p = Product(
                game_id=game.id,
                set_id=card_set.id,
                kind=kind,
                name=name,
                collector_number=number,
                rarity=rarity,
            )
            s.add(p)
            s.flush()
            return p

        def sku(p: Product, code: str, price: int, stock: list[tuple[Location, int]], **kw: object) -> None:
            item = Sku(product_id=p.id, sku_code=code, shelf_price_cents=price, **kw)
            s.add(item)
            s.flush()
            for loc, qty in stock:
                s.add(
                    StockMovement(
                        sku_id=item.id, location_id=loc.id, delta=qty, reason=MovementReason.RECEIVE.value
                    )
                )

        single = ProductKind.SINGLE.value
        sheoldred = product(mtg, dmu, "Sheoldred, the Apocalypse", "107", "mythic", single)
        sku(
            sheoldred,
            "MTG-DMU-107-NM",
            7499,
            [(row_a, 2), (backroom, 1)],
            condition="NM",
            barcode=SHEOLDRED_BARCODE,
            market_price_cents=7350,
            price_source="tcgplayer",
            cost_basis_cents=5000,
        )
        sku(sheoldred, "MTG-DMU-107-LP", 6500, [(row_b, 1)], condition="LP", cost_basis_cents=4200)
        sku(sheoldred, "MTG-DMU-107-NM-F", 12999, [], condition="NM", finish="foil")
        charizard = product(pkm, base, "Charizard", "4", "holo rare", ProductKind.GRADED.value)
        sku(
            charizard,
            "PKM-BS-4-PSA10",
            2500000,
            [(row_a, 1)],
            grader="PSA",
            grade="10",
            cert_number=CHARIZARD_CERT,
            serialized=True,
            cost_basis_cents=1800000,
        )
        sku(charizard, "PKM-BS-4-LP", 45000, [(row_b, 1)], condition="LP")
        charizard_ex = product(pkm, sv3, "Charizard ex", "125", "double rare", single)
        sku(charizard_ex, "PKM-SV03-125-NM", 2999, [(row_a, 4)], condition="NM")
        blue_eyes = product(ygo, lob, "Blue-Eyes White Dragon", "LOB-001", "ultra rare", single)
        sku(blue_eyes, "YGO-LOB-001-NM", 24999, [], condition="NM")
        for i in range(1, FILLER_COUNT + 1):
            filler = product(mtg, dmu, f"Dominaria Common {i:02d}", str(200 + i), "common", single)
            sku(filler, f"MTG-DMU-{200 + i}-NM", 25, [(backroom, 10)], condition="NM")


def _temp_dir(prefix: str) -> Path:
    """A directory removed when the test process ends (one per test adds up otherwise)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _seed(data_dir: Path) -> None:
    config = Config(data_dir=data_dir, database_url=sqlite_url(data_dir / DB_FILENAME))
    store = open_store(config.database_url)
    try:
        services = Services.build(config, store)
        services.shop.set("shop.name", SHOP_NAME)
        for u in USERS:
            services.auth.add_user(u.username, u.display_name, u.role, password=u.password, pin=u.pin)
        services.auth.set_active(DISABLED.username, False)
        _seed_catalog(store)
    finally:
        store.close()  # the last connection closing checkpoints the WAL into the file we copy


def _seed_demo(data_dir: Path) -> None:
    """The demo shop of ``vaultsync demo`` (its own users: admin/manager/cashier)."""
    from vaultsync.services.demo import generate_demo_shop

    store = open_store(sqlite_url(data_dir / DB_FILENAME))
    try:
        generate_demo_shop(store, skus=DEMO_SKUS)
    finally:
        store.close()


DEMO_SKUS = 300
_templates: dict[str, Path] = {}


def template_dir(kind: str = "known") -> Path:
    """The seeded shop (``known``: the hand-written one, ``demo``: the demo generator's), built once."""
    if kind not in _templates:
        directory = _temp_dir(f"vaultsync-ui-{kind}-")
        (_seed_demo if kind == "demo" else _seed)(directory)
        _templates[kind] = directory
    return _templates[kind]


def fresh_services(kind: str = "known") -> Services:
    """Services over a private copy of a seeded shop (station role from the environment)."""
    target = _temp_dir("vaultsync-ui-test-")
    for f in template_dir(kind).iterdir():
        if f.is_file() and f.name.startswith(DB_FILENAME):
            shutil.copy2(f, target / f.name)
    config = Config.resolve(data_dir=target, db=sqlite_url(target / DB_FILENAME), port=8080)
    return Services.build(config, open_store(config.database_url))
