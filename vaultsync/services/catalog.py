"""Catalog management: games, sets, products, SKUs and the location tree.

The rules a shop relies on live here, so the manager screen, the REST API and the CSV
import all enforce them the same way:

* a single has a condition on the NM/LP/MP/HP/DMG ladder; a graded slab has a grader, a grade
  and a certificate number instead, and is serialized (exactly one exists); a one-off is
  serialized too; sealed product, bulk and supplies need no condition;
* a certificate number belongs to one slab. A second slab with the same cert number is refused
  and the attempt is recorded in the audit trail as ``catalog.cert_duplicate`` — two slabs
  claiming one certificate is how a counterfeit slab shows up at the buy counter;
* barcodes that look like EAN-13 / UPC-A / EAN-8 must carry a correct check digit (a mistyped
  UPC would otherwise scan as some other product); anything else must be printable ASCII that
  Code128 can encode;
* prices and costs are integer cents from 0 to ``MAX_CENTS``.

Shelf-price edits made here are also written to the price history (``price_updates``, source
``manual``), so the pricing screens see every change whichever screen made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import Condition, Finish, Grader, ProductKind, Role
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.domain.money import MAX_CENTS
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.inventory import location_paths
from vaultsync.store import Store
from vaultsync.store.models import CardSet, Game, Location, PriceUpdate, Product, Sku, StockLevel

GAME_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
SET_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,23}$")
SKU_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,63}$")
LANG_RE = re.compile(r"^[A-Z]{2,3}$")
GRADE_RE = re.compile(r"^(10|[1-9](\.5)?|A|AUTH)$")
CERT_RE = re.compile(r"^[A-Za-z0-9-]{4,32}$")
_CODE128_OK = re.compile(r"^[\x20-\x7e]{1,32}$")
MAX_NAME = 200
LOCATION_KINDS = ("store", "case", "binder", "row", "box", "shelf", "slot", "backroom", "event")

#: kinds that are one physical item per SKU
SERIALIZED_KINDS = {ProductKind.GRADED.value, ProductKind.ONE_OFF.value}
#: kinds that must say their condition
CONDITIONED_KINDS = {ProductKind.SINGLE.value}
#: kinds that may carry a grading company's slab
GRADABLE_KINDS = {ProductKind.GRADED.value, ProductKind.COMIC.value, ProductKind.ONE_OFF.value}


# ---------------------------------------------------------------------- barcodes


def gtin_check_digit(body: str) -> int:
    """GS1 check digit of the digits before it (EAN-8, UPC-A, EAN-13 all use this rule)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    return code.isdigit() and len(code) in (8, 12, 13, 14) and gtin_check_digit(code[:-1]) == int(code[-1])


def check_barcode(code: str | None) -> str | None:
    """Validate a barcode as entered; None/blank clears it."""
    code = (code or "").strip()
    if not code:
        return None
    if code.isdigit() and len(code) in (8, 12, 13, 14):
        if not is_valid_gtin(code):
            raise ValidationError(
                f"barcode {code} has a wrong check digit (expected {gtin_check_digit(code[:-1])} at the end)"
            )
        return code
    if not _CODE128_OK.match(code):
        raise ValidationError("a barcode is up to 32 printable characters (letters, digits, - . / etc.)")
    return code


# ---------------------------------------------------------------------- inputs and views


@dataclass(frozen=True)
class ProductInput:
    game_code: str
    name: str
    kind: str = ProductKind.SINGLE.value
    set_code: str | None = None
    collector_number: str | None = None
    rarity: str | None = None
    language: str = "EN"
    image_path: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkuInput:
    product_id: str
    condition: str | None = None
    finish: str = Finish.NORMAL.value
    language: str | None = None  # None: the product's
    grader: str | None = None
    grade: str | None = None
    sub_grades: dict[str, str] | None = None
    cert_number: str | None = None
    barcode: str | None = None
    sku_code: str | None = None  # None: generated from game, set, number, condition, finish
    unit_size: int = 1
    shelf_price_cents: int = 0
    cost_basis_cents: int | None = None
    notes: str | None = None


