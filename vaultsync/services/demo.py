"""Demo shop generator: a believable, deterministic card shop to try VaultSync on.

A demo has to convince a shop owner in the first minute, so the catalog looks like a
real store's: Magic, Pokémon, Yu-Gi-Oh!, Lorcana, sports cards and comics with set
codes, collector numbers and rarities; every condition and finish; graded slabs with
certificate numbers; sealed product and supplies with UPC barcodes; bulk lots; stock
spread over display cases, binders and long boxes. It also serves as the fixture for
benchmarks (up to millions of SKUs), which is why:

* it is **deterministic**: the same seed and size give the same names, codes, prices
  and quantities (only the UUIDv7 ids and wall-clock stamps differ), so a benchmark
  run or a bug report can be reproduced;
* it **streams**: rows are generated and written in chunks through
  :func:`vaultsync.store.capture.bulk_insert` (full change capture, derived stock and
  credit caches) without ever holding the whole catalog in memory;
* it **refuses to touch a real shop**: demo data mixed into a live catalog could never
  be cleanly separated again.

Every random choice comes from ``random.Random`` instances seeded from ``seed`` and a
segment name, never from the global generator, so one segment's size does not shift
another segment's content.
"""

from __future__ import annotations

import math
import random
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from vaultsync.domain.enums import (
    Condition,
    CreditReason,
    EventStatus,
    Finish,
    Grader,
    MovementReason,
    ProductKind,
    Role,
    StationRole,
)
from vaultsync.domain.errors import ConflictError, ValidationError
from vaultsync.domain.ids import new_id
from vaultsync.services import audit
from vaultsync.services.auth import AuthService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.base import Base
from vaultsync.store.capture import bulk_insert
from vaultsync.store.models import (
    CardSet,
    CreditEntry,
    Customer,
    Event,
    Game,
    Location,
    Product,
    Sku,
    Station,
    StockMovement,
    User,
)
from vaultsync.store.session import UnitOfWork, VaultSession
from vaultsync.store.types import utcnow

MIN_SKUS = 100
MAX_SKUS = 2_000_000
#: SKUs per bulk_insert batch: large enough to amortise statement overhead, small enough
#: that a 1M-SKU demo never holds more than a few megabytes of pending rows.
CHUNK_SKUS = 10_000
#: SKUs per transaction (see _Writer): a demo up to this size is written atomically
COMMIT_SKUS = 100_000
PRICE_SOURCE = "demo"
#: "today" for prices that depend on age (sealed product): fixed, so a demo is the same every year
REFERENCE_YEAR = 2025
#: the demo shop's time zone (US Pacific, daylight time), used to schedule its events
SHOP_TZ = timezone(timedelta(hours=-7))


# =========================================================================== public API


@dataclass(frozen=True)
class DemoCredential:
    """A demo login, printed for whoever tries the demo (never used for a real shop)."""

    role: str
    username: str
    display_name: str
    password: str | None
    pin: str | None


@dataclass(frozen=True)
class DemoResult:
    credentials: list[DemoCredential]
    #: rows written per table name, plus ``skus.<product kind>`` SKU counts
    counts: dict[str, int]
    seconds: float


DEMO_CREDENTIALS: tuple[DemoCredential, ...] = (
    DemoCredential("admin", "admin", "Morgan Blake (Owner)", "admin-demo-1", "9999"),
    DemoCredential("manager", "manager", "Sam Rivera", "manager-demo-1", "2468"),
    DemoCredential("cashier", "cashier", "Jess Tran", None, "1234"),
)

SHOP_SETTINGS: dict[str, Any] = {
    "shop.name": "Dragon's Hoard Games",
    "shop.address": "118 Market Street, Riverton, WA 98001",
    "shop.phone": "(503) 555-0142",
    "shop.email": "hello@dragonshoard.example",
    "shop.currency": "USD",
    "shop.currency_symbol": "$",
    "receipt.footer": "Thanks for visiting Dragon's Hoard! Singles: returns within 7 days with receipt.",
    # Washington-style sales tax on everything the demo sells (basis points)
    "tax.rates": {"standard": 1010},
    "tax.inclusive": False,
}


