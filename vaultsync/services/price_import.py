"""Importing a price file into the catalog: match, decide under the rules and the guard, write.

Built for a million rows against a million SKUs (target ≥ 50,000 rows/s with the guard
on), so nothing here is per-row ORM:

1. the catalog's price state is loaded once, column-wise (:class:`CatalogPrices`);
2. the file is parsed as a stream (:mod:`vaultsync.pricing.csv_formats`) and every price
   is matched to SKU indexes and checked — per-row errors are collected, nothing is
   written yet;
3. each priced SKU is decided in memory: unchanged (its price is confirmed: ONE
   :class:`~vaultsync.store.models.PriceConfirmation` row for the whole file refreshes
   the price age of every unchanged SKU, see :mod:`vaultsync.services.price_age`),
   applied (market and, under its rule, shelf price — unless a manager locked the shelf
   price), or held for review by the volatility guard;
4. unless it is a dry run, or there were errors and the manager did not choose to
   import only the valid rows, everything is written in ONE transaction through
   :func:`vaultsync.store.capture.bulk_update` / :func:`~vaultsync.store.capture.bulk_append`,
   which log every change for replication.

An import is all-or-nothing: a file with a bad row changes nothing unless
``valid_only`` is set, and then the bad rows are listed and only they are left out.
"""

from __future__ import annotations

import time
import unicodedata
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import PriceReviewStatus
from vaultsync.domain.ids import new_id
from vaultsync.domain.price_rules import (
    Rounding,
    Rule,
    RuleBook,
    ScopedRule,
    condition_price,
    held_by_guard,
    market_problem,
    shelf_price,
)
from vaultsync.pricing.csv_formats import FileProblem, PriceFile, PriceRow, RowError, Skipped
from vaultsync.services import audit
from vaultsync.services.price_age import EXCEPT, ONLY, encode_skus
from vaultsync.store import Store, capture
from vaultsync.store.models import (
    CardSet,
    Change,
    Game,
    NodeState,
    PriceConfirmation,
    PriceReview,
    PriceRule,
    PriceUpdate,
    Product,
    Sku,
)
from vaultsync.store.types import utcnow

#: per-row errors kept in a report (the count is always exact)
MAX_REPORTED_ERRORS = 1_000
#: planned changes kept for the dry-run preview
MAX_PREVIEW = 200
#: rows per bulk statement: bounds the parameter lists held in memory at once
WRITE_CHUNK = 50_000
#: SQLite page cache for the import's connection (KiB, negative per SQLite's convention):
#: the change log's indexes are large and written in random order
IMPORT_CACHE_KIB = 128 * 1024
NONE = -1  # "no value" in the integer arrays


@dataclass(frozen=True)
class PlannedChange:
    """One SKU's outcome, for the preview and the report."""

    line: int
    sku_id: str
    sku_code: str
    action: str  # "apply" | "hold" | "unchanged"
    old_market_cents: int | None
    new_market_cents: int
    old_shelf_cents: int
    new_shelf_cents: int
    floors: tuple[str, ...] = ()


@dataclass
class ImportReport:
    batch_id: str
    source: str
    format: str
    dry_run: bool
    valid_only: bool
    lines: int = 0  # data lines read (prices, skips and errors)
    prices: int = 0  # prices matched to SKUs
    applied: int = 0  # market price changed
    repriced: int = 0  # shelf price changed
    locked: int = 0  # market moved, shelf price stayed: a manager locked it
    unchanged: int = 0  # confirmed: price age refreshed
    held: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: list[PlannedChange] = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0
    #: why nothing was written, for a person (None when committed or a dry run)
    refused: str | None = None
    #: wall seconds per phase: "read" (catalog, parse, match), "write" (decide, write, commit)
    phases: dict[str, float] = field(default_factory=dict)
    #: this process's CPU seconds per phase (same keys): on a busy terminal, wall time also
    #: counts the time the import waited for a core
    cpu_phases: dict[str, float] = field(default_factory=dict)

    def error(self, err: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)