#: SKU fields an edit may change (kind-dependent rules are re-checked after the change)
SKU_EDITABLE = (
    "condition",
    "finish",
    "language",
    "grader",
    "grade",
    "sub_grades",
    "cert_number",
    "barcode",
    "unit_size",
    "shelf_price_cents",
    "cost_basis_cents",
    "notes",
    "is_active",
)
PRODUCT_EDITABLE = ("name", "set_code", "collector_number", "rarity", "language", "image_path", "is_active")


@dataclass(frozen=True)
class LocationView:
    id: str
    name: str
    kind: str
    code: str | None
    parent_id: str | None
    path: str
    depth: int


@dataclass(frozen=True)
class SetView:
    id: str
    game_code: str
    code: str
    name: str


class DuplicateCertError(ConflictError):
    """A slab with this certificate number already exists (flagged as possible fraud)."""


# ---------------------------------------------------------------------- look-ups used elsewhere


def find_sku_by_code(s: Session, code: str) -> str | None:
    """SKU id for a scanned or typed SKU code, certificate number or barcode."""
    code = (code or "").strip()
    if not code or len(code) > 64:
        return None
    found = s.scalar(select(Sku.id).where(Sku.sku_code.in_({code, code.upper()})).limit(1))
    if found:
        return found
    found = s.scalar(select(Sku.id).where(Sku.cert_number == code))
    if found:
        return found
    on_hand = (
        select(func.coalesce(func.sum(StockLevel.on_hand), 0))
        .where(StockLevel.sku_id == Sku.id)
        .scalar_subquery()
    )
    return s.scalar(select(Sku.id).where(Sku.barcode == code).order_by(on_hand.desc()).limit(1))


def _clean(text: str | None, what: str, limit: int, *, required: bool = False) -> str | None:
    value = (text or "").strip()
    if required and not value:
        raise ValidationError(f"{what} is required")
    if len(value) > limit:
        raise ValidationError(f"{what} is limited to {limit} characters")
    if any(ord(ch) < 32 for ch in value):
        raise ValidationError(f"{what} contains control characters")
    return value or None


