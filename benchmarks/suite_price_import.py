"""Price import: a 1,000,000-row price file into the 1,000,000-SKU demo catalog (quick: 100,000),
with the volatility guard on, beside the naive per-row ORM import on a slice, from one run.

Catalog: ``generate_demo_shop(skus=N, seed=7)``, built once and cached (it takes minutes at
1M SKUs) in ``$VAULTSYNC_BENCH_CACHE`` (default ``~/.cache/vaultsync-bench``); every run
imports into a fresh copy of it. Pricing rules: Magic singles +10 % rounded up to .49/.99,
sealed +5 %, everything else at market; guard 25 % and $2.

Price file (TCGplayer-style, by SKU code, fixed seed): every SKU once, in catalog order —
60 % unchanged (their price age is refreshed), 37 % small moves (±0-5 %: applied, shelf
repriced), 2.5 % large moves (+40-150 %: held for review), 0.5 % bad rows (unknown SKU
codes, non-prices, negative prices). The manager chose "import only the valid rows", so
the bad rows are reported and the rest is written in one transaction with full change
capture (every SKU change, ledger row and review is in the change log).

Each measurement runs in its own process, so "peak RSS" is that import's high-water mark
(interpreter and libraries included). Baseline: per-row ORM (one SELECT of the SKU by code,
the same rule and guard decisions, ORM attribute updates and a PriceUpdate/PriceReview
object per change, flushed every 1,000 rows) on the first rows of the same file.

Target (issue 6): at least 50,000 rows/s with the guard on at 1,000,000 rows.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import Table

SEED = 7
TARGET_ROWS_PER_S = 50_000


def cache_dir() -> Path:
    path = Path(os.environ.get("VAULTSYNC_BENCH_CACHE") or Path.home() / ".cache" / "vaultsync-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_catalog(skus: int) -> Path:
    """The cached demo database for ``skus`` SKUs at the current schema (built if missing).

    The cache key hashes the migration files, not just the head revision's name: a revision
    that was reserved as a no-op and filled in later keeps its name but changes the schema.
    """
    import hashlib

    from vaultsync.services.demo import generate_demo_shop
    from vaultsync.store import open_store

    versions = Path(__file__).resolve().parent.parent / "vaultsync" / "store" / "migrations" / "versions"
    digest = hashlib.sha256()
    for f in sorted(versions.glob("*.py")):
        digest.update(f.name.encode() + f.read_bytes())
    path = cache_dir() / f"price-demo-{skus}-seed{SEED}-{digest.hexdigest()[:12]}.db"
    if not path.exists():
        tmp = path.with_suffix(".building")
        for leftover in tmp.parent.glob(tmp.name + "*"):
            leftover.unlink()
        store = open_store(f"sqlite:///{tmp}")
        try:
            generate_demo_shop(store, skus=skus, seed=SEED)
            store.checkpoint()
        finally:
            store.close()
        tmp.rename(path)
    return path


def write_price_file(db: Path, out: Path) -> dict[str, int]:
    """The benchmark's price file for the catalog in ``db`` (see the module docstring)."""
    import sqlite3

    rng = random.Random(SEED)
    counts = {"rows": 0, "unchanged": 0, "small": 0, "large": 0, "bad": 0}
    conn = sqlite3.connect(db)
    try:
        with out.open("w", encoding="utf-8") as fh:
            fh.write("SKU,Product Name,Condition,TCG Market Price\n")
            for code, market in conn.execute("SELECT sku_code, market_price_cents FROM skus ORDER BY rowid"):
                base = market or 100
                r = rng.random()
                if r < 0.005:  # bad rows: a non-price, a negative price, an unknown SKU code
                    counts["bad"] += 1
                    kind = counts["bad"] % 3
                    bad_code = f"NO-SUCH-{counts['bad']}" if kind == 2 else code
                    price = ("n/a", "-1.00", "1.00")[kind]
                    fh.write(f"{bad_code},Card,Near Mint,{price}\n")
                    counts["rows"] += 1
                    continue
                if r < 0.605:
                    new = base
                    counts["unchanged"] += 1
                elif r < 0.975:
                    new = max(1, round(base * rng.uniform(0.95, 1.05)))
                    counts["small" if new != base else "unchanged"] += 1
                else:
                    new = round(base * rng.uniform(1.4, 2.5)) + 300
                    counts["large"] += 1
                fh.write(f"{code},Card,Near Mint,{new // 100}.{new % 100:02d}\n")
                counts["rows"] += 1
    finally:
        conn.close()
    return counts


def _rules(store: Any) -> None:
    from sqlalchemy import select

    from vaultsync.store.models import Game, PriceRule

    with store.uow() as uow:
        s = uow.session
        mtg = s.scalar(select(Game.id).where(Game.code.in_(["MTG", "mtg"])))
        s.add_all(
            [
                PriceRule(
                    name="Magic singles", game_id=mtg, kind="single", markup_bps=11_000, rounding="49_99"
                ),
                PriceRule(name="Sealed", kind="sealed", markup_bps=10_500, rounding="99"),
            ]
        )


def _child_ours(db: str, csv_path: str, queue: Any) -> None:
    from vaultsync.services.price_import import ImportRequest, import_prices
    from vaultsync.store import open_store

    store = open_store(f"sqlite:///{db}")
    _rules(store)
    start, cpu = time.perf_counter(), time.process_time()
    with open(csv_path, encoding="utf-8") as fh:
        report = import_prices(store, fh, ImportRequest(source="bench", valid_only=True))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put(
        {
            "seconds": seconds,
            "cpu": cpu,
            "rows": report.lines,
            "peak": peak,
            "applied": report.applied,
            "repriced": report.repriced,
            "held": report.held,
            "unchanged": report.unchanged,
            "errors": report.error_count,
            "committed": report.committed,
            "phases": report.phases,
            "cpu_phases": report.cpu_phases,
            "locked": report.locked,
        }
    )