def _fold(text_: str) -> str:
    """Case- and accent-insensitive key ("Pokémon Base Set" == "pokemon base set")."""
    decomposed = unicodedata.normalize("NFKD", text_)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


class CatalogPrices:
    """Every SKU's price state as parallel arrays, indexed by position; loaded in bulk.

    About 150 bytes per SKU: a million-SKU catalog fits in a couple of hundred MB while
    an import runs, and nothing is looked up in the database per row.
    """

    def __init__(self, session: Session) -> None:
        self.ids: list[str] = []
        self.codes: dict[str, int] = {}
        self.code_list: list[str] = []
        self.market = array("q")
        self.shelf = array("q")
        self.cost = array("q")
        self.rule_key: list[tuple[str | None, str | None, str | None, str | None]] = []
        keys: dict[tuple[str | None, ...], tuple[str | None, str | None, str | None, str | None]] = {}
        # products first (a third as many rows), then the SKUs without a join
        kinds = {
            pid: (game, kind)
            for pid, game, kind in _raw_rows(session, select(Product.id, Product.game_id, Product.kind))
        }
        stmt = select(
            Sku.id,
            Sku.sku_code,
            Sku.market_price_cents,
            Sku.shelf_price_cents,
            Sku.cost_basis_cents,
            Sku.condition,
            Sku.finish,
            Sku.product_id,
        )
        ids, codes, market, shelf, cost = self.ids, self.codes, self.market, self.shelf, self.cost
        rule_key, code_list = self.rule_key, self.code_list
        none_pair: tuple[str | None, str | None] = (None, None)
        for i, (sid, code, mkt, shf, cst, cond, fin, pid) in enumerate(_raw_rows(session, stmt)):
            ids.append(sid)
            codes[code] = i
            code_list.append(code)
            market.append(NONE if mkt is None else mkt)
            shelf.append(shf)
            cost.append(NONE if cst is None else cst)
            game, kind = kinds.get(pid, none_pair)
            key = (game, kind, cond, fin)
            rule_key.append(keys.setdefault(key, key))  # share the tuples
        self._cards: dict[tuple[str, str], list[int]] | None = None
        self._graded: dict[int, tuple[str | None, str | None]] = {}
        self._sets: dict[str, list[str]] | None = None
        self._cond: dict[int, tuple[str | None, str | None]] = {}
        self._session = session
        #: SKUs whose shelf price a manager locked (few: loaded apart from the big scan)
        self.locked: set[int] = set()
        for (code,) in session.execute(select(Sku.sku_code).where(Sku.price_locked.is_(True))):
            at = codes.get(code)
            if at is not None:
                self.locked.add(at)
        #: the newest SKU creation time the catalog holds: a confirmation "of every SKU but
        #: ..." covers the SKUs created up to then (the catalog this import read)
        newest = session.scalar(select(func.max(Sku.created_at)))
        self.newest_created: datetime | None = newest

    def __len__(self) -> int:
        return len(self.ids)

    def release(self) -> None:
        """Drop what only matching needed (the code index, set/number maps) before writing."""
        self.codes = {}
        self._cards = None
        self._sets = None
        self._graded = {}
        self._cond = {}

    # ------------------------------------------------------------------ set / number matching

    def _load_cards(self) -> None:
        """(set id, collector number) -> SKU indexes; and set references -> set ids. Only
        built when a file matches by set and number instead of by SKU code."""
        conn = self._session.connection()
        index_of = {sid: i for i, sid in enumerate(self.ids)}
        cards: dict[tuple[str, str], list[int]] = {}
        rows = conn.execute(
            select(Sku.id, Sku.grader, Sku.grade, Product.set_id, Product.collector_number)
            .join(Product, Sku.product_id == Product.id)
            .where(Product.set_id.is_not(None), Product.collector_number.is_not(None))
        )
        for sid, grader, grade, set_id, number in rows:
            i = index_of.get(sid)
            if i is None:
                continue
            cards.setdefault((str(set_id), _fold(number or "")), []).append(i)
            if grader or grade:
                self._graded[i] = (grader, grade)
        sets: dict[str, list[str]] = {}
        games = {g.id: g for g in self._session.scalars(select(Game))}
        for cs in self._session.scalars(select(CardSet)):
            game = games.get(cs.game_id)
            refs = {cs.code, cs.name}
            if game is not None:
                refs |= {f"{game.name} {cs.name}", f"{game.code} {cs.name}", f"{game.code} {cs.code}"}
            for ref in refs:
                bucket = sets.setdefault(_fold(ref), [])
                if cs.id not in bucket:
                    bucket.append(cs.id)
        self._cards, self._sets = cards, sets
        detail = conn.execute(select(Sku.id, Sku.condition, Sku.finish))
        for sid, cond, fin in detail:
            i = index_of.get(sid)
            if i is not None:
                self._cond[i] = (cond, fin)

    def card_skus(self, row: PriceRow) -> list[int] | str:
        """The SKU indexes a set/number row prices, or why it cannot be matched (an error)."""
        if self._cards is None:
            self._load_cards()
        assert self._cards is not None and self._sets is not None
        set_ids = self._sets.get(_fold(row.set_ref or ""))
        if not set_ids:
            return f"unknown set {row.set_ref!r}"
        number = _fold(row.number or "")
        found: list[int] = []
        for set_id in set_ids:
            found.extend(self._cards.get((set_id, number), ()))
        out = []
        for i in found:
            graded = self._graded.get(i)
            cond, fin = self._cond.get(i, (None, None))
            if row.grade is not None:
                if graded and graded[1] == row.grade and row.grader in ("*", graded[0]):
                    out.append(i)
            elif graded is None:
                if row.condition is None:  # a product-level (near-mint) price: every normal-finish copy
                    if fin in (None, "normal"):
                        out.append(i)
                elif cond == row.condition and fin == row.finish:
                    out.append(i)
        return out