def _cents(value: int | None, what: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be a whole number of cents")
    if value < 0:
        raise ValidationError(f"{what} cannot be negative")
    if value > MAX_CENTS:
        raise ValidationError(f"{what} is too large (at most {MAX_CENTS // 100:,})")
    return value


def _slug(text: str | None) -> str:
    return re.sub(r"[^A-Z0-9]+", "", (text or "").upper())


def suggest_sku_code(
    game_code: str, set_code: str | None, number: str | None, name: str, sku: SkuInput | Sku
) -> str:
    """A readable SKU code: MTG-DMU-107-NM-F, PKM-BS-4-PSA10, MTG-SHEOLDREDTHEA-NM."""
    parts = [_slug(game_code)[:8] or "X"]
    if set_code:
        parts.append(_slug(set_code)[:10])
    parts.append(_slug(number)[:10] if number else _slug(name)[:12] or "ITEM")
    if sku.grader:
        parts.append(f"{sku.grader}{_slug(sku.grade)}")
    elif sku.condition:
        parts.append(sku.condition)
    if sku.finish and sku.finish != Finish.NORMAL.value:
        parts.append(sku.finish[0].upper())
    if sku.language and sku.language != "EN":
        parts.append(sku.language)
    return "-".join(p for p in parts if p)


# ---------------------------------------------------------------------- service


class CatalogService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, code: str) -> str:
        """The SKU id for a scanned or typed barcode, SKU code or certificate number."""
        with self.store.read() as s:
            sku_id = find_sku_by_code(s, code)
        if sku_id is None:
            raise NotFoundError(f"no item with code {(code or '').strip()!r}")
        return sku_id

    # ------------------------------------------------------------------ games and sets

    def create_game(self, code: str, name: str, *, actor: UserView, tax_category: str = "standard") -> str:
        require_role(actor, Role.MANAGER)
        code = (code or "").strip()
        if not GAME_CODE_RE.match(code):
            raise ValidationError("a game code is 1-16 letters, digits, '-' or '_' (e.g. MTG)")
        label = _clean(name, "a game's name", 80, required=True)
        with self.store.uow() as uow:
            s = uow.session
            if s.scalar(select(Game.id).where(func.upper(Game.code) == code.upper())):
                raise ConflictError(f"game {code} already exists")
            game = Game(code=code, name=label, tax_category=tax_category)
            s.add(game)
            s.flush()
            audit.record(s, "catalog.game_create", user_id=actor.id, entity_type="game", entity_id=game.id)
            return game.id

    def create_set(
        self, game_code: str, code: str, name: str, *, actor: UserView, released_on: date | None = None
    ) -> str:
        require_role(actor, Role.MANAGER)
        code = (code or "").strip()
        if not SET_CODE_RE.match(code):
            raise ValidationError("a set code is 1-24 letters, digits, spaces, '.', '-' or '_' (e.g. DMU)")
        label = _clean(name, "a set's name", 120, required=True)
        with self.store.uow() as uow:
            s = uow.session
            game = self._game(s, game_code)
            if self._set(s, game.id, code) is not None:
                raise ConflictError(f"set {code} of {game.name} already exists")
            card_set = CardSet(game_id=game.id, code=code, name=label, released_on=released_on)
            s.add(card_set)
            s.flush()
            audit.record(
                s, "catalog.set_create", user_id=actor.id, entity_type="card_set", entity_id=card_set.id
            )
            return card_set.id

    def sets(self, game_code: str | None = None) -> list[SetView]:
        stmt = (
            select(CardSet, Game.code)
            .join(Game, Game.id == CardSet.game_id)
            .order_by(Game.code, CardSet.code)
        )
        if game_code:
            stmt = stmt.where(func.upper(Game.code) == game_code.upper())
        with self.store.read() as s:
            return [SetView(cs.id, gc, cs.code, cs.name) for cs, gc in s.execute(stmt)]

    @staticmethod
    def _game(s: Session, code: str) -> Game:
        game = s.scalar(select(Game).where(func.upper(Game.code) == (code or "").strip().upper()))
        if game is None:
            raise NotFoundError(f"unknown game {code!r}")
        return game

    @staticmethod
    def _set(s: Session, game_id: str, code: str) -> CardSet | None:
        return s.scalar(
            select(CardSet).where(
                CardSet.game_id == game_id, func.upper(CardSet.code) == (code or "").strip().upper()
            )
        )

    # ------------------------------------------------------------------ products

    def create_product(self, data: ProductInput, *, actor: UserView) -> str:
        require_role(actor, Role.MANAGER)
        with self.store.uow() as uow:
            product = self.add_product(uow.session, data)
            audit.record(
                uow.session,
                "catalog.product_create",
                user_id=actor.id,
                entity_type="product",
                entity_id=product.id,
                after={"name": product.name, "kind": product.kind},
            )
            return product.id

    def add_product(self, s: Session, data: ProductInput) -> Product:
        """Validate and add a product inside the caller's unit of work (also used by the import)."""
        kind = data.kind
        if kind not in {k.value for k in ProductKind}:
            raise ValidationError(f"unknown product kind {kind!r}")
        name = _clean(data.name, "a product name", MAX_NAME, required=True)
        game = self._game(s, data.game_code)
        set_id = None
        if data.set_code and data.set_code.strip():
            card_set = self._set(s, game.id, data.set_code)
            if card_set is None:
                raise NotFoundError(f"unknown set code {data.set_code.strip()!r} for {game.name}")
            set_id = card_set.id
        language = (data.language or "EN").strip().upper()
        if not LANG_RE.match(language):
            raise ValidationError("a language is a 2-3 letter code (EN, JP, DE...)")
        product = Product(
            game_id=game.id,
            set_id=set_id,
            kind=kind,
            name=name,
            collector_number=_clean(data.collector_number, "a collector number", 24),
            rarity=_clean(data.rarity, "a rarity", 24),
            language=language,
            image_path=_clean(data.image_path, "an image path", 400),
            attributes=dict(data.attributes or {}),
        )
        s.add(product)
        s.flush()
        return product

    def update_product(self, product_id: str, changes: dict[str, Any], *, actor: UserView) -> None:
        require_role(actor, Role.MANAGER)
        unknown = set(changes) - set(PRODUCT_EDITABLE)
        if unknown:
            raise ValidationError(f"cannot edit {', '.join(sorted(unknown))} of a product")
        with self.store.uow() as uow:
            s = uow.session
            product = s.get(Product, product_id)
            if product is None:
                raise NotFoundError("no such product")
            before = {k: getattr(product, k, None) for k in changes if k != "set_code"}
            for key, value in changes.items():
                if key == "name":
                    product.name = _clean(value, "a product name", MAX_NAME, required=True) or product.name
                elif key == "set_code":
                    if value:
                        card_set = self._set(s, product.game_id, value)
                        if card_set is None:
                            raise NotFoundError(f"unknown set code {value!r}")
                        product.set_id = card_set.id
                    else:
                        product.set_id = None
                elif key == "language":
                    lang = (value or "EN").strip().upper()
                    if not LANG_RE.match(lang):
                        raise ValidationError("a language is a 2-3 letter code (EN, JP, DE...)")
                    product.language = lang
                elif key == "is_active":
                    product.is_active = bool(value)
                else:
                    limit = 400 if key == "image_path" else 24
                    setattr(product, key, _clean(value, key.replace("_", " "), limit))
            audit.record(
                s,
                "catalog.product_edit",
                user_id=actor.id,
                entity_type="product",
                entity_id=product_id,
                before=before,
                after={k: v for k, v in changes.items()},
            )

    # ------------------------------------------------------------------ SKUs

    def create_sku(self, data: SkuInput, *, actor: UserView) -> str:
        """Add a SKU; a duplicate certificate number is refused and flagged (see module doc)."""
        require_role(actor, Role.MANAGER)
        try:
            with self.store.uow() as uow:
                sku = self.add_sku(uow.session, data)
                audit.record(
                    uow.session,
                    "catalog.sku_create",
                    user_id=actor.id,
                    entity_type="sku",
                    entity_id=sku.id,
                    after={"sku_code": sku.sku_code, "cert_number": sku.cert_number},
                )
                return sku.id
        except DuplicateCertError:
            self.flag_duplicate_cert(data.cert_number or "", actor=actor, source="catalog")
            raise

    def create_item(self, product: ProductInput, sku: SkuInput, *, actor: UserView) -> str:
        """A new product with its first SKU, in one unit of work (both or neither); the SKU id."""
        require_role(actor, Role.MANAGER)
        try:
            with self.store.uow() as uow:
                s = uow.session
                new_product = self.add_product(s, product)
                new_sku = self.add_sku(s, replace(sku, product_id=new_product.id), product=new_product)
                audit.record(
                    s,
                    "catalog.sku_create",
                    user_id=actor.id,
                    entity_type="sku",
                    entity_id=new_sku.id,
                    after={
                        "sku_code": new_sku.sku_code,
                        "product": new_product.name,
                        "cert_number": sku.cert_number,
                    },
                )
                return new_sku.id
        except DuplicateCertError:
            self.flag_duplicate_cert(sku.cert_number or "", actor=actor, source="catalog")
            raise

    def flag_duplicate_cert(self, cert: str, *, actor: UserView | None, source: str) -> None:
        """Record a refused duplicate certificate number for managers to look into."""
        with self.store.uow() as uow:
            existing = uow.session.scalar(select(Sku).where(Sku.cert_number == cert.strip()))
            audit.record(
                uow.session,
                "catalog.cert_duplicate",
                user_id=actor.id if actor else None,
                entity_type="sku",
                entity_id=existing.id if existing else None,
                after={
                    "cert_number": cert.strip(),
                    "existing_sku": existing.sku_code if existing else None,
                    "source": source,
                    "flag": "possible fraud",
                },
            )

    def add_sku(self, s: Session, data: SkuInput, *, product: Product | None = None) -> Sku:
        """Validate and add a SKU inside the caller's unit of work (also used by the import)."""
        product = product or s.get(Product, data.product_id)
        if product is None:
            raise NotFoundError("no such product")
        data = replace(data, language=data.language or product.language)
        values = self._validated_sku(s, product, data, sku_id=None)
        code = data.sku_code
        if code:
            code = code.strip().upper()
            if not SKU_CODE_RE.match(code):
                raise ValidationError(
                    "a SKU code is up to 64 upper-case letters, digits, '-', '.', '/' or '_'"
                )
            if s.scalar(select(Sku.id).where(Sku.sku_code == code)):
                raise ConflictError(f"SKU code {code} is already used")
        else:
            normalized = replace(
                data,
                condition=values["condition"],
                finish=values["finish"],
                language=values["language"],
                grader=values["grader"],
                grade=values["grade"],
            )
            code = self._free_code(s, product, normalized)
        sku = Sku(product_id=product.id, sku_code=code, **values)
        s.add(sku)
        s.flush()
        return sku

    def _free_code(self, s: Session, product: Product, data: SkuInput) -> str:
        game_code = s.scalar(select(Game.code).where(Game.id == product.game_id)) or "X"
        set_code = (
            s.scalar(select(CardSet.code).where(CardSet.id == product.set_id)) if product.set_id else None
        )
        base = suggest_sku_code(game_code, set_code, product.collector_number, product.name, data)
        code, n = base, 1
        while s.scalar(select(Sku.id).where(Sku.sku_code == code)):
            n += 1
            code = f"{base}-{n}"
        return code

    def _validated_sku(
        self, s: Session, product: Product, data: SkuInput, *, sku_id: str | None
    ) -> dict[str, Any]:
        values = self.check_sku(product, data)
        cert = values["cert_number"]
        if cert is not None:
            other = s.scalar(select(Sku.id).where(Sku.cert_number == cert))
            if other is not None and other != sku_id:
                raise DuplicateCertError(
                    f"certificate {cert} is already on another slab in the catalog — refused and flagged "
                    "for a manager as possible fraud (check both slabs)"
                )
        return values

    @staticmethod
    def check_sku(product: Product, data: SkuInput) -> dict[str, Any]:
        """The SKU's column values after every rule that needs no database (see the module doc)."""
        kind = product.kind
        condition = (data.condition or "").strip().upper() or None
        if condition is not None and condition not in Condition.__members__:
            raise ValidationError(f"condition must be one of {', '.join(c.value for c in Condition)}")
        finish = (data.finish or Finish.NORMAL.value).strip().lower()
        if finish not in {f.value for f in Finish}:
            raise ValidationError(f"finish must be one of {', '.join(f.value for f in Finish)}")
        language = (data.language or "EN").strip().upper()
        if not LANG_RE.match(language):
            raise ValidationError("a language is a 2-3 letter code (EN, JP, DE...)")
        grader = (data.grader or "").strip().upper() or None
        grade = (data.grade or "").strip().upper() or None
        cert = (data.cert_number or "").strip() or None
        if grader is not None:
            if grader not in Grader.__members__:
                raise ValidationError(f"grader must be one of {', '.join(g.value for g in Grader)}")
            if kind not in GRADABLE_KINDS:
                raise ValidationError(f"a {kind.replace('_', ' ')} product cannot be a graded slab")
        if kind == ProductKind.GRADED.value and not (grader and grade and cert):
            raise ValidationError("a graded slab needs its grader, grade and certificate number")
        if grade is not None and not GRADE_RE.match(grade):
            raise ValidationError("a grade is 1-10 in half steps (e.g. 9.5), or A/AUTH for authentic")
        if (grade or cert) and grader is None:
            raise ValidationError("a grade or certificate number needs the grading company")
        if cert is not None and not CERT_RE.match(cert):
            raise ValidationError("a certificate number is 4-32 letters, digits or '-'")
        sub_grades = None
        if data.sub_grades:
            if grader is None:
                raise ValidationError("sub-grades need a grading company")
            sub_grades = {}
            for key, value in data.sub_grades.items():
                k, v = str(key).strip().lower(), str(value).strip().upper()
                if not k or len(k) > 16 or not GRADE_RE.match(v):
                    raise ValidationError(f"sub-grade {key}={value} is not valid (e.g. centering=9.5)")
                sub_grades[k] = v
        if kind in CONDITIONED_KINDS and condition is None and grader is None:
            raise ValidationError("a single needs its condition (NM, LP, MP, HP or DMG)")
        if grader is not None:
            condition = None  # a slab's grade replaces the condition ladder
        unit_size = data.unit_size
        if isinstance(unit_size, bool) or not isinstance(unit_size, int) or not 1 <= unit_size <= 100_000:
            raise ValidationError("a unit size is a whole number from 1 to 100,000")
        return {
            "condition": condition,
            "finish": finish,
            "language": language,
            "grader": grader,
            "grade": grade,
            "sub_grades": sub_grades,
            "cert_number": cert,
            "barcode": check_barcode(data.barcode),
            "serialized": kind in SERIALIZED_KINDS,
            "unit_size": unit_size,
            "shelf_price_cents": _cents(data.shelf_price_cents, "a price"),
            "cost_basis_cents": _cents(data.cost_basis_cents, "a cost", optional=True),
            "notes": _clean(data.notes, "a note", 2000),
        }

    def update_sku(self, sku_id: str, changes: dict[str, Any], *, actor: UserView) -> None:
        """Edit a SKU; the same rules as creating one apply to the result."""
        require_role(actor, Role.MANAGER)
        unknown = set(changes) - set(SKU_EDITABLE)
        if unknown:
            raise ValidationError(f"cannot edit {', '.join(sorted(unknown))} of a SKU")
        try:
            with self.store.uow() as uow:
                s = uow.session
                sku = s.get(Sku, sku_id)
                if sku is None:
                    raise NotFoundError("no such SKU")
                product = s.get(Product, sku.product_id)
                assert product is not None
                current = {f.name: getattr(sku, f.name) for f in fields(SkuInput) if hasattr(sku, f.name)}
                current.pop("sku_code", None)
                current.pop("product_id", None)
                merged = {**current, **{k: v for k, v in changes.items() if k != "is_active"}}
                if "barcode" not in changes:
                    merged["barcode"] = None  # an unchanged (possibly legacy) barcode is not re-judged
                values = self._validated_sku(
                    s, product, SkuInput(product_id=product.id, **merged), sku_id=sku.id
                )
                before = {k: getattr(sku, k) for k in changes}
                old_price = sku.shelf_price_cents
                for key, value in changes.items():
                    if key == "is_active":
                        sku.is_active = bool(value)
                    else:
                        setattr(sku, key, values[key])
                if sku.shelf_price_cents != old_price:
                    s.add(
                        PriceUpdate(
                            sku_id=sku.id,
                            source="manual",
                            field="shelf",
                            old_cents=old_price,
                            new_cents=sku.shelf_price_cents,
                            user_id=actor.id,
                        )
                    )
                audit.record(
                    s,
                    "catalog.sku_edit",
                    user_id=actor.id,
                    entity_type="sku",
                    entity_id=sku.id,
                    before=before,
                    after={k: getattr(sku, k) for k in changes},
                )
        except DuplicateCertError:
            self.flag_duplicate_cert(str(changes.get("cert_number") or ""), actor=actor, source="edit")
            raise

    # ------------------------------------------------------------------ locations

    def create_location(
        self, name: str, kind: str, *, actor: UserView, parent_id: str | None = None, code: str | None = None
    ) -> str:
        require_role(actor, Role.MANAGER)
        label = _clean(name, "a location name", 80, required=True)
        if kind not in LOCATION_KINDS:
            raise ValidationError(f"a location kind is one of: {', '.join(LOCATION_KINDS)}")
        with self.store.uow() as uow:
            s = uow.session
            if parent_id is not None:
                parent = s.get(Location, parent_id)
                if parent is None or not parent.is_active:
                    raise NotFoundError("no such parent location")
            same_parent = (
                Location.parent_id.is_(None) if parent_id is None else Location.parent_id == parent_id
            )
            siblings = s.scalars(select(Location.name).where(same_parent, Location.is_active.is_(True)))
            if any(n.lower() == (label or "").lower() for n in siblings):
                raise ConflictError(f"there is already a {label} there")
            loc = Location(
                parent_id=parent_id, kind=kind, name=label, code=_clean(code, "a location code", 24)
            )
            s.add(loc)
            s.flush()
            audit.record(s, "location.create", user_id=actor.id, entity_type="location", entity_id=loc.id)
            return loc.id

    def locations(self) -> list[LocationView]:
        """Every active location in tree order, with its full path."""
        with self.store.read() as s:
            rows = list(s.scalars(select(Location).where(Location.is_active.is_(True))))
            paths = location_paths(s)
        children: dict[str | None, list[Location]] = {}
        ids = {r.id for r in rows}
        for r in rows:
            children.setdefault(r.parent_id if r.parent_id in ids else None, []).append(r)
        out: list[LocationView] = []

        def walk(parent: str | None, depth: int) -> None:
            for loc in sorted(children.get(parent, []), key=lambda x: (x.sort_order, x.name)):
                out.append(
                    LocationView(loc.id, loc.name, loc.kind, loc.code, loc.parent_id, paths[loc.id], depth)
                )
                if depth < 32:
                    walk(loc.id, depth + 1)

        walk(None, 0)
        return out
