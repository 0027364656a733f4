"""SKU search, 1,000,000 SKUs (quick: 100,000): compiled index vs pure reference vs SQLite FTS5,
LIKE and rapidfuzz, all measured in one run on the same catalog and the same queries.

Catalog: the demo generator's rows (names, sets, collector numbers, SKU codes, barcodes, certs,
stock, popularity), produced in memory by driving its catalog builder with a collecting writer,
so no 2.5 GB database has to be written first (the rows are exactly what ``generate_demo_shop``
would store, minus the ids and timestamps).

Query classes (drawn from the catalog with a fixed seed): exact barcode / SKU code; prefix
(3+ leading letters of a name word); substring (the inside of a name word); multi-word (4-letter
prefixes of two name words); typo (one interior substitution, deletion or transposition of a 5+
letter name word - interior, so the typo is never also a plain prefix). Each query is timed three
times and its best time kept (the 2-core machine is shared: the minimum filters out scheduler
noise), then p50/p99 are taken over the queries, identically for every column.

Recall@20 (typo): ground truth by brute force - every distinct token compared with the typo
word (prefix, substring, or optimal-string-alignment distance within the budget; rapidfuzz's C
OSA when available), mapped to its SKUs and ranked with the index's documented key. Ours:
|top-20 ∩ ground-truth top-20| / 20; rapidfuzz ``process.extract`` over the SKU names:
|its top-20 ∩ relevant SKUs| / 20 (it cannot know stock or popularity).

Targets (issue 5): ranked top-20 prefix/substring/multi-word p99 <= 1 ms; typo p99 <= 10 ms with
recall@20 >= 0.99; build <= 5 s and <= 400 MB; incremental update <= 50 us.
"""

from __future__ import annotations

import contextlib
import gc
import random
import re
import sqlite3
import time
from array import array
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from benchmarks.report import Table
from vaultsync import native
from vaultsync.pure import search as P

Row = tuple[
    Any, ...
]  # name, set code, set name, number, sku code, barcode, cert, game, cond, finish, on hand, pop
_WORD = re.compile(r"[^\W_]+")


# ------------------------------------------------------------------------------------ catalog


