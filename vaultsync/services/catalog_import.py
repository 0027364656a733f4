"""Bulk import of catalog and stock from CSV: preview first, then all-or-nothing.

One row is one SKU (and, with a quantity, its stock at a location). Columns, by header name
(case-insensitive, order free; unknown columns are reported, not guessed at):

    game, name, kind, set_code, collector_number, rarity, language, condition, finish,
    grader, grade, sub_grades ("centering=9.5;corners=9"), cert_number, barcode, sku_code,
    price, cost, quantity, location

A row whose ``sku_code`` already exists adds stock (and updates the price if one is given);
otherwise it creates the SKU, and the product too unless one with the same game, set, number
and name exists (or was created by an earlier row of the same file).

The import runs in two phases. **Plan**: every row is parsed and checked against the database
and against the rows before it (duplicate SKU codes or certificate numbers within the file, a
set code the game does not have, a negative cost, a price that does not fit, a malformed line)
without writing anything; the result is the preview and per-row error report. **Apply**: only if
asked, in ONE unit of work — so an import is all-or-nothing, unless the manager explicitly
chooses to import only the valid rows. A duplicate certificate number is also flagged in the
audit trail as possible fraud, as it is when a SKU is created by hand.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import MovementReason, ProductKind, Role
from vaultsync.domain.errors import ValidationError, VaultSyncError
from vaultsync.domain.ids import new_id
from vaultsync.domain.money import MoneyError, parse_cents
from vaultsync.pricing.csv_formats import looks_like_html
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.catalog import (
    LANG_RE,
    MAX_NAME,
    SKU_CODE_RE,
    CatalogService,
    ProductInput,
    SkuInput,
    _clean,
    suggest_sku_code,
)
from vaultsync.services.inventory import location_paths
from vaultsync.services.stock_ops import MAX_UNITS, weighted_average_cost
from vaultsync.store import Store, capture
from vaultsync.store.models import (
    CardSet,
    Game,
    Location,
    PriceUpdate,
    Product,
    Sku,
    StockLevel,
    StockMovement,
)
from vaultsync.store.types import utcnow

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 500_000
MAX_ERRORS_REPORTED = 1_000

COLUMNS = (
    "game",
    "name",
    "kind",
    "set_code",
    "collector_number",
    "rarity",
    "language",
    "condition",
    "finish",
    "grader",
    "grade",
    "sub_grades",
    "cert_number",
    "barcode",
    "sku_code",
    "price",
    "cost",
    "quantity",
    "location",
)
TEMPLATE_HEADER = ",".join(COLUMNS)


@dataclass(frozen=True)
class RowError:
    row: int  # line number in the file (the header is line 1)
    column: str | None
    message: str


@dataclass
class _Plan:
    row: int
    existing_sku_id: str | None
    product_key: tuple[str, str | None, str, str] | None
    product: ProductInput | None
    sku: SkuInput | None
    price_cents: int | None
    cost_cents: int | None
    quantity: int
    location_id: str | None
    #: new SKUs: the checked column values (code included) and the product's columns
    sku_values: dict[str, Any] | None = None
    product_values: dict[str, Any] | None = None


@dataclass
class ImportReport:
    rows: int
    valid_rows: int
    errors: list[RowError]
    products_created: int = 0
    skus_created: int = 0
    skus_updated: int = 0
    units_received: int = 0
    dry_run: bool = True
    committed: bool = False
    #: errors beyond MAX_ERRORS_REPORTED are counted, not listed
    more_errors: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors}) + self.more_errors


def _rows(data: bytes | str) -> tuple[list[str], Iterable[tuple[int, list[str]]]]:
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ValidationError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("the file is not UTF-8 text (save it as 'CSV UTF-8')") from None
    else:
        text = data
    if "\x00" in text:
        raise ValidationError("the file contains NUL bytes: it is not a CSV file")
    if looks_like_html(text[:1024]):
        raise ValidationError("the file is a web page (HTML), not a CSV export: nothing was imported")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("the file is empty") from None
    except csv.Error as exc:
        raise ValidationError(f"the header line is not valid CSV: {exc}") from None
    names = [h.strip().lower().replace(" ", "_") for h in header]

    def body() -> Iterable[tuple[int, list[str]]]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, [f"\x00{exc}"]
                continue
            yield reader.line_num, values

    return names, body()


class _Lookups:
    """Database facts the plan checks against, read once per import."""

    def __init__(self, s: Session) -> None:
        self.games = {code.upper(): gid for gid, code in s.execute(select(Game.id, Game.code))}
        self.game_codes = {gid: code for gid, code in s.execute(select(Game.id, Game.code))}
        self.sets: dict[tuple[str, str], str] = {}
        self.set_codes: dict[str, str] = {}
        for sid, gid, code in s.execute(select(CardSet.id, CardSet.game_id, CardSet.code)):
            self.sets[(gid, code.upper())] = sid
            self.set_codes[sid] = code
        self.sku_codes: dict[str, str] = {code: sid for code, sid in s.execute(select(Sku.sku_code, Sku.id))}
        self.certs: set[str] = set(s.scalars(select(Sku.cert_number).where(Sku.cert_number.is_not(None))))
        self.serialized = set(s.scalars(select(Sku.id).where(Sku.serialized.is_(True))))
        self.in_stock_serialized = set(
            s.scalars(
                select(StockLevel.sku_id)
                .join(Sku, Sku.id == StockLevel.sku_id)
                .where(Sku.serialized.is_(True))
                .group_by(StockLevel.sku_id)
                .having(func.sum(StockLevel.on_hand) > 0)
            )
        )
        self.locations = self._locations(s)
        self.products = {
            (gid, sid, (num or "").upper(), name.lower()): pid
            for pid, gid, sid, num, name in s.execute(
                select(Product.id, Product.game_id, Product.set_id, Product.collector_number, Product.name)
            )
        }

    @staticmethod
    def _locations(s: Session) -> dict[str, str | None]:
        """Path, code or name (lower case) -> location id; None where a name is ambiguous."""
        out: dict[str, str | None] = {}
        paths = location_paths(s)
        for loc_id, name, code in s.execute(
            select(Location.id, Location.name, Location.code).where(Location.is_active.is_(True))
        ):
            out[paths[loc_id].lower()] = loc_id
            for key in (name.lower(), (code or "").lower()):
                if key and key not in (paths[loc_id].lower(),):
                    out[key] = loc_id if key not in out or out[key] == loc_id else None
        return out

    def location(self, text: str) -> str | None:
        key = " › ".join(p.strip() for p in text.replace(">", "›").replace("/", "›").split("›")).lower()
        return self.locations.get(key)


class CatalogImportService:
    def __init__(self, store: Store, catalog: CatalogService) -> None:
        self.store = store
        self.catalog = catalog

    def run(
        self,
        data: bytes | str,
        *,
        actor: UserView,
        dry_run: bool = True,
        only_valid: bool = False,
        default_location_id: str | None = None,
    ) -> ImportReport:
        """Check (and unless ``dry_run``, import) a CSV file; see the module doc."""
        require_role(actor, Role.MANAGER)
        names, rows = _rows(data)
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise ValidationError(
                f"unknown column(s): {', '.join(unknown)}; the columns are {TEMPLATE_HEADER}"
            )
        if "name" not in names and "sku_code" not in names:
            raise ValidationError("the file needs at least a name or a sku_code column")
        if len(set(names)) != len(names):
            raise ValidationError("a column appears twice in the header")
        with self.store.read() as s:
            look = _Lookups(s)
            if default_location_id is not None and s.get(Location, default_location_id) is None:
                raise ValidationError("the default location does not exist")
        plans: list[_Plan] = []
        errors: list[RowError] = []
        total = 0
        file_codes: set[str] = set()
        file_certs: set[str] = set()
        dup_certs: list[str] = []
        for line, values in rows:
            if values and values[0].startswith("\x00"):
                total += 1
                errors.append(RowError(line, None, f"malformed CSV line: {values[0][1:]}"))
                continue
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            total += 1
            if total > MAX_ROWS:
                raise ValidationError(f"an import holds at most {MAX_ROWS:,} rows; split the file")
            if len(values) != len(names):
                errors.append(
                    RowError(
                        line, None, f"expected {len(names)} fields, found {len(values)} (a stray comma?)"
                    )
                )
                continue
            row = {n: v.strip() for n, v in zip(names, values, strict=True)}
            try:
                plan = self._plan(line, row, look, file_codes, file_certs, default_location_id)
            except _RowProblem as exc:
                errors.append(RowError(line, exc.column, exc.message))
                if exc.duplicate_cert:
                    dup_certs.append(exc.duplicate_cert)
                continue
            plans.append(plan)
        report = ImportReport(rows=total, valid_rows=len(plans), errors=errors[:MAX_ERRORS_REPORTED])
        report.more_errors = max(0, len(errors) - MAX_ERRORS_REPORTED)
        report.preview = [_preview(p) for p in plans[:50]]
        report.products_created = len(
            {p.product_key for p in plans if p.product_key is not None and p.product_key not in look.products}
        )
        report.skus_created = sum(1 for p in plans if p.existing_sku_id is None)
        report.skus_updated = sum(1 for p in plans if p.existing_sku_id is not None)
        report.units_received = sum(p.quantity for p in plans)
        report.dry_run = dry_run
        for cert in dup_certs[:100]:
            self.catalog.flag_duplicate_cert(cert, actor=actor, source="csv import")
        if dry_run or not plans or (errors and not only_valid):
            return report
        try:
            created = self._apply(plans, actor, report)
        except VaultSyncError as exc:  # the database changed between plan and apply
            raise ValidationError(f"nothing was imported: {exc}") from exc
        report.products_created = created
        report.committed = True
        return report

    # ------------------------------------------------------------------ plan

    def _plan(
        self,
        line: int,
        row: dict[str, str],
        look: _Lookups,
        file_codes: set[str],
        file_certs: set[str],
        default_location_id: str | None,
    ) -> _Plan:
        get = row.get
        price = _money(get("price"), "price")
        cost = _money(get("cost"), "cost")
        quantity = _quantity(get("quantity"))
        location_id = None
        if get("location"):
            location_id = look.location(get("location") or "")
            if location_id is None:
                raise _RowProblem("location", f"unknown or ambiguous location {get('location')!r}")
        elif quantity:
            location_id = default_location_id
            if location_id is None:
                raise _RowProblem("location", "a quantity needs a location (or choose a default location)")
        code = (get("sku_code") or "").upper() or None
        if code and code in file_codes:
            raise _RowProblem("sku_code", f"SKU code {code} appears twice in this file")
        if code and code in look.sku_codes:
            sku_id = look.sku_codes[code]
            if sku_id in look.serialized and (
                quantity > 1 or (quantity and sku_id in look.in_stock_serialized)
            ):
                raise _RowProblem("quantity", f"{code} is a serialized item: only one can be in stock")
            file_codes.add(code)
            return _Plan(line, sku_id, None, None, None, price, cost, quantity, location_id)
        game_code = (get("game") or "").upper()
        if not game_code:
            raise _RowProblem("game", "a new item needs its game")
        game_id = look.games.get(game_code)
        if game_id is None:
            raise _RowProblem("game", f"unknown game {get('game')!r}")
        set_id = None
        if get("set_code"):
            set_id = look.sets.get((game_id, (get("set_code") or "").upper()))
            if set_id is None:
                raise _RowProblem("set_code", f"unknown set code {get('set_code')!r} for {get('game')}")
        kind = (get("kind") or ProductKind.SINGLE.value).lower()
        if kind not in {k.value for k in ProductKind}:
            raise _RowProblem("kind", f"unknown kind {get('kind')!r}")
        if kind in ("graded", "one_off") and quantity > 1:
            raise _RowProblem("quantity", "a serialized item (slab, one-off) has a quantity of 0 or 1")
        name = get("name") or ""
        product = ProductInput(
            game_code=game_code,
            name=name,
            kind=kind,
            set_code=get("set_code") or None,
            collector_number=get("collector_number") or None,
            rarity=get("rarity") or None,
            language=(get("language") or "EN").upper(),
        )
        sub_grades = _sub_grades(get("sub_grades"))
        cert = get("cert_number") or None
        if cert and (cert in look.certs or cert in file_certs):
            raise _RowProblem(
                "cert_number",
                f"certificate {cert} is already on another slab — refused and flagged as possible fraud",
                duplicate_cert=cert,
            )
        sku = SkuInput(
            product_id="",
            condition=get("condition") or None,
            finish=(get("finish") or "normal").lower(),
            language=(get("language") or "").upper() or None,
            grader=get("grader") or None,
            grade=get("grade") or None,
            sub_grades=sub_grades,
            cert_number=cert,
            barcode=get("barcode") or None,
            sku_code=code,
            shelf_price_cents=price or 0,
            cost_basis_cents=cost,
        )
        # the same checks as creating by hand, without touching the database
        probe = Product(game_id=game_id, set_id=set_id, kind=kind, name=name, language=product.language)
        try:
            product_values = _check_product(product, game_id, set_id)
            values = self.catalog.check_sku(probe, replace(sku, language=sku.language or product.language))
        except VaultSyncError as exc:
            raise _RowProblem(None, str(exc)) from None
        if code:
            if not SKU_CODE_RE.match(code):
                raise _RowProblem("sku_code", "a SKU code is up to 64 letters, digits, '-', '.', '/' or '_'")
        else:
            normalized = replace(
                sku,
                condition=values["condition"],
                finish=values["finish"],
                language=values["language"],
                grader=values["grader"],
                grade=values["grade"],
            )
            base = suggest_sku_code(
                look.game_codes[game_id],
                look.set_codes.get(set_id) if set_id else None,
                product.collector_number,
                name,
                normalized,
            )
            code, n = base, 1
            while code in look.sku_codes or code in file_codes:
                n += 1
                code = f"{base}-{n}"
        file_codes.add(code)
        if cert:
            file_certs.add(cert)
        values["sku_code"] = code
        key = (game_id, set_id, (product.collector_number or "").upper(), name.lower())
        return _Plan(
            line, None, key, product, sku, price, cost, quantity, location_id, values, product_values
        )

    # ------------------------------------------------------------------ apply

    def _apply(self, plans: list[_Plan], actor: UserView, report: ImportReport) -> int:
        """Write the plan in one unit of work; new rows go through the bulk capture path.

        Products, SKUs and movements are inserted with :func:`capture.bulk_insert` (change log
        included), existing SKUs' price and cost changes through the ORM. Uniqueness (SKU
        codes, certificate numbers) was checked in the plan and is enforced again by the
        database's unique indexes: a clash with a row written meanwhile rolls everything back.
        """
        import_id = new_id()
        now = utcnow()
        with self.store.uow() as uow, uow.session.no_autoflush:
            s = uow.session
            look_products = {
                (gid, sid, (num or "").upper(), name.lower()): pid
                for pid, gid, sid, num, name in s.execute(
                    select(
                        Product.id, Product.game_id, Product.set_id, Product.collector_number, Product.name
                    )
                )
            }
            product_rows: list[dict[str, Any]] = []
            sku_rows: list[dict[str, Any]] = []
            move_rows: list[dict[str, Any]] = []
            pending_units: dict[str, int] = {}
            existing = {p.existing_sku_id for p in plans if p.existing_sku_id}
            skus = (
                {sku.id: sku for sku in s.scalars(select(Sku).where(Sku.id.in_(existing)))}
                if existing
                else {}
            )
            for p in plans:
                if p.existing_sku_id is not None:
                    sku = skus.get(p.existing_sku_id)
                    if sku is None:
                        raise ValidationError(f"row {p.row}: the SKU was deleted meanwhile")
                    if p.price_cents is not None and p.price_cents != sku.shelf_price_cents:
                        s.add(
                            PriceUpdate(
                                sku_id=sku.id,
                                source="csv-import",
                                field="shelf",
                                old_cents=sku.shelf_price_cents,
                                new_cents=p.price_cents,
                                user_id=actor.id,
                            )
                        )
                        sku.shelf_price_cents = p.price_cents
                    if p.quantity and p.cost_cents is not None:
                        on_hand = _on_hand(s, sku.id) + pending_units.get(sku.id, 0)
                        sku.cost_basis_cents = weighted_average_cost(
                            on_hand, sku.cost_basis_cents, p.quantity, p.cost_cents
                        )
                    sku_id = sku.id
                else:
                    assert p.product_key is not None and p.product_values is not None and p.sku_values
                    product_id = look_products.get(p.product_key)
                    if product_id is None:
                        product_id = new_id()
                        product_rows.append(
                            {"id": product_id, "created_at": now, "updated_at": now, **p.product_values}
                        )
                        look_products[p.product_key] = product_id
                    sku_id = new_id()
                    sku_rows.append(
                        {
                            "id": sku_id,
                            "product_id": product_id,
                            "created_at": now,
                            "updated_at": now,
                            **p.sku_values,
                        }
                    )
                if p.quantity and p.location_id:
                    pending_units[sku_id] = pending_units.get(sku_id, 0) + p.quantity
                    move_rows.append(
                        {
                            "sku_id": sku_id,
                            "location_id": p.location_id,
                            "delta": p.quantity,
                            "reason": MovementReason.RECEIVE.value,
                            "ref_type": "import",
                            "ref_id": import_id,
                            "user_id": actor.id,
                            "created_at": now,
                        }
                    )
            s.flush()
            capture.bulk_insert(s, Product, product_rows)
            capture.bulk_insert(s, Sku, sku_rows)
            capture.bulk_insert(s, StockMovement, move_rows)
            audit.record(
                s,
                "catalog.import",
                user_id=actor.id,
                entity_type="import",
                entity_id=import_id,
                after={
                    "rows": report.rows,
                    "imported_rows": len(plans),
                    "error_rows": report.error_rows,
                    "products_created": len(product_rows),
                    "skus_created": len(sku_rows),
                    "skus_updated": report.skus_updated,
                    "units": report.units_received,
                },
            )
        return len(product_rows)


class _RowProblem(Exception):
    def __init__(self, column: str | None, message: str, *, duplicate_cert: str | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.message = message
        self.duplicate_cert = duplicate_cert


def _money(text: str | None, column: str) -> int | None:
    if not text:
        return None
    try:
        cents = parse_cents(text)
    except MoneyError as exc:
        message = str(exc)
        if "out of range" in message:
            raise _RowProblem(column, f"{column} {text!r} is too large") from None
        raise _RowProblem(column, f"{column} {text!r} is not an amount (e.g. 12.50)") from None
    if cents < 0:
        raise _RowProblem(column, f"{column} cannot be negative")
    return cents


def _quantity(text: str | None) -> int:
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise _RowProblem("quantity", f"quantity {text!r} is not a whole number") from None
    if not 0 <= value <= MAX_UNITS:
        raise _RowProblem("quantity", f"quantity must be from 0 to {MAX_UNITS:,}")
    return value


def _sub_grades(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.replace(",", ";").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise _RowProblem("sub_grades", "sub-grades look like centering=9.5;corners=9")
        out[key.strip()] = value.strip()
    return out or None


def _check_product(product: ProductInput, game_id: str, set_id: str | None) -> dict[str, Any]:
    """The product's column values after the checks ``CatalogService.add_product`` makes."""
    language = (product.language or "EN").strip().upper()
    if not LANG_RE.match(language):
        raise ValidationError("a language is a 2-3 letter code (EN, JP, DE...)")
    return {
        "game_id": game_id,
        "set_id": set_id,
        "kind": product.kind,
        "name": _clean(product.name, "a product name", MAX_NAME, required=True),
        "collector_number": _clean(product.collector_number, "a collector number", 24),
        "rarity": _clean(product.rarity, "a rarity", 24),
        "language": language,
        "image_path": None,
        "attributes": {},
        "is_active": True,
    }


def _on_hand(s: Session, sku_id: str) -> int:
    return int(
        s.scalar(select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.sku_id == sku_id))
        or 0
    )


def _preview(p: _Plan) -> dict[str, Any]:
    return {
        "row": p.row,
        "action": "add stock" if p.existing_sku_id else "new item",
        "name": p.product.name if p.product else None,
        "sku_code": p.sku.sku_code if p.sku else None,
        "price_cents": p.price_cents,
        "cost_cents": p.cost_cents,
        "quantity": p.quantity,
    }