def generate_demo_shop(store: Store, *, skus: int = 20_000, seed: int = 7) -> DemoResult:
    """Fill an empty database with a complete demo shop of ``skus`` SKUs.

    Raises ValidationError for a size outside 100..2,000,000 and ConflictError when the
    database already holds products, users, customers or locations (checked before
    anything is written). A catalog of up to 100,000 SKUs is written in one transaction;
    bigger ones commit every 100,000 SKUs (see ``_Writer``). The shop is marked
    ``shop.demo`` before anything else, so ``vaultsync demo --fresh`` can always clean up
    after an interrupted run.
    """
    if isinstance(skus, bool) or not isinstance(skus, int) or not MIN_SKUS <= skus <= MAX_SKUS:
        raise ValidationError(f"demo size must be {MIN_SKUS:,} to {MAX_SKUS:,} SKUs (got {skus!r})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError(f"demo seed must be an integer (got {seed!r})")
    started = time.perf_counter()
    with store.read() as s:
        _refuse_non_empty(s)
    shop = ShopService(store)
    shop.set("shop.demo", True)
    counts: dict[str, int] = {}
    _Catalog(store, skus, seed, counts).build()
    auth = AuthService(store)
    for cred in DEMO_CREDENTIALS:
        auth.add_user(cred.username, cred.display_name, Role(cred.role), password=cred.password, pin=cred.pin)
    counts["users"] = len(DEMO_CREDENTIALS)
    for key, value in SHOP_SETTINGS.items():
        shop.set(key, value)
    counts["settings"] = len(SHOP_SETTINGS) + 1
    with store.uow() as uow:
        _add_front_of_house(uow.session, seed, skus, counts)
        audit.record(
            uow.session,
            "demo.generate",
            entity_type="shop",
            after={"skus": skus, "seed": seed, "counts": dict(counts)},
        )
    # tables first, then the per-kind breakdown, for a readable summary line
    ordered = {k: v for k, v in counts.items() if not k.startswith("skus.")}
    ordered.update((k, v) for k, v in counts.items() if k.startswith("skus."))
    return DemoResult(list(DEMO_CREDENTIALS), ordered, time.perf_counter() - started)


def _refuse_non_empty(session: VaultSession) -> None:
    found = []
    checks = ((Product, "products"), (User, "users"), (Customer, "customers"), (Location, "locations"))
    for model, label in checks:
        n = session.scalar(select(func.count()).select_from(model)) or 0
        if n:
            found.append(f"{n:,} {label}")
    if found:
        raise ConflictError(
            "this database already holds shop data (" + ", ".join(found) + "); the demo generator only "
            "fills an empty database, so demo cards never mix with a real shop's. Use a new data directory."
        )


# =========================================================================== small helpers


def upc_a(body11: str) -> str:
    """Append the UPC-A check digit to 11 digits (scanners reject a wrong one)."""
    if len(body11) != 11 or not body11.isdigit():
        raise ValueError(f"UPC-A body must be 11 digits, got {body11!r}")
    odd = sum(int(d) for d in body11[0::2])
    even = sum(int(d) for d in body11[1::2])
    return body11 + str((10 - (odd * 3 + even) % 10) % 10)


def upc_is_valid(code: str) -> bool:
    return len(code) == 12 and code.isdigit() and upc_a(code[:11]) == code


_CENT_LADDER = (10, 15, 19, 25, 29, 35, 39, 49, 59, 69, 75, 79, 89, 99)


def shelf_round(cents: int) -> int:
    """Round a computed price to the endings shops actually use ($0.25, $4.49, $249.99)."""
    if cents <= 99:
        return next(step for step in _CENT_LADDER if step >= max(cents, 10))
    if cents < 10_000:  # $1 - $100: x.49 or x.99, whichever is nearer
        dollars = cents // 100
        candidates = (dollars * 100 - 1, dollars * 100 + 49, dollars * 100 + 99)
        return min(candidates, key=lambda c: (abs(c - cents), c))
    step = 500 if cents < 100_000 else 2_500  # $5 steps under $1,000, then $25
    return max(step, round(cents / step) * step) - 1


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _code_of(words: str, length: int = 3) -> str:
    """Initial-letter code of a name ("Phyrexia: All Will Be One" -> "PAW")."""
    letters = [w[0] for w in _ascii(words).replace("-", " ").split() if w[:1].isalpha()]
    code = "".join(letters).upper()
    if len(code) < length:
        code += "".join(c for c in _ascii(words).upper() if c.isalpha())[1 : 1 + length - len(code)]
    return code[:length]


def _lognormal_cents(rng: random.Random, median: int, sigma: float, cap: int = 2_500_000) -> int:
    return max(1, min(cap, int(median * math.exp(rng.gauss(0.0, sigma)))))


# =========================================================================== word lists


def _words(text: str) -> tuple[str, ...]:
    """Word lists are written as prose-like strings: easier to read and extend than quoted tuples."""
    return tuple(text.split())


ADJECTIVES = _words(
    "Ashen Blazing Bloodthirsty Brazen Cinder Crimson Cursed Dauntless Dread Drowned Dusk Elder Ember "
    "Emerald Eternal Feral Fervent Fleeting Forsaken Frost Gilded Gloom Grim Hallowed Hollow Howling Iron "
    "Ivory Jade Keen Lone Lunar Molten Moss Nimble Obsidian Onyx Pale Primal Radiant Ravenous Relentless "
    "Restless Rune Sable Savage Scarlet Searing Serene Shadow Shattered Silent Silver Sky Solemn Storm "
    "Sunlit Swift Thorn Thunder Tidal Twilight Umbral Valiant Veiled Verdant Vicious Vigilant Wandering "
    "Wild Withered Wrathful Zealous Arcane Brine Copper Gleaming Mire Spectral Stone Sworn Timeworn "
    "Venomous Whispering Wind Golden Bronze Starlit Charred Sunken Mournful Blighted Clockwork"
)
CREATURES = _words(
    "Angel Archon Assassin Basilisk Behemoth Chimera Cleric Colossus Construct Cultist Dragon Drake Druid "
    "Duelist Elemental Elf Falconer Gargoyle Giant Goblin Golem Gorgon Griffin Harpy Horror Hydra Kraken "
    "Knight Leviathan Lich Manticore Marauder Minotaur Mystic Naga Nomad Ogre Oracle Paladin Phoenix Ranger "
    "Revenant Rogue Sage Salamander Scout Seer Sentinel Serpent Shaman Skirmisher Sphinx Spirit Squire "
    "Stalker Templar Thrull Titan Treefolk Troll Vampire Vanguard Warden Warlock Wraith Wurm Wyvern Zombie "
    "Centaur Harbinger Hierophant Pathfinder Outrider Stormcaller Tidecaller Bonecrusher Dreadnought "
    "Mindwhisper Gravedigger Lorekeeper Skyrider Hexmage Beastcaller"
)
PLACES = _words(
    "Ashes Dawn Deep Depths Dunes Embers Fallen Forge Frontier Glade Grave Hollows Horizon Hunt Labyrinth "
    "Marsh Maw Mire Moon Mountain Multitude Night Pact Peaks Reach Realm Ruins Sands Spire Storm Sun Swarm "
    "Threshold Tides Tomb Veil Vault Void Wastes Wilds Wood Citadel Covenant Crossing Eclipse Expanse Gate "
    "Harvest Hearth Lantern Legion Monolith Oath Obelisk Rift Sanctum Shrine Throne Tower Wellspring"
)
SPELL_NOUNS = _words(
    "Rebuke Reckoning Ritual Bolt Blessing Charm Command Conflagration Counterspell Decree Edict Embrace "
    "Fury Growth Insight Invocation Judgment Mending Offering Onslaught Prophecy Rebirth Renewal Revelation "
    "Sacrifice Salvation Strike Summons Surge Torment Verdict Vision Ward Wrath Tutor Denial Cascade Barrage "
    "Hex Incantation Unraveling Benediction Catastrophe Epiphany"
)
LAND_NOUNS = _words(
    "Marsh Grove Citadel Peak Bog Cove Falls Fen Glade Harbor Heath Hollow Meadow Mesa Oasis Quarry Ridge "
    "Ruins Sanctuary Spring Steppe Summit Tarn Vale Wastes Catacombs Bastion Foothills"
)
BASIC_LANDS = ("Plains", "Island", "Swamp", "Mountain", "Forest")
LEGENDS = _words(
    "Aelith Barrow Cassivel Dravon Edrith Faelan Gorvath Halvard Isolde Jorvik Kaelen Lysandra Myrra Nerith "
    "Orzhel Perrin Quillon Rhovan Sarai Tovren Ulric Vesna Wynna Xandor Yrsa Zarek Aldous Brenna Corwin "
    "Delphine Emeric Fenna Garrick Hestia Ingram Jessamy Korlash Liora Maelis Nyx Osric Petra Ravik Selka "
    "Thessaly Uriel Valka Wendeline Yorrick Éowyn Séraphine Lim-Dûl Jötun Dandân Ifh-Bíff Björn Noémi "
    "Aurélie Thrúm"
)
ROLES = _words(
    "Keeper Voice Warden Herald Scourge Champion Bane Hand Heir Shepherd Tyrant Seeker Breaker Architect "
    "Oracle Regent Speaker Sovereign Guardian Betrayer"
)
ARTISTS = (
    "Ava Kowalski",
    "Rafael Zúñiga",
    "Mira Halden",
    "Tomás Ibarra",
    "Kenji Mori",
    "Lena Fischer",
    "Olu Adeyemi",
    "Sofia Marchetti",
    "Dmitri Volkov",
    "Hana Sato",
    "Caleb Ortiz",
    "Ingrid Solberg",
    "Priya Raman",
    "Jonah Whitfield",
    "Chloé Lefèvre",
    "Marcus Bell",
    "Yuki Tanaka",
    "Elena Petrova",
    "Noah Greenleaf",
    "Zoë Albright",
)
MTG_CLASSICS = (
    "Séance",
    "Lim-Dûl's Vault",
    "Jötun Grunt",
    "Dandân",
    "Ifh-Bíff Efreet",
    "Éowyn, Fearless Knight",
    "Barad-dûr",
    "Mirrodin Besieged",
)

POKEMON = (
    *_words(
        "Bulbasaur Ivysaur Venusaur Charmander Charmeleon Charizard Squirtle Wartortle Blastoise Pikachu "
        "Raichu Jigglypuff Psyduck Golduck Growlithe Arcanine Abra Alakazam Machamp Gengar Onix Cubone "
        "Hitmonchan Lickitung Chansey Kangaskhan Scyther Magikarp Gyarados Lapras Ditto Eevee Vaporeon "
        "Jolteon Flareon Porygon Snorlax Articuno Zapdos Moltres Dratini Dragonite Mewtwo Mew Chikorita "
        "Cyndaquil Totodile Togepi Ampharos Espeon Umbreon Scizor Heracross Tyranitar Lugia Ho-Oh Celebi "
        "Treecko Torchic Mudkip Gardevoir Absol Salamence Metagross Latias Latios Kyogre Groudon Rayquaza "
        "Jirachi Turtwig Chimchar Piplup Lucario Garchomp Leafeon Glaceon Darkrai Giratina Arceus Snivy "
        "Tepig Oshawott Zoroark Chandelure Hydreigon Reshiram Zekrom Froakie Greninja Fennekin Chespin "
        "Flabébé Floette Florges Sylveon Goodra Noibat Xerneas Yveltal Rowlet Litten Popplio Mimikyu "
        "Lycanroc Toxapex Grookey Scorbunny Sobble Corviknight Toxtricity Dragapult Zacian Zamazenta "
        "Eternatus Sprigatito Fuecoco Quaxly Pawmot Tinkaton Gholdengo Ceruledge Armarouge Palafin "
        "Baxcalibur Kingambit Miraidon Koraidon Chien-Pao Farfetch'd Porygon-Z Jangmo-o Nidoran♀ Nidoran♂"
    ),
    "Mr. Mime",
    "Type: Null",
    "Iron Valiant",
    "Roaring Moon",
    "Great Tusk",
    "Iron Hands",
)
POKEMON_SUFFIXES = ("ex", "V", "VMAX", "VSTAR", "GX", "EX", "BREAK")
POKEMON_SUFFIX_WEIGHTS = (14, 8, 4, 4, 5, 3, 1)
POKEMON_REGIONS = ("Alolan", "Galarian", "Hisuian", "Paldean")
POKEMON_OWNERS = (
    "Team Rocket's",
    "Misty's",
    "Brock's",
    "Erika's",
    "Sabrina's",
    "Lillie's",
    "Cynthia's",
    "Iono's",
    "N's",
    "Marnie's",
    "Ethan's",
    "Arven's",
)
POKEMON_TRAINERS = (
    "Professor's Research",
    "Boss's Orders",
    "Rare Candy",
    "Ultra Ball",
    "Nest Ball",
    "Switch",
    "Super Rod",
    "Pokégear 3.0",
    "Pokémon Catcher",
    "Energy Retrieval",
    "Iono",
    "Arven",
    "Penny",
    "Nemona",
    "Judge",
    "Counter Catcher",
    "Earthen Vessel",
    "Night Stretcher",
    "Battle VIP Pass",
    "Path to the Peak",
    "Town Store",
    "Artazon",
    "Mesagoza",
    "Pokémon Center Lady",
    "Choice Belt",
    "Rescue Stretcher",
    "Lost Vacuum",
    "Buddy-Buddy Poffin",
    "Trekking Shoes",
    "Super Potion",
    "Escape Rope",
    "Pokémon Nurse",
)
ENERGY_TYPES = ("Grass", "Fire", "Water", "Lightning", "Psychic", "Fighting", "Darkness", "Metal")

YGO_COLORS = ("Blue", "Red", "Black", "Crimson", "Azure", "Silver", "Golden", "Jade", "Violet", "Ivory")
YGO_ARCHETYPES = (
    "Aetherion",
    "Voidrake",
    "Starblade",
    "Ironclad",
    "Mistveil",
    "Solfire",
    "Gravekeeper",
    "Nightshroud",
    "Chronowyrm",
    "Spellbinder",
    "Runeguard",
    "Cyberse",
    "Abyssal",
    "Celestia",
    "Dracoslayer",
    "Tidehunter",
    "Phantasm",
    "Vylon",
    "Orcust",
    "Skyforge",
)
YGO_MONSTERS = _words(
    "Dragon Magician Warrior Knight Beast Fiend Golem Serpent Swordsman Witch Sorceress Guardian Wyrm "
    "Samurai Machine Paladin Chimera Phoenix Titan Monarch"
)
YGO_SPELLS = _words(
    "Chalice Barrier Mirror Ritual Fusion Tribute Curse Scroll Gateway Sanctuary Seal Storm Banishment "
    "Resonance Rebirth Burial Oath Cyclone Veil Lance"
)
YGO_POTS = ("Greed", "Desires", "Extravagance", "Prosperity", "Duality")
YGO_SET_WORDS = ("Awakening", "Assault", "Invasion", "Legacy", "Overdrive", "Ascension", "Uprising")

LORCANA_CHARACTERS = (
    "Mickey Mouse",
    "Minnie Mouse",
    "Donald Duck",
    "Daisy Duck",
    "Goofy",
    "Pluto",
    "Elsa",
    "Anna",
    "Olaf",
    "Stitch",
    "Lilo",
    "Maleficent",
    "Ursula",
    "Ariel",
    "Sebastian",
    "Simba",
    "Mufasa",
    "Scar",
    "Rafiki",
    "Belle",
    "Beast",
    "Gaston",
    "Aladdin",
    "Jasmine",
    "Genie",
    "Jafar",
    "Iago",
    "Hades",
    "Hercules",
    "Moana",
    "Maui",
    "Mulan",
    "Mushu",
    "Rapunzel",
    "Flynn Rider",
    "Tinker Bell",
    "Peter Pan",
    "Captain Hook",
    "Cinderella",
    "Robin Hood",
    "Pinocchio",
    "Dumbo",
    "Bambi",
    "Tiana",
    "Merlin",
    "Madam Mim",
    "Cruella De Vil",
    "Kuzco",
    "Yzma",
    "Mirabel Madrigal",
    "Sisu",
    "Te Kā",
    "Raya",
    "Pua",
    "Heihei",
)
LORCANA_VERSIONS_A = _words(
    "Brave Daring Wayward Fearless Curious Loyal Cunning Gentle Wild Royal Mischievous Wise Determined "
    "Sneaky Heroic Bold Dreaming Restless Noble Clever"
)
LORCANA_VERSIONS_B = (
    "Explorer",
    "Tinkerer",
    "Storm Chaser",
    "Sorcerer",
    "Guardian",
    "Dreamer",
    "Rebel",
    "Navigator",
    "Ruler",
    "Trickster",
    "Champion",
    "Inventor",
    "Snow Queen",
    "Pirate",
    "Illumineer",
    "Adventurer",
    "Protector",
    "Schemer",
    "Songwriter",
    "Captain",
)
LORCANA_INKS = ("Amber", "Amethyst", "Emerald", "Ruby", "Sapphire", "Steel")
LORCANA_SET_WORDS = ("Tides", "Skies", "Realms", "Dreams", "Lanterns", "Echoes")

FIRST_NAMES = _words(
    "James Michael Robert David William John Daniel Matthew Anthony Marcus Tyler Brandon Jordan Justin Kevin "
    "Eric Aaron Jalen Darius Malik Trevor Cody Logan Mason Carter Hunter Austin Caleb Ethan Noah Liam Owen "
    "Lucas Elijah Isaiah Jaylen Cameron Devin Xavier Dominic Gavin Colton Bryce Chase Garrett Tanner Reid "
    "Miles Julian Diego Mateo Luis Carlos Miguel Rafael Alejandro Kenji Hiro Shota Yuki Min-jun Tae Hyun "
    "Andrés José Iván Joaquín Sebastián Adrián Nicolás Emre Kofi Tariq Amari Zion DeShawn Trey"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
    "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
    "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Tanaka "
    "Yamamoto Suzuki Park Choi Okafor Mensah Acuña Peña Muñoz Núñez Ibáñez Guzmán Rosário Müller Kowalczyk "
    "Novák"
)
CITIES = (
    "Portland",
    "Austin",
    "Nashville",
    "Sacramento",
    "Omaha",
    "Tulsa",
    "Raleigh",
    "Boise",
    "Spokane",
    "Albany",
    "Richmond",
    "Memphis",
    "Louisville",
    "Tucson",
    "Fresno",
    "El Paso",
    "Savannah",
    "Reno",
)
MASCOTS = {
    "baseball": ("Pioneers", "Lumberjacks", "Sea Dogs", "Rivermen", "Aces", "Miners", "Comets", "Barons"),
    "basketball": ("Flight", "Thunderbirds", "Stingers", "Monarchs", "Vipers", "Express", "Cyclones", "Heat"),
    "football": ("Ironmen", "Stallions", "Outlaws", "Guardians", "Marshals", "Titans", "Rangers", "Bulldogs"),
}
SPORTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # game code, sku prefix, sport, brands
    (
        "BASEBALL",
        "BSB",
        "baseball",
        ("Topps Chrome", "Topps Series 1", "Bowman Chrome", "Topps Heritage", "Topps Update", "Bowman Draft"),
    ),
    (
        "BASKETBALL",
        "BKB",
        "basketball",
        ("Panini Prizm", "Donruss Optic", "Panini Select", "NBA Hoops", "Panini Mosaic", "Topps Chrome"),
    ),
    (
        "FOOTBALL",
        "FTB",
        "football",
        ("Panini Prizm", "Donruss", "Panini Select", "Donruss Optic", "Panini Mosaic", "Topps Chrome"),
    ),
)
VINTAGE_SPORTS_SETS = {
    "baseball": ((1989, "Upper Deck"), (1987, "Topps"), (1952, "Topps"), (1993, "SP")),
    "basketball": ((1986, "Fleer"), (1996, "Topps Chrome"), (2003, "Upper Deck")),
    "football": ((2000, "Playoff Contenders"), (1989, "Score"), (1984, "Topps")),
}
SPORTS_PARALLELS = ("Superfractor 1/1", "Autograph /25", "Game-Used Patch /10", "Printing Plate 1/1")

