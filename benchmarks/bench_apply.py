"""Replication engine speed: merge throughput into SQLite and bootstrapping a fresh terminal.

Targets (issue 4): merge applies >= 100,000 changes/s into SQLite; a fresh terminal
bootstraps 1,000,000 changes in under 30 s. Every figure is printed beside its baseline
from the same run, on the same machine:

* **apply**: ``apply_batch`` on batches of 5,000 changes (what one anti-entropy round
  carries) into an empty replica, vs the naive per-change ORM apply (``session.merge`` of
  a model object per change, plus its change-log row) on a sample;
* **small batches**: the live path. A source shop rings up real sales through
  :class:`CheckoutService` (about 5 changes each: transaction, SKU popularity, line, stock
  movement, tender); a fresh replica that already holds the catalog (merged before the
  clock starts) takes the sales through the ``push`` handler — msgpack decode, validation,
  merge, vector clock, invariant checks, commit, reply — in batches of 5 (one sale, what
  a live push carries) and of 1,000 (an anti-entropy round), vs the naive per-change ORM
  merge in the same batches. Reported in wall time and in CPU time per batch (the machine
  is shared, so CPU ms is the steadier figure);
* **bootstrap**: ``bootstrap`` (consistent snapshot + pull) over an in-process link that
  round-trips every message through msgpack, vs catching up the same shop change by change
  through ``pull`` (anti-entropy alone), measured on a sample and extrapolated.

The source shop is synthetic and written with full change capture: products, SKUs (with
unique codes) and a stock ledger, one change per row.

Run (also part of ``python -m benchmarks`` as suite ``sync_apply``)::

    .venv/bin/python -m benchmarks.bench_apply                 # 100k apply, 1M bootstrap
    VAULTSYNC_BENCH_APPLY=20000 VAULTSYNC_BENCH_BOOT=100000 .venv/bin/python -m benchmarks.bench_apply
    .venv/bin/python -m benchmarks.bench_apply small            # only the small-batch table (~20 s)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack

from benchmarks.report import Table
from tests.services.pos_fixtures import build_pos
from vaultsync.domain.enums import Tender
from vaultsync.services.checkout import TenderInput
from vaultsync.store import Store, capture, codec, open_store
from vaultsync.store.base import Base, replicated_tables
from vaultsync.store.models import Change, Game, Location, Product, Sku, StockMovement
from vaultsync.sync.apply import RemoteChange, apply_batch, vector_clock
from vaultsync.sync.messages import changes_from_wire
from vaultsync.sync.protocol import Payload, bootstrap, changes_for, handle, push_payload

APPLY_N = int(os.environ.get("VAULTSYNC_BENCH_APPLY", "100000"))
BOOT_N = int(os.environ.get("VAULTSYNC_BENCH_BOOT", "1000000"))
SALES_N = int(os.environ.get("VAULTSYNC_BENCH_SALES", "400"))
BATCH = 5000


def build_source(store: Store, n: int) -> int:
    """A shop of about ``n`` changes: 1/4 products, 1/4 SKUs, 1/2 stock movements."""
    with store.uow() as uow:
        game = Game(code="mtg", name="Magic")
        loc = Location(kind="case", name="Case 1")
        uow.add(game)
        uow.add(loc)
        uow.flush()
        game_id, loc_id = game.id, loc.id
    quarter = n // 4
    step = 50_000
    for start in range(0, quarter, step):
        count = min(step, quarter - start)
        with store.uow() as uow:
            s = uow.session
            products = [
                {
                    "game_id": game_id,
                    "kind": "single",
                    "name": f"Card {start + i}",
                    "collector_number": str(i),
                }
                for i in range(count)
            ]
            capture.bulk_insert(s, Product, products)
            ids = [
                r[0]
                for r in s.execute(
                    Product.__table__.select()
                    .with_only_columns(Product.id)
                    .order_by(Product.id.desc())
                    .limit(count)
                )
            ]
            skus = [
                {
                    "product_id": pid,
                    "sku_code": f"SKU-{start + i}",
                    "condition": "NM",
                    "shelf_price_cents": 99 + i,
                }
                for i, pid in enumerate(ids)
            ]
            capture.bulk_insert(s, Sku, skus)
            sku_ids = [
                r[0]
                for r in s.execute(
                    Sku.__table__.select().with_only_columns(Sku.id).order_by(Sku.id.desc()).limit(count)
                )
            ]
            moves = [
                {"sku_id": sid, "location_id": loc_id, "delta": d, "reason": "receive"}
                for sid in sku_ids
                for d in (4, -1)
            ]
            capture.bulk_insert(s, StockMovement, moves)
    store.checkpoint()
    with store.read() as s:
        return int(s.query(Change).count())


def all_changes(store: Store) -> list[RemoteChange]:
    out: list[RemoteChange] = []
    clock: dict[str, int] = {}
    while True:
        batch, _more = changes_for(store, clock, 10_000, 1 << 30)
        batch = [c for c in batch if c.seq > clock.get(c.origin_node, 0)]  # not the fork-check repeat
        out.extend(batch)
        if not batch:
            return out
        for c in batch:
            clock[c.origin_node] = max(clock.get(c.origin_node, 0), c.seq)


def naive_apply(store: Store, changes: list[RemoteChange], batch: int = BATCH) -> None:
    """The baseline: one ORM object merged per change, change-log row added, commit per batch."""
    models = replicated_tables()
    for i in range(0, len(changes), batch):
        with store.uow() as uow:
            s = uow.session
            s.info["replaying"] = True
            for c in changes[i : i + batch]:
                model = models[c.table_name]
                table: Any = model.__table__
                data = codec.loads(c.data or "{}")
                values = {table.c[k].key: codec.decode_value(table.c[k], v) for k, v in data.items()}
                values[next(iter(table.primary_key.columns)).key] = c.pk  # an update carries no id
                s.merge(model(**values))
                s.add(Change(**c.as_row()))
                s.flush()


def floor_apply(store: Store, changes: list[RemoteChange], *, log: bool = True) -> float:
    """The SQLite floor: the same rows and change-log rows written with no merge logic at all.

    Every row is decoded and converted to driver parameters BEFORE the clock starts; what
    is timed is only SQLite inserting them (one ``executemany`` per table and batch, into
    the same schema and indexes) and committing, in the same batches and at the same
    ``synchronous`` level as the engine's merges. No
    merge can be faster than this on the same machine; it shows how much of the engine's
    time is SQLite's own. ``log=False`` leaves out the change-log rows: the data tables'
    own share (what a merge would cost if it kept no log at all).
    """
    models = replicated_tables()
    plan: list[list[tuple[str, list[tuple[Any, ...]]]]] = []
    for i in range(0, len(changes), BATCH):
        per_table: dict[str, list[tuple[Any, ...]]] = {}
        for c in changes[i : i + BATCH]:
            table: Any = models[c.table_name].__table__
            data = codec.loads(c.data or "{}")
            per_table.setdefault(c.table_name, []).append(
                tuple(_driver_value(col, data[col.key]) for col in table.columns)
            )
        ordered = [t.name for t in Base.metadata.sorted_tables if t.name in per_table]
        steps = [(name, per_table[name]) for name in ordered]
        if log:
            steps.append(("changes", [tuple(c.as_row().values()) for c in changes[i : i + BATCH]]))
        plan.append(steps)
    raw = store.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        sql = {}
        for name in {n for steps in plan for n, _ in steps}:
            table = Base.metadata.tables[name]
            cols = list(table.c.keys())
            sql[name] = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
        conn.execute("PRAGMA synchronous=NORMAL")  # as the engine's merges commit (apply._merge)
        t0 = time.perf_counter()
        for steps in plan:
            conn.execute("BEGIN")
            for name, rows in steps:
                conn.executemany(sql[name], rows)
            conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        raw.driver_connection.execute("PRAGMA synchronous=FULL")  # the pool's default again
        raw.close()


def _driver_value(column: Any, value: Any) -> Any:
    decoded = codec.decode_value(column, value)
    if isinstance(decoded, datetime):
        return decoded.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(decoded, dict | list):
        return json.dumps(decoded)
    return decoded


def msgpack_link(peer: Store) -> Callable[[str, Payload], Payload]:
    def call(kind: str, payload: Payload) -> Payload:
        wire = msgpack.packb(payload, use_bin_type=True)
        reply = handle(peer, kind, msgpack.unpackb(wire, raw=False))
        out: Payload = msgpack.unpackb(msgpack.packb(reply, use_bin_type=True), raw=False)
        return out

    return call


def bench_apply(tmp: Path, size: int = APPLY_N) -> Table:
    src = open_store(f"sqlite:///{tmp / 'apply-src.db'}")
    n = build_source(src, size)
    changes = all_changes(src)
    dst = open_store(f"sqlite:///{tmp / 'apply-dst.db'}")
    t0 = time.perf_counter()
    for i in range(0, len(changes), BATCH):
        apply_batch(dst, changes[i : i + BATCH])
    ours = time.perf_counter() - t0
    assert vector_clock(dst)[src.node_id] == vector_clock(src)[src.node_id]
    sample = changes[: min(len(changes), 5_000)]
    base = open_store(f"sqlite:///{tmp / 'apply-naive.db'}")
    t0 = time.perf_counter()
    naive_apply(base, sample)
    naive = time.perf_counter() - t0
    bare = open_store(f"sqlite:///{tmp / 'apply-floor.db'}")
    floor = floor_apply(bare, changes)
    rows_only = open_store(f"sqlite:///{tmp / 'apply-floor-rows.db'}")
    data_floor = floor_apply(rows_only, changes, log=False)
    for s in (src, dst, base, bare, rows_only):
        s.close()
    ours_rate, naive_rate = n / ours, len(sample) / naive
    return Table(
        title=f"merge into SQLite: {n:,} changes in batches of {BATCH:,}",
        columns=["implementation", "changes", "seconds", "changes/s", "x naive"],
        rows=[
            ["apply_batch (engine)", n, ours, ours_rate, ours_rate / naive_rate],
            ["naive per-change ORM merge (baseline, sample)", len(sample), naive, naive_rate, 1.0],
            [
                "SQLite floor: the same rows pre-decoded, executemany + commit only",
                n,
                floor,
                n / floor,
                n / floor / naive_rate,
            ],
            [
                "SQLite floor, data rows only (no change log: not a valid merge)",
                n,
                data_floor,
                n / data_floor,
                n / data_floor / naive_rate,
            ],
        ],
        notes=[
            "1/4 products, 1/4 SKUs (unique codes checked), 1/2 stock movements (on-hand cache kept)",
            "the floor does no merging, no checks and no on-hand upkeep: nothing can merge faster into "
            "this schema on this machine",
            "the target is above the floor when the floor is below 100,000/s: no merge logic can reach it "
            "here; the rows-only floor shows what the replicated tables' own indexes cost",
        ],
        targets=[(f">= 100,000 changes/s ({ours_rate:,.0f}/s)", ours_rate >= 100_000)],
    )


def sell(store: Store, sales: int) -> int:
    """A shop (the POS test fixture) that rings up ``sales`` real sales; the catalog's last seq.

    Each sale is what a register does: a cart, one scan of the bulk SKU, cash (one commit
    of about 5 changes), through :class:`CheckoutService` with its own change capture.
    """
    pos = build_pos(store)
    with store.uow() as uow:  # enough stock that nothing oversells
        uow.add(
            StockMovement(sku_id=pos.bulk_id, location_id=pos.case_id, delta=10_000_000, reason="receive")
        )
    catalog = vector_clock(store)[store.node_id]
    checkout = pos.checkout
    for k in range(sales):
        cart = checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
        view = checkout.add_sku(cart.id, pos.bulk_id, 1, actor=pos.cashier)
        checkout.complete(
            cart.id,
            [TenderInput(Tender.CASH, view.total_cents)],
            actor=pos.cashier,
            client_request_id=f"bench-sale-{k}",
        )
    return catalog


def push_batches(dst: Store, origin: str, changes: list[RemoteChange], size: int) -> None:
    """Each batch as a live push arrives: msgpack in, the ``push`` handler, msgpack reply out."""
    for i in range(0, len(changes), size):
        wire = msgpack.packb(push_payload(changes[i : i + size]), use_bin_type=True)
        reply = handle(dst, "push", msgpack.unpackb(wire, raw=False), peer_node=origin)
        msgpack.packb(reply, use_bin_type=True)


def bench_small_batches(tmp: Path, sales: int = SALES_N) -> Table:
    src = open_store(f"sqlite:///{tmp / 'small-src.db'}")
    catalog_seq = sell(src, sales)
    everything = all_changes(src)
    catalog = [c for c in everything if c.seq <= catalog_seq]
    sold = sorted((c for c in everything if c.seq > catalog_seq), key=_version_key)
    n = len(sold)
    want = vector_clock(src)[src.node_id]

    def replica(name: str) -> Store:
        dst = open_store(f"sqlite:///{tmp / f'small-{name}.db'}")
        apply_batch(dst, catalog)  # the catalog the sales reference: not timed
        return dst

    variants: list[tuple[str, int, Callable[[Store, list[RemoteChange], int], None]]] = [
        ("push handler (engine)", 5, lambda d, cs, k: push_batches(d, src.node_id, cs, k)),
        ("naive per-change ORM merge (baseline)", 5, naive_apply),
        ("push handler (engine)", 1000, lambda d, cs, k: push_batches(d, src.node_id, cs, k)),
        ("naive per-change ORM merge (baseline)", 1000, naive_apply),
    ]
    measured: list[tuple[str, int, float, float]] = []
    for i, (name, size, run) in enumerate(variants):
        dst = replica(str(i))
        c0, t0 = time.process_time(), time.perf_counter()
        run(dst, sold, size)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if not name.startswith("naive"):  # (the naive merge keeps no vector clock)
            assert vector_clock(dst)[src.node_id] == want, name
            assert handle(dst, "digest", {})["digest"] == handle(src, "digest", {})["digest"], name
        dst.close()
        measured.append((name, size, wall, cpu))
    src.close()
    naive_rate = {size: n / wall for name, size, wall, _ in measured if name.startswith("naive")}
    rows = [
        [
            name,
            size,
            wall,
            n / wall,
            cpu * 1000 / -(-n // size),
            n / wall / naive_rate[size],
        ]
        for name, size, wall, cpu in measured
    ]
    five = rows[0][3]
    return Table(
        title=f"live merge of sales: {sales:,} checkouts = {n:,} changes, in batches of 5 and of 1,000",
        columns=[
            "implementation",
            "batch",
            "seconds",
            "changes/s",
            "CPU ms per batch",
            "x naive (same batch)",
        ],
        rows=rows,
        notes=[
            "sales rung up through CheckoutService on a POS fixture shop; every sale sells the same bulk "
            "SKU (as bench_mesh does), so that SKU's change history grows with the run",
            "each batch goes through protocol.handle('push') with a msgpack round trip; the replica "
            "holds the catalog beforehand (merged untimed); the engine's replica ends digest-identical "
            "to the source",
            "CPU ms per batch = process CPU time / number of batches (steadier than wall on a shared "
            "machine)",
            f"batches of 5: {five:,.0f} changes/s — no target of its own in issue 4; it is what bounds the "
            "live-push latency and the sale pace a 50-terminal mesh sustains (bench_sync, bench_mesh)",
        ],
    )


def _version_key(c: RemoteChange) -> tuple[int, str, int]:
    return (c.hlc, c.origin_node, c.seq)


def bench_bootstrap(tmp: Path, size: int = BOOT_N) -> Table:
    src = open_store(f"sqlite:///{tmp / 'boot-src.db'}")
    n = build_source(src, size)
    fresh = open_store(f"sqlite:///{tmp / 'boot-new.db'}")
    t0 = time.perf_counter()
    result = bootstrap(fresh, msgpack_link(src), chunk=10_000)
    ours = time.perf_counter() - t0
    assert result.changes == n
    sample_n = min(n, 20_000)
    slow = open_store(f"sqlite:///{tmp / 'boot-pull.db'}")
    link = msgpack_link(src)
    t0 = time.perf_counter()
    applied = 0
    while applied < sample_n:
        reply = link("changes", {"clock": vector_clock(slow), "limit": BATCH})
        if not reply["changes"]:
            break
        applied += apply_batch(slow, changes_from_wire(reply["changes"])).applied
    per = (time.perf_counter() - t0) / max(applied, 1)
    for s in (src, fresh, slow):
        s.close()
    return Table(
        title=f"bootstrap a fresh terminal: {n:,} changes",
        columns=["path", "seconds (for all changes)", "changes/s"],
        rows=[
            ["snapshot + pull (engine)", ours, n / ours],
            [
                f"change-by-change anti-entropy (baseline, {applied:,} measured, extrapolated)",
                per * n,
                1 / per,
            ],
        ],
        notes=["every message round-trips through msgpack in process; no sockets"],
        targets=[
            (f"1,000,000 changes in < 30 s ({ours * 1_000_000 / n:.1f} s scaled)", ours * 1_000_000 / n < 30)
        ],
    )


def main() -> None:
    only_small = sys.argv[1:] == ["small"]
    with tempfile.TemporaryDirectory() as d:
        benches: list[Callable[[Path], Table]] = (
            [bench_small_batches] if only_small else [bench_apply, bench_small_batches, bench_bootstrap]
        )
        for bench in benches:
            print(bench(Path(d)).markdown())
            print()


if __name__ == "__main__":
    main()
