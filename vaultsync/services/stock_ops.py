"""Moving stock as a manager does: receive, transfer, write off, count, reorder.

Every operation appends movements to the stock ledger (``stock_movements``) in ONE unit of
work with its audit entry; nothing overwrites an on-hand number.

**Receiving** updates the SKU's weighted-average cost basis::

    new_cost = (on_hand × old_cost + qty × unit_cost) / (on_hand + qty)

in integer cents, rounded half up (half a cent goes to the higher cent: the shop does not
understate what it paid). ``on_hand`` is the SKU's total over all locations, floored at 0 (an
oversold SKU's negative units carry no cost); a SKU without a cost basis takes the unit cost.
The cost basis is a last-writer-wins column: two terminals receiving the same SKU while cut off
from each other keep the later average, not a blend — receiving is a back-office job on one desk.

**Stock counts** record what was counted as insert-only entries, each positioned in the ledger
by the hybrid logical clock of its write. Committing turns each (SKU, location)'s newest entry
into an adjustment of ``counted − base``, where *base* is the sum of the movements positioned at
or before the entry (a count adjustment is positioned at its own entry, not at its commit). So:

* a sale, return or receipt made after the line was counted is not part of the base and stays
  on top of the count — nothing sold during a count is lost;
* an offline terminal's sale made *before* the line was counted, which only arrives later by
  sync, is part of the base (its HLC is earlier), so it is not subtracted twice;
* two counts of the same shelf: the physically later count wins; an older count committed after
  a newer one has been committed leaves that line alone (reported as superseded);
* counting a line again appends a newer entry (the newest wins); abandoning a count writes no
  movements; an item counted where the system expected none is simply added (base 0);
* expected items nobody counted are left alone unless the manager commits with
  ``zero_missing`` — then they are recorded as "not found" at the commit and zeroed.

Adjustment movement ids are derived from the entry id (and a "not found" entry's id from its
count and line), so a count committed on two terminals while partitioned, with or without
``zero_missing``, cannot adjust the same line twice once they sync (the ledger is merged by
primary key). Abandoning on one terminal while committing on another while partitioned is not
detected: the status is last-writer-wins, the movements stay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from vaultsync.domain.enums import MovementReason, Role
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.domain.ids import new_id
from vaultsync.domain.money import MAX_CENTS
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.inventory import location_paths
from vaultsync.store import Store
from vaultsync.store.models import (
    CardSet,
    Location,
    Product,
    ReorderPoint,
    Sku,
    StockCount,
    StockCountEntry,
    StockLevel,
    StockMovement,
)
from vaultsync.store.types import utcnow

#: most units one movement line may move (a case of bulk is thousands; a typo is millions)
MAX_UNITS = 1_000_000
MAX_NOTE = 500
MAX_LINES = 2_000

COUNT_OPEN, COUNT_COMMITTED, COUNT_ABANDONED = "open", "committed", "abandoned"
ENTRY_COUNTED, ENTRY_NOT_FOUND = "counted", "not_found"
COUNT_REF = "stock_count_entry"

#: why stock was written off (kept in the movement's note as "code: details")
WRITE_OFF_REASONS: dict[str, str] = {
    "damaged": "Damaged",
    "lost": "Lost / missing",
    "stolen": "Stolen",
    "promo": "Given away (promo, prize)",
    "other": "Other",
}


# ---------------------------------------------------------------------- views


@dataclass(frozen=True)
class ReceiveLine:
    sku_id: str
    quantity: int
    unit_cost_cents: int


@dataclass(frozen=True)
class ReceivedSku:
    sku_id: str
    quantity: int
    old_cost_cents: int | None
    new_cost_cents: int


@dataclass(frozen=True)
class ReceiveResult:
    receipt_id: str
    location_id: str
    lines: list[ReceivedSku]
    total_cost_cents: int


@dataclass(frozen=True)
class MovementView:
    id: str
    sku_id: str
    location_id: str
    location: str
    delta: int
    reason: str
    ref_type: str | None
    ref_id: str | None
    note: str | None
    user_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class LowStockRow:
    sku_id: str
    sku_code: str
    name: str
    set_code: str | None
    condition: str | None
    on_hand: int
    min_on_hand: int
    suggested_order: int


@dataclass(frozen=True)
class ShelfItem:
    """One SKU held at a location (for "what is in Binder 3")."""

    sku_id: str
    sku_code: str
    name: str
    location_id: str
    location: str
    on_hand: int


@dataclass(frozen=True)
class CountLine:
    """One (SKU, location) of a count: what the system expects and what was counted."""

    sku_id: str
    sku_code: str
    name: str
    location_id: str
    location: str
    #: on hand now, as this terminal knows it
    on_hand_now: int
    counted: int | None
    #: on hand when the newest entry was made (what the counter was compared against)
    seen_on_hand: int | None
    counted_by: str | None
    #: the adjustment committing now would write (None: not counted yet)
    adjustment: int | None
    superseded: bool = False


@dataclass(frozen=True)
class CountView:
    id: str
    name: str
    location_id: str
    location: str
    status: str
    started_by: str | None
    created_at: datetime
    closed_at: datetime | None
    lines: list[CountLine] = field(default_factory=list)
    #: other open counts that overlap this one's locations (counting the same shelf twice)
    overlapping: list[str] = field(default_factory=list)

    @property
    def counted_lines(self) -> int:
        return sum(1 for li in self.lines if li.counted is not None)

    @property
    def missing_lines(self) -> int:
        return sum(1 for li in self.lines if li.counted is None and li.on_hand_now != 0)


@dataclass(frozen=True)
class CountSummary:
    id: str
    name: str
    location: str
    status: str
    created_at: datetime
    entries: int


@dataclass(frozen=True)
class CommitResult:
    count_id: str
    adjusted: int
    units_delta: int
    unchanged: int
    superseded: int
    zeroed: int


# ---------------------------------------------------------------------- helpers


def _check_units(quantity: int, what: str = "quantity", *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not low <= quantity <= MAX_UNITS:
        raise ValidationError(f"{what} must be a whole number from {low} to {MAX_UNITS:,}")
    return quantity


def _check_cost(cents: int) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise ValidationError("a cost is a whole number of cents")
    if cents < 0:
        raise ValidationError("a cost cannot be negative")
    if cents > MAX_CENTS:
        raise ValidationError("that cost is too large")
    return cents


def _note(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    if len(cleaned) > MAX_NOTE:
        raise ValidationError(f"a note is limited to {MAX_NOTE} characters")
    return cleaned or None


def weighted_average_cost(on_hand: int, old_cost: int | None, quantity: int, unit_cost: int) -> int:
    """The new cost basis after receiving ``quantity`` at ``unit_cost`` (cents, half up)."""
    on_hand = max(on_hand, 0)
    if old_cost is None or on_hand == 0:
        return unit_cost
    total = on_hand + quantity
    num = on_hand * old_cost + quantity * unit_cost
    q, r = divmod(num, total)
    return q + 1 if 2 * r >= total else q


def sku_on_hand(s: Session, sku_id: str, location_id: str | None = None) -> int:
    stmt = select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.sku_id == sku_id)
    if location_id is not None:
        stmt = stmt.where(StockLevel.location_id == location_id)
    return int(s.scalar(stmt) or 0)


def _sku(s: Session, sku_id: str) -> Sku:
    sku = s.get(Sku, sku_id)
    if sku is None:
        raise NotFoundError("no such SKU")
    return sku


def _location(s: Session, location_id: str) -> Location:
    loc = s.get(Location, location_id)
    if loc is None or not loc.is_active:
        raise NotFoundError("no such location")
    return loc


def subtree(s: Session, root_id: str) -> set[str]:
    """``root_id`` and every location below it."""
    children: dict[str | None, list[str]] = {}
    for loc_id, parent in s.execute(select(Location.id, Location.parent_id)):
        children.setdefault(parent, []).append(loc_id)
    out: set[str] = set()
    todo = [root_id]
    while todo:
        cur = todo.pop()
        if cur in out:
            continue
        out.add(cur)
        todo.extend(children.get(cur, []))
    return out


def count_movement_id(entry_id: str) -> str:
    """The adjustment movement of a count entry has an id derived from it (see module doc)."""
    return hashlib.sha256(f"count-adjustment:{entry_id}".encode()).hexdigest()[:32]


def missing_entry_id(count_id: str, sku_id: str, location_id: str) -> str:
    """A "not found" entry's id is derived from its count and line, like the adjustment's, so
    the same count committed with ``zero_missing`` on two partitioned terminals writes one
    entry (and so one adjustment) per line once they sync, not two."""
    return hashlib.sha256(f"count-missing:{count_id}:{sku_id}:{location_id}".encode()).hexdigest()[:32]


def position_sum(s: Session, sku_id: str, location_id: str, position: int) -> int:
    """On hand of (SKU, location) as of ledger position ``position`` (an HLC).

    A count adjustment counts at its entry's position, every other movement at its own HLC.
    """
    at = func.coalesce(StockCountEntry.hlc, StockMovement.hlc)
    stmt = (
        select(func.coalesce(func.sum(StockMovement.delta), 0))
        .select_from(StockMovement)
        .outerjoin(
            StockCountEntry,
            and_(StockMovement.ref_type == COUNT_REF, StockCountEntry.id == StockMovement.ref_id),
        )
        .where(StockMovement.sku_id == sku_id, StockMovement.location_id == location_id, at <= position)
    )
    return int(s.scalar(stmt) or 0)


def count_bases(s: Session, count_id: str) -> dict[str, int]:
    """:func:`position_sum` for every entry of a count, in one query: entry id -> base."""
    other = aliased(StockCountEntry)
    e = aliased(StockCountEntry)
    at = func.coalesce(other.hlc, StockMovement.hlc)
    stmt = (
        select(e.id, func.coalesce(func.sum(StockMovement.delta), 0))
        .select_from(e)
        .join(
            StockMovement, and_(StockMovement.sku_id == e.sku_id, StockMovement.location_id == e.location_id)
        )
        .outerjoin(other, and_(StockMovement.ref_type == COUNT_REF, other.id == StockMovement.ref_id))
        .where(e.count_id == count_id, at <= e.hlc)
        .group_by(e.id)
    )
    return {str(entry_id): int(total) for entry_id, total in s.execute(stmt)}


def superseded_entries(s: Session, count_id: str, *, sku_id: str | None = None) -> set[str]:
    """Entries of a count that a committed other count has a newer entry for (one query)."""
    e = aliased(StockCountEntry)
    newer = aliased(StockCountEntry)
    stmt = (
        select(e.id)
        .distinct()
        .join(
            newer,
            and_(
                newer.sku_id == e.sku_id,
                newer.location_id == e.location_id,
                newer.hlc > e.hlc,
                newer.count_id != e.count_id,
            ),
        )
        .join(StockCount, and_(StockCount.id == newer.count_id, StockCount.status == COUNT_COMMITTED))
        .where(e.count_id == count_id)
    )
    if sku_id is not None:
        stmt = stmt.where(e.sku_id == sku_id)
    return {str(x) for x in s.scalars(stmt)}


@dataclass(frozen=True)
class _Entry:
    """The columns of a count entry the view and the commit need (plain tuples: no ORM cost)."""

    id: str
    counted: int
    seen_on_hand: int
    user_id: str | None
    hlc: int


def _latest_entries(s: Session, count_id: str) -> dict[tuple[str, str], _Entry]:
    """The newest entry per (SKU, location) of a count."""
    latest: dict[tuple[str, str], _Entry] = {}
    rows = s.execute(
        select(
            StockCountEntry.sku_id,
            StockCountEntry.location_id,
            StockCountEntry.id,
            StockCountEntry.counted,
            StockCountEntry.seen_on_hand,
            StockCountEntry.user_id,
            StockCountEntry.hlc,
        )
        .where(StockCountEntry.count_id == count_id)
        .order_by(StockCountEntry.hlc, StockCountEntry.id)
    )
    for sku_id, loc_id, entry_id, counted, seen, user_id, hlc in rows:
        latest[(sku_id, loc_id)] = _Entry(entry_id, int(counted), int(seen), user_id, int(hlc))
    return latest


# ---------------------------------------------------------------------- service


class StockOpsService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ receiving

    def receive(
        self,
        lines: Sequence[ReceiveLine],
        location_id: str,
        *,
        actor: UserView,
        supplier: str | None = None,
        reference: str | None = None,
    ) -> ReceiveResult:
        """A delivery from a distributor: stock in at ``location_id``, cost basis averaged in."""
        require_role(actor, Role.MANAGER)
        if not lines:
            raise ValidationError("a delivery needs at least one line")
        if len(lines) > MAX_LINES:
            raise ValidationError(f"a delivery holds at most {MAX_LINES:,} lines")
        for li in lines:
            _check_units(li.quantity)
            _check_cost(li.unit_cost_cents)
        supplier = _note(supplier)
        reference = _note(reference)
        receipt_id = new_id()
        note = " · ".join(p for p in (supplier, reference) if p) or None
        out: list[ReceivedSku] = []
        with self.store.uow() as uow, uow.session.no_autoflush:
            s = uow.session
            _location(s, location_id)
            pending: dict[str, int] = {}  # units of this delivery already counted per SKU
            for li in lines:
                sku = _sku(s, li.sku_id)
                on_hand = sku_on_hand(s, sku.id) + pending.get(sku.id, 0)
                if sku.serialized and on_hand + li.quantity > 1:
                    raise ConflictError(f"{sku.sku_code} is a serialized item: only one can be in stock")
                old = sku.cost_basis_cents
                new = weighted_average_cost(on_hand, old, li.quantity, li.unit_cost_cents)
                sku.cost_basis_cents = new
                pending[sku.id] = pending.get(sku.id, 0) + li.quantity
                s.add(
                    StockMovement(
                        sku_id=sku.id,
                        location_id=location_id,
                        delta=li.quantity,
                        reason=MovementReason.RECEIVE.value,
                        ref_type="purchase",
                        ref_id=receipt_id,
                        user_id=actor.id,
                        note=note,
                    )
                )
                out.append(ReceivedSku(sku.id, li.quantity, old, new))
            total = sum(li.quantity * li.unit_cost_cents for li in lines)
            audit.record(
                s,
                "stock.receive",
                user_id=actor.id,
                entity_type="purchase",
                entity_id=receipt_id,
                after={
                    "location_id": location_id,
                    "supplier": supplier,
                    "reference": reference,
                    "total_cost_cents": total,
                    "lines": [
                        {
                            "sku_id": li.sku_id,
                            "quantity": li.quantity,
                            "unit_cost_cents": li.unit_cost_cents,
                            "cost_before": r.old_cost_cents,
                            "cost_after": r.new_cost_cents,
                        }
                        for li, r in zip(lines, out, strict=True)
                    ],
                },
            )
        return ReceiveResult(receipt_id, location_id, out, total)

    # ------------------------------------------------------------------ transfers, write-offs

    def transfer(
        self,
        sku_id: str,
        from_location: str,
        to_location: str,
        quantity: int,
        *,
        actor: UserView,
        note: str | None = None,
    ) -> str:
        """Move units between locations: two movements with one transfer id, never a negative source."""
        require_role(actor, Role.MANAGER)
        _check_units(quantity)
        if from_location == to_location:
            raise ValidationError("choose two different locations")
        note = _note(note)
        transfer_id = new_id()
        with self.store.uow() as uow:
            s = uow.session
            sku = _sku(s, sku_id)
            _location(s, from_location)
            _location(s, to_location)
            there = sku_on_hand(s, sku_id, from_location)
            if there < quantity:
                raise ConflictError(f"only {there} of {sku.sku_code} at the source location")
            for loc, delta in ((from_location, -quantity), (to_location, quantity)):
                s.add(
                    StockMovement(
                        sku_id=sku_id,
                        location_id=loc,
                        delta=delta,
                        reason=MovementReason.TRANSFER.value,
                        ref_type="transfer",
                        ref_id=transfer_id,
                        user_id=actor.id,
                        note=note,
                    )
                )
            audit.record(
                s,
                "stock.transfer",
                user_id=actor.id,
                entity_type="sku",
                entity_id=sku_id,
                after={"from": from_location, "to": to_location, "quantity": quantity, "note": note},
            )
        return transfer_id

    def write_off(
        self,
        sku_id: str,
        location_id: str,
        quantity: int,
        reason: str,
        *,
        actor: UserView,
        note: str | None = None,
    ) -> str:
        """Damage, loss, theft: units leave the books with a reason (and their cost is on record)."""
        require_role(actor, Role.MANAGER)
        _check_units(quantity)
        if reason not in WRITE_OFF_REASONS:
            raise ValidationError(f"a write-off reason is one of: {', '.join(WRITE_OFF_REASONS)}")
        note = _note(note)
        if reason == "other" and not note:
            raise ValidationError("say what happened (a write-off for 'other' needs a note)")
        ref = new_id()
        with self.store.uow() as uow:
            s = uow.session
            sku = _sku(s, sku_id)
            _location(s, location_id)
            there = sku_on_hand(s, sku_id, location_id)
            if there < quantity:
                raise ConflictError(f"only {there} of {sku.sku_code} at that location")
            s.add(
                StockMovement(
                    sku_id=sku_id,
                    location_id=location_id,
                    delta=-quantity,
                    reason=MovementReason.ADJUST.value,
                    ref_type="write_off",
                    ref_id=ref,
                    user_id=actor.id,
                    note=f"{reason}: {note}" if note else reason,
                )
            )
            audit.record(
                s,
                "stock.write_off",
                user_id=actor.id,
                entity_type="sku",
                entity_id=sku_id,
                after={
                    "location_id": location_id,
                    "quantity": quantity,
                    "reason": reason,
                    "note": note,
                    "cost_cents": (sku.cost_basis_cents or 0) * quantity,
                },
            )
        return ref

    # ------------------------------------------------------------------ reorder points

    def set_reorder_point(
        self, sku_id: str, min_on_hand: int | None, reorder_qty: int = 0, *, actor: UserView
    ) -> None:
        """Set (or with ``min_on_hand`` None, clear) a SKU's reorder point."""
        require_role(actor, Role.MANAGER)
        if min_on_hand is not None:
            _check_units(min_on_hand, "the reorder point", allow_zero=True)
            _check_units(reorder_qty, "the reorder quantity", allow_zero=True)
        with self.store.uow() as uow:
            s = uow.session
            _sku(s, sku_id)
            row = s.scalar(select(ReorderPoint).where(ReorderPoint.sku_id == sku_id))
            before = {"min": row.min_on_hand, "qty": row.reorder_qty} if row else None
            if min_on_hand is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(ReorderPoint(sku_id=sku_id, min_on_hand=min_on_hand, reorder_qty=reorder_qty))
            else:
                row.min_on_hand, row.reorder_qty = min_on_hand, reorder_qty
            audit.record(
                s,
                "stock.reorder_point",
                user_id=actor.id,
                entity_type="sku",
                entity_id=sku_id,
                before=before,
                after=None if min_on_hand is None else {"min": min_on_hand, "qty": reorder_qty},
            )

    def reorder_point(self, sku_id: str) -> tuple[int, int] | None:
        with self.store.read() as s:
            row = s.scalar(select(ReorderPoint).where(ReorderPoint.sku_id == sku_id))
            return (row.min_on_hand, row.reorder_qty) if row else None

    def low_stock(self, *, limit: int = 500) -> list[LowStockRow]:
        """Active SKUs at or below their reorder point, emptiest first, with an order suggestion."""
        on_hand = (
            select(StockLevel.sku_id, func.sum(StockLevel.on_hand).label("on_hand"))
            .group_by(StockLevel.sku_id)
            .subquery()
        )
        qty = func.coalesce(on_hand.c.on_hand, 0)
        stmt = (
            select(Sku, Product, CardSet.code, ReorderPoint, qty)
            .join(ReorderPoint, ReorderPoint.sku_id == Sku.id)
            .join(Product, Product.id == Sku.product_id)
            .outerjoin(CardSet, CardSet.id == Product.set_id)
            .outerjoin(on_hand, on_hand.c.sku_id == Sku.id)
            .where(Sku.is_active.is_(True), qty <= ReorderPoint.min_on_hand)
            .order_by(qty - ReorderPoint.min_on_hand, Product.name)
            .limit(limit)
        )
        out = []
        with self.store.read() as s:
            for sku, product, set_code, rp, qty_on_hand in s.execute(stmt):
                have = int(qty_on_hand)
                want = rp.reorder_qty or (rp.min_on_hand + 1 - have)
                out.append(
                    LowStockRow(
                        sku.id,
                        sku.sku_code,
                        product.name,
                        set_code,
                        sku.condition,
                        have,
                        rp.min_on_hand,
                        want,
                    )
                )
        return out

    # ------------------------------------------------------------------ history

    def movements(self, sku_id: str, *, limit: int = 100) -> list[MovementView]:
        """The SKU's ledger, newest first."""
        with self.store.read() as s:
            paths = location_paths(s)
            rows = s.scalars(
                select(StockMovement)
                .where(StockMovement.sku_id == sku_id)
                .order_by(StockMovement.hlc.desc(), StockMovement.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            return [
                MovementView(
                    m.id,
                    m.sku_id,
                    m.location_id,
                    paths.get(m.location_id, "?"),
                    m.delta,
                    m.reason,
                    m.ref_type,
                    m.ref_id,
                    m.note,
                    m.user_id,
                    m.created_at,
                )
                for m in rows
            ]

    # ------------------------------------------------------------------ locations

    def location_units(self) -> dict[str, int]:
        """Units on hand directly at each location (location id -> units), positive stock only."""
        with self.store.read() as s:
            rows = s.execute(
                select(StockLevel.location_id, func.sum(StockLevel.on_hand))
                .where(StockLevel.on_hand > 0)
                .group_by(StockLevel.location_id)
            )
            return {str(loc): int(units) for loc, units in rows}

    def contents(self, location_id: str, *, limit: int = 500) -> list[ShelfItem]:
        """What is at a location and everything below it, by place then name."""
        with self.store.read() as s:
            _location(s, location_id)
            locs = subtree(s, location_id)
            paths = location_paths(s)
            rows = s.execute(
                select(
                    StockLevel.sku_id, Sku.sku_code, Product.name, StockLevel.location_id, StockLevel.on_hand
                )
                .join(Sku, Sku.id == StockLevel.sku_id)
                .join(Product, Product.id == Sku.product_id)
                .where(StockLevel.location_id.in_(locs), StockLevel.on_hand != 0)
                .limit(max(1, min(limit, 5000)))
            )
            items = [
                ShelfItem(sku_id, code, name, loc_id, paths.get(loc_id, "?"), int(qty))
                for sku_id, code, name, loc_id, qty in rows
            ]
        return sorted(items, key=lambda i: (i.location, i.name, i.sku_code))

    # ------------------------------------------------------------------ counts

    def start_count(self, location_id: str, *, actor: UserView, name: str | None = None) -> CountView:
        require_role(actor, Role.MANAGER)
        label = (name or "").strip()
        if len(label) > 80:
            raise ValidationError("a count's name is limited to 80 characters")
        with self.store.uow() as uow:
            s = uow.session
            loc = _location(s, location_id)
            count = StockCount(
                location_id=location_id,
                name=label or f"Count of {loc.name}",
                status=COUNT_OPEN,
                started_by=actor.id,
            )
            s.add(count)
            s.flush()
            audit.record(
                s,
                "stock.count_start",
                user_id=actor.id,
                entity_type="stock_count",
                entity_id=count.id,
                after={"location_id": location_id, "name": count.name},
            )
            count_id = count.id
        return self.count(count_id)

    def open_counts(self) -> list[CountSummary]:
        return self.counts(status=COUNT_OPEN)

    def counts(self, *, status: str | None = None, limit: int = 50) -> list[CountSummary]:
        entries = (
            select(StockCountEntry.count_id, func.count().label("n"))
            .group_by(StockCountEntry.count_id)
            .subquery()
        )
        stmt = (
            select(StockCount, func.coalesce(entries.c.n, 0))
            .outerjoin(entries, entries.c.count_id == StockCount.id)
            .order_by(StockCount.created_at.desc())
            .limit(limit)
        )
        if status is not None:
            stmt = stmt.where(StockCount.status == status)
        with self.store.read() as s:
            paths = location_paths(s)
            return [
                CountSummary(c.id, c.name, paths.get(c.location_id, "?"), c.status, c.created_at, int(n))
                for c, n in s.execute(stmt)
            ]

    def record_count(
        self,
        count_id: str,
        sku_id: str,
        counted: int,
        *,
        actor: UserView,
        location_id: str | None = None,
    ) -> CountLine:
        """Record how many of a SKU are physically at a location (default: the count's location).

        Any staff member may count; recording the same line again replaces the earlier figure.
        """
        require_role(actor, Role.CASHIER)
        _check_units(counted, "the counted quantity", allow_zero=True)
        with self.store.uow() as uow:
            s = uow.session
            count = self._open_count(s, count_id)
            where = location_id or count.location_id
            if where not in subtree(s, count.location_id):
                raise ValidationError("that location is not part of this count")
            _location(s, where)
            sku = _sku(s, sku_id)
            if sku.serialized and counted > 1:
                raise ValidationError(f"{sku.sku_code} is a serialized item: count 0 or 1")
            s.add(
                StockCountEntry(
                    count_id=count.id,
                    sku_id=sku_id,
                    location_id=where,
                    counted=counted,
                    seen_on_hand=sku_on_hand(s, sku_id, where),
                    kind=ENTRY_COUNTED,
                    user_id=actor.id,
                )
            )
        return self.count_line(count_id, sku_id, where)

    def count_line(self, count_id: str, sku_id: str, location_id: str) -> CountLine:
        """One line of a count (what :meth:`count` shows for it), without building the whole view."""
        with self.store.read() as s:
            count = s.get(StockCount, count_id)
            if count is None:
                raise NotFoundError("no such stock count")
            found = s.execute(
                select(Sku.sku_code, Product.name)
                .join(Product, Product.id == Sku.product_id)
                .where(Sku.id == sku_id)
            ).one_or_none()
            if found is None:
                raise NotFoundError("no such SKU")
            entry = s.execute(
                select(
                    StockCountEntry.id,
                    StockCountEntry.counted,
                    StockCountEntry.seen_on_hand,
                    StockCountEntry.user_id,
                    StockCountEntry.hlc,
                )
                .where(
                    StockCountEntry.count_id == count_id,
                    StockCountEntry.sku_id == sku_id,
                    StockCountEntry.location_id == location_id,
                )
                .order_by(StockCountEntry.hlc.desc(), StockCountEntry.id.desc())
                .limit(1)
            ).one_or_none()
            adjustment, superseded = None, False
            if entry is not None and count.status == COUNT_OPEN:
                superseded = entry.id in superseded_entries(s, count_id, sku_id=sku_id)
                if not superseded:
                    adjustment = int(entry.counted) - position_sum(s, sku_id, location_id, int(entry.hlc))
            paths = location_paths(s)
            return CountLine(
                sku_id=sku_id,
                sku_code=found[0],
                name=found[1],
                location_id=location_id,
                location=paths.get(location_id, "?"),
                on_hand_now=sku_on_hand(s, sku_id, location_id),
                counted=int(entry.counted) if entry else None,
                seen_on_hand=int(entry.seen_on_hand) if entry else None,
                counted_by=entry.user_id if entry else None,
                adjustment=adjustment,
                superseded=superseded,
            )

    def count_by_code(
        self, count_id: str, code: str, counted: int, *, actor: UserView, location_id: str | None = None
    ) -> CountLine:
        """:meth:`record_count` for a scanned or typed barcode, SKU code or cert number."""
        from vaultsync.services.catalog import find_sku_by_code

        with self.store.read() as s:
            sku_id = find_sku_by_code(s, code)
        if sku_id is None:
            raise NotFoundError(f"no item with code {code.strip()!r}")
        return self.record_count(count_id, sku_id, counted, actor=actor, location_id=location_id)

    def _open_count(self, s: Session, count_id: str) -> StockCount:
        count = s.get(StockCount, count_id)
        if count is None:
            raise NotFoundError("no such stock count")
        if count.status != COUNT_OPEN:
            raise ConflictError(f"this count is {count.status}; start a new one")
        return count

    def count(self, count_id: str) -> CountView:
        """The count with its lines: everything expected in its locations plus everything counted."""
        with self.store.read() as s:
            count = s.get(StockCount, count_id)
            if count is None:
                raise NotFoundError("no such stock count")
            return self._view(s, count)

    def _view(self, s: Session, count: StockCount) -> CountView:
        paths = location_paths(s)
        locs = subtree(s, count.location_id)
        latest = _latest_entries(s, count.id)
        levels = {
            (sku, loc): int(q)
            for sku, loc, q in s.execute(
                select(StockLevel.sku_id, StockLevel.location_id, StockLevel.on_hand).where(
                    StockLevel.location_id.in_(locs)
                )
            )
        }
        keys = {k for k, q in levels.items() if q != 0} | set(latest)
        skus = {
            sku_id: (code, name)
            for sku_id, code, name in s.execute(
                select(Sku.id, Sku.sku_code, Product.name)
                .join(Product, Product.id == Sku.product_id)
                .where(Sku.id.in_({k[0] for k in keys}))
            )
        }
        lines = []
        open_ = count.status == COUNT_OPEN
        bases = count_bases(s, count.id) if open_ else {}
        stale = superseded_entries(s, count.id) if open_ else set()
        for sku_id, loc_id in keys:
            sku_code, name = skus[sku_id]
            entry = latest.get((sku_id, loc_id))
            adjustment = None
            superseded = False
            if entry is not None and open_:
                superseded = entry.id in stale
                if not superseded:
                    adjustment = entry.counted - bases.get(entry.id, 0)
            lines.append(
                CountLine(
                    sku_id=sku_id,
                    sku_code=sku_code,
                    name=name,
                    location_id=loc_id,
                    location=paths.get(loc_id, "?"),
                    on_hand_now=levels.get((sku_id, loc_id), 0),
                    counted=entry.counted if entry else None,
                    seen_on_hand=entry.seen_on_hand if entry else None,
                    counted_by=entry.user_id if entry else None,
                    adjustment=adjustment,
                    superseded=superseded,
                )
            )
        lines.sort(key=lambda li: (li.location, li.name, li.sku_code))
        overlapping: list[str] = []
        if open_:
            for other in s.scalars(
                select(StockCount).where(StockCount.status == COUNT_OPEN, StockCount.id != count.id)
            ):
                if other.location_id in locs or count.location_id in subtree(s, other.location_id):
                    overlapping.append(other.name)
        return CountView(
            id=count.id,
            name=count.name,
            location_id=count.location_id,
            location=paths.get(count.location_id, "?"),
            status=count.status,
            started_by=count.started_by,
            created_at=count.created_at,
            closed_at=count.closed_at,
            lines=lines,
            overlapping=overlapping,
        )

    def commit_count(self, count_id: str, *, actor: UserView, zero_missing: bool = False) -> CommitResult:
        """Write each counted line's adjustment (``counted − base``, see the module doc)."""
        require_role(actor, Role.MANAGER)
        adjusted = unchanged = superseded = zeroed = units = 0
        with self.store.uow() as uow:
            s = uow.session
            count = s.get(StockCount, count_id, with_for_update=True)
            if count is None:
                raise NotFoundError("no such stock count")
            if count.status != COUNT_OPEN:
                raise ConflictError(f"this count is already {count.status}")
            latest = _latest_entries(s, count.id)
            if zero_missing:
                locs = subtree(s, count.location_id)
                expected = s.execute(
                    select(StockLevel.sku_id, StockLevel.location_id, StockLevel.on_hand).where(
                        StockLevel.location_id.in_(locs), StockLevel.on_hand != 0
                    )
                ).all()
                for sku_id, loc_id, on_hand in expected:
                    if (sku_id, loc_id) in latest:
                        continue
                    s.add(
                        StockCountEntry(
                            id=missing_entry_id(count.id, sku_id, loc_id),
                            count_id=count.id,
                            sku_id=sku_id,
                            location_id=loc_id,
                            counted=0,
                            seen_on_hand=int(on_hand),
                            kind=ENTRY_NOT_FOUND,
                            user_id=actor.id,
                        )
                    )
                    zeroed += 1
                s.flush()  # the not-found entries get their positions (HLCs)
                latest = _latest_entries(s, count.id)
            bases = count_bases(s, count.id)
            stale = superseded_entries(s, count.id)
            # adjustments already in the ledger for this count's entries are never written twice
            # (a peer's commit replicates its status change first, so this is belt and braces)
            done = set(
                s.scalars(
                    select(StockMovement.ref_id)
                    .join(StockCountEntry, StockCountEntry.id == StockMovement.ref_id)
                    .where(StockMovement.ref_type == COUNT_REF, StockCountEntry.count_id == count.id)
                )
            )
            for (sku_id, loc_id), entry in sorted(latest.items()):
                if entry.id in stale:
                    superseded += 1
                    continue
                if entry.id in done:
                    adjusted += 1
                    continue
                delta = entry.counted - bases.get(entry.id, 0)
                if delta == 0:
                    unchanged += 1
                    continue
                s.add(
                    StockMovement(
                        id=count_movement_id(entry.id),
                        sku_id=sku_id,
                        location_id=loc_id,
                        delta=delta,
                        reason=MovementReason.COUNT.value,
                        ref_type=COUNT_REF,
                        ref_id=entry.id,
                        user_id=actor.id,
                        note=count.name[:200],
                    )
                )
                adjusted += 1
                units += delta
            count.status = COUNT_COMMITTED
            count.closed_by = actor.id
            count.closed_at = utcnow()
            audit.record(
                s,
                "stock.count_commit",
                user_id=actor.id,
                entity_type="stock_count",
                entity_id=count.id,
                after={
                    "adjusted": adjusted,
                    "units_delta": units,
                    "unchanged": unchanged,
                    "superseded": superseded,
                    "zeroed": zeroed,
                },
            )
        return CommitResult(count_id, adjusted, units, unchanged, superseded, zeroed)

    def abandon_count(self, count_id: str, *, actor: UserView, reason: str | None = None) -> None:
        """Close a count without touching stock (its entries stay on record)."""
        require_role(actor, Role.MANAGER)
        with self.store.uow() as uow:
            s = uow.session
            count = self._open_count(s, count_id)
            count.status = COUNT_ABANDONED
            count.closed_by = actor.id
            count.closed_at = utcnow()
            count.note = _note(reason)
            audit.record(
                s,
                "stock.count_abandon",
                user_id=actor.id,
                entity_type="stock_count",
                entity_id=count.id,
                after={"reason": count.note},
            )