PUBLISHERS = ("Marvel", "DC", "Image", "Dark Horse", "IDW", "BOOM! Studios", "Dynamite", "Valiant")
HERO_PREFIX = _words(
    "Night Star Storm Iron Shadow Blood Silver Steel Moon Sun Frost Fire Thunder Ghost Void Dusk Crimson "
    "Quantum Atomic Cosmic Hex Wild Raven Titan"
)
HERO_SUFFIX = _words(
    "warden runner hawk fang blade wing fist strike born walker knight watch heart spark shade flare wolf "
    "rider jack smith"
)
HERO_HONORIFIC = ("Captain", "Doctor", "Ms.", "Mister", "Lady", "Agent", "Professor")
HERO_NOUNS = _words(
    "Meridian Paradox Tomorrow Eclipse Tempest Vortex Zenith Atlas Nova Enigma Miracle Mercury Cipher "
    "Solstice Marvelous Infinity"
)
COMIC_ADJ = ("Amazing", "Uncanny", "Mighty", "Astonishing", "Spectacular", "Invincible", "Savage", "Immortal")
COMIC_TEAMS = ("Sentinels", "Vanguard", "Defenders of Tomorrow", "Night Patrol", "Outcasts", "Star Legion")
COMIC_WRITERS = (
    "Dana Whitlock",
    "Ravi Menon",
    "Jun Takahashi",
    "Marisol Vega",
    "Gideon Shaw",
    "Amélie Durand",
    "Oscar Lindqvist",
    "Tasha Greene",
    "Björn Halvorsen",
    "Felipe Ortega",
)

GIVEN_NAMES = _words(
    "Alex Amelia Ben Bianca Chris Chloé Dana Diego Eli Emma Finn Fatima Gabe Grace Hank Hana Ivan Isla Jake "
    "Jade Kai Kayla Leo Lena Max Maya Nate Nora Omar Olivia Pete Priya Quinn Rosa Ryan Sara Theo Tara Uma "
    "Victor Vera Wes Willow Xavi Yara Zach Zoë José Renée François Björn Søren Noémie Inés Mateo Ayesha "
    "Kwame Mei Hiroshi Anya Dmitri"
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")
AREA_CODES = ("503", "971", "360", "541", "206")
CUSTOMER_NOTES = (
    "Collects Japanese Pokémon",
    "Commander player, loves foils",
    "Wants list: vintage Yu-Gi-Oh!",
    "Sports: rookies only",
    "Prefers text over email",
)


# =========================================================================== catalog writer


@dataclass
class _SetInfo:
    id: str
    game_code: str
    code: str
    name: str
    size: int
    released: date
    ordinal: int
    extra: dict[str, Any] = field(default_factory=dict)


class _Writer:
    """Buffers rows and writes them with ``bulk_insert`` in FK order, a chunk at a time.

    Catalogs up to ``COMMIT_SKUS`` are one transaction. Larger ones commit every
    ``COMMIT_SKUS`` SKUs: one multi-gigabyte transaction would grow the SQLite WAL to the
    size of the database, and page lookups in a huge WAL get slower and slower (measured:
    1M SKUs in 230 s as one transaction, 171 s committing every 100k).
    """

    def __init__(self, store: Store, counts: dict[str, int], now: datetime) -> None:
        self.store = store
        self.counts = counts
        self.now = now
        self.sets: list[dict[str, Any]] = []
        self.products: list[dict[str, Any]] = []
        self.skus: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []
        self._uow: UnitOfWork | None = None
        self._uncommitted = 0

    @property
    def session(self) -> VaultSession:
        if self._uow is None:
            self._uow = self.store.uow().__enter__()
        return self._uow.session

    def commit(self) -> None:
        self.flush()
        if self._uow is not None:
            uow, self._uow = self._uow, None
            uow.__exit__(None, None, None)
        self._uncommitted = 0

    def rollback(self, exc: BaseException) -> None:
        if self._uow is not None:
            uow, self._uow = self._uow, None
            uow.__exit__(type(exc), exc, exc.__traceback__)

    def add_set(self, row: dict[str, Any]) -> None:
        self.sets.append(row)

    def add(self, product: dict[str, Any], skus: list[dict[str, Any]], moves: list[dict[str, Any]]) -> None:
        self.products.append(product)
        self.skus.extend(skus)
        self.moves.extend(moves)
        if len(self.skus) >= CHUNK_SKUS:
            self._uncommitted += len(self.skus)
            self.flush()
            if self._uncommitted >= COMMIT_SKUS:
                self.commit()

    def flush(self) -> None:
        if not (self.sets or self.products):
            return
        # parents before children: foreign keys are checked row by row
        for model, rows in (
            (CardSet, self.sets),
            (Product, self.products),
            (Sku, self.skus),
            (StockMovement, self.moves),
        ):
            if rows:
                bulk_insert(self.session, model, rows)
                table = model.__tablename__
                self.counts[table] = self.counts.get(table, 0) + len(rows)
                rows.clear()

    def insert(self, model: type[Base], rows: list[dict[str, Any]]) -> None:
        """Write rows of a small table straight away (games, locations)."""
        self.flush()
        bulk_insert(self.session, model, rows)
        table = model.__tablename__
        self.counts[table] = self.counts.get(table, 0) + len(rows)


@dataclass
class _Budget:
    """How many SKUs each part of the catalog gets; MTG singles take the remainder."""

    parts: dict[str, int]

    @classmethod
    def plan(cls, skus: int) -> _Budget:
        shares = {  # share of the catalog, minimum so a tiny demo still shows everything
            "pokemon": (0.24, 10),
            "yugioh": (0.11, 6),
            "lorcana": (0.06, 6),
            "sports": (0.12, 9),
            "comics": (0.06, 6),
            "bulk": (0.0, 8),
            "sealed": (0.01, 6),
            "graded": (0.015, 8),
            "one_off": (0.003, 3),
            "supplies": (0.006, 5),
        }
        parts = {name: max(minimum, int(skus * share)) for name, (share, minimum) in shares.items()}
        parts["bulk"] = min(len(BULK_LOTS), max(8, skus // 1000))
        parts["mtg"] = skus - sum(parts.values())
        if parts["mtg"] < 20:  # tiny demos: Magic still needs room for its showcase card
            parts["pokemon"] -= 20 - parts["mtg"]
            parts["mtg"] = 20
        return cls(parts)


class _SetRegistry:
    """The sets of one game, created on demand so a small demo has few sets and a big one many."""

    def __init__(
        self,
        writer: _Writer,
        *,
        game_code: str,
        game_id: str,
        real: Sequence[tuple[str, str, date, int]],
        invent: Callable[[random.Random], tuple[str, str, date, int]],
        seed: int,
    ) -> None:
        self.writer = writer
        self.game_code = game_code
        self.game_id = game_id
        self.real = real
        self.invent = invent
        self.rng = random.Random(f"{seed}/sets/{game_code}")
        self.sets: list[_SetInfo] = []
        self.used: set[str] = set()

    def get(self, index: int) -> _SetInfo:
        while len(self.sets) <= index:
            self._create()
        return self.sets[index]

    def __len__(self) -> int:
        return len(self.sets)

    def _create(self) -> None:
        i = len(self.sets)
        if i < len(self.real):
            code, name, released, size = self.real[i]
        else:
            code, name, released, size = self.invent(self.rng)
        base, n = code, 2
        while code in self.used:  # invented codes may collide; shops see "ABC2"
            code = f"{base}{n}"
            n += 1
        self.used.add(code)
        info = _SetInfo(new_id(), self.game_code, code, name, size, released, i)
        _set_extra(info, self.rng)
        self.sets.append(info)
        now = self.writer.now
        self.writer.add_set(
            {
                "id": info.id,
                "game_id": self.game_id,
                "code": code,
                "name": name,
                "released_on": released,
                "created_at": now,
                "updated_at": now,
            }
        )


# ----------------------------------------------------------------------- real and invented sets

MTG_SETS: tuple[tuple[str, str, date, int], ...] = (
    ("DMU", "Dominaria United", date(2022, 9, 9), 281),
    ("ONE", "Phyrexia: All Will Be One", date(2023, 2, 10), 271),
    ("MOM", "March of the Machine", date(2023, 4, 21), 291),
    ("LTR", "The Lord of the Rings: Tales of Middle-earth", date(2023, 6, 23), 281),
    ("WOE", "Wilds of Eldraine", date(2023, 9, 8), 276),
    ("LCI", "The Lost Caverns of Ixalan", date(2023, 11, 17), 291),
    ("MKM", "Murders at Karlov Manor", date(2024, 2, 9), 286),
    ("OTJ", "Outlaws of Thunder Junction", date(2024, 4, 19), 276),
    ("MH3", "Modern Horizons 3", date(2024, 6, 14), 303),
    ("BLB", "Bloomburrow", date(2024, 8, 2), 281),
    ("DSK", "Duskmourn: House of Horror", date(2024, 9, 27), 286),
    ("FDN", "Foundations", date(2024, 11, 15), 291),
    ("BRO", "The Brothers' War", date(2022, 11, 18), 287),
    ("NEO", "Kamigawa: Neon Dynasty", date(2022, 2, 18), 302),
    ("SNC", "Streets of New Capenna", date(2022, 4, 29), 281),
    ("MH2", "Modern Horizons 2", date(2021, 6, 18), 303),
    ("KHM", "Kaldheim", date(2021, 2, 5), 285),
    ("ELD", "Throne of Eldraine", date(2019, 10, 4), 269),
    ("2XM", "Double Masters", date(2020, 8, 7), 332),
    ("M21", "Core Set 2021", date(2020, 7, 3), 274),
)
POKEMON_SETS: tuple[tuple[str, str, date, int], ...] = (
    ("SV03", "Obsidian Flames", date(2023, 8, 11), 197),
    ("SV01", "Scarlet & Violet", date(2023, 3, 31), 198),
    ("SV02", "Paldea Evolved", date(2023, 6, 9), 193),
    ("SV3PT5", "151", date(2023, 9, 22), 165),
    ("SV04", "Paradox Rift", date(2023, 11, 3), 182),
    ("SV4PT5", "Paldean Fates", date(2024, 1, 26), 91),
    ("SV05", "Temporal Forces", date(2024, 3, 22), 162),
    ("SV06", "Twilight Masquerade", date(2024, 5, 24), 167),
    ("SV07", "Stellar Crown", date(2024, 9, 13), 142),
    ("SV08", "Surging Sparks", date(2024, 11, 8), 191),
    ("SWSH12", "Silver Tempest", date(2022, 11, 11), 195),
    ("SWSH11", "Lost Origin", date(2022, 9, 9), 196),
    ("SWSH7", "Evolving Skies", date(2021, 8, 27), 203),
    ("BS", "Base Set", date(1999, 1, 9), 102),
    ("JU", "Jungle", date(1999, 6, 16), 64),
)
YGO_SETS: tuple[tuple[str, str, date, int], ...] = (
    ("LOB", "Legend of Blue Eyes White Dragon", date(2002, 3, 8), 126),
    ("MRD", "Metal Raiders", date(2002, 6, 26), 144),
    ("PSV", "Pharaoh's Servant", date(2002, 10, 20), 104),
    ("LON", "Labyrinth of Nightmare", date(2003, 3, 1), 104),
    ("PHNI", "Phantom Nightmare", date(2024, 2, 9), 100),
    ("AGOV", "Age of Overlord", date(2023, 10, 20), 100),
    ("LEDE", "Legacy of Destruction", date(2024, 4, 26), 100),
    ("INFO", "The Infinite Forbidden", date(2024, 7, 19), 100),
    ("ROTA", "Rage of the Abyss", date(2024, 10, 25), 100),
    ("DUNE", "Duelist Nexus", date(2023, 7, 28), 100),
    ("CYAC", "Cyberstorm Access", date(2023, 5, 5), 100),
    ("RA01", "25th Anniversary Rarity Collection", date(2023, 11, 3), 108),
)
LORCANA_SETS: tuple[tuple[str, str, date, int], ...] = (
    ("TFC", "The First Chapter", date(2023, 9, 1), 204),
    ("ROF", "Rise of the Floodborn", date(2023, 12, 1), 204),
    ("ITI", "Into the Inklands", date(2024, 2, 23), 204),
    ("URR", "Ursula's Return", date(2024, 5, 17), 204),
    ("SSK", "Shimmering Skies", date(2024, 8, 9), 204),
    ("AZS", "Azurite Sea", date(2024, 11, 15), 204),
    ("ARI", "Archazia's Island", date(2025, 3, 7), 204),
)


def _invented_date(rng: random.Random, start: int, end: int) -> date:
    return date(rng.randint(start, end), rng.randint(1, 12), rng.randint(1, 28))


MTG_PLANES = (*LEGENDS, "Veldrin", "Orvash", "Kethra", "Sundara", "Talmor", "Ysgard", "Corvale")


def _invent_mtg_set(rng: random.Random) -> tuple[str, str, date, int]:
    place = rng.choice(MTG_PLANES)
    pattern = rng.randrange(6)
    if pattern == 0:
        name = f"{place}: {rng.choice(ADJECTIVES)} {rng.choice(PLACES)}"
    elif pattern == 1:
        name = f"Shadows over {place}"
    elif pattern == 2:
        name = f"Return to {place}"
    elif pattern == 3:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(PLACES)}"
    elif pattern == 4:
        name = f"Rise of the {rng.choice(CREATURES)}s"
    else:
        name = f"Legends of {place}"
    code = _code_of(name) if pattern in (0, 3, 4) else _code_of(place, 3)
    return code, name, _invented_date(rng, 1996, 2021), rng.randint(180, 350)


def _invent_pokemon_set(rng: random.Random) -> tuple[str, str, date, int]:
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(PLACES)}"
    era = rng.choice(("SM", "XY", "BW", "DP", "SWSH", "EX"))
    return f"{era}{rng.randint(1, 14)}", name, _invented_date(rng, 2003, 2022), rng.randint(98, 236)


def _invent_yugioh_set(rng: random.Random) -> tuple[str, str, date, int]:
    name = f"{rng.choice(YGO_ARCHETYPES)} {rng.choice(YGO_SET_WORDS)}"
    code = _code_of(name, 2) + chr(65 + rng.randrange(26)) + chr(65 + rng.randrange(26))
    return code, name, _invented_date(rng, 2004, 2022), rng.choice((60, 80, 100, 100, 101))


def _invent_lorcana_set(rng: random.Random) -> tuple[str, str, date, int]:
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(LORCANA_SET_WORDS)}"
    return _code_of(name, 3), name, _invented_date(rng, 2025, 2026), 204