def _raw_rows(session: Session, stmt: Any, batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """Rows of :func:`_raw_chunks`, one by one."""
    for chunk in _raw_chunks(session, stmt, batch):
        yield from chunk


def _raw_chunks(session: Session, stmt: Any, batch: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of a plain-column SELECT straight from the driver, in batches.

    Compiled by SQLAlchemy; skipping its per-row result processing matters at a million
    rows (only ints and strings are read this way, which need no processing)."""
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled))
        while True:
            chunk = cursor.fetchmany(batch)
            if not chunk:
                return
            yield chunk
    finally:
        cursor.close()


#: change-log payloads that touch what an import decided on
_PRICE_COLUMNS = ('"market_price_cents"', '"shelf_price_cents"', '"cost_basis_cents"')


def _prices_changed_since(session: Session, hlc: int) -> bool:
    """Whether a price, cost, rule or review changed after ``hlc`` (the import's read phase).

    Sales bump a SKU's popularity, which is not a price: only payloads naming price columns,
    and any change to rules or reviews, count."""
    price_cols = or_(*(Change.data.contains(col) for col in _PRICE_COLUMNS))
    found = session.scalar(
        select(Change.seq)
        .where(
            Change.hlc > hlc,
            or_(
                Change.table_name.in_(["price_rules", "price_reviews"]),
                and_(Change.table_name == "skus", or_(Change.data.is_(None), price_cols)),
            ),
        )
        .limit(1)
    )
    return found is not None


def load_rulebook(session: Session) -> RuleBook:
    rules = session.scalars(
        select(PriceRule).where(PriceRule.is_active.is_(True)).order_by(PriceRule.created_at, PriceRule.id)
    )
    return RuleBook([to_scoped(r, i) for i, r in enumerate(rules)])


def to_scoped(r: PriceRule, order: int = 0) -> ScopedRule:
    rule = Rule(
        markup_bps=r.markup_bps,
        rounding=Rounding(r.rounding),
        min_price_cents=r.min_price_cents,
        guard_pct_bps=r.guard_pct_bps,
        guard_abs_cents=r.guard_abs_cents,
        condition_bps=dict(r.condition_bps) if r.condition_bps else None,
        reprice_shelf=r.reprice_shelf,
    )
    return ScopedRule(rule, r.game_id, r.kind, r.condition, r.finish, rule_id=r.id, order=order)


# ---------------------------------------------------------------------------- the import


@dataclass(frozen=True)
class ImportRequest:
    source: str
    user_id: str | None = None
    dry_run: bool = False
    valid_only: bool = False
    expected_format: str | None = None


class PriceImporter:
    """One import run; use :func:`import_prices`."""

    def __init__(self, store: Store, request: ImportRequest) -> None:
        self.store = store
        self.req = request
        self.report = ImportReport(
            batch_id=new_id(),
            source=request.source,
            format="",
            dry_run=request.dry_run,
            valid_only=request.valid_only,
        )
        # targets, parallel arrays: SKU index, new market, new cost (NONE: not given), file line
        self.t_idx = array("q")
        self.t_market = array("q")
        self.t_cost = array("q")
        self.t_line = array("q")
        self.read_at = utcnow()

    def run(self, stream: Iterable[str] | str) -> ImportReport:
        started = time.perf_counter()
        cpu = time.process_time()
        report = self.report
        try:
            price_file = PriceFile(stream, self.req.expected_format)
        except FileProblem as exc:
            report.refused = str(exc)
            report.seconds = time.perf_counter() - started
            return report
        report.format = price_file.format.value
        # 1. read, match and check the file WITHOUT the write lock: on a terminal that is also
        # selling, a long import must not hold up sales while it parses
        with self.store.read() as rs:
            start_hlc = int(rs.scalar(select(NodeState.last_hlc).where(NodeState.id == 1)) or 0)
            self.read_at = utcnow()
            catalog = CatalogPrices(rs)
            report.phases["load"] = time.perf_counter() - started
            rules = load_rulebook(rs)
            self._match(price_file, catalog, rules)
            catalog.release()
        report.phases["read"] = time.perf_counter() - started
        report.cpu_phases["read"] = time.process_time() - cpu
        if report.error_count and not self.req.valid_only and not self.req.dry_run:
            report.refused = (
                f"{report.error_count:,} row(s) have errors: nothing was imported. Fix the file, "
                "or choose to import only the valid rows."
            )
        elif self.req.dry_run:
            with self.store.read() as rs:
                self._decide_and_write(rs, catalog, rules)
        else:
            # 2. decide and write in one transaction, unless prices moved meanwhile
            with self.store.uow() as uow:
                session = uow.session
                sqlite_ = session.get_bind().dialect.name == "sqlite"
                if sqlite_:
                    session.connection().exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
                try:
                    if _prices_changed_since(session, start_hlc):
                        report.refused = (
                            "prices or rules changed while the file was being checked (another import, a "
                            "manager's edit or a peer's): nothing was imported; run it again"
                        )
                    else:
                        self._decide_and_write(session, catalog, rules)
                        report.committed = True
                finally:
                    if sqlite_:
                        session.connection().exec_driver_sql("PRAGMA cache_size=-2000")
        report.seconds = time.perf_counter() - started
        report.phases["write"] = report.seconds - report.phases["read"]
        report.cpu_phases["write"] = time.process_time() - cpu - report.cpu_phases["read"]
        return report

    # ------------------------------------------------------------------ 1. match

    def _match(self, price_file: PriceFile, catalog: CatalogPrices, rules: RuleBook) -> None:
        report = self.report
        codes = catalog.codes
        seen = array("q", bytes(8 * len(catalog)))  # per SKU: the line that priced it (0: none yet)
        t_idx, t_market, t_cost, t_line = self.t_idx, self.t_market, self.t_cost, self.t_line
        last_line = 0
        for item in price_file:
            line = item.line
            if line != last_line:
                report.lines += 1
                last_line = line
            if type(item) is not PriceRow:
                if type(item) is Skipped:
                    report.skipped += 1
                else:
                    report.error(item)  # type: ignore[arg-type]
                continue
            row: PriceRow = item
            problem = market_problem(row.market_cents)
            if problem is not None:
                report.error(RowError(line, f"{row.describe()}: {problem}"))
                continue
            cost = NONE if row.cost_cents is None else row.cost_cents
            if row.sku_code is not None:
                i = codes.get(row.sku_code)
                if i is None:
                    i = codes.get(row.sku_code.upper())
                if i is None:
                    report.error(RowError(line, f"unknown SKU code {row.sku_code!r}"))
                    continue
                targets: list[int] = [i]
            else:
                found = catalog.card_skus(row)
                if isinstance(found, str):
                    report.error(RowError(line, f"{row.describe()}: {found}"))
                    continue
                if not found:
                    report.skipped += 1  # a card this shop does not stock
                    continue
                targets = found
            for i in targets:
                first = seen[i]
                if first:
                    report.error(RowError(line, f"{catalog.code_list[i]}: priced twice (also line {first})"))
                    continue
                seen[i] = line
                market = row.market_cents
                if row.condition is None and row.grade is None and row.sku_code is None:
                    rule, _ = rules.resolve(*catalog.rule_key[i])
                    market = condition_price(market, rule, catalog.rule_key[i][2])
                t_idx.append(i)
                t_market.append(market)
                t_cost.append(cost)
                t_line.append(line)
        report.prices = len(t_idx)

    # ------------------------------------------------------------------ 2. decide and write

    def _decide_and_write(self, session: Session, catalog: CatalogPrices, rules: RuleBook) -> None:
        report = self.report
        now = utcnow()
        source = self.req.source
        batch = report.batch_id
        user = self.req.user_id
        pending = {
            sku_id: (rid, proposed)
            for rid, sku_id, proposed in session.execute(
                select(PriceReview.id, PriceReview.sku_id, PriceReview.proposed_cents).where(
                    PriceReview.status == PriceReviewStatus.PENDING.value
                )
            )
        }
        ids, market, shelf, cost = catalog.ids, catalog.market, catalog.shelf, catalog.cost
        rule_key = catalog.rule_key
        preview = report.preview
        dry = self.req.dry_run
        writer = _Writer(session, dry)
        locked = catalog.locked
        #: per catalog index: 0 not confirmed, 1 confirmed unchanged, 2 changed (its own
        #: price_as_of moves, so a confirmation may cover it or not)
        state = bytearray(len(ids))
        for n in range(len(self.t_idx)):
            i = self.t_idx[n]
            new = self.t_market[n]
            new_cost = self.t_cost[n]
            old = market[i]
            old_m = None if old == NONE else old
            cur_cost = cost[i]
            cost_changes = new_cost not in (NONE, cur_cost)
            eff_cost = new_cost if new_cost != NONE else cur_cost
            sku_id = ids[i]
            if old == new:  # confirmed: no rule needed (the common case of a daily file)
                report.unchanged += 1
                state[i] = 1
                if cost_changes:
                    writer.cost_only(sku_id, new_cost)
                if sku_id in pending:
                    writer.supersede(pending[sku_id][0], "the feed confirmed the current price")
                if len(preview) < MAX_PREVIEW and cost_changes:
                    preview.append(
                        PlannedChange(
                            self.t_line[n],
                            sku_id,
                            catalog.code_list[i],
                            "unchanged",
                            old_m,
                            new,
                            shelf[i],
                            shelf[i],
                        )
                    )
                continue
            rule, _rid = rules.resolve(*rule_key[i])
            if held_by_guard(old_m, new, rule):
                report.held += 1
                reason = _hold_reason(old_m, new, rule)
                existing = pending.get(sku_id)
                if existing is None:
                    writer.new_review(sku_id, source, old_m, new, reason, batch)
                elif existing[1] != new:
                    writer.update_review(existing[0], source, new, reason, batch)
                if cost_changes:
                    writer.cost_only(sku_id, new_cost)
                if len(preview) < MAX_PREVIEW:
                    preview.append(
                        PlannedChange(
                            self.t_line[n],
                            sku_id,
                            catalog.code_list[i],
                            "hold",
                            old_m,
                            new,
                            shelf[i],
                            shelf[i],
                        )
                    )
                continue
            report.applied += 1
            state[i] = 2
            old_shelf = shelf[i]
            new_shelf = old_shelf
            floors: tuple[str, ...] = ()
            is_locked = i in locked
            if is_locked:
                report.locked += 1
            elif rule.reprice_shelf:
                quote = shelf_price(new, rule, cost_cents=None if eff_cost == NONE else eff_cost)
                new_shelf, floors = quote.cents, quote.floors
            shelf_moved = new_shelf != old_shelf
            writer.apply(
                sku_id,
                source,
                now,
                new,
                new_shelf if shelf_moved else None,
                new_cost if cost_changes else None,
            )
            if shelf_moved:
                report.repriced += 1
            writer.ledger(
                sku_id,
                source,
                old_m,
                new,
                user,
                batch,
                now,
                old_shelf if shelf_moved else None,
                new_shelf if shelf_moved else None,
                (
                    "shelf price locked"
                    if is_locked
                    else ("shelf floor: " + "+".join(floors))
                    if shelf_moved and floors
                    else None
                ),
            )
            if sku_id in pending:
                writer.supersede(pending[sku_id][0], f"{source} moved within the guard to {new}")
            if len(preview) < MAX_PREVIEW:
                preview.append(
                    PlannedChange(
                        self.t_line[n],
                        sku_id,
                        catalog.code_list[i],
                        "apply",
                        old_m,
                        new,
                        old_shelf,
                        new_shelf,
                        floors,
                    )
                )
        writer.flush()
        if not dry:
            self._confirm(session, catalog, state, now)
            audit.record(
                session,
                "pricing.import",
                user_id=user,
                entity_type="price_import",
                entity_id=batch,
                after={
                    "source": source,
                    "format": report.format,
                    "valid_only": self.req.valid_only,
                    "prices": report.prices,
                    "applied": report.applied,
                    "repriced": report.repriced,
                    "locked": report.locked,
                    "held": report.held,
                    "unchanged": report.unchanged,
                    "errors": report.error_count,
                },
            )

    def _confirm(self, session: Session, catalog: CatalogPrices, state: bytearray, now: datetime) -> None:
        """Record the unchanged prices as confirmed, in one ledger row (see :mod:`price_age`).

        Lists whichever is shorter: the confirmed SKUs, or the catalog's SKUs that were NOT
        confirmed (held, bad rows, not in the file). SKUs whose price changed may go either
        way: their own ``price_as_of`` is now anyway."""
        if not self.report.unchanged:
            return
        marks = np.frombuffer(bytes(state), dtype=np.uint8)
        ids = catalog.ids
        not_confirmed = np.flatnonzero(marks == 0)
        if len(not_confirmed) < self.report.unchanged:
            mode, listed = EXCEPT, [ids[i] for i in not_confirmed.tolist()]
            newest = catalog.newest_created
            scope = self.read_at if newest is None else max(self.read_at, _aware(newest))
        else:
            mode, listed = ONLY, [ids[i] for i in np.flatnonzero(marks == 1).tolist()]
            scope = None
        capture.bulk_append(
            session,
            PriceConfirmation,
            [
                {
                    "source": self.req.source,
                    "as_of": now,
                    "mode": mode,
                    "scope_until": scope,
                    "listed": len(listed),
                    "skus": encode_skus(listed),
                    "batch_id": self.report.batch_id,
                }
            ],
        )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _hold_reason(old: int | None, new: int, rule: Rule) -> str:
    pct = abs(new - (old or 0)) * 100 / (old or 1)
    direction = "up" if new > (old or 0) else "down"
    return (
        f"market {direction} {pct:.0f}% (${abs(new - (old or 0)) / 100:,.2f}); guard holds moves of "
        f"{rule.guard_pct_bps / 100:g}% and ${rule.guard_abs_cents / 100:,.2f} or more"
    )


_LEDGER_VARYING = ("sku_id", "old_cents", "new_cents", "shelf_old_cents", "shelf_new_cents", "note")


class _Writer:
    """Collects the writes of an import by kind and flushes them in bulk, chunk by chunk."""

    def __init__(self, session: Session, dry: bool) -> None:
        self.session = session
        self.dry = dry
        self.sku_groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self.ledger_cols: dict[str, list[Any]] = {k: [] for k in _LEDGER_VARYING}
        self.ledger_same: dict[str, Any] = {}
        self.reviews_new: list[dict[str, Any]] = []
        self.review_updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self.pending = 0

    def _sku(self, row: dict[str, Any]) -> None:
        key = tuple(row)
        self.sku_groups.setdefault(key, []).append(row)
        self._tick()

    def _tick(self) -> None:
        self.pending += 1
        if self.pending >= WRITE_CHUNK:
            self.flush()

    def cost_only(self, sku_id: str, cost: int) -> None:
        self._sku({"id": sku_id, "cost_basis_cents": cost})

    def apply(
        self, sku_id: str, source: str, now: datetime, market: int, shelf: int | None, cost: int | None
    ) -> None:
        row: dict[str, Any] = {
            "id": sku_id,
            "market_price_cents": market,
            "price_source": source,
            "price_as_of": now,
        }
        if shelf is not None:
            row["shelf_price_cents"] = shelf
        if cost is not None:
            row["cost_basis_cents"] = cost
        self._sku(row)

    def ledger(
        self,
        sku_id: str,
        source: str,
        old: int | None,
        new: int,
        user: str | None,
        batch: str,
        now: datetime,
        shelf_old: int | None,
        shelf_new: int | None,
        note: str | None,
    ) -> None:
        """One market change (and the shelf move it caused, if any): one ledger row."""
        # column-wise (capture.bulk_append_columns): what every entry of an import shares
        # (source, user, batch, time) is encoded once
        if not self.ledger_same:
            self.ledger_same = {
                "source": source,
                "field": "market",
                "user_id": user,
                "review_id": None,
                "batch_id": batch,
                "created_at": now,
            }
        cols = self.ledger_cols
        cols["sku_id"].append(sku_id)
        cols["old_cents"].append(old)
        cols["new_cents"].append(new)
        cols["shelf_old_cents"].append(shelf_old)
        cols["shelf_new_cents"].append(shelf_new)
        cols["note"].append(note)
        self._tick()

    def new_review(
        self, sku_id: str, source: str, old: int | None, new: int, reason: str, batch: str
    ) -> None:
        self.reviews_new.append(
            {
                "sku_id": sku_id,
                "source": source,
                "old_cents": old,
                "proposed_cents": new,
                "status": PriceReviewStatus.PENDING.value,
                "reason": reason,
                "batch_id": batch,
            }
        )
        self._tick()

    def update_review(self, review_id: str, source: str, new: int, reason: str, batch: str) -> None:
        row = {"id": review_id, "source": source, "proposed_cents": new, "reason": reason, "batch_id": batch}
        self.review_updates.setdefault(tuple(row), []).append(row)
        self._tick()

    def supersede(self, review_id: str, why: str) -> None:
        row = {
            "id": review_id,
            "status": PriceReviewStatus.SUPERSEDED.value,
            "decided_at": utcnow(),
            "reason": why,
        }
        self.review_updates.setdefault(tuple(row), []).append(row)
        self._tick()

    def flush(self) -> None:
        if not self.dry:
            s = self.session
            for rows in self.sku_groups.values():
                capture.bulk_update(s, Sku, rows)
            count = len(self.ledger_cols["sku_id"])
            capture.bulk_append_columns(s, PriceUpdate, self.ledger_cols, count, same=self.ledger_same)
            capture.bulk_append(s, PriceReview, self.reviews_new)
            for rows in self.review_updates.values():
                capture.bulk_update(s, PriceReview, rows)
        self.sku_groups = {}
        self.ledger_cols = {k: [] for k in _LEDGER_VARYING}
        self.reviews_new = []
        self.review_updates = {}
        self.pending = 0


def import_prices(store: Store, stream: Iterable[str] | str, request: ImportRequest) -> ImportReport:
    """Import one price file (see the module docstring); returns what happened, row by row."""
    return PriceImporter(store, request).run(stream)


def lines_of(data: bytes) -> Iterator[str]:
    """Text lines of an uploaded or fetched file (raises FileProblem for binary/undecodable data)."""
    from vaultsync.pricing.csv_formats import decode

    yield from decode(data).splitlines(keepends=True)
