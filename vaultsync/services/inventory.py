"""Inventory browsing: find SKUs by what a person knows about a card, see where the copies are.

This is the SQL-backed lookup. The in-memory ranked SKU index (native core) replaces
the text matching here when it lands; the filters, paging and the shape of the
results stay the same for the UI and the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import Condition, Finish, Role
from vaultsync.domain.errors import NotFoundError, ValidationError
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


@dataclass(frozen=True)
class GameOption:
    code: str
    name: str


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
        """Every word must match one of: name, set code, set name, collector number, SKU code,
        barcode, cert number (case-insensitive). Exact code/barcode hits sort first."""
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
        stock = _on_hand_subquery().subquery()
        on_hand = func.coalesce(stock.c.on_hand, 0)
        base = (
            select(Sku, Product, Game, CardSet, on_hand.label("on_hand"))
            .join(Product, Sku.product_id == Product.id)
            .join(Game, Product.game_id == Game.id)
            .outerjoin(CardSet, Product.set_id == CardSet.id)
            .outerjoin(stock, stock.c.sku_id == Sku.id)
            .where(Sku.is_active.is_(True))
        )
        conditions = []
        for word in query.split():
            like = f"%{_escape_like(word.lower())}%"
            conditions.append(
                or_(
                    func.lower(Product.name).like(like, escape="\\"),
                    func.lower(CardSet.code).like(like, escape="\\"),
                    func.lower(CardSet.name).like(like, escape="\\"),
                    func.lower(Product.collector_number) == word.lower(),
                    func.lower(Sku.sku_code).like(like, escape="\\"),
                    Sku.barcode == word,
                    Sku.cert_number == word,
                )
            )
        if conditions:
            base = base.where(and_(*conditions))
        if game:
            base = base.where(Game.code == game)
        if condition:
            base = base.where(Sku.condition == condition)
        if finish:
            base = base.where(Sku.finish == finish)
        if in_stock:
            base = base.where(on_hand > 0)
        exact = or_(Sku.barcode == query, func.lower(Sku.sku_code) == query.lower(), Sku.cert_number == query)
        ordered = base.order_by(
            exact.desc() if query else Sku.popularity.desc(),
            (on_hand > 0).desc(),
            Product.name,
            CardSet.code,
            Product.collector_number,
            Sku.condition,
            Sku.finish,
        )
        with self.store.read() as s:
            total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = [
                _row(sku, product, game_, card_set, int(oh))
                for sku, product, game_, card_set, oh in s.execute(ordered.limit(limit).offset(offset))
            ]
        return SearchPage(total=total, rows=rows)

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
            return SkuDetail(
                row=_row(sku, product, game_, card_set, total),
                kind=product.kind,
                rarity=product.rarity,
                cert_number=sku.cert_number,
                cost_basis_cents=sku.cost_basis_cents if show_cost else None,
                price_source=sku.price_source,
                price_as_of=sku.price_as_of.isoformat() if sku.price_as_of else None,
                image_path=product.image_path,
                stock=stock,
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


def _row(sku: Sku, product: Product, game: Game, card_set: CardSet | None, on_hand: int) -> SkuRow:
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
    )