def demo_rows(n: int, seed: int = 7) -> list[Row]:
    """The demo catalog's SKUs as flat rows, generated in memory (see the module docstring)."""
    from vaultsync.services import demo as D
    from vaultsync.store.types import utcnow

    class Collect(D._Writer):
        def __init__(self) -> None:  # no store, no session: rows are only collected
            self.now = utcnow()
            self.sets: list[dict[str, Any]] = []
            self.products: list[dict[str, Any]] = []
            self.skus: list[dict[str, Any]] = []
            self.moves: list[dict[str, Any]] = []
            self.counts: dict[str, int] = {}
            self.out: list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = []

        def add_set(self, row: dict[str, Any]) -> None:
            pass

        def add(
            self, product: dict[str, Any], skus: list[dict[str, Any]], moves: list[dict[str, Any]]
        ) -> None:
            self.out.append((product, skus, moves))

        def flush(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def insert(self, model: Any, rows: list[dict[str, Any]]) -> None:
            pass

    writer = Collect()
    original = D._Writer
    D._Writer = lambda store, counts, now: writer  # type: ignore[misc,assignment]
    try:
        catalog = D._Catalog(None, n, seed, {})  # type: ignore[arg-type]
    finally:
        D._Writer = original  # type: ignore[misc]
    parts: list[tuple[str, Callable[[random.Random], Any]]] = [
        ("mtg", catalog._mtg),
        ("pokemon", catalog._pokemon),
        ("yugioh", catalog._yugioh),
        ("lorcana", catalog._lorcana),
        ("sports", catalog._sports),
        ("comics", catalog._comics),
        ("bulk", catalog._bulk),
        ("sealed", catalog._sealed),
        ("graded", catalog._graded),
        ("one_off", catalog._one_offs),
        ("supplies", catalog._supplies),
    ]
    for part, generator in parts:
        remaining = catalog.budget.parts[part]
        for product, plans in generator(catalog.rng(part)):
            if remaining <= 0:
                break
            taken = plans[:remaining]
            remaining -= len(taken)
            catalog._emit(product, taken)
    sets = {s.id: s for reg in catalog.registries.values() for s in reg.sets}
    games = {v: k for k, v in catalog.game_ids.items()}
    rows: list[Row] = []
    for product, skus, moves in writer.out:
        stock: dict[str, int] = {}
        for m in moves:
            stock[m["sku_id"]] = stock.get(m["sku_id"], 0) + m["delta"]
        cs = sets.get(str(product.get("set_id")))
        for s in skus:
            rows.append(
                (
                    product["name"],
                    cs.code if cs else None,
                    cs.name if cs else None,
                    product.get("collector_number"),
                    s["sku_code"],
                    s["barcode"],
                    s["cert_number"],
                    games[product["game_id"]],
                    s["condition"],
                    s["finish"],
                    stock.get(s["id"], 0),
                    min(s["popularity"], P.MAX_POPULARITY),
                )
            )
    return rows


def _tokens(text: str | None) -> list[str]:
    if not text:
        return []
    return _WORD.findall(text.lower()) if text.isascii() else P.tokenize(text)


def make_queries(rows: Sequence[Row], count: int, seed: int = 11) -> dict[str, list[str]]:
    rng = random.Random(seed)
    out: dict[str, list[str]] = {c: [] for c in ("exact", "prefix", "substring", "multi-word", "typo")}
    while min(len(v) for v in out.values()) < count:
        r = rows[rng.randrange(len(rows))]
        words = [w for w in _tokens(r[0]) if len(w) >= 4 and not w.isdigit() and w.isascii()]
        out["exact"].append(r[5] or r[6] or r[4])
        if not words:
            continue
        w = rng.choice(words)
        out["prefix"].append(w[: rng.randint(3, len(w))])
        out["substring"].append(w[1 : 1 + max(3, len(w) - 2)])
        if len(words) >= 2:
            a, b = rng.sample(words, 2)
            out["multi-word"].append(f"{a[:4]} {b[:4]}")
        if len(w) >= 5:
            i = rng.randint(1, len(w) - 3)
            kind = rng.choice("sdt")
            if kind == "s":
                typo = w[:i] + rng.choice([c for c in "aeiourstln" if c != w[i]]) + w[i + 1 :]
            elif kind == "d":
                typo = w[:i] + w[i + 1 :]
            else:
                typo = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
            if typo != w:
                out["typo"].append(typo)
    return {k: v[:count] for k, v in out.items()}


# ------------------------------------------------------------------------------------ measuring


def _heap() -> int:
    """Bytes in use on the C heap (glibc ``mallinfo2``: malloc'd blocks plus mmap'd ones, which
    include CPython's object arenas), falling back to RSS. RSS alone under-reports here: the
    catalog generator frees hundreds of MB that the index build then reuses."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [
                (f, ctypes.c_size_t)
                for f in (
                    "arena",
                    "ordblks",
                    "smblks",
                    "hblks",
                    "hblkhd",
                    "usmblks",
                    "fsmblks",
                    "uordblks",
                    "fordblks",
                    "keepcost",
                )
            ]

        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
        return int(info.uordblks + info.hblkhd)
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:  # pragma: no cover - neither glibc nor Linux
        return 0


def _latencies(fn: Callable[[str], Any], queries: Sequence[str], runs: int = 3) -> tuple[float, float]:
    """(p50, p99) in ms over queries, each the best of ``runs`` runs."""
    times = []
    for q in queries:
        best = float("inf")
        for _ in range(runs):
            t = time.perf_counter()
            fn(q)
            best = min(best, time.perf_counter() - t)
        times.append(best)
    times.sort()
    return times[len(times) // 2] * 1e3, times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3


def _cell(p50_p99: tuple[float, float], digits: int = 3) -> str:
    return f"{p50_p99[0]:.{digits}f} / {p50_p99[1]:.{digits}f}"


def _build_index(module: ModuleType, rows: Sequence[Row]) -> tuple[Any, float, float]:
    gc.collect()
    before = _heap()
    t = time.perf_counter()
    index = module.SearchIndex()
    add = index.add
    for i, r in enumerate(rows):
        add(
            i,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            game=r[7],
            condition=r[8],
            finish=r[9],
            on_hand=r[10],
            popularity=r[11],
        )
    index.query("warmup")  # the compiled index sorts its vocabulary on the first query
    return index, time.perf_counter() - t, (_heap() - before) / 1e6


def _sqlite(rows: Sequence[Row]) -> tuple[sqlite3.Connection, dict[str, tuple[float, float]]]:
    db = sqlite3.connect(":memory:")
    built: dict[str, tuple[float, float]] = {}
    texts = [(i, " ".join(str(x) for x in r[:7] if x)) for i, r in enumerate(rows)]
    for name, ddl, fill in (
        ("LIKE", "CREATE TABLE plain(id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO plain VALUES (?, ?)"),
        (
            "FTS5 trigram",
            "CREATE VIRTUAL TABLE tri USING fts5(body, tokenize='trigram')",
            "INSERT INTO tri(rowid, body) VALUES (?, ?)",
        ),
        (
            "FTS5 unicode61",
            "CREATE VIRTUAL TABLE uni USING fts5(body, tokenize='unicode61 remove_diacritics 2', "
            "prefix='2 3 4')",
            "INSERT INTO uni(rowid, body) VALUES (?, ?)",
        ),
    ):
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        t = time.perf_counter()
        db.execute(ddl)
        db.executemany(fill, texts)
        db.commit()
        size = (db.execute("PRAGMA page_count").fetchone()[0] - pages) * db.execute(
            "PRAGMA page_size"
        ).fetchone()[0]
        built[name] = (time.perf_counter() - t, size / 1e6)
    return db, built


def _fts_phrase(q: str, prefix: bool) -> str:
    return " ".join('"' + w.replace('"', "") + '"' + ("*" if prefix else "") for w in q.split())


def _ground_truth(rows: Sequence[Row], queries: Sequence[str]) -> list[tuple[list[int], set[int]]]:
    """Brute force per typo query: (top-20 by the documented key, every relevant SKU)."""
    try:
        from rapidfuzz.distance import OSA

        def within(a: str, b: str, k: int) -> bool:
            return OSA.distance(a, b, score_cutoff=k) <= k
    except ImportError:  # pragma: no cover - slower fallback

        def within(a: str, b: str, k: int) -> bool:
            return abs(len(a) - len(b)) <= k and P.osa_distance(a.encode(), b.encode()) <= k

    postings: dict[str, array[int]] = {}
    for i, r in enumerate(rows):
        for tok in {t for f in r[:7] for t in _tokens(f)}:
            if not (tok.isascii() and tok.isdigit()):
                postings.setdefault(tok, array("i")).append(i)
    out = []
    for q in queries:
        k = P.edit_budget(len(q.encode()))
        best: dict[int, int] = {}
        for tok, docs in postings.items():
            if tok.startswith(q):
                cls = P.WORD_PREFIX
            elif q in tok:
                cls = P.SUBSTRING
            elif within(q, tok, k):
                cls = P.FUZZY
            else:
                continue
            for d in docs:
                if best.get(d, 9) > cls:
                    best[d] = cls
        ranked = sorted(best, key=lambda d: (best[d], rows[d][10] <= 0, -rows[d][11], d))
        out.append((ranked[:20], set(best)))
    return out


# ------------------------------------------------------------------------------------ the suite


def run(quick: bool) -> list[Table]:
    n = 100_000 if quick else 1_000_000
    nq = 200 if quick else 1_000
    n_fuzz = 20 if quick else 50  # rapidfuzz / brute force: ~10-130 ms per query
    n_pure = 20 if quick else 50  # the pure reference scans its vocabulary in Python: ~20-90 ms per query
    pure_n = n if quick else 100_000  # the pure reference at 1M would take minutes and GBs
    t0 = time.perf_counter()
    rows = demo_rows(n)
    gen_s = time.perf_counter() - t0
    queries = make_queries(rows, nq)
    compiled: ModuleType | None = None
    with contextlib.suppress(ImportError):
        compiled = native.load_compiled("search")
    pure = native.load_pure("search")

    cols = ["measure", "compiled", "pure", "FTS5 trigram", "FTS5 unicode61", "LIKE", "rapidfuzz"]
    build_rows: list[list[Any]] = []
    c_index = c_build = c_mem = None
    if compiled is not None:
        c_index, c_build, c_mem = _build_index(compiled, rows)
    p_rows = rows[:pure_n]
    p_index, p_build, p_mem = _build_index(pure, p_rows)
    db, sql_built = _sqlite(rows)
    names = [r[0] for r in rows]
    build_rows.append(
        [
            "build s",
            c_build,
            p_build,
            sql_built["FTS5 trigram"][0],
            sql_built["FTS5 unicode61"][0],
            sql_built["LIKE"][0],
            0.0,
        ]
    )
    build_rows.append(
        [
            "memory MB",
            c_mem,
            p_mem,
            sql_built["FTS5 trigram"][1],
            sql_built["FTS5 unicode61"][1],
            sql_built["LIKE"][1],
            "-",
        ]
    )

    lat_rows: list[list[Any]] = []
    p50p99: dict[tuple[str, str], tuple[float, float]] = {}
    fts_sql = {
        "tri": "SELECT rowid FROM tri WHERE tri MATCH ? LIMIT 20",
        "tri_rank": "SELECT rowid FROM tri WHERE tri MATCH ? ORDER BY bm25(tri) LIMIT 20",
        "uni": "SELECT rowid FROM uni WHERE uni MATCH ? ORDER BY bm25(uni) LIMIT 20",
    }
    rf_fuzz: Any = None
    rf_process: Any = None
    with contextlib.suppress(ImportError):  # optional anchor: pip install rapidfuzz
        from rapidfuzz import fuzz as rf_fuzz
        from rapidfuzz import process as rf_process
    rf_hits: list[Any] = []  # rapidfuzz answers, reused for its recall
    for cls, qs in queries.items():
        cells: list[Any] = [cls]
        ours = c_index.query if c_index is not None else None
        for fn, qq, key, runs in ((ours, qs, "compiled", 3), (p_index.query, qs[:n_pure], "pure", 1)):
            if fn is None:
                cells.append("-")
                continue
            p50p99[(cls, key)] = _latencies(fn, qq, runs)
            cells.append(_cell(p50p99[(cls, key)]))
        tri_ok = cls != "typo" and all(len(w) >= 3 for q in qs for w in q.split())
        if tri_ok:
            p = _latencies(lambda q: db.execute(fts_sql["tri"], (_fts_phrase(q, False),)).fetchall(), qs)
            rk = _latencies(
                lambda q: db.execute(fts_sql["tri_rank"], (_fts_phrase(q, False),)).fetchall(), qs
            )
            cells.append(f"{_cell(p)} unranked; {_cell(rk)} bm25")
        else:
            cells.append("n/a")
        if cls in ("prefix", "multi-word", "exact"):
            u = _latencies(lambda q: db.execute(fts_sql["uni"], (_fts_phrase(q, True),)).fetchall(), qs)
            cells.append(f"{_cell(u)} bm25")
        else:
            cells.append("n/a")
        if cls != "typo":
            like_q = qs[: max(20, nq // 10)]

            def like(q: str) -> Any:
                where = " AND ".join("body LIKE ?" for _ in q.split())
                return db.execute(
                    f"SELECT id FROM plain WHERE {where} LIMIT 20", [f"%{w}%" for w in q.split()]
                ).fetchall()

            cells.append(f"{_cell(_latencies(like, like_q))} unranked")
        else:
            cells.append("n/a")
        if cls == "typo" and rf_process is not None:
            rf = _latencies(
                lambda q: rf_hits.append(rf_process.extract(q, names, scorer=rf_fuzz.WRatio, limit=20)),
                qs[:n_fuzz],
                runs=1,
            )
            p50p99[(cls, "rapidfuzz")] = rf
            cells.append(_cell(rf, 1))
        else:
            cells.append("n/a")
        lat_rows.append(cells)

    # recall@20 on typo queries
    sample = queries["typo"][:n_fuzz]
    truth = _ground_truth(rows, sample)
    recall_c = recall_rf = None
    if c_index is not None:
        recall_c = sum(
            len(set(c_index.query(q)[1]) & set(gt)) / max(1, len(gt))
            for q, (gt, _) in zip(sample, truth, strict=True)
        ) / len(sample)
    if rf_process is not None:
        recall_rf = 0.0
        for hits, (_gt, relevant) in zip(rf_hits, truth, strict=True):
            got = [i for _n, _s, i in hits]
            recall_rf += len(set(got) & relevant) / max(1, min(20, len(relevant)))
        recall_rf /= len(sample)
    lat_rows.append(["typo recall@20", recall_c, "same results (parity)", "n/a", "n/a", "n/a", recall_rf])

    # incremental updates (compiled): stock only, and a re-add with changed text
    upd: list[Any] = ["update µs (stock / text)", "-", "-", "n/a", "n/a", "n/a", "n/a"]
    stock_us = text_us = None
    for col, index in ((1, c_index), (2, p_index)):
        if index is None:
            continue
        m = min(10_000, len(p_rows))
        t = time.perf_counter()
        for i in range(m):
            index.set_stock(i, 1 + i % 3)
        s_us = (time.perf_counter() - t) / m * 1e6
        t = time.perf_counter()
        for i in range(m):
            r = rows[i]
            index.add(
                i,
                r[0] + " Reprint",
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                game=r[7],
                condition=r[8],
                finish=r[9],
                on_hand=r[10],
                popularity=r[11],
            )
        t_us = (time.perf_counter() - t) / m * 1e6
        upd[col] = f"{s_us:.2f} / {t_us:.2f}"
        if col == 1:
            stock_us, text_us = s_us, t_us
    lat_rows.append(upd)

    notes = [
        f"{n:,} demo SKUs generated in memory in {gen_s:.1f} s; cells are p50 / p99 ms over "
        f"{nq:,} queries per class (best of 3 runs each); pure over {n_pure} and rapidfuzz over {n_fuzz} "
        f"(one run each), LIKE over {max(20, nq // 10)} queries",
        "compiled/pure: ranked top-20 with the total count; FTS5 'unranked' is LIMIT 20 without a count; "
        "FTS5 needs 3+ characters per trigram word, folds no accents in trigram mode (SQLite 3.40) and "
        "has no typo tolerance; rapidfuzz = process.extract (WRatio) over the SKU names",
        f"pure reference built and queried over the first {pure_n:,} SKUs" + ("" if pure_n == n else " only"),
        "memory: heap growth while building (glibc mallinfo2: the compiled index is C heap, which "
        "tracemalloc cannot see); SQLite: pages added to the in-memory database",
        "machine shared with other jobs (2 cores); see the module docstring for the query classes",
    ]
    targets: list[tuple[str, bool]] = []
    if c_index is not None:
        for cls in ("prefix", "substring", "multi-word"):
            targets.append(
                (
                    f"{cls} p99 <= 1 ms ({p50p99[(cls, 'compiled')][1]:.3f})",
                    p50p99[(cls, "compiled")][1] <= 1.0,
                )
            )
        targets.append(
            (
                f"typo p99 <= 10 ms ({p50p99[('typo', 'compiled')][1]:.3f})",
                p50p99[("typo", "compiled")][1] <= 10.0,
            )
        )
        targets.append(
            (f"typo recall@20 >= 0.99 ({recall_c:.3f})", bool(recall_c is not None and recall_c >= 0.99))
        )
        targets.append((f"build <= 5 s ({c_build:.2f})", bool(c_build is not None and c_build <= 5.0)))
        targets.append((f"memory <= 400 MB ({c_mem:.0f})", bool(c_mem is not None and c_mem <= 400)))
        targets.append(
            (
                f"incremental update <= 50 µs ({text_us:.2f} text, {stock_us:.2f} stock)",
                bool(text_us is not None and text_us <= 50),
            )
        )
    else:
        notes.append("compiled search kernel not built: compiled column empty")
    db.close()
    return [
        Table(f"SKU search, {n:,} SKUs: build", cols, build_rows, notes=notes[2:4]),
        Table(
            f"SKU search, {n:,} SKUs: top-20 latency (p50 / p99 ms), recall, updates",
            cols,
            lat_rows,
            notes=notes,
            targets=targets,
        ),
    ]


if __name__ == "__main__":  # pragma: no cover - manual run: python -m benchmarks.suite_search [--full]
    import sys

    for table in run(quick="--full" not in sys.argv):
        print(table.markdown(), end="\n\n")