# ----------------------------------------------------------------------- rarity tables


@dataclass(frozen=True)
class _Rarity:
    name: str
    weight: float
    median: int  # market cents, NM, non-foil
    sigma: float


MTG_RARITIES = (
    _Rarity("Common", 44, 12, 0.5),
    _Rarity("Uncommon", 30, 20, 0.6),
    _Rarity("Rare", 18, 70, 1.1),
    _Rarity("Mythic", 6, 300, 1.3),
    _Rarity("Special", 2, 1500, 1.5),
)
POKEMON_RARITIES = (
    _Rarity("Common", 36, 10, 0.5),
    _Rarity("Uncommon", 26, 15, 0.6),
    _Rarity("Rare", 14, 40, 0.9),
    _Rarity("Double Rare", 10, 150, 1.0),
    _Rarity("Ultra Rare", 7, 400, 1.1),
    _Rarity("Illustration Rare", 5, 600, 1.2),
    _Rarity("Special Illustration Rare", 2, 3000, 1.3),
)
POKEMON_SECRET = (_Rarity("Hyper Rare", 1, 2500, 1.0), _Rarity("Special Illustration Rare", 1, 3000, 1.3))
YGO_RARITIES = (
    _Rarity("Common", 50, 10, 0.5),
    _Rarity("Rare", 20, 25, 0.8),
    _Rarity("Super Rare", 14, 60, 1.0),
    _Rarity("Ultra Rare", 10, 200, 1.1),
    _Rarity("Secret Rare", 5, 700, 1.3),
    _Rarity("Starlight Rare", 1, 12000, 0.8),
)
LORCANA_RARITIES = (
    _Rarity("Common", 36, 12, 0.5),
    _Rarity("Uncommon", 27, 20, 0.6),
    _Rarity("Rare", 18, 50, 0.9),
    _Rarity("Super Rare", 12, 180, 1.0),
    _Rarity("Legendary", 6, 600, 1.1),
    _Rarity("Enchanted", 1, 8000, 0.9),
)


def _pick_rarity(rng: random.Random, table: Sequence[_Rarity]) -> _Rarity:
    return rng.choices(table, weights=[r.weight for r in table])[0]


#: what a slab's grade does to the raw card's price
GRADE_PREMIUM = {"10": 6.0, "9.8": 5.0, "9.5": 2.5, "9.6": 2.0}
CONDITION_FACTOR = {
    Condition.NM: 1.00,
    Condition.LP: 0.85,
    Condition.MP: 0.70,
    Condition.HP: 0.50,
    Condition.DMG: 0.30,
}
#: chance that a shop carries a copy in this condition (NM is always carried)
CONDITION_CHANCE = {
    Condition.NM: 1.0,
    Condition.LP: 0.55,
    Condition.MP: 0.28,
    Condition.HP: 0.14,
    Condition.DMG: 0.06,
}
FINISH_LETTER = {Finish.NORMAL: "N", Finish.FOIL: "F", Finish.ETCHED: "E"}

BULK_LOTS: tuple[tuple[str, str, str, int, int], ...] = (
    # game code, name, code, unit size, market cents per unit
    ("MTG", "Magic Bulk Commons (per 100)", "C100", 100, 500),
    ("PKM", "Pokémon Bulk Commons & Uncommons (per 100)", "CU100", 100, 500),
    ("YGO", "Yu-Gi-Oh! Bulk Commons (per 100)", "C100", 100, 300),
    ("LOR", "Lorcana Bulk Commons (per 100)", "C100", 100, 600),
    ("BASEBALL", "Baseball Bulk Base Cards (per 500)", "B500", 500, 1000),
    ("BASKETBALL", "Basketball Bulk Base Cards (per 500)", "B500", 500, 1200),
    ("FOOTBALL", "Football Bulk Base Cards (per 500)", "B500", 500, 1000),
    ("COMICS", "Comic Grab Bag (10 back issues)", "GB10", 10, 1000),
    ("MTG", "Magic Bulk Uncommons (per 100)", "U100", 100, 800),
    ("MTG", "Magic Bulk Basic Lands (per 1000)", "L1000", 1000, 2000),
    ("MTG", "Magic Bulk Rares (per 10)", "R10", 10, 500),
    ("MTG", "Magic Bulk Foils (per 50)", "F50", 50, 1000),
    ("PKM", "Pokémon Bulk Reverse Holos (per 50)", "RH50", 50, 1000),
    ("PKM", "Pokémon Bulk Energy (per 100)", "E100", 100, 200),
    ("YGO", "Yu-Gi-Oh! Bulk Holos (per 25)", "H25", 25, 500),
)

GAMES: tuple[tuple[str, str, str, str], ...] = (
    # code, name, sku prefix, tax category
    ("MTG", "Magic: The Gathering", "MTG", "standard"),
    ("PKM", "Pokémon", "PKM", "standard"),
    ("YGO", "Yu-Gi-Oh!", "YGO", "standard"),
    ("LOR", "Disney Lorcana", "LOR", "standard"),
    ("BASEBALL", "Baseball Cards", "BSB", "standard"),
    ("BASKETBALL", "Basketball Cards", "BKB", "standard"),
    ("FOOTBALL", "Football Cards", "FTB", "standard"),
    ("COMICS", "Comics", "CMX", "standard"),
    ("SUPPLIES", "Supplies & Accessories", "SUP", "standard"),
)

SEALED_TYPES: dict[str, tuple[tuple[str, str, int, int, int], ...]] = {
    # game code -> (name suffix, code, market cents, packs, typical stock)
    "MTG": (
        ("Play Booster Box", "PBB", 13999, 36, 6),
        ("Collector Booster Box", "CBB", 27999, 12, 2),
        ("Play Booster Pack", "PBP", 549, 1, 36),
        ("Bundle", "BND", 4499, 9, 4),
        ("Commander Deck", "CMD", 4499, 0, 4),
        ("Prerelease Pack", "PRE", 2999, 6, 6),
    ),
    "PKM": (
        ("Booster Box (36 packs)", "BB", 14499, 36, 4),
        ("Elite Trainer Box", "ETB", 4999, 9, 8),
        ("Booster Pack", "BP", 449, 1, 72),
        ("Booster Bundle (6 packs)", "BBN", 2699, 6, 6),
        ("Pokémon Center Elite Trainer Box", "PCETB", 6999, 11, 2),
        ("3-Pack Blister", "3PK", 1399, 3, 8),
        ("Build & Battle Box", "BNB", 2199, 4, 4),
    ),
    "YGO": (
        ("Booster Box (24 packs)", "BB", 8999, 24, 3),
        ("Booster Pack", "BP", 429, 1, 48),
        ("Special Edition", "SE", 1499, 3, 4),
    ),
    "LOR": (
        ("Booster Box (24 packs)", "BB", 14399, 24, 3),
        ("Booster Pack", "BP", 599, 1, 48),
        ("Illumineer's Trove", "TRV", 4999, 8, 4),
        ("Starter Deck", "STD", 1699, 2, 6),
        ("Gift Set", "GFT", 2999, 4, 3),
    ),
    "SPORTS": (
        ("Hobby Box", "HOB", 24999, 20, 3),
        ("Blaster Box", "BLS", 2999, 6, 10),
        ("Mega Box", "MEG", 5999, 10, 5),
        ("Hobby Pack", "HPK", 1499, 1, 24),
    ),
}
SEALED_UPC_PREFIX = {"MTG": "195166", "PKM": "820650", "YGO": "083717", "LOR": "810001", "SPORTS": "887521"}

SUPPLY_BRANDS: tuple[tuple[str, str, str], ...] = (
    ("Dragon Shield", "DSH", "857355"),
    ("Ultra PRO", "UPR", "074427"),
    ("BCW", "BCW", "727580"),
    ("Gamegenic", "GGN", "850005"),
    ("Ultimate Guard", "UGD", "856621"),
    ("KMC", "KMC", "850013"),
)
SUPPLY_ITEMS: tuple[tuple[str, str, int, bool], ...] = (
    # name (may contain {color}), code, MSRP cents, comes in colors
    ("Matte Sleeves (100) - {color}", "SLV", 1299, True),
    ("Japanese Size Matte Sleeves (60) - {color}", "JSL", 1099, True),
    ("Perfect Fit Inner Sleeves (100)", "PFS", 599, False),
    ("Penny Sleeves (100)", "PNY", 99, False),
    ("Toploaders 3x4 (25)", "TOP", 399, False),
    ("Deck Box 100+ - {color}", "DBX", 899, True),
    ("Satin Tower Deck Box - {color}", "STW", 1599, True),
    ("9-Pocket Zip Binder - {color}", "BND", 2999, True),
    ("4-Pocket Portfolio - {color}", "P4P", 1299, True),
    ("Playmat - {color}", "MAT", 2499, True),
    ("Magnetic One-Touch 35pt", "MOT", 399, False),
    ("Storage Box 800 Count", "SB8", 299, False),
    ("Comic Bags & Boards (100)", "CBB", 1299, False),
    ("Short Comic Box", "SCB", 699, False),
    ("D20 Dice Set (7) - {color}", "DIC", 999, True),
    ("Card Divider Pack (10)", "DIV", 299, False),
)
COLORED_SUPPLIES = tuple(i for i, item in enumerate(SUPPLY_ITEMS) if item[3])
SUPPLY_COLORS = (
    "Jet",
    "Crimson",
    "Sapphire",
    "Emerald",
    "Purple",
    "Orange",
    "White",
    "Ruby",
    "Forest Green",
    "Silver",
    "Gold",
    "Pink Diamond",
    "Petrol",
    "Copper",
    "Lagoon",
    "Night Blue",
    "Mint",
    "Clear",
)


# =========================================================================== locations


