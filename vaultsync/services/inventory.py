"""Inventory browsing: find SKUs by what a person knows about a card, see where the copies are.

Text matching and ranking come from the in-memory SKU index (:class:`vaultsync.search.SkuIndex`,
native core): accent/case folding, prefix, substring, multi-word and typo-tolerant matching,
ranked exact code > name > prefix > substring > typo, in stock first, then popularity. The index
is refreshed from the change log before each search (cheap when nothing changed), so writes made
through the services show up at once. The page's rows are then read from the database by id, in
the index's order, so prices and stock shown are the committed ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import Condition, Finish, Role
from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.native import search as search_kernel
from vaultsync.search import SkuIndex
from vaultsync.services.price_age import price_age
from vaultsync.store import Store
from vaultsync.store.models import CardSet, Game, Location, Product, Sku, StockLevel

MAX_LIMIT = 200
MAX_QUERY = 120


@dataclass(frozen=True)
class SkuRow:
    sku_id: str
    sku_code: str
    name: str
    game: str
    set_code: str | None
    set_name: str | None
    collector_number: str | None
    condition: str | None
    finish: str
    language: str
    grader: str | None
    grade: str | None
    barcode: str | None
    shelf_price_cents: int
    market_price_cents: int | None
    on_hand: int
    #: where the copies are, for the counter: "Case 2 › Row A (2), Backroom (1)"
    where: str | None = None


@dataclass(frozen=True)
class SearchPage:
    total: int
    rows: list[SkuRow]


@dataclass(frozen=True)
class StockAt:
    location_id: str
    path: str
    on_hand: int


@dataclass(frozen=True)
class SkuDetail:
    row: SkuRow
    kind: str
    rarity: str | None
    cert_number: str | None
    cost_basis_cents: int | None
    price_source: str | None
    price_as_of: str | None
    image_path: str | None
    stock: list[StockAt] = field(default_factory=list)
    product_id: str | None = None
    sub_grades: dict[str, str] | None = None
    notes: str | None = None


@dataclass(frozen=True)
class GameOption:
    code: str
    name: str


def _on_hand_subquery() -> Select[str, int]:
    return select(StockLevel.sku_id, func.sum(StockLevel.on_hand).label("on_hand")).group_by(
        StockLevel.sku_id
    )


class InventoryService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def games(self) -> list[GameOption]:
        with self.store.read() as s:
            rows = s.execute(
                select(Game.code, Game.name)
                .where(Game.is_active.is_(True))
                .order_by(Game.sort_order, Game.name)
            )
            return [GameOption(code, name) for code, name in rows]

    def search(
        self,
        query: str = "",
        *,
        game: str | None = None,
        condition: str | None = None,
        finish: str | None = None,
        in_stock: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> SearchPage:
        """Every word must match (by prefix, substring or within a typo or two) one of: name, set
        code, set name, collector number, SKU code, barcode, cert number, ignoring case and
        accents. Exact code/barcode/cert hits sort first (ranking: ``vaultsync.pure.search``).
        Text with no letters or digits at all ("%") matches nothing; an empty query lists all."""
        query = (query or "").strip()
        if len(query) > MAX_QUERY:
            raise ValidationError(f"search text is limited to {MAX_QUERY} characters")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise ValidationError("offset cannot be negative")
        if condition is not None and condition not in Condition.__members__:
            raise ValidationError(f"unknown condition {condition!r}")
        if finish is not None and finish not in {f.value for f in Finish}:
            raise ValidationError(f"unknown finish {finish!r}")
        index = SkuIndex.for_store(self.store)
        index.refresh(self.store)
        try:
            if query and not search_kernel.tokenize(query):
                return SearchPage(total=0, rows=[])  # only punctuation: nothing can match it
            total, sku_ids = index.query(
                query,
                game=game or None,
                condition=condition,
                finish=finish,
                in_stock=in_stock,
                limit=limit,
                offset=offset,
            )
        except ValueError as exc:  # NUL bytes, lone surrogates: the kernel's message says which
            raise ValidationError(f"search text rejected: {exc}") from None
        return SearchPage(total=total, rows=self._rows(sku_ids))

    def _rows(self, sku_ids: list[str]) -> list[SkuRow]:
        """The rows of ``sku_ids`` from the database, in the given order."""
        if not sku_ids:
            return []
        stock = _on_hand_subquery().where(StockLevel.sku_id.in_(sku_ids)).subquery()
        stmt = (
            select(Sku, Product, Game, CardSet, func.coalesce(stock.c.on_hand, 0))
            .join(Product, Sku.product_id == Product.id)
            .join(Game, Product.game_id == Game.id)
            .outerjoin(CardSet, Product.set_id == CardSet.id)
            .outerjoin(stock, stock.c.sku_id == Sku.id)
            .where(Sku.id.in_(sku_ids))
        )
        with self.store.read() as s:
            where = _where_texts(s, sku_ids)
            found = {
                sku.id: _row(sku, product, game_, card_set, int(oh), where.get(sku.id))
                for sku, product, game_, card_set, oh in s.execute(stmt)
            }
        return [found[i] for i in sku_ids if i in found]

    def where_is(self, sku_id: str) -> list[StockAt]:
        """Where a SKU's copies are, fullest place first, as short shelf paths ("Case B › Binder 3").

        For the register and the price-check kiosk: the shop's root location is left out of the
        path (everyone knows which shop they are in). Unknown SKUs give an empty list.
        """
        with self.store.read() as s:
            return _where(s, [sku_id]).get(sku_id, [])

    def detail(self, sku_id: str, *, viewer: Role | None = None) -> SkuDetail:
        """Everything about one SKU. What the shop paid (cost basis) is only given to
        managers and up when a ``viewer`` role is passed; internal callers pass none."""
        show_cost = viewer is None or viewer.at_least(Role.MANAGER)
        with self.store.read() as s:
            found = s.execute(
                select(Sku, Product, Game, CardSet)
                .join(Product, Sku.product_id == Product.id)
                .join(Game, Product.game_id == Game.id)
                .outerjoin(CardSet, Product.set_id == CardSet.id)
                .where(Sku.id == sku_id)
            ).one_or_none()
            if found is None:
                raise NotFoundError("no such SKU")
            sku, product, game_, card_set = found
            levels = s.execute(
                select(StockLevel.location_id, StockLevel.on_hand).where(
                    StockLevel.sku_id == sku_id, StockLevel.on_hand != 0
                )
            ).all()
            paths = location_paths(s)
            stock = sorted(
                (StockAt(loc, paths.get(loc, "?"), int(qty)) for loc, qty in levels), key=lambda x: x.path
            )
            total = sum(x.on_hand for x in stock)
            age = price_age(s, sku)  # the SKU's own price time, or a newer import's confirmation
            return SkuDetail(
                row=_row(sku, product, game_, card_set, total),
                kind=product.kind,
                rarity=product.rarity,
                cert_number=sku.cert_number,
                cost_basis_cents=sku.cost_basis_cents if show_cost else None,
                price_source=age.source,
                price_as_of=age.as_of.isoformat() if age.as_of else None,
                image_path=product.image_path,
                stock=stock,
                product_id=product.id,
                sub_grades=dict(sku.sub_grades) if sku.sub_grades else None,
                notes=sku.notes,
            )


def location_paths(session: Session) -> dict[str, str]:
    """Location id -> "Main Store › Case 2 › Binder MTG-3" for every location."""
    rows = {
        loc_id: (parent, name)
        for loc_id, parent, name in session.execute(select(Location.id, Location.parent_id, Location.name))
    }
    out: dict[str, str] = {}

    def path(loc_id: str, depth: int = 0) -> str:
        if loc_id in out:
            return out[loc_id]
        parent, name = rows[loc_id]
        if parent is None or parent not in rows or depth > 32:  # a cycle cannot hang the UI
            result = name
        else:
            result = f"{path(parent, depth + 1)} › {name}"
        out[loc_id] = result
        return result

    for loc_id in rows:
        path(loc_id)
    return out


def short_location_paths(session: Session) -> dict[str, str]:
    """Like :func:`location_paths` without a top-level "store" node (the shop itself)."""
    full = location_paths(session)
    roots = {
        loc_id: name
        for loc_id, name in session.execute(
            select(Location.id, Location.name).where(Location.parent_id.is_(None), Location.kind == "store")
        )
    }
    out: dict[str, str] = {}
    for loc_id, path in full.items():
        short = path
        for root_id, root_name in roots.items():
            prefix = f"{root_name} › "
            if path.startswith(prefix) and loc_id != root_id:
                short = path[len(prefix) :]
                break
        out[loc_id] = short
    return out


def _where(session: Session, sku_ids: list[str]) -> dict[str, list[StockAt]]:
    levels = session.execute(
        select(StockLevel.sku_id, StockLevel.location_id, StockLevel.on_hand).where(
            StockLevel.sku_id.in_(sku_ids), StockLevel.on_hand > 0
        )
    ).all()
    if not levels:
        return {}
    paths = short_location_paths(session)
    out: dict[str, list[StockAt]] = {}
    for sku_id, loc_id, qty in levels:
        out.setdefault(sku_id, []).append(StockAt(loc_id, paths.get(loc_id, "?"), int(qty)))
    for places in out.values():
        places.sort(key=lambda p: (-p.on_hand, p.path))
    return out


def where_text(places: list[StockAt], *, limit: int = 3) -> str | None:
    """ "Case 2 › Row A (2), Backroom (1)"; "+N more" past ``limit`` places."""
    if not places:
        return None
    shown = ", ".join(f"{p.path} ({p.on_hand})" for p in places[:limit])
    more = len(places) - limit
    return f"{shown}, +{more} more" if more > 0 else shown


def _where_texts(session: Session, sku_ids: list[str]) -> dict[str, str]:
    return {
        sku_id: text for sku_id, places in _where(session, sku_ids).items() if (text := where_text(places))
    }


def _row(
    sku: Sku, product: Product, game: Game, card_set: CardSet | None, on_hand: int, where: str | None = None
) -> SkuRow:
    return SkuRow(
        sku_id=sku.id,
        sku_code=sku.sku_code,
        name=product.name,
        game=game.name,
        set_code=card_set.code if card_set else None,
        set_name=card_set.name if card_set else None,
        collector_number=product.collector_number,
        condition=sku.condition,
        finish=sku.finish,
        language=sku.language,
        grader=sku.grader,
        grade=sku.grade,
        barcode=sku.barcode,
        shelf_price_cents=sku.shelf_price_cents,
        market_price_cents=sku.market_price_cents,
        on_hand=on_hand,
        where=where,
    )
