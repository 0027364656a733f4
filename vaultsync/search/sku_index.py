"""The SKU index: the catalog in a native search index, kept current from the change log.

Why not query SQL per keystroke: ranked fuzzy search over a million SKUs needs an in-memory
index (DESIGN.md §8). Why the change log: every write to the catalog, from this terminal or
merged from a peer, is a ``changes`` row in the same transaction (``vaultsync.store.capture``),
so "what changed since I last looked" is an indexed range scan per origin node, and an edit shows
up in search without rebuilding anything.

* :meth:`SkuIndex.build` reads every active SKU with its product, set, game and on-hand.
* :meth:`SkuIndex.refresh` reads the changes after the per-origin sequence numbers it has seen,
  maps them to the SKUs they affect (a product or set edit touches all of its SKUs, a stock
  movement its SKU) and re-reads just those rows: a re-read SKU whose text is unchanged costs
  the kernel a few microseconds and no posting-list work. With nothing new it is one indexed
  ``max(seq)`` per origin.
* Queries and refreshes are serialised by one lock (the pure kernel is not thread-safe; the
  compiled one answers in well under a millisecond, so the UI thread pool does not queue long).

Assumption: changes from one origin are applied in sequence order (the sync engine advances
a per-origin vector clock over contiguous sequence numbers). :meth:`rebuild` is the escape
hatch if that ever does not hold.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vaultsync.native import search
from vaultsync.store import Store
from vaultsync.store.models import (
    CardSet,
    Change,
    Game,
    NodeState,
    Product,
    Sku,
    StockLevel,
    StockMovement,
    VectorClockEntry,
)

__all__ = ["SkuIndex"]

#: how many ids go into one ``IN (...)`` (SQLite's default variable limit is 32,766; stay modest)
_CHUNK = 500
_WATCHED = ("skus", "products", "card_sets", "games", "stock_movements")
#: cumulative per-process index registry: one index per open store (``SkuIndex.for_store``)
_REGISTRY: dict[int, tuple[weakref.ref[Store], SkuIndex]] = {}
_REGISTRY_LOCK = threading.Lock()


def _rows_query() -> Select[*tuple[Any, ...]]:
    on_hand = (
        select(StockLevel.sku_id, func.sum(StockLevel.on_hand).label("on_hand"))
        .group_by(StockLevel.sku_id)
        .subquery()
    )
    return (
        select(
            Sku.id,
            Sku.is_active,
            Product.name,
            CardSet.code,
            CardSet.name,
            Product.collector_number,
            Sku.sku_code,
            Sku.barcode,
            Sku.cert_number,
            Game.code,
            Sku.condition,
            Sku.finish,
            func.coalesce(on_hand.c.on_hand, 0),
            Sku.popularity,
        )
        .join(Product, Sku.product_id == Product.id)
        .join(Game, Product.game_id == Game.id)
        .outerjoin(CardSet, Product.set_id == CardSet.id)
        .outerjoin(on_hand, on_hand.c.sku_id == Sku.id)
    )


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


class SkuIndex:
    """Ranked, typo-tolerant SKU search over one store (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._index = search.SearchIndex()
        self._doc_of: dict[str, int] = {}  # sku id -> doc id (kept after removal, for re-adds)
        self._sku_of: list[str] = []  # doc id -> sku id
        self._seen: dict[str, int] = {}  # origin node -> highest change seq applied
        self._built = False

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def for_store(cls, store: Store) -> SkuIndex:
        """The process-wide index of ``store`` (built on first use by :meth:`refresh`)."""
        with _REGISTRY_LOCK:
            entry = _REGISTRY.get(id(store))
            if entry is not None and entry[0]() is store:
                return entry[1]
            for key in [k for k, (ref, _) in _REGISTRY.items() if ref() is None]:
                del _REGISTRY[key]
            index = cls()
            _REGISTRY[id(store)] = (weakref.ref(store), index)
            return index

    def rebuild(self, store: Store) -> int:
        """Read the whole catalog into a fresh index; returns the number of SKUs indexed."""
        with self._lock, store.read() as s:
            # the high-water marks first, in the same read transaction as the rows: a change
            # committed in between is then re-applied by the next refresh (harmless), never lost
            seen = self._high_water(s, {})
            self._index = search.SearchIndex()
            self._doc_of.clear()
            self._sku_of.clear()
            stmt = (
                _rows_query()
                .where(Sku.is_active.is_(True))
                .order_by(
                    Product.name, CardSet.code, Product.collector_number, Sku.condition, Sku.finish, Sku.id
                )
            )
            for row in s.execute(stmt):
                self._put(row)
            self._seen = seen
            self._built = True
            return len(self._index)

    def refresh(self, store: Store) -> int:
        """Apply catalog, price and stock changes made since the last look; returns SKUs re-read.

        Builds the index on first use. Cheap when nothing changed (one indexed lookup per
        origin node), so callers may refresh before every query.
        """
        with self._lock:
            if not self._built:
                self.rebuild(store)
                return len(self._index)
            with store.read() as s:
                seen = self._high_water(s, self._seen)
                if seen == self._seen:
                    return 0
                changed: dict[str, set[str]] = {table: set() for table in _WATCHED}
                for origin, top in seen.items():
                    after = self._seen.get(origin, 0)
                    if top <= after:
                        continue
                    rows = s.execute(
                        select(Change.table_name, Change.pk).where(
                            Change.origin_node == origin,
                            Change.seq > after,
                            Change.seq <= top,
                            Change.table_name.in_(_WATCHED),
                        )
                    )
                    for table, pk in rows:
                        changed[table].add(pk)
                skus = self._affected(s, changed)
                self._reread(s, sorted(skus))
                self._seen = seen
                return len(skus)

    # ------------------------------------------------------------------ queries

    def query(
        self,
        text: str,
        *,
        game: str | None = None,
        condition: str | None = None,
        finish: str | None = None,
        in_stock: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[str]]:
        """``(total matches, SKU ids of the requested page)`` in rank order (kernel semantics:
        ``vaultsync.pure.search``). Raises ValueError/TypeError for text the kernel rejects."""
        with self._lock:
            total, docs = self._index.query(
                text,
                game=game,
                condition=condition,
                finish=finish,
                in_stock=in_stock,
                limit=limit,
                offset=offset,
            )
            return total, [self._sku_of[d] for d in docs]

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _high_water(s: Session, known: dict[str, int]) -> dict[str, int]:
        """Highest change seq per origin node: this node plus every node in the vector clock."""
        origins = set(known)
        origins.update(s.scalars(select(NodeState.node_id)))
        origins.update(s.scalars(select(VectorClockEntry.origin_node)))
        out = {}
        for origin in sorted(origins):
            top = s.scalar(select(func.max(Change.seq)).where(Change.origin_node == origin))
            out[origin] = int(top or 0)
        return out

    @staticmethod
    def _affected(s: Session, changed: dict[str, set[str]]) -> set[str]:
        """SKU ids touched by changed rows of the watched tables."""
        skus = set(changed["skus"])
        lookups = (
            ("stock_movements", select(StockMovement.sku_id), StockMovement.id),
            ("products", select(Sku.id), Sku.product_id),
            (
                "card_sets",
                select(Sku.id).join(Product, Sku.product_id == Product.id),
                Product.set_id,
            ),
            ("games", select(Sku.id).join(Product, Sku.product_id == Product.id), Product.game_id),
        )
        for table, stmt, column in lookups:
            ids = sorted(changed[table])
            for chunk in _chunks(ids):
                skus.update(s.scalars(stmt.where(column.in_(chunk))))
        return skus

    def _reread(self, s: Session, sku_ids: Sequence[str]) -> None:
        found: set[str] = set()
        for chunk in _chunks(sku_ids):
            for row in s.execute(_rows_query().where(Sku.id.in_(chunk))):
                found.add(row[0])
                self._put(row)
        for sku_id in sku_ids:
            if sku_id not in found:  # deleted
                doc = self._doc_of.get(sku_id)
                if doc is not None:
                    self._index.remove(doc)

    def _put(self, row: Sequence[Any]) -> None:
        (
            sku_id,
            active,
            name,
            set_code,
            set_name,
            number,
            code,
            barcode,
            cert,
            game,
            condition,
            finish,
            on_hand,
            popularity,
        ) = row
        doc = self._doc_of.get(sku_id)
        if not active:
            if doc is not None:
                self._index.remove(doc)
            return
        if doc is None:
            doc = len(self._sku_of)
            self._doc_of[sku_id] = doc
            self._sku_of.append(sku_id)
        texts = [name, set_code, set_name, number, code, barcode, cert]
        if any(t is not None and "\x00" in t for t in texts):  # imported junk: index what is there
            texts = [None if t is None else t.replace("\x00", " ") for t in texts]
        self._index.add(
            doc,
            *texts,
            game=game,
            condition=condition,
            finish=finish,
            on_hand=max(-search.MAX_ON_HAND, min(search.MAX_ON_HAND, int(on_hand))),
            popularity=max(0, min(search.MAX_POPULARITY, int(popularity or 0))),
        )