class _Places:
    """The shop's storage layout and the rules a shop uses to decide where a card lives."""

    def __init__(self, budget: _Budget, skus: int, now: datetime) -> None:
        self.rows: list[dict[str, Any]] = []
        self.now = now
        order = iter(range(1_000_000))
        self.store = self._add(None, "store", "Main Store", "MAIN", next(order))
        n_cases = 6 if skus < 50_000 else 8 if skus < 500_000 else 10
        self.slab_slots: list[str] = []
        self.sealed_rows: list[str] = []
        self.case_rows: list[str] = []
        for c in range(1, n_cases + 1):
            case = self._add(self.store, "case", f"Case {c}", f"C{c}", next(order))
            for r in range(1, 5):
                row = self._add(case, "row", f"Row {r}", f"C{c}-R{r}", r)
                if c <= 2:  # cases 1-2: graded slabs and one-of-a-kind items, in numbered slots
                    for s in range(1, 11):
                        self.slab_slots.append(self._add(row, "slot", f"Slot {s}", f"C{c}-R{r}-S{s:02d}", s))
                elif c == 3:
                    self.sealed_rows.append(row)
                else:
                    self.case_rows.append(row)
        self.binders: dict[str, list[str]] = {}
        binder_games = (
            ("MTG", "mtg"),
            ("PKM", "pokemon"),
            ("YGO", "yugioh"),
            ("LOR", "lorcana"),
            ("SPT", "sports"),
        )
        for code, part in binder_games:
            n = max(1, min(40, budget.parts[part] // 1500))
            self.binders[code] = [
                self._add(self.store, "binder", f"Binder {code}-{i}", f"B-{code}-{i}", next(order))
                for i in range(1, n + 1)
            ]
        self.supply_wall = self._add(self.store, "shelf", "Supply Wall", "SUP", next(order))
        self.comics_rack = self._add(self.store, "shelf", "Comics Rack", "CMX", next(order))
        self.bulk_bins = self._add(self.store, "shelf", "Bulk Bins", "BULK", next(order))
        self.events_table = self._add(self.store, "event", "Events Table", "EVT", next(order))
        self.back_room = self._add(self.store, "backroom", "Back Room", "BR", next(order))
        n_boxes = max(4, min(2500, skus // 400))
        self.long_boxes = [
            self._add(self.back_room, "box", f"Long Box {i}", f"LB-{i:03d}", i) for i in range(1, n_boxes + 1)
        ]
        n_comic = max(1, min(200, budget.parts["comics"] // 300))
        self.comic_boxes = [
            self._add(self.back_room, "box", f"Comic Box {i}", f"CB-{i:02d}", 5000 + i)
            for i in range(1, n_comic + 1)
        ]
        n_slab = max(1, min(500, (budget.parts["graded"] + budget.parts["one_off"]) // 60))
        self.slab_boxes = [
            self._add(self.back_room, "box", f"Slab Box {i}", f"SB-{i:02d}", 8000 + i)
            for i in range(1, n_slab + 1)
        ]
        self.overstock = self._add(self.back_room, "shelf", "Overstock Shelf", "BR-OS", 9999)
        # sequential filling, the way a shop files cards: a box is full, the next one starts
        cheap_estimate = max(1, int(skus * 0.55))
        self.per_long_box = max(25, cheap_estimate // n_boxes)
        self.per_binder = {
            code: max(20, (budget.parts[part] // 3) // len(self.binders[code])) for code, part in binder_games
        }
        self.per_comic_box = max(20, budget.parts["comics"] // n_comic)
        self._fill: dict[str, int] = {}

    def _add(self, parent: str | None, kind: str, name: str, code: str, sort_order: int) -> str:
        loc_id = new_id()
        self.rows.append(
            {
                "id": loc_id,
                "parent_id": parent,
                "kind": kind,
                "name": name,
                "code": code,
                "sort_order": sort_order,
                "is_active": True,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        return loc_id

    def _next(self, key: str, places: list[str], per: int) -> str:
        n = self._fill.get(key, 0)
        self._fill[key] = n + 1
        return places[(n // per) % len(places)]

    def for_single(self, binder_code: str, shelf_cents: int) -> str:
        if shelf_cents >= 2_000:
            return self._next("case", self.case_rows, 6)
        if shelf_cents >= 100:
            binders = self.binders[binder_code]
            return self._next(f"binder:{binder_code}", binders, self.per_binder[binder_code])
        return self.long_box()

    def long_box(self) -> str:
        return self._next("longbox", self.long_boxes, self.per_long_box)

    def slab(self) -> str:
        n = self._fill.get("slab", 0)
        self._fill["slab"] = n + 1
        if n < len(self.slab_slots):
            return self.slab_slots[n]
        return self.slab_boxes[(n - len(self.slab_slots)) // 60 % len(self.slab_boxes)]

    def sealed_display(self) -> str:
        return self._next("sealed", self.sealed_rows, 5)

    def comic_box(self) -> str:
        return self._next("comicbox", self.comic_boxes, self.per_comic_box)


# =========================================================================== the catalog


class _Catalog:
    """Generates and writes the whole catalog: games, sets, products, SKUs, stock."""

    def __init__(self, store: Store, skus: int, seed: int, counts: dict[str, int]) -> None:
        self.skus = skus
        self.seed = seed
        self.counts = counts
        self.now = utcnow().replace(microsecond=0)
        self.writer = _Writer(store, counts, self.now)
        self.budget = _Budget.plan(skus)
        self.places = _Places(self.budget, skus, self.now)
        self.game_ids: dict[str, str] = {code: new_id() for code, _n, _p, _t in GAMES}
        self.prefix = {code: prefix for code, _n, prefix, _t in GAMES}
        self.price_times = [self.now - timedelta(hours=h) for h in range(1, 97)]
        self.label_counter = 0  # shop-printed barcode labels
        self.upc_counter = 0
        self.cert_counter = 0
        registry = self._registry
        self.registries: dict[str, _SetRegistry] = {
            "MTG": registry("MTG", MTG_SETS, _invent_mtg_set),
            "PKM": registry("PKM", POKEMON_SETS, _invent_pokemon_set),
            "YGO": registry("YGO", YGO_SETS, _invent_yugioh_set),
            "LOR": registry("LOR", LORCANA_SETS, _invent_lorcana_set),
        }
        for game, _prefix, sport, brands in SPORTS:
            self.registries[game] = registry(game, _sports_real_sets(sport), _SportsSets(sport, brands))
        self.registries["COMICS"] = registry("COMICS", (), _invent_comic_series)

    def _registry(
        self,
        game: str,
        real: Sequence[tuple[str, str, date, int]],
        invent: Callable[[random.Random], tuple[str, str, date, int]],
    ) -> _SetRegistry:
        return _SetRegistry(
            self.writer, game_code=game, game_id=self.game_ids[game], real=real, invent=invent, seed=self.seed
        )

    def rng(self, part: str) -> random.Random:
        return random.Random(f"{self.seed}/{part}")

    # ------------------------------------------------------------------ driver

    def build(self) -> None:
        try:
            self._build()
        except BaseException as exc:
            self.writer.rollback(exc)
            raise

    def _build(self) -> None:
        w = self.writer
        _refuse_non_empty(w.session)  # again, now under the write lock
        w.insert(
            Game,
            [
                {
                    "id": self.game_ids[code],
                    "code": code,
                    "name": name,
                    "tax_category": tax,
                    "sort_order": i,
                    "is_active": True,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for i, (code, name, _prefix, tax) in enumerate(GAMES)
            ],
        )
        w.insert(Location, self.places.rows)
        parts: list[tuple[str, Callable[[random.Random], _Products]]] = [
            ("mtg", self._mtg),
            ("pokemon", self._pokemon),
            ("yugioh", self._yugioh),
            ("lorcana", self._lorcana),
            ("sports", self._sports),
            ("comics", self._comics),
            ("bulk", self._bulk),
            ("sealed", self._sealed),
            ("graded", self._graded),
            ("one_off", self._one_offs),
            ("supplies", self._supplies),
        ]
        for part, generator in parts:
            remaining = self.budget.parts[part]
            for product, plans in generator(self.rng(part)):
                if remaining <= 0:
                    break
                taken = plans[:remaining]
                remaining -= len(taken)
                self._emit(product, taken)
        w.commit()

    def _emit(self, product: dict[str, Any], plans: list[_SkuPlan]) -> None:
        now = self.now
        if not plans:
            return
        product.update(id=new_id(), created_at=now, updated_at=now, is_active=True)
        skus: list[dict[str, Any]] = []
        moves: list[dict[str, Any]] = []
        for plan in plans:
            sku_id = new_id()
            row = plan.row
            row.update(id=sku_id, product_id=product["id"], created_at=now, updated_at=now)
            skus.append(row)
            kind = f"skus.{product['kind']}"
            self.counts[kind] = self.counts.get(kind, 0) + 1
            for location_id, qty in plan.stock:
                if qty > 0:
                    moves.append(
                        {
                            "sku_id": sku_id,
                            "location_id": location_id,
                            "delta": qty,
                            "reason": MovementReason.RECEIVE.value,
                            "ref_type": "demo",
                            "created_at": now,
                        }
                    )
        self.writer.add(product, skus, moves)

    # ------------------------------------------------------------------ shared pieces

    def _sku(
        self,
        rng: random.Random,
        code: str,
        market: int,
        *,
        condition: Condition | None,
        finish: Finish = Finish.NORMAL,
        language: str = "EN",
        markup: float = 1.05,
        barcode: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        shelf = shelf_round(int(market * markup))
        return {
            "sku_code": code,
            "condition": condition.value if condition else None,
            "finish": finish.value,
            "language": language,
            "grader": extra.get("grader"),
            "grade": extra.get("grade"),
            "sub_grades": extra.get("sub_grades"),
            "cert_number": extra.get("cert_number"),
            "barcode": barcode,
            "serialized": extra.get("serialized", False),
            "unit_size": extra.get("unit_size", 1),
            "shelf_price_cents": shelf,
            "market_price_cents": market,
            "price_source": PRICE_SOURCE,
            "price_as_of": self.price_times[rng.randrange(len(self.price_times))],
            "cost_basis_cents": max(1, round(market * rng.uniform(0.50, 0.60))),
            "popularity": extra.get("popularity", 0),
            "is_active": True,
            "notes": extra.get("notes"),
        }

    def _label(self, rng: random.Random, share: float = 0.3) -> str | None:
        """A shop-printed label barcode on some singles (UPC number system 2: in-store use)."""
        if rng.random() >= share:
            return None
        self.label_counter += 1
        return upc_a(f"2{self.label_counter:010d}")

    def _upc(self, prefix6: str) -> str:
        self.upc_counter += 1
        n = self.upc_counter
        return upc_a(f"{int(prefix6) + n // 100_000:06d}{n % 100_000:05d}")

    def _single_plans(
        self,
        rng: random.Random,
        *,
        game: str,
        binder: str,
        code_base: str,
        market: int,
        finishes: Sequence[tuple[Finish, float]],
        language: str = "EN",
        all_conditions: bool = False,
    ) -> list[_SkuPlan]:
        """SKUs of one single: NM always, worse conditions sometimes, per available finish."""
        plans: list[_SkuPlan] = []
        suffix = "" if language == "EN" else f"-{language}"
        markup = rng.uniform(1.0, 1.12)
        for finish, factor in finishes:
            for cond in Condition:
                if not all_conditions and cond is not Condition.NM and rng.random() >= CONDITION_CHANCE[cond]:
                    continue
                price = max(5, int(market * factor * CONDITION_FACTOR[cond]))
                row = self._sku(
                    rng,
                    f"{code_base}-{cond.value}-{FINISH_LETTER[finish]}{suffix}",
                    price,
                    condition=cond,
                    finish=finish,
                    language=language,
                    markup=markup,
                    barcode=self._label(rng),
                    popularity=int(rng.expovariate(0.2)) if price >= 100 else 0,
                )
                qty = _single_qty(rng, row["shelf_price_cents"], cond)
                stock = self._place_single(binder, row["shelf_price_cents"], qty)
                plans.append(_SkuPlan(row, stock))
        return plans

    def _place_single(self, binder: str, shelf: int, qty: int) -> list[tuple[str, int]]:
        if qty <= 0:
            return []
        where = self.places.for_single(binder, shelf)
        if qty > 4 and shelf >= 100:  # a binder page holds four; extra copies wait in a long box
            return [(where, 4), (self.places.long_box(), qty - 4)]
        return [(where, qty)]

    # ------------------------------------------------------------------ trading card games

    def _mtg(self, rng: random.Random) -> _Products:
        registry = self.registries["MTG"]
        first = True
        for set_index in range(10**9):
            cs = registry.get(set_index)
            for n in range(1, cs.size + 1):
                basic = n > cs.size - 10
                if basic:
                    name, rarity = BASIC_LANDS[(n - 1) % 5], MTG_RARITIES[0]
                else:
                    name, rarity = _mtg_name(rng), _pick_rarity(rng, MTG_RARITIES)
                market = _lognormal_cents(rng, rarity.median, rarity.sigma)
                if first:  # the showcase card: every condition, foil and etched
                    rarity, market = MTG_RARITIES[3], 2_450
                finishes: list[tuple[Finish, float]] = [(Finish.NORMAL, 1.0)]
                if first or rng.random() < (0.45 if rarity.name == "Common" else 0.7):
                    finishes.append((Finish.FOIL, rng.uniform(1.2, 3.0)))
                if first or (rarity.name in ("Rare", "Mythic") and rng.random() < 0.08):
                    finishes.append((Finish.ETCHED, rng.uniform(1.5, 2.5)))
                product: dict[str, Any] = {
                    "game_id": self.game_ids["MTG"],
                    "set_id": cs.id,
                    "kind": ProductKind.SINGLE.value,
                    "name": name,
                    "collector_number": str(n),
                    "rarity": rarity.name,
                    "language": "EN",
                    "attributes": {"artist": rng.choice(ARTISTS)},
                }
                base = f"MTG-{cs.code}-{n}"
                yield (
                    product,
                    self._single_plans(
                        rng,
                        game="MTG",
                        binder="MTG",
                        code_base=base,
                        market=market,
                        finishes=finishes,
                        all_conditions=first,
                    ),
                )
                first = False
                if not basic and rng.random() < 0.02:  # a Japanese printing of the same card
                    jp = dict(product, language="JP", attributes=dict(product["attributes"]))
                    yield (
                        jp,
                        self._single_plans(
                            rng,
                            game="MTG",
                            binder="MTG",
                            code_base=base,
                            market=int(market * 1.3),
                            finishes=finishes[:2],
                            language="JP",
                        ),
                    )

    def _pokemon(self, rng: random.Random) -> _Products:
        registry = self.registries["PKM"]
        for set_index in range(10**9):
            cs = registry.get(set_index)
            printed = cs.size
            secret = max(3, printed // 9)
            for n in range(1, printed + secret + 1):
                if n > printed:
                    rarity = _pick_rarity(rng, POKEMON_SECRET)
                    name = f"{rng.choice(POKEMON)} ex" if rng.random() < 0.7 else rng.choice(POKEMON_TRAINERS)
                elif n > printed - 3:
                    rarity, name = POKEMON_RARITIES[0], f"Basic {ENERGY_TYPES[n % len(ENERGY_TYPES)]} Energy"
                else:
                    rarity = _pick_rarity(rng, POKEMON_RARITIES)
                    name = _pokemon_name(rng, rarity.name)
                market = _lognormal_cents(rng, rarity.median, rarity.sigma)
                if cs.released.year < 2000:  # WotC era: everything is collectible
                    market = market * 6
                finishes: list[tuple[Finish, float]] = [(Finish.NORMAL, 1.0)]
                if n <= printed and rarity.weight >= 14 and rng.random() < 0.75:  # reverse holo
                    finishes.append((Finish.FOIL, rng.uniform(1.3, 2.5)))
                elif rarity.weight < 14:  # holo rares and up exist only in foil
                    finishes = [(Finish.FOIL, 1.0)]
                number = f"{n:03d}/{printed:03d}"
                product: dict[str, Any] = {
                    "game_id": self.game_ids["PKM"],
                    "set_id": cs.id,
                    "kind": ProductKind.SINGLE.value,
                    "name": name,
                    "collector_number": number,
                    "rarity": rarity.name,
                    "language": "EN",
                    "attributes": {"illustrator": rng.choice(ARTISTS)},
                }
                base = f"PKM-{cs.code}-{n:03d}"
                yield (
                    product,
                    self._single_plans(
                        rng,
                        game="PKM",
                        binder="PKM",
                        code_base=base,
                        market=market,
                        finishes=finishes,
                    ),
                )
                if rng.random() < 0.06:  # Japanese cards are a staple of every Pokémon case
                    jp = dict(product, language="JP", attributes=dict(product["attributes"]))
                    yield (
                        jp,
                        self._single_plans(
                            rng,
                            game="PKM",
                            binder="PKM",
                            code_base=base,
                            market=int(market * 0.9),
                            finishes=finishes,
                            language="JP",
                        ),
                    )

    def _yugioh(self, rng: random.Random) -> _Products:
        registry = self.registries["YGO"]
        for set_index in range(10**9):
            cs = registry.get(set_index)
            for n in range(1, cs.size + 1):
                rarity = _pick_rarity(rng, YGO_RARITIES)
                market = _lognormal_cents(rng, rarity.median, rarity.sigma)
                if cs.released.year < 2005:
                    market *= 4
                finish = Finish.NORMAL if rarity.name in ("Common", "Rare") else Finish.FOIL
                number = f"{cs.code}-EN{n:03d}"
                edition = "1st Edition" if rng.random() < 0.5 else "Unlimited"
                product: dict[str, Any] = {
                    "game_id": self.game_ids["YGO"],
                    "set_id": cs.id,
                    "kind": ProductKind.SINGLE.value,
                    "name": _yugioh_name(rng),
                    "collector_number": number,
                    "rarity": rarity.name,
                    "language": "EN",
                    "attributes": {"edition": edition},
                }
                yield (
                    product,
                    self._single_plans(
                        rng,
                        game="YGO",
                        binder="YGO",
                        code_base=f"YGO-{number}",
                        market=market,
                        finishes=[(finish, 1.0)],
                    ),
                )

    def _lorcana(self, rng: random.Random) -> _Products:
        registry = self.registries["LOR"]
        for set_index in range(10**9):
            cs = registry.get(set_index)
            for n in range(1, cs.size + 1):
                rarity = _pick_rarity(rng, LORCANA_RARITIES)
                market = _lognormal_cents(rng, rarity.median, rarity.sigma)
                finishes: list[tuple[Finish, float]]
                if rarity.name == "Enchanted":
                    finishes = [(Finish.FOIL, 1.0)]
                else:
                    finishes = [(Finish.NORMAL, 1.0)]
                    if rng.random() < 0.6:
                        finishes.append((Finish.FOIL, rng.uniform(1.5, 4.0)))
                name = _lorcana_name(rng)
                product: dict[str, Any] = {
                    "game_id": self.game_ids["LOR"],
                    "set_id": cs.id,
                    "kind": ProductKind.SINGLE.value,
                    "name": name,
                    "collector_number": f"{n}/{cs.size}",
                    "rarity": rarity.name,
                    "language": "EN",
                    "attributes": {"ink": rng.choice(LORCANA_INKS)},
                }
                yield (
                    product,
                    self._single_plans(
                        rng,
                        game="LOR",
                        binder="LOR",
                        code_base=f"LOR-{cs.code}-{n}",
                        market=market,
                        finishes=finishes,
                    ),
                )

    # ------------------------------------------------------------------ sports and comics

    def _sports(self, rng: random.Random) -> _Products:
        """Products rotate baseball → basketball → football so every sport shows up early."""
        cursors = {game: (0, 1) for game, *_ in SPORTS}
        stars: dict[str, float] = {}
        while True:
            for game, prefix, sport, _brands in SPORTS:
                set_index, n = cursors[game]
                cs = self.registries[game].get(set_index)
                cursors[game] = (set_index, n + 1) if n < cs.size else (set_index + 1, 1)
                player = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                if player not in stars:  # a few players are stars; their cards carry the case
                    stars[player] = 25.0 if rng.random() < 0.03 else 4.0 if rng.random() < 0.12 else 1.0
                rookie = rng.random() < 0.15
                insert = rng.random() < 0.12
                market = _lognormal_cents(rng, 150 if insert else 25, 1.0) * stars[player]
                market = int(market * (3 if rookie else 1) * (4 if cs.extra.get("vintage") else 1))
                team = f"{rng.choice(CITIES)} {rng.choice(MASCOTS[sport])}"
                number = f"{_code_of(cs.extra['brand'], 2)}-{n}" if insert else str(n)
                name = f"{cs.extra['year']} {cs.extra['brand']} #{number} {player}{' RC' if rookie else ''}"
                finishes: list[tuple[Finish, float]] = [(Finish.NORMAL, 1.0)]
                if cs.extra["year"] >= 1993 and rng.random() < 0.4:  # refractors / silver prizms
                    finishes.append((Finish.FOIL, rng.uniform(2.0, 5.0)))
                product: dict[str, Any] = {
                    "game_id": self.game_ids[game],
                    "set_id": cs.id,
                    "kind": ProductKind.SINGLE.value,
                    "name": name,
                    "collector_number": number,
                    "rarity": "Insert" if insert else "Rookie" if rookie else "Base",
                    "language": "EN",
                    "attributes": {
                        "sport": sport,
                        "player": player,
                        "team": team,
                        "year": cs.extra["year"],
                        "brand": cs.extra["brand"],
                        "rookie": rookie,
                    },
                }
                yield (
                    product,
                    self._single_plans(
                        rng,
                        game=game,
                        binder="SPT",
                        code_base=f"{prefix}-{cs.code}-{number}",
                        market=market,
                        finishes=finishes,
                    ),
                )

    def _comics(self, rng: random.Random) -> _Products:
        registry = self.registries["COMICS"]
        for set_index in range(10**9):
            series = registry.get(set_index)
            year = series.released.year
            for issue in range(1, series.size + 1):
                key = issue == 1 or rng.random() < 0.03
                market = _lognormal_cents(rng, 450, 0.7) * (3 if issue == 1 else 1) * (12 if key else 1)
                if year < 1985:
                    market *= 8
                covers = [("A", Finish.NORMAL)]
                if year >= 2000 and rng.random() < 0.3:
                    covers.append(("B", Finish.NORMAL))
                if year >= 2010 and rng.random() < 0.08:
                    covers.append(("F", Finish.FOIL))
                for cover, finish in covers:
                    label = {"A": "", "B": " (Cover B Variant)", "F": " (Foil Variant)"}[cover]
                    cover_market = market * (1 if cover == "A" else 2)
                    product: dict[str, Any] = {
                        "game_id": self.game_ids["COMICS"],
                        "set_id": series.id,
                        "kind": ProductKind.COMIC.value,
                        "name": f"{series.extra['title']} #{issue}{label}",
                        "collector_number": str(issue),
                        "rarity": "Key Issue" if key else None,
                        "language": "EN",
                        "attributes": {
                            "publisher": series.extra["publisher"],
                            "issue": issue,
                            "cover": cover,
                            "year": year + (issue - 1) // 12,
                            "writer": series.extra["writer"],
                        },
                    }
                    plans: list[_SkuPlan] = []
                    for cond in Condition:
                        if cond is not Condition.NM and rng.random() >= CONDITION_CHANCE[cond] * 0.8:
                            continue
                        price = max(100, int(cover_market * CONDITION_FACTOR[cond]))
                        row = self._sku(
                            rng,
                            f"CMX-{series.code}-{issue}{cover}-{cond.value}",
                            price,
                            condition=cond,
                            finish=finish,
                            markup=1.1,
                            barcode=self._label(rng, 0.5),
                        )
                        qty = 0 if rng.random() < 0.1 else rng.randint(1, 3 if key else 6)
                        where = self.places.comics_rack if year >= 2024 else self.places.comic_box()
                        plans.append(_SkuPlan(row, [(where, qty)]))
                    yield product, plans

    # ------------------------------------------------------------------ bulk, sealed, graded...

    def _bulk(self, rng: random.Random) -> _Products:
        for game, name, code, unit, price in BULK_LOTS:
            product: dict[str, Any] = {
                "game_id": self.game_ids[game],
                "set_id": None,
                "kind": ProductKind.BULK.value,
                "name": name,
                "language": "EN",
                "attributes": {"cards_per_unit": unit},
            }
            row = self._sku(
                rng,
                f"{self.prefix[game]}-BULK-{code}",
                price,
                condition=None,
                markup=1.0,
                unit_size=unit,
                barcode=self._label(rng, 1.0),
            )
            row["shelf_price_cents"] = price  # bulk is sold at a round price
            qty = rng.randint(5, 60)
            yield product, [_SkuPlan(row, [(self.places.bulk_bins, qty // 3), (self.places.long_box(), qty)])]

    def _sealed(self, rng: random.Random) -> _Products:
        """Sealed product per set, round-robin over the games with the biggest sealed sales first."""
        order = ("MTG", "PKM", "PKM", "MTG", "SPORTS", "LOR", "YGO", "PKM")
        cursors: dict[str, tuple[int, int]] = {}
        sport_turn = 0
        while True:
            for kind in order:
                if kind == "SPORTS":
                    game = SPORTS[sport_turn % 3][0]
                    sport_turn += 1
                else:
                    game = kind
                set_index, type_index = cursors.get(game, (0, 0))
                types = SEALED_TYPES[kind]
                more_types = type_index + 1 < len(types)
                cursors[game] = (set_index, type_index + 1) if more_types else (set_index + 1, 0)
                cs = self.registries[game].get(set_index)
                suffix, code, base_price, packs, typical = types[type_index]
                age = max(0, REFERENCE_YEAR - cs.released.year)
                # sealed barely moves for a couple of years, then climbs steeply once it is out of print
                market = int(base_price * (1 + 0.02 * age**2) * rng.uniform(0.85, 1.2))
                product: dict[str, Any] = {
                    "game_id": self.game_ids[game],
                    "set_id": cs.id,
                    "kind": ProductKind.SEALED.value,
                    "name": f"{cs.name} {suffix}",
                    "language": "EN",
                    "attributes": {"packs": packs} if packs else {},
                }
                row = self._sku(
                    rng,
                    f"{self.prefix[game]}-{cs.code}-SEAL-{code}",
                    market,
                    condition=None,
                    markup=rng.uniform(1.0, 1.15),
                    barcode=self._upc(SEALED_UPC_PREFIX[kind]),
                    popularity=rng.randint(0, 80),
                )
                qty = 0 if rng.random() < 0.1 else max(1, int(typical * rng.uniform(0.3, 1.5)))
                display = min(qty, max(1, typical // 3))
                stock = [(self.places.sealed_display(), display), (self.places.overstock, qty - display)]
                if packs == 1 and rng.random() < 0.4:  # prize support waiting at the events table
                    stock.append((self.places.events_table, rng.randint(6, 24)))
                yield product, [_SkuPlan(row, stock)]

    def _graded(self, rng: random.Random) -> _Products:
        """Slabs: each SKU one physical card with a unique certificate, stock exactly 1."""
        subjects = (
            "PKM",
            "PKM",
            "PKM",
            "MTG",
            "MTG",
            "BASEBALL",
            "BASKETBALL",
            "FOOTBALL",
            "YGO",
            "LOR",
            "COMICS",
        )
        forced = list(Grader)  # the first slabs show every grading company
        i = 0
        while True:
            game = subjects[i % len(subjects)] if i < len(subjects) else rng.choice(subjects)
            i += 1
            cs = self.registries[game].get(rng.randrange(max(1, min(len(self.registries[game]), 8))))
            n = rng.randint(1, cs.size)
            if game == "COMICS":
                grader = Grader.CGC
                name, number = f"{cs.extra['title']} #{n}", str(n)
            else:
                grader = forced.pop(0) if forced else rng.choices(list(Grader), weights=(55, 20, 15, 10))[0]
                name, number = self._graded_subject(rng, game, cs, n)
            product: dict[str, Any] = {
                "game_id": self.game_ids[game],
                "set_id": cs.id,
                "kind": ProductKind.GRADED.value,
                "name": name,
                "collector_number": number,
                "rarity": None,
                "language": "EN",
                "attributes": {},
            }
            raw = _lognormal_cents(rng, 4_000, 1.3, cap=500_000)
            if cs.released.year < 2000:  # vintage survives in high grades rarely, and is priced so
                raw *= 5
            plans = []
            copies = 1 if forced or rng.random() < 0.8 else rng.randint(2, 3)
            for _copy in range(copies):
                grade, sub_grades = _grade(rng, grader, comic=game == "COMICS")
                cert = self._cert(rng, grader)
                factor = GRADE_PREMIUM.get(grade, 1.0 if float(grade) >= 8 else 0.6)
                market = min(5_000_000, int(raw * factor * rng.uniform(0.9, 1.1)))
                finish = Finish.FOIL if rng.random() < 0.4 else Finish.NORMAL
                card = number if number.startswith(cs.code) else f"{cs.code}-{number.split('/')[0]}"
                code = f"{self.prefix[game]}-{card}-{grader.value}{grade}-{cert}"
                row = self._sku(
                    rng,
                    code,
                    market,
                    condition=None,
                    finish=finish,
                    markup=rng.uniform(1.0, 1.1),
                    grader=grader.value,
                    grade=grade,
                    sub_grades=sub_grades,
                    cert_number=cert,
                    serialized=True,
                    barcode=self._label(rng, 1.0),
                    popularity=rng.randint(0, 30),
                )
                plans.append(_SkuPlan(row, [(self.places.slab(), 1)]))
            yield product, plans

    def _graded_subject(self, rng: random.Random, game: str, cs: _SetInfo, n: int) -> tuple[str, str]:
        if game == "MTG":
            return _mtg_name(rng), str(n)
        if game == "PKM":
            return _pokemon_name(rng, "Ultra Rare"), f"{n:03d}/{cs.size:03d}"
        if game == "YGO":
            return _yugioh_name(rng), f"{cs.code}-EN{n:03d}"
        if game == "LOR":
            return _lorcana_name(rng), f"{n}/{cs.size}"
        player = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        return f"{cs.extra['year']} {cs.extra['brand']} #{n} {player}", str(n)

    def _cert(self, rng: random.Random, grader: Grader) -> str:
        """Certificate numbers in each grader's style, unique by construction (a shared counter)."""
        self.cert_counter += 1
        c = self.cert_counter
        if grader is Grader.PSA:
            return f"{rng.randint(1, 9)}{c:07d}"  # 8 digits
        if grader is Grader.BGS:
            return f"00{rng.randint(10, 99)}{c:06d}"  # 10 digits, leading zeros
        if grader is Grader.CGC:
            return f"4{rng.randint(10, 99)}{c:07d}"  # 10 digits starting with 4
        return f"{rng.randint(1, 9)}{c:06d}"  # SGC: 7 digits

    def _one_offs(self, rng: random.Random) -> _Products:
        """One-of-a-kind items: signed, misprinted, altered, numbered 1/1s. Serialized, one in stock."""
        kinds = ("MTG", "PKM", "BASEBALL", "MTG", "BASKETBALL", "FOOTBALL", "COMICS", "LOR")
        for i in range(10**9):
            game = kinds[i % len(kinds)]
            cs = self.registries[game].get(rng.randrange(max(1, min(len(self.registries[game]), 5))))
            n = rng.randint(1, cs.size)
            if game in ("MTG", "LOR"):
                base = _mtg_name(rng) if game == "MTG" else rng.choice(LORCANA_CHARACTERS)
                what = rng.choice(("Artist Signed", "Altered Art", "Misprint - Miscut", "Artist Proof"))
                name = f"{base} ({what})"
            elif game == "PKM":
                what = rng.choice(("Misprint - Crimped", "Prerelease Stamp Error", "Artist Signed"))
                name = f"{rng.choice(POKEMON)} ({what})"
            elif game == "COMICS":
                name = f"{cs.extra['title']} #{n} (Signed by {cs.extra['writer']})"
            else:
                player = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                what = rng.choice(SPORTS_PARALLELS)
                name = f"{cs.extra['year']} {cs.extra['brand']} {player} {what}"
            product: dict[str, Any] = {
                "game_id": self.game_ids[game],
                "set_id": cs.id,
                "kind": ProductKind.ONE_OFF.value,
                "name": name,
                "collector_number": str(n),
                "language": "EN",
                "attributes": {"one_of_a_kind": True},
            }
            market = _lognormal_cents(rng, 6_000, 1.1, cap=1_000_000)
            cond = rng.choice((Condition.NM, Condition.NM, Condition.LP, Condition.MP))
            row = self._sku(
                rng,
                f"{self.prefix[game]}-1OF1-{i + 1:05d}",
                market,
                condition=cond,
                markup=rng.uniform(1.05, 1.2),
                serialized=True,
                barcode=self._label(rng, 1.0),
                notes="One of a kind: check the photo before selling.",
            )
            yield product, [_SkuPlan(row, [(self.places.slab(), 1)])]

    def _supplies(self, rng: random.Random) -> _Products:
        game_id = self.game_ids["SUPPLIES"]
        combos: list[tuple[int, int, str | None]] = []
        for b in range(len(SUPPLY_BRANDS)):
            for it, (_name, _code, _price, colored) in enumerate(SUPPLY_ITEMS):
                for color in SUPPLY_COLORS if colored else (None,):
                    combos.append((b, it, color))
        rng.shuffle(combos)
        counter = 0
        while True:
            for b, combo_item, combo_color in combos:
                counter += 1
                brand, brand_code, upc_prefix = SUPPLY_BRANDS[b]
                it, color = combo_item, combo_color
                if counter > len(combos):  # large demos: art sleeves, boxes and playmats with designs
                    it = rng.choice(COLORED_SUPPLIES)
                    color = f"{rng.choice(ADJECTIVES)} {rng.choice(CREATURES)} Art"
                item, item_code, price, _colored = SUPPLY_ITEMS[it]
                name = f"{brand} {item.format(color=color)}"
                product: dict[str, Any] = {
                    "game_id": game_id,
                    "set_id": None,
                    "kind": ProductKind.SUPPLY.value,
                    "name": name,
                    "language": "EN",
                    "attributes": {"brand": brand},
                }
                market = int(price * rng.uniform(0.95, 1.1))
                row = self._sku(
                    rng,
                    f"SUP-{brand_code}-{item_code}-{counter:05d}",
                    market,
                    condition=None,
                    markup=1.0,
                    barcode=self._upc(upc_prefix),
                    popularity=rng.randint(0, 40),
                )
                row["shelf_price_cents"] = price  # supplies sell at MSRP
                qty = 0 if rng.random() < 0.08 else rng.randint(2, 30)
                shelf = min(qty, 8)
                stock = [(self.places.supply_wall, shelf), (self.places.overstock, qty - shelf)]
                yield product, [_SkuPlan(row, stock)]


@dataclass
class _SkuPlan:
    """One SKU row and where its opening stock goes: [(location id, quantity), ...]."""

    row: dict[str, Any]
    stock: list[tuple[str, int]]


_Products = Iterator[tuple[dict[str, Any], list[_SkuPlan]]]


def _single_qty(rng: random.Random, shelf: int, cond: Condition) -> int:
    """Copies on hand: many cheap commons, one or two of the expensive cards, some sold out."""
    if rng.random() < 0.12:
        return 0
    if shelf >= 10_000:
        return 1
    if shelf >= 2_000:
        return rng.choice((1, 1, 1, 2))
    if shelf >= 300:
        return rng.randint(1, 4)
    qty = 1 + min(39, int(rng.expovariate(0.25)))
    return qty if cond is Condition.NM else max(1, qty // 3)


def _grade(rng: random.Random, grader: Grader, *, comic: bool) -> tuple[str, dict[str, str] | None]:
    if comic:
        return rng.choice(("9.8", "9.8", "9.6", "9.4", "9.2", "9.0", "8.5", "8.0", "6.0")), None
    if grader is Grader.PSA:
        return rng.choices(("10", "9", "8", "7", "6", "5"), weights=(35, 35, 15, 7, 5, 3))[0], None
    if grader is Grader.SGC:
        return rng.choices(("10", "9.5", "9", "8", "7"), weights=(25, 25, 30, 12, 8))[0], None
    if grader is Grader.CGC:
        return rng.choices(("10", "9.5", "9", "8.5", "8"), weights=(20, 30, 30, 10, 10))[0], None
    grade = rng.choices(("10", "9.5", "9", "8.5"), weights=(6, 44, 38, 12))[0]
    g = float(grade)
    subs = {}
    for part in ("centering", "corners", "edges", "surface"):
        value = min(10.0, max(7.0, g + rng.choice((-0.5, 0.0, 0.0, 0.5))))
        subs[part] = f"{value:g}"
    if grade == "10":
        subs = dict.fromkeys(subs, "10")
    return grade, subs


def _mtg_name(rng: random.Random) -> str:
    """Card names from word lists. Most draws land in patterns with 10^5-10^6 combinations,
    so a million-SKU catalog has hundreds of thousands of distinct names (plus natural
    reprints), which is what search benchmarks need."""
    pattern = rng.random()
    if pattern < 0.18:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(CREATURES)}"
    elif pattern < 0.36:
        name = f"{rng.choice(CREATURES)} of the {rng.choice(ADJECTIVES)} {rng.choice(PLACES)}"
    elif pattern < 0.56:
        title = rng.choice(
            (
                f"{rng.choice(ROLES)} of the {rng.choice(PLACES)}",
                f"the {rng.choice(ADJECTIVES)}",
                f"{rng.choice(ADJECTIVES)} {rng.choice(ROLES)}",
            )
        )
        name = f"{rng.choice(LEGENDS)}, {title}"
    elif pattern < 0.68:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(SPELL_NOUNS)}"
    elif pattern < 0.80:
        name = f"{rng.choice(LEGENDS)}'s {rng.choice(ADJECTIVES)} {rng.choice(SPELL_NOUNS)}"
    elif pattern < 0.88:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(LAND_NOUNS)}"
    elif pattern < 0.97:
        name = f"{rng.choice(SPELL_NOUNS)} of the {rng.choice(ADJECTIVES)} {rng.choice(PLACES)}"
    else:
        name = rng.choice(MTG_CLASSICS)
    return name


def _lorcana_name(rng: random.Random) -> str:
    version = f"{rng.choice(LORCANA_VERSIONS_A)} {rng.choice(LORCANA_VERSIONS_B)}"
    return f"{rng.choice(LORCANA_CHARACTERS)} - {version}"


def _pokemon_name(rng: random.Random, rarity: str) -> str:
    if rarity in ("Common", "Uncommon") and rng.random() < 0.22:
        return rng.choice(POKEMON_TRAINERS)
    name = rng.choice(POKEMON)
    roll = rng.random()
    if roll < 0.06:
        name = f"{rng.choice(POKEMON_REGIONS)} {name}"
    elif roll < 0.11:
        name = f"{rng.choice(POKEMON_OWNERS)} {name}"
    if rarity not in ("Common", "Uncommon", "Rare"):
        suffix = rng.choices(POKEMON_SUFFIXES, weights=POKEMON_SUFFIX_WEIGHTS)[0]
        name = f"{name} {suffix}"
    return name


def _yugioh_name(rng: random.Random) -> str:
    pattern = rng.random()
    if pattern < 0.12:
        name = f"{rng.choice(YGO_COLORS)}-Eyes {rng.choice(ADJECTIVES)} Dragon"
    elif pattern < 0.40:
        name = f"{rng.choice(YGO_ARCHETYPES)} {rng.choice(ADJECTIVES)} {rng.choice(YGO_MONSTERS)}"
    elif pattern < 0.62:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(YGO_MONSTERS)} of the {rng.choice(PLACES)}"
    elif pattern < 0.80:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(YGO_SPELLS)} of {rng.choice(YGO_ARCHETYPES)}"
    elif pattern < 0.82:
        name = f"Pot of {rng.choice(YGO_POTS)}"
    else:
        name = f"{rng.choice(YGO_ARCHETYPES)} {rng.choice(YGO_SPELLS)}"
    return name


def _sports_real_sets(sport: str) -> tuple[tuple[str, str, date, int], ...]:
    title = sport.capitalize()
    out = []
    for year, brand in VINTAGE_SPORTS_SETS[sport]:
        out.append((f"{year}-{_code_of(brand, 3)}", f"{year} {brand} {title}", date(year, 3, 1), 300))
    return tuple(out)


class _SportsSets:
    """Invented sports releases: each (year, brand) once, newest first; huge demos add later series."""

    def __init__(self, sport: str, brands: tuple[str, ...]) -> None:
        self.title = sport.capitalize()
        self.brands = brands
        self.queue: list[tuple[int, str]] = []
        self.round = 0

    def __call__(self, rng: random.Random) -> tuple[str, str, date, int]:
        if not self.queue:
            self.round += 1
            combos = [(year, brand) for year in range(2000, 2026) for brand in self.brands]
            rng.shuffle(combos)
            combos.sort(key=lambda c: rng.random() * 12 - c[0])  # roughly newest first
            self.queue = combos[::-1]
        year, brand = self.queue.pop()
        series = "" if self.round == 1 else f" Series {self.round}"
        code = f"{year}-{_code_of(brand, 3)}" + ("" if self.round == 1 else f"-S{self.round}")
        size = rng.choice((200, 250, 300, 330, 400))
        return code, f"{year} {brand}{series} {self.title}", date(year, rng.randint(1, 12), 1), size


def _invent_comic_series(rng: random.Random) -> tuple[str, str, date, int]:
    pattern = rng.randrange(5)
    hero = f"{rng.choice(HERO_PREFIX)}{rng.choice(HERO_SUFFIX)}"
    if pattern == 0:
        title = f"The {rng.choice(COMIC_ADJ)} {hero}"
    elif pattern == 1:
        title = f"{rng.choice(HERO_HONORIFIC)} {rng.choice(HERO_NOUNS)}"
    elif pattern == 2:
        title = f"The {rng.choice(COMIC_ADJ)} {rng.choice(COMIC_TEAMS)}"
    elif pattern == 3:
        title = f"{hero} & {rng.choice(HERO_HONORIFIC)} {rng.choice(HERO_NOUNS)}"
    else:
        title = hero
    year = rng.choice(
        (rng.randint(1963, 1984), rng.randint(1985, 2015), rng.randint(2016, 2025), rng.randint(2016, 2025))
    )
    issues = rng.randint(6, 24) if year >= 2016 else rng.randint(12, 120)
    code = f"{_code_of(title.removeprefix('The '), 3)}{year % 100:02d}"
    return code, f"{title} ({year})", date(year, rng.randint(1, 12), 1), issues


def _set_extra(info: _SetInfo, rng: random.Random) -> None:
    """Facts a set needs beyond code and name: derived the same way for real and invented sets."""
    if info.game_code in ("BASEBALL", "BASKETBALL", "FOOTBALL"):
        year_text, _sep, rest = info.name.partition(" ")
        year = int(year_text)
        info.extra = {"year": year, "brand": rest.rsplit(" ", 1)[0], "vintage": year < 2005}
    elif info.game_code == "COMICS":
        info.extra = {
            "publisher": rng.choice(PUBLISHERS),
            "writer": rng.choice(COMIC_WRITERS),
            "title": info.name.rsplit(" (", 1)[0],
        }


# =========================================================================== front of house


def _add_front_of_house(session: VaultSession, seed: int, skus: int, counts: dict[str, int]) -> None:
    """Stations, customers with store credit, and upcoming events: what a cashier sees first."""
    rng = random.Random(f"{seed}/front")
    now = utcnow().replace(microsecond=0)
    stations = [
        Station(
            name="Register 1",
            role=StationRole.CASHIER.value,
            receipt_prefix="T1",
            printer_uri="network://127.0.0.1:9100",
            has_drawer=True,
            settings={"scanner": "keyboard-wedge"},
        ),
        Station(
            name="Register 2",
            role=StationRole.CASHIER.value,
            receipt_prefix="T2",
            printer_uri="network://127.0.0.1:9101",
            has_drawer=True,
            settings={"scanner": "hid"},
        ),
        Station(
            name="Price Check",
            role=StationRole.KIOSK.value,
            receipt_prefix="K1",
            printer_uri=None,
            has_drawer=False,
            settings={"idle_seconds": 60},
        ),
        Station(
            name="Back Office",
            role=StationRole.MANAGER.value,
            receipt_prefix="M1",
            printer_uri="network://127.0.0.1:9102",
            has_drawer=False,
            settings={},
        ),
    ]
    session.add_all(stations)
    counts["stations"] = len(stations)

    customers = _customers(rng, min(5_000, 150 + skus // 1_000), now)
    bulk_insert(session, Customer, customers)
    counts["customers"] = len(customers)
    credits: list[dict[str, Any]] = []
    for cust in customers:
        if rng.random() >= 0.25:
            continue
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.75:  # traded cards in at the buylist counter, took credit
                reason, delta, note = CreditReason.BUYLIST, rng.randint(2, 50) * 500, "Buylist trade-in"
            else:
                reason, delta, note = (
                    CreditReason.ADJUSTMENT,
                    rng.choice((500, 1000, 1500)),
                    rng.choice(("Birthday credit", "Loyalty reward", "Goodwill: damaged sleeve")),
                )
            credits.append(
                {
                    "customer_id": cust["id"],
                    "delta_cents": delta,
                    "reason": reason.value,
                    "ref_type": "demo",
                    "note": note,
                    "created_at": now - timedelta(days=rng.randint(1, 120)),
                }
            )
    bulk_insert(session, CreditEntry, credits)
    counts["credit_entries"] = len(credits)

    game_ids = {code: game_id for code, game_id in session.execute(select(Game.code, Game.id))}
    events = [Event(**e) for e in _events(rng, now, game_ids)]
    session.add_all(events)
    counts["events"] = len(events)
    session.flush()


def _customers(rng: random.Random, n: int, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        first, last = rng.choice(GIVEN_NAMES), rng.choice(LAST_NAMES)
        handle = _ascii(f"{first}.{last}").lower().replace(" ", "").replace("'", "")
        email = None
        if rng.random() < 0.85:
            email = f"{handle}{i if rng.random() < 0.5 else ''}@{rng.choice(EMAIL_DOMAINS)}"
        phone = f"({rng.choice(AREA_CODES)}) 555-{100 + i:04d}" if rng.random() < 0.7 else None
        row: dict[str, Any] = {
            "id": new_id(),
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone,
            "marketing_opt_in": rng.random() < 0.4,
            "tax_exempt": False,
            "created_at": now,
            "updated_at": now,
        }
        if rng.random() < 0.2:  # sold us cards: ID captured for buylist compliance
            row.update(
                id_type="drivers_license",
                id_number=f"OR{rng.randint(1000000, 9999999)}",
                id_captured_at=now - timedelta(days=rng.randint(1, 400)),
                date_of_birth=date(rng.randint(1960, 2005), rng.randint(1, 12), rng.randint(1, 28)),
            )
        if i % 60 == 7:  # resellers with a resale certificate on file
            row.update(
                tax_exempt=True,
                tax_exempt_ref=f"RESALE-OR-{rng.randint(100000, 999999)}",
                notes="Dealer: resale certificate on file, renew every January.",
            )
        elif rng.random() < 0.05:
            row["notes"] = rng.choice(CUSTOMER_NOTES)
        rows.append(row)
    return rows


def _events(rng: random.Random, now: datetime, game_ids: dict[str, str]) -> list[dict[str, Any]]:
    local = now.astimezone(SHOP_TZ)

    def next_weekday(weekday: int, hour: int) -> datetime:
        """The next such weekday at ``hour`` shop time (events are planned in local time)."""
        days = (weekday - local.weekday()) % 7 or 7
        when = (local + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
        return when.astimezone(UTC)

    friday = next_weekday(4, 18)
    specs = [
        ("MTG", "Friday Night Magic", "Standard", friday, 24, 500, {"1": 2000, "2": 1200, "3-4": 600}),
        (
            "MTG",
            "Friday Night Magic",
            "Standard",
            friday + timedelta(days=7),
            24,
            500,
            {"1": 2000, "2": 1200, "3-4": 600},
        ),
        ("MTG", "Commander Night", "Commander", next_weekday(2, 18), 32, 500, {"best-deck": 1000}),
        (
            "MTG",
            "Prerelease: Foundations",
            "Sealed",
            next_weekday(5, 10) + timedelta(days=7),
            40,
            3000,
            {"1": 6000, "2": 4000, "3-4": 2000, "5-8": 1000},
        ),
        ("PKM", "Pokémon League", "Standard", next_weekday(6, 13), 40, 0, {}),
        (
            "PKM",
            "Pokémon League Challenge",
            "Standard",
            next_weekday(5, 11),
            32,
            1000,
            {"1": 3000, "2": 2000, "3-4": 1000},
        ),
        (
            "LOR",
            "Lorcana Challenge",
            "Core Constructed",
            next_weekday(3, 18),
            32,
            1000,
            {"1": 4000, "2": 2500, "3-4": 1200},
        ),
        (
            "YGO",
            "Yu-Gi-Oh! Locals (OTS)",
            "Advanced",
            next_weekday(1, 18),
            24,
            500,
            {"1": 2500, "2": 1500, "3-4": 750},
        ),
    ]
    return [
        {
            "game_id": game_ids.get(code),
            "name": name,
            "format": fmt,
            "starts_at": when,
            "capacity": cap,
            "fee_cents": fee,
            "prize_structure": prizes,
            "status": EventStatus.SCHEDULED.value,
            "notes": "Prizes paid as store credit." if prizes else "Casual play, promos while they last.",
        }
        for code, name, fmt, when, cap, fee, prizes in specs
    ]
