"""Inventory back office: CSV import, a stock count of a big binder, valuation of a demo shop.

Each row has a floor measured in the same run: what bare ``sqlite3`` needs for the same rows
(parse the CSV and insert the same number of rows in one durable transaction; the same
aggregate query written by hand), so the table shows what the application layer adds.
"""

from __future__ import annotations

import csv
import io
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.report import Table
from vaultsync.domain.enums import Role
from vaultsync.services.auth import AuthService
from vaultsync.services.catalog import CatalogService
from vaultsync.services.catalog_import import TEMPLATE_HEADER, CatalogImportService
from vaultsync.services.demo import generate_demo_shop
from vaultsync.services.stock_ops import StockOpsService
from vaultsync.services.valuation import ValuationService
from vaultsync.store import Store, capture, open_store
from vaultsync.store.models import CardSet, Game, Location, Product, Sku, StockCountEntry, StockMovement


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _csv(rows: int) -> str:
    lines = [TEMPLATE_HEADER]
    lines += [
        f"MTG,Bench Card {i},single,DMU,{i},common,EN,{'NMLPMP'[2 * (i % 3) : 2 * (i % 3) + 2]},normal,,,,,,,"
        f"{(i % 500) / 100 + 0.1:.2f},0.05,{i % 7 + 1},Main"
        for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


def _floor_import(path: Path, data: str) -> float:
    """Parse the CSV and insert products, SKUs and movements as bare rows, one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for t in ("p", "s", "m"):
        conn.execute(f"CREATE TABLE {t} (id TEXT PRIMARY KEY, a TEXT, b TEXT, c INTEGER)")
    start = time.perf_counter()
    rows = list(csv.reader(io.StringIO(data)))[1:]
    conn.execute("BEGIN IMMEDIATE")
    for t in ("p", "s", "m"):
        conn.executemany(
            f"INSERT INTO {t} VALUES (?, ?, ?, ?)",
            [(f"{t}{i}", r[1], r[3], int(r[17])) for i, r in enumerate(rows)],
        )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _shop(path: Path) -> tuple[Store, object, str]:
    store = open_store(f"sqlite:///{path}")
    manager = AuthService(store).add_user("bench", "Bench", Role.MANAGER, password="bench password")
    with store.uow() as uow:
        game = Game(code="MTG", name="Magic")
        uow.add(game)
        uow.flush()
        uow.add(CardSet(game_id=game.id, code="DMU", name="Dominaria United"))
        loc = Location(kind="store", name="Main")
        uow.add(loc)
        uow.flush()
        loc_id = loc.id
    return store, manager, loc_id


def _import_rows(d: Path, rows: int) -> list[list[object]]:
    store, manager, _ = _shop(d / "import.db")
    importer = CatalogImportService(store, CatalogService(store))
    data = _csv(rows)
    start = time.perf_counter()
    report = importer.run(data, actor=manager)  # type: ignore[arg-type]
    dry = time.perf_counter() - start
    assert report.valid_rows == rows, report.errors[:3]
    start = time.perf_counter()
    report = importer.run(data, actor=manager, dry_run=False)  # type: ignore[arg-type]
    real = time.perf_counter() - start
    assert report.committed
    store.close()
    floor = _floor_import(d / "floor.db", data)
    return [
        [f"CSV check (dry run), {rows:,} rows", rows / dry, dry, ""],
        [f"CSV import, {rows:,} new items with stock", rows / real, real, floor],
    ]


def _count_rows(d: Path, lines: int) -> list[list[object]]:
    store, manager, loc_id = _shop(d / "count.db")
    with store.uow() as uow:
        s = uow.session
        game_id = s.query(Game.id).scalar()
        products = [
            {"id": f"p{i:031d}", "game_id": game_id, "kind": "single", "name": f"Card {i}"}
            for i in range(lines)
        ]
        capture.bulk_insert(s, Product, products)
        skus = [
            {"id": f"s{i:031d}", "product_id": p["id"], "sku_code": f"B-{i}", "condition": "NM"}
            for i, p in enumerate(products)
        ]
        capture.bulk_insert(s, Sku, skus)
        capture.bulk_insert(
            s,
            StockMovement,
            [{"sku_id": k["id"], "location_id": loc_id, "delta": 4, "reason": "receive"} for k in skus],
        )
    ops = StockOpsService(store)
    count = ops.start_count(loc_id, actor=manager)  # type: ignore[arg-type]
    rng = random.Random(5)
    entry_ms: list[float] = []
    for k in skus:
        start = time.perf_counter()
        with store.uow() as uow:  # what record_count writes, without re-reading the view each time
            uow.add(
                StockCountEntry(
                    count_id=count.id,
                    sku_id=k["id"],
                    location_id=loc_id,
                    counted=rng.choice((3, 4, 4, 4, 5)),
                    seen_on_hand=4,
                )
            )
        entry_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    view = ops.count(count.id)
    view_s = time.perf_counter() - start
    start = time.perf_counter()
    result = ops.commit_count(count.id, actor=manager)  # type: ignore[arg-type]
    commit_s = time.perf_counter() - start
    assert len(view.lines) == lines and result.adjusted + result.unchanged == lines
    # the service's record_count (writes the entry and returns the refreshed line)
    sample = [k["id"] for k in skus[:50]]
    count2 = ops.start_count(loc_id, actor=manager)  # type: ignore[arg-type]
    record_ms = []
    for sku_id in sample:
        start = time.perf_counter()
        ops.record_count(count2.id, sku_id, 4, actor=manager)  # type: ignore[arg-type]
        record_ms.append((time.perf_counter() - start) * 1000)
    store.close()
    return [
        [
            f"count entry write (p50 / p99 ms), {lines:,}-line count",
            statistics.median(entry_ms),
            _pct(entry_ms, 0.99),
            "",
        ],
        [
            f"record_count: entry + its refreshed line (p50 / p99 ms), {lines:,} lines",
            statistics.median(record_ms),
            _pct(record_ms, 0.99),
            "",
        ],
        [f"count view with differences, {lines:,} lines (ms)", view_s * 1000, "", ""],
        [f"commit count, {lines:,} lines (ms)", commit_s * 1000, "", ""],
    ]


VALUATION_SQL = """
SELECT g.name, p.kind, COUNT(*), SUM(q.qty), SUM(q.qty * COALESCE(s.cost_basis_cents, 0)),
       SUM(q.qty * s.shelf_price_cents)
FROM skus s JOIN (SELECT sku_id, SUM(on_hand) AS qty FROM stock_levels GROUP BY sku_id) q ON q.sku_id = s.id
JOIN products p ON p.id = s.product_id JOIN games g ON g.id = p.game_id
WHERE q.qty > 0 AND s.is_active GROUP BY g.name, p.kind
"""


def _valuation_rows(d: Path, skus: int) -> list[list[object]]:
    path = d / "demo.db"
    store = open_store(f"sqlite:///{path}")
    generate_demo_shop(store, skus=skus, seed=3)
    store.checkpoint()
    manager = AuthService(store).by_username("manager")
    service = ValuationService(store)
    ours = []
    for _ in range(5):
        start = time.perf_counter()
        service.valuation(actor=manager)
        ours.append(time.perf_counter() - start)
    store.close()
    conn = sqlite3.connect(path)
    floor = []
    for _ in range(5):
        start = time.perf_counter()
        conn.execute(VALUATION_SQL).fetchall()
        floor.append(time.perf_counter() - start)
    conn.close()
    return [
        [
            f"valuation by game and category, {skus:,}-SKU demo shop (ms)",
            statistics.median(ours) * 1000,
            "",
            statistics.median(floor) * 1000,
        ]
    ]


def run(quick: bool) -> list[Table]:
    rows = 5_000 if quick else 50_000
    lines = 500 if quick else 2_000
    skus = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        imports = _import_rows(d, rows)
        counts = _count_rows(d, lines)
        value = _valuation_rows(d, skus)
    return [
        Table(
            title="Catalog import (SQLite, WAL, synchronous=FULL)",
            columns=["operation", "rows/s", "seconds", "floor seconds"],
            rows=imports,
            notes=["floor: bare sqlite3 parsing the CSV and inserting 3 rows per line in one transaction"],
        ),
        Table(
            title="Stock count of one location",
            columns=["operation", "value", "p99", ""],
            rows=counts,
        ),
        Table(
            title="Inventory valuation",
            columns=["operation", "ours ms", "", "floor ms (same SQL, bare sqlite3)"],
            rows=value,
        ),
    ]


def test_inventory_benchmarks() -> None:
    """pytest entry point: ``pytest benchmarks/suite_inventory.py -s`` prints the quick tables."""
    for table in run(quick=True):
        print()
        print(table.markdown())