def _child_orm(db: str, csv_path: str, rows: int, queue: Any) -> None:
    """The naive import: per-row ORM round trips, same decisions."""
    import csv

    from sqlalchemy import select

    from vaultsync.domain.price_rules import held_by_guard, market_problem, shelf_price
    from vaultsync.pricing.csv_formats import parse_price
    from vaultsync.services.price_import import load_rulebook
    from vaultsync.store import open_store
    from vaultsync.store.models import PriceReview, PriceUpdate, Product, Sku
    from vaultsync.store.types import utcnow

    store = open_store(f"sqlite:///{db}")
    _rules(store)
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    with open(csv_path, encoding="utf-8") as fh, store.uow() as uow:
        s = uow.session
        rules = load_rulebook(s)
        now = utcnow()
        reader = csv.reader(fh)
        next(reader)
        for fields in reader:
            if done >= rows:
                break
            done += 1
            try:
                new = parse_price(fields[3])
            except ValueError:
                continue
            if new is None or market_problem(new):
                continue
            found = s.execute(
                select(Sku, Product)
                .join(Product, Sku.product_id == Product.id)
                .where(Sku.sku_code == fields[0])
            ).one_or_none()
            if found is None:
                continue
            sku, product = found
            rule, _ = rules.resolve(product.game_id, product.kind, sku.condition, sku.finish)
            old = sku.market_price_cents
            if old == new:
                sku.price_as_of = now
                sku.price_source = "bench"
            elif held_by_guard(old, new, rule):
                s.add(PriceReview(sku_id=sku.id, source="bench", old_cents=old, proposed_cents=new))
            else:
                shelf = shelf_price(new, rule, cost_cents=sku.cost_basis_cents).cents
                s.add(
                    PriceUpdate(
                        sku_id=sku.id,
                        source="bench",
                        field="market",
                        old_cents=old,
                        new_cents=new,
                        shelf_old_cents=sku.shelf_price_cents,
                        shelf_new_cents=shelf,
                    )
                )
                sku.market_price_cents, sku.shelf_price_cents = new, shelf
                sku.price_as_of, sku.price_source = now, "bench"
            if done % 1000 == 0:  # flush in slices, as a careful per-row importer would
                s.flush()
                s.expunge_all()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put({"seconds": seconds, "cpu": cpu, "rows": done, "peak": peak})


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"benchmark child failed with exit code {proc.exitcode}")
    return dict(result)


def run(quick: bool) -> list[Table]:
    skus = 100_000 if quick else 1_000_000
    orm_rows = 2_000 if quick else 5_000
    source = demo_catalog(skus)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as d:
        work = Path(d)
        csv_path = work / "prices.csv"
        counts = write_price_file(source, csv_path)
        db = work / "ours.db"
        shutil.copy2(source, db)
        ours = _in_child(_child_ours, str(db), str(csv_path))
        shutil.copy2(source, db)
        orm = _in_child(_child_orm, str(db), str(csv_path), orm_rows)
    ours_rate = ours["rows"] / ours["seconds"]
    orm_rate = orm["rows"] / orm["seconds"]
    mb = 1024 * 1024
    table = Table(
        title=(
            f"Price import, {counts['rows']:,}-row TCGplayer-style file into the {skus:,}-SKU demo catalog "
            "(SQLite, guard on, one transaction, change capture)"
        ),
        columns=["path", "rows", "seconds", "rows/s", "CPU s", "rows/CPU-s", "peak RSS MB", "x ours"],
        rows=[
            [
                "ours: streaming parse, bulk load, bulk captured writes",
                ours["rows"],
                ours["seconds"],
                ours_rate,
                ours["cpu"],
                ours["rows"] / ours["cpu"],
                ours["peak"] / mb,
                1.0,
            ],
            [
                f"baseline: per-row ORM (first {orm['rows']:,} rows)",
                orm["rows"],
                orm["seconds"],
                orm_rate,
                orm["cpu"],
                orm["rows"] / orm["cpu"],
                orm["peak"] / mb,
                orm_rate / ours_rate,
            ],
        ],
        notes=[
            f"file: {counts['unchanged']:,} unchanged, {counts['small']:,} small moves, "
            f"{counts['large']:,} large moves, {counts['bad']:,} bad rows; imported with 'only valid rows'",
            f"ours: {ours['applied']:,} applied ({ours['repriced']:,} shelf repriced), {ours['held']:,} "
            f"held for review, {ours['unchanged']:,} unchanged (age refreshed by one confirmation row), "
            f"{ours['errors']:,} row errors reported",
            "ours by phase (wall s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in ours.get("phases", {}).items())
            + " (load: the catalog's prices; read: load + parse + match; write: decide, write, commit)",
            "ours by phase (CPU s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in ours.get("cpu_phases", {}).items()),
            f"machine load average at the end: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores",
            "each path runs in its own process: peak RSS includes the interpreter and libraries",
            "rows/s is wall clock (the target); CPU s is the importing process's own CPU time, shown because "
            "the 2-core machine is shared (wall >> CPU means the process waited for a core or the disk)",
        ],
        targets=[(f">= {TARGET_ROWS_PER_S:,} rows/s with the guard on", ours_rate >= TARGET_ROWS_PER_S)],
    )
    return [table]


def test_price_import_benchmark() -> None:
    """pytest entry point: ``pytest benchmarks/suite_price_import.py -s`` prints the quick table."""
    for table in run(quick=True):
        print()
        print(table.markdown())
