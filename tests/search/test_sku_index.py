"""SkuIndex over a real demo store: build, incremental refresh from the change log, filters, order.

The strongest check is the last one: after a series of edits, stock moves and deletions applied
through ``refresh``, the index answers exactly like one rebuilt from scratch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vaultsync.search import SkuIndex
from vaultsync.services.demo import generate_demo_shop
from vaultsync.store import Store, open_store
from vaultsync.store.models import Location, Product, Sku, StockLevel, StockMovement

QUERIES = ["dragon", "pikachu", "charizrd", "nm", "dmu", "topps", "sleeve", "the", "ex", "psa 10", ""]


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "shop.db"
    store = open_store(f"sqlite:///{path}")
    generate_demo_shop(store, skus=500, seed=3)
    store.close()
    return path


@pytest.fixture
def store(demo_path: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "shop.db"
    copy.write_bytes(demo_path.read_bytes())
    s = open_store(f"sqlite:///{copy}")
    yield s
    s.close()


def _answers(index: SkuIndex) -> list[tuple[int, list[str]]]:
    """Totals and full match sets (order among equal-rank SKUs follows doc ids, which differ
    between an incrementally maintained index and a fresh build)."""
    results = [index.query(q, limit=10_000) for q in QUERIES] + [
        index.query("", game="PKM", in_stock=True, limit=10_000),
        index.query("nm", condition="NM", finish="foil", limit=10_000),
    ]
    return [(total, sorted(ids)) for total, ids in results]


def test_build_indexes_every_active_sku(store: Store) -> None:
    index = SkuIndex()
    count = index.rebuild(store)
    with store.read() as s:
        assert count == s.scalar(select(func.count()).select_from(Sku).where(Sku.is_active.is_(True)))
        skus = s.execute(select(Sku.id, Sku.sku_code, Sku.barcode).limit(60)).all()
    for sku_id, code, barcode in skus:
        assert index.query(code)[1][0] == sku_id  # exact SKU code ranks first
        if barcode:
            assert index.query(barcode)[1][0] == sku_id
    assert index.refresh(store) == 0  # nothing changed since the build


def test_refresh_applies_edits_stock_and_deletes(store: Store) -> None:
    index = SkuIndex()
    index.refresh(store)  # first use builds
    with store.uow() as uow:
        s = uow.session
        sku = s.scalars(select(Sku).where(Sku.is_active.is_(True)).order_by(Sku.sku_code).limit(1)).one()
        sku_id = sku.id
        sku.product.name = "Zyzzyva Prime"
        gone = s.scalars(select(Sku).where(Sku.id != sku_id, Sku.is_active.is_(True)).limit(1)).one()
        gone_id, gone_code = gone.id, gone.sku_code
        gone.is_active = False
    assert index.refresh(store) >= 2
    assert sku_id in index.query("zyzzyva")[1]  # every SKU of the renamed product
    assert sku_id in index.query("zyzyva prime")[1]  # typo
    assert gone_id not in index.query(gone_code)[1]
    # stock: empty the SKU's shelves, then it drops out of in-stock results
    with store.uow() as uow:
        s = uow.session
        levels = s.execute(
            select(StockLevel.location_id, StockLevel.on_hand).where(StockLevel.sku_id == sku_id)
        )
        moves = [(loc, qty) for loc, qty in levels if qty]
        if not moves:
            loc = s.scalars(select(Location.id).limit(1)).one()
            moves = [(loc, -1)]
            s.add(StockMovement(sku_id=sku_id, location_id=loc, delta=2, reason="receive"))
        else:
            for loc, qty in moves:
                s.add(StockMovement(sku_id=sku_id, location_id=loc, delta=-qty, reason="adjust"))
    index.refresh(store)
    in_stock = sku_id in index.query("zyzzyva", in_stock=True)[1]
    with store.read() as s:
        on_hand = s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id == sku_id)) or 0
    assert in_stock == (on_hand > 0)


def test_refreshed_index_equals_rebuilt(store: Store) -> None:
    index = SkuIndex()
    index.rebuild(store)
    with store.uow() as uow:
        s = uow.session
        products = s.scalars(select(Product).order_by(Product.name).limit(5)).all()
        for i, p in enumerate(products):
            p.name = f"{p.name} Dragon Edition {i}"
        skus = s.scalars(select(Sku).order_by(Sku.sku_code).offset(10).limit(5)).all()
        for sku in skus:
            sku.popularity = 500
            sku.barcode = None
        new = Sku(product_id=products[0].id, sku_code="NEW-SKU-1", condition="NM", barcode="299999999999")
        s.add(new)
        s.flush()
        loc = s.scalars(select(Location.id).limit(1)).one()
        s.add(StockMovement(sku_id=new.id, location_id=loc, delta=3, reason="receive"))
    assert index.refresh(store) > 0
    fresh = SkuIndex()
    fresh.rebuild(store)
    assert _answers(index) == _answers(fresh)
    assert index.query("299999999999")[1] == [new.id]


def test_filters_and_ranking(store: Store) -> None:
    index = SkuIndex()
    index.rebuild(store)
    total, ids = index.query("", game="MTG", condition="NM", limit=200)
    with store.read() as s:
        rows = s.execute(
            select(Sku.id, Sku.condition, Sku.popularity, func.coalesce(func.sum(StockLevel.on_hand), 0))
            .outerjoin(StockLevel, StockLevel.sku_id == Sku.id)
            .where(Sku.id.in_(ids))
            .group_by(Sku.id)
        ).all()
    assert total >= len(ids) > 0
    assert {r[1] for r in rows} == {"NM"}
    info = {r[0]: (r[3] <= 0, -r[2]) for r in rows}
    keys = [info[i] for i in ids]
    assert keys == sorted(keys)  # in stock first, then popularity


def test_concurrent_queries_during_refresh(store: Store) -> None:
    index = SkuIndex.for_store(store)
    assert SkuIndex.for_store(store) is index
    index.refresh(store)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(200):
                for q in QUERIES:
                    index.query(q)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(5):
        with store.uow() as uow:
            sku = uow.session.scalars(select(Sku).offset(i).limit(1)).one()
            sku.popularity += 1
        index.refresh(store)
    for t in threads:
        t.join()
    assert not errors
