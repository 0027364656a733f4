"""Cash shifts: a counted opening float, pay-ins/outs and no-sales, a counted close, the Z report.

A shift is the drawer's accounting period at one station. Everything that moves cash is
already a ledger row — sales, refunds and voids (``Transaction`` + ``TransactionTender``,
written by checkout with the station's open ``shift_id``) and pay-ins, pay-outs and no-sales
(``CashMovement``) — so the expected cash is always *derived*, never stored as a running
balance that two code paths could disagree about. At close the counted amount, the
expected amount, the variance and the Z report are frozen onto the ``Shift`` row, so a
re-print months later shows exactly what was printed that night, even if a refund is later
rung against a sale of that shift.

Cash flow convention (set by checkout, relied on here): for every transaction kind, a
tender's ``amount_cents - change_cents`` is the signed money that went INTO the drawer.
Sales are positive (customer's cash minus change given back), refunds and voids negative
(money handed back, no change). Buylist payouts and other kinds are summed the same way,
so a cash buy that follows the convention (negative tender) lowers the expected cash.

Manager overrides go through :mod:`vaultsync.services.approval`, always *before* the unit
of work opens (a refused PIN is audited in its own transaction).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import CashMovementKind, Role, ShiftStatus, StationRole, Tender, TransactionKind
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.domain.money import MoneyError, check_cents, format_cents
from vaultsync.services import audit
from vaultsync.services.approval import approve
from vaultsync.services.auth import AuthService, UserView, require_role
from vaultsync.services.shop import DEFAULTS
from vaultsync.store import Store
from vaultsync.store.models import (
    AuditEntry,
    CashMovement,
    Setting,
    Shift,
    Station,
    Transaction,
    TransactionTender,
    User,
)
from vaultsync.store.types import utcnow

SALE = TransactionKind.SALE.value
REFUND = TransactionKind.REFUND.value
VOID = "void"  # TransactionKind.VOID: reversal of a completed sale
#: audit action checkout writes when an open cart (no transaction yet) is voided
CART_VOID_ACTION = "cart.void"
#: stations where a drawer is counted; a customer price-check kiosk has no cashier and no cash
CASH_STATIONS = frozenset({StationRole.CASHIER.value, StationRole.MANAGER.value})
MAX_REASON = 200
#: more notes or coins of one kind than any drawer holds: almost certainly a typo
MAX_DENOMINATION_COUNT = 100_000
MAX_LIST = 500
Z_REPORT_VERSION = 1
CLOCK_MARGIN = timedelta(hours=12)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class ShiftView:
    """A shift as the UI and the API see it (never the ORM row)."""

    id: str
    station_id: str
    station_name: str
    status: str
    opened_by: str
    opened_by_name: str
    opened_at: datetime
    opening_float_cents: int
    closed_by: str | None = None
    closed_by_name: str | None = None
    closed_at: datetime | None = None
    expected_cash_cents: int | None = None
    counted_cash_cents: int | None = None
    variance_cents: int | None = None
    #: closing count per denomination (cents -> count), when counted that way
    denominations: dict[int, int] | None = None

    @property
    def is_open(self) -> bool:
        return self.status == ShiftStatus.OPEN.value


@dataclass(frozen=True)
class CashMovementView:
    """A pay-in, pay-out or no-sale. ``station_id`` tells the caller whose drawer to kick."""

    id: str
    shift_id: str
    station_id: str
    kind: str
    amount_cents: int
    reason: str | None
    user_id: str | None
    approved_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class KindTotals:
    """Count and money columns of one transaction kind on a shift (refund/void values are negative)."""

    kind: str
    count: int = 0
    subtotal_cents: int = 0
    discount_cents: int = 0
    tax_cents: int = 0
    total_cents: int = 0

    @property
    def net_cents(self) -> int:
        """Revenue without tax: total − tax works for tax-exclusive and tax-inclusive prices alike."""
        return self.total_cents - self.tax_cents


@dataclass(frozen=True)
class TenderTotals:
    """Money taken per tender (cash: amount − change), split by what kind of transaction moved it."""

    tender: str
    sales_cents: int = 0
    refunds_cents: int = 0  # refunds and voids: negative
    other_cents: int = 0  # buys, payouts, event entries...
    net_cents: int = 0


@dataclass(frozen=True)
class CashSummary:
    opening_float_cents: int
    cash_sales_cents: int
    cash_refunds_cents: int  # negative
    cash_other_cents: int
    pay_ins_cents: int
    pay_outs_cents: int  # positive: what left the drawer
    expected_cents: int
    counted_cents: int | None = None
    variance_cents: int | None = None


@dataclass(frozen=True)
class CashierTotals:
    user_id: str | None
    name: str
    transactions: int = 0
    sales_count: int = 0
    sales_cents: int = 0
    refunds_count: int = 0  # refunds and voids
    refunds_cents: int = 0  # negative
    net_sales_cents: int = 0  # without tax, after refunds and voids


@dataclass(frozen=True)
class MovementLine:
    kind: str
    amount_cents: int
    reason: str | None
    user_name: str | None
    approved_by_name: str | None
    at: datetime


@dataclass(frozen=True)
class ZReport:
    """End-of-shift report (an "X report" while the shift is open: ``final`` False).

    All money is integer cents. Stored as JSON on the shift at close, so re-prints never drift.
    """

    shift_id: str
    station_id: str
    station_name: str
    shop_name: str
    currency_symbol: str
    final: bool
    generated_at: datetime
    opened_by_id: str
    opened_by_name: str
    opened_at: datetime
    closed_by_id: str | None
    closed_by_name: str | None
    closed_at: datetime | None
    sales: KindTotals
    refunds: KindTotals
    voids: KindTotals
    voided_carts_count: int
    voided_carts_cents: int
    other: tuple[KindTotals, ...]
    gross_sales_cents: int
    discounts_cents: int
    tax_cents: int
    net_sales_cents: int
    net_total_cents: int
    tenders: tuple[TenderTotals, ...]
    cash: CashSummary
    no_sales: int
    pay_ins_count: int
    pay_outs_count: int
    movements: tuple[MovementLine, ...]
    cashiers: tuple[CashierTotals, ...]
    version: int = Z_REPORT_VERSION
    #: closing denominations (cents -> count) when counted that way
    denominations: dict[int, int] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (datetimes as ISO 8601, denomination keys as strings)."""
        return json.loads(json.dumps(_jsonable(self)))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ZReport:
        d = dict(data)
        return cls(
            shift_id=d["shift_id"],
            station_id=d["station_id"],
            station_name=d["station_name"],
            shop_name=d["shop_name"],
            currency_symbol=d["currency_symbol"],
            final=bool(d["final"]),
            generated_at=_dt(d["generated_at"]),
            opened_by_id=d["opened_by_id"],
            opened_by_name=d["opened_by_name"],
            opened_at=_dt(d["opened_at"]),
            closed_by_id=d["closed_by_id"],
            closed_by_name=d["closed_by_name"],
            closed_at=_opt_dt(d["closed_at"]),
            sales=KindTotals(**d["sales"]),
            refunds=KindTotals(**d["refunds"]),
            voids=KindTotals(**d["voids"]),
            voided_carts_count=d["voided_carts_count"],
            voided_carts_cents=d["voided_carts_cents"],
            other=tuple(KindTotals(**o) for o in d["other"]),
            gross_sales_cents=d["gross_sales_cents"],
            discounts_cents=d["discounts_cents"],
            tax_cents=d["tax_cents"],
            net_sales_cents=d["net_sales_cents"],
            net_total_cents=d["net_total_cents"],
            tenders=tuple(TenderTotals(**t) for t in d["tenders"]),
            cash=CashSummary(**d["cash"]),
            no_sales=d["no_sales"],
            pay_ins_count=d["pay_ins_count"],
            pay_outs_count=d["pay_outs_count"],
            movements=tuple(MovementLine(**{**m, "at": _dt(m["at"])}) for m in d["movements"]),
            cashiers=tuple(CashierTotals(**c) for c in d["cashiers"]),
            version=d.get("version", Z_REPORT_VERSION),
            denominations=_int_keys(d.get("denominations")),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _opt_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _int_keys(value: Mapping[str, Any] | None) -> dict[int, int] | None:
    if value is None:
        return None
    return {int(k): int(v) for k, v in value.items()}


# --------------------------------------------------------------------------- helpers for checkout


def open_shift_for(session: Session, station_id: str, *, lock: bool = False) -> Shift | None:
    """The station's open shift inside the caller's unit of work (``lock``: FOR UPDATE on PostgreSQL).

    Checkout calls this to stamp ``shift_id`` on a sale and to refuse selling with no open
    shift; locking the row makes a concurrent close wait until the sale is committed, so
    a sale can never land on a shift whose Z report was already frozen.
    """
    q = (
        select(Shift)
        .where(Shift.station_id == station_id, Shift.status == ShiftStatus.OPEN.value)
        .order_by(Shift.opened_at.desc())
        .limit(1)
    )
    if lock:
        q = q.with_for_update()
    return session.scalar(q)


# --------------------------------------------------------------------------- validation


def _setting(session: Session, key: str) -> Any:
    row = session.get(Setting, key)
    return row.value if row is not None else DEFAULTS.get(key)


def _denominations_setting(session: Session) -> list[int]:
    value = _setting(session, "shift.denominations")
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ValidationError(
            "the shop setting shift.denominations must be a list of positive amounts in cents; "
            "ask a manager to fix it"
        )
    return sorted(set(value), reverse=True)


def _int_setting(session: Session, key: str) -> int:
    value = _setting(session, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"the shop setting {key} must be a whole number of cents, 0 or more")
    return value


def _symbol(session: Session) -> str:
    return str(_setting(session, "shop.currency_symbol") or "$")


def _amount(value: object, what: str, *, allow_zero: bool = False) -> int:
    """A positive (or non-negative) integer cents amount, else ValidationError with a clear message."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be a whole number of cents")
    try:
        check_cents(value)
    except MoneyError as exc:
        raise ValidationError(f"{what}: {exc}") from exc
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError(
            f"{what} must be more than zero" if not allow_zero else f"{what} cannot be negative"
        )
    return value


def _reason(value: object, *, required: bool, what: str = "a reason") -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text")
    text = " ".join(value.split())
    if len(text) > MAX_REASON:
        raise ValidationError(f"{what} is at most {MAX_REASON} characters")
    return text


def _denomination_counts(raw: object, allowed: list[int], symbol: str) -> dict[int, int]:
    """Validate a count by denomination: known denominations only, whole counts of 0 or more.

    Keys may be ints or digit strings (JSON objects only have string keys), so the API can
    pass a request body through unchanged.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError("count by denomination: give the number of each note and coin")
    out: dict[int, int] = {}
    for key, count in raw.items():
        if isinstance(key, bool):
            raise ValidationError(f"not a denomination: {key!r}")
        if isinstance(key, str) and key.strip().isdigit():
            denom = int(key.strip())
        elif isinstance(key, int):
            denom = key
        else:
            raise ValidationError(f"not a denomination: {key!r} (denominations are amounts in cents)")
        if denom not in allowed:
            choices = ", ".join(format_cents(d, symbol) for d in allowed)
            raise ValidationError(
                f"{format_cents(denom, symbol) if denom > 0 else denom} is not one of this shop's "
                f"denominations ({choices})"
            )
        if denom in out:
            raise ValidationError(f"{format_cents(denom, symbol)} is counted twice")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValidationError(
                f"the count of {format_cents(denom, symbol)} must be a whole number, 0 or more"
            )
        if count > MAX_DENOMINATION_COUNT:
            raise ValidationError(f"{count} × {format_cents(denom, symbol)} is more than a drawer holds")
        out[denom] = count
    return dict(sorted(out.items(), reverse=True))


def _denominations_total(counts: Mapping[int, int]) -> int:
    return check_cents(sum(d * c for d, c in counts.items()))


def _one_count(
    session: Session, cents: object, denominations: object, what: str
) -> tuple[int, dict[int, int] | None]:
    """Exactly one of an amount or a by-denomination count -> (total cents, counts or None)."""
    if (cents is None) == (denominations is None):
        raise ValidationError(f"{what}: give either the amount or the count by denomination (exactly one)")
    if denominations is not None:
        counts = _denomination_counts(denominations, _denominations_setting(session), _symbol(session))
        return _denominations_total(counts), counts
    return _amount(cents, what, allow_zero=True), None


# --------------------------------------------------------------------------- service


class ShiftService:
    """Open, run and close cash shifts; compute expected cash and the X/Z report."""

    def __init__(self, store: Store, auth: AuthService) -> None:
        self.store = store
        self.auth = auth

    # ------------------------------------------------------------------ open / read

    def open_shift(
        self,
        station_id: str,
        actor: UserView,
        opening_float_cents: int | None = None,
        denominations: Mapping[int, int] | None = None,
    ) -> ShiftView:
        """Open a shift at ``station_id`` with a counted float (an amount or by denomination).

        One open shift per station: a second open would split the drawer's cash over two
        accounting periods and neither would balance.
        """
        require_role(actor, Role.CASHIER)
        with self.store.uow() as uow:
            s = uow.session
            # lock the station row (PostgreSQL) so two simultaneous opens cannot both pass the check;
            # SQLite's BEGIN IMMEDIATE already serializes writers
            station = s.scalar(select(Station).where(Station.id == station_id).with_for_update())
            if station is None:
                raise NotFoundError("no such station")
            if not station.is_active or station.role not in CASH_STATIONS:
                raise ConflictError(
                    f"station {station.name} does not take cash (no shift can be opened there)"
                )
            float_cents, counts = _one_count(s, opening_float_cents, denominations, "opening float")
            existing = open_shift_for(s, station.id)
            if existing is not None:
                who = _names(s, [existing.opened_by]).get(existing.opened_by, "someone")
                raise ConflictError(
                    f"{station.name} already has an open shift, opened by {who} at "
                    f"{_local(existing.opened_at)}: close it before opening a new one"
                )
            shift = Shift(
                station_id=station.id,
                opened_by=actor.id,
                opened_at=utcnow(),
                opening_float_cents=float_cents,
                status=ShiftStatus.OPEN.value,
            )
            uow.add(shift)
            uow.flush()
            audit.record(
                s,
                "shift.open",
                user_id=actor.id,
                station_id=station.id,
                entity_type="shift",
                entity_id=shift.id,
                after={
                    "opening_float_cents": float_cents,
                    # the opening count by denomination lives here (the shift row keeps the closing count)
                    "denominations": {str(k): v for k, v in counts.items()} if counts is not None else None,
                },
            )
            return _view(s, shift)

    def current(self, station_id: str) -> ShiftView | None:
        """The station's open shift, or None (the cashier screen then asks to open one)."""
        with self.store.read() as s:
            shift = open_shift_for(s, station_id)
            return _view(s, shift) if shift is not None else None

    def get(self, shift_id: str) -> ShiftView:
        with self.store.read() as s:
            return _view(s, _get_shift(s, shift_id))

    def list_shifts(
        self, station_id: str | None = None, *, status: str | None = None, limit: int = 50
    ) -> list[ShiftView]:
        """Most recent first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise ValidationError(f"limit is 1 to {MAX_LIST}")
        if status is not None and status not in {st.value for st in ShiftStatus}:
            raise ValidationError("status is open or closed")
        with self.store.read() as s:
            q = select(Shift).order_by(Shift.opened_at.desc(), Shift.id.desc()).limit(limit)
            if station_id is not None:
                q = q.where(Shift.station_id == station_id)
            if status is not None:
                q = q.where(Shift.status == status)
            shifts = list(s.scalars(q))
            names = _names(s, [u for sh in shifts for u in (sh.opened_by, sh.closed_by) if u])
            stations = _station_names(s, [sh.station_id for sh in shifts])
            return [_view(s, sh, names=names, stations=stations) for sh in shifts]

    # ------------------------------------------------------------------ cash movements

    def pay_in(self, shift_id: str, amount_cents: int, reason: str, actor: UserView) -> CashMovementView:
        """Cash put into the drawer that is not a sale (extra change from the safe, a float top-up)."""
        require_role(actor, Role.CASHIER)
        amount = _amount(amount_cents, "a pay-in")
        why = _reason(reason, required=True, what="a reason for the pay-in")
        with self.store.uow() as uow:
            shift = _get_open_shift(uow.session, shift_id, lock=True)
            return self._movement(uow.session, shift, CashMovementKind.PAY_IN, amount, why, actor, None)

    def pay_out(
        self,
        shift_id: str,
        amount_cents: int,
        reason: str,
        actor: UserView,
        approval_pin: str | None = None,
    ) -> CashMovementView:
        """Cash taken out of the drawer for a reason (supplies, a delivery tip, a drop to the safe).

        Above ``shift.payout_approval_cents`` a manager must approve (their PIN, or being the
        actor). A pay-out larger than the cash the drawer should hold is refused: it is nearly
        always a typo (50000 for 5000), and it would leave a negative expected cash.
        """
        require_role(actor, Role.CASHIER)
        amount = _amount(amount_cents, "a pay-out")
        why = _reason(reason, required=True, what="a reason for the pay-out")
        with self.store.read() as s:
            shift = _get_open_shift(s, shift_id)
            station_id = shift.station_id
            threshold = _int_setting(s, "shift.payout_approval_cents")
            symbol = _symbol(s)
            self._check_payout_fits(s, shift, amount, symbol)
        approver: UserView | None = None
        if amount > threshold:
            approver = approve(
                self.auth,
                approval_pin,
                f"pay-out of {format_cents(amount, symbol)} (over {format_cents(threshold, symbol)})",
                actor=actor,
                action="shift.pay_out",
                station_id=station_id,
                entity_type="shift",
                entity_id=shift_id,
                details={"amount_cents": amount},
            )
        with self.store.uow() as uow:
            shift = _get_open_shift(uow.session, shift_id, lock=True)
            self._check_payout_fits(uow.session, shift, amount, symbol)
            return self._movement(uow.session, shift, CashMovementKind.PAY_OUT, amount, why, actor, approver)

    def record_no_sale(
        self,
        shift_id: str,
        actor: UserView,
        approval_pin: str | None = None,
        reason: str | None = None,
    ) -> CashMovementView:
        """Record an authorized drawer open with no sale; the caller then kicks ``station_id``'s drawer.

        A no-sale is how cash walks out of a drawer unrecorded, so it needs a manager unless
        the shop turned ``shift.no_sale_requires_approval`` off; either way it is on record.
        """
        require_role(actor, Role.CASHIER)
        why = _reason(reason, required=False)
        with self.store.read() as s:
            shift = _get_open_shift(s, shift_id)
            station_id = shift.station_id
            needs_approval = bool(_setting(s, "shift.no_sale_requires_approval"))
        approver: UserView | None = None
        if needs_approval:
            approver = approve(
                self.auth,
                approval_pin,
                "open the drawer without a sale (no-sale)",
                actor=actor,
                action="drawer.no_sale",
                station_id=station_id,
                entity_type="shift",
                entity_id=shift_id,
            )
        with self.store.uow() as uow:
            shift = _get_open_shift(uow.session, shift_id, lock=True)
            return self._movement(uow.session, shift, CashMovementKind.NO_SALE, 0, why, actor, approver)

    def _check_payout_fits(self, session: Session, shift: Shift, amount: int, symbol: str) -> None:
        expected = _expected_cash(session, shift)
        if amount > expected:
            raise ConflictError(
                f"a pay-out of {format_cents(amount, symbol)} is more than the drawer should hold "
                f"({format_cents(expected, symbol)})"
            )

    def _movement(
        self,
        session: Session,
        shift: Shift,
        kind: CashMovementKind,
        amount: int,
        reason: str | None,
        actor: UserView,
        approver: UserView | None,
    ) -> CashMovementView:
        row = CashMovement(
            shift_id=shift.id,
            kind=kind.value,
            amount_cents=amount,
            reason=reason,
            user_id=actor.id,
            approved_by=approver.id if approver else None,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        action = "drawer.no_sale" if kind is CashMovementKind.NO_SALE else f"shift.{kind.value}"
        audit.record(
            session,
            action,
            user_id=actor.id,
            approved_by=approver.id if approver else None,
            station_id=shift.station_id,
            entity_type="cash_movement",
            entity_id=row.id,
            after={"shift_id": shift.id, "kind": kind.value, "amount_cents": amount, "reason": reason},
        )
        return CashMovementView(
            id=row.id,
            shift_id=shift.id,
            station_id=shift.station_id,
            kind=row.kind,
            amount_cents=row.amount_cents,
            reason=row.reason,
            user_id=row.user_id,
            approved_by=row.approved_by,
            created_at=row.created_at,
        )

    def movements(self, shift_id: str) -> list[CashMovementView]:
        """The shift's pay-ins, pay-outs and no-sales, oldest first."""
        with self.store.read() as s:
            shift = _get_shift(s, shift_id)
            rows = s.scalars(
                select(CashMovement)
                .where(CashMovement.shift_id == shift.id)
                .order_by(CashMovement.created_at, CashMovement.id)
            )
            return [
                CashMovementView(
                    id=r.id,
                    shift_id=r.shift_id,
                    station_id=shift.station_id,
                    kind=r.kind,
                    amount_cents=r.amount_cents,
                    reason=r.reason,
                    user_id=r.user_id,
                    approved_by=r.approved_by,
                    created_at=r.created_at,
                )
                for r in rows
            ]

    # ------------------------------------------------------------------ cash and close

    def expected_cash(self, shift_id: str) -> int:
        """Cash the drawer should hold now: float + signed cash tenders + pay-ins − pay-outs."""
        with self.store.read() as s:
            return _expected_cash(s, _get_shift(s, shift_id))

    def close_shift(
        self,
        shift_id: str,
        actor: UserView,
        counted_denominations: Mapping[int, int] | None = None,
        counted_cents: int | None = None,
        approval_pin: str | None = None,
    ) -> ShiftView:
        """Close with a counted drawer (amount or by denomination); freeze variance and Z report.

        The cashier who opened the shift closes it; anyone else needs to be a manager or a
        manager's PIN, because closing someone's drawer signs off on their cash.
        """
        require_role(actor, Role.CASHIER)
        with self.store.read() as s:
            counted, counts = _one_count(s, counted_cents, counted_denominations, "counted cash")
            shift = _get_shift(s, shift_id)
            _refuse_closed(s, shift)
            owner, station_id = shift.opened_by, shift.station_id
        approver: UserView | None = None
        if actor.id != owner:
            approver = approve(
                self.auth,
                approval_pin,
                "close another cashier's shift",
                actor=actor,
                action="shift.close",
                station_id=station_id,
                entity_type="shift",
                entity_id=shift_id,
            )
        with self.store.uow() as uow:
            s = uow.session
            shift = _get_shift(s, shift_id, lock=True)
            _refuse_closed(s, shift)
            now = utcnow()
            expected = _expected_cash(s, shift)
            shift.status = ShiftStatus.CLOSED.value
            shift.closed_by = actor.id
            shift.closed_at = now
            shift.expected_cash_cents = expected
            shift.counted_cash_cents = counted
            shift.variance_cents = counted - expected
            shift.denominations = {str(k): v for k, v in counts.items()} if counts is not None else None
            report = _build_report(s, shift, final=True, generated_at=now)
            shift.z_report = report.to_json()
            audit.record(
                s,
                "shift.close",
                user_id=actor.id,
                approved_by=approver.id if approver else None,
                station_id=shift.station_id,
                entity_type="shift",
                entity_id=shift.id,
                after={
                    "expected_cash_cents": expected,
                    "counted_cash_cents": counted,
                    "variance_cents": counted - expected,
                    "net_sales_cents": report.net_sales_cents,
                },
            )
            uow.flush()
            return _view(s, shift)

    # ------------------------------------------------------------------ reports

    def z_report(self, shift_id: str, *, recompute: bool = False) -> ZReport:
        """The frozen Z report of a closed shift, or a live X report of an open one.

        ``recompute=True`` rebuilds a closed shift's report from the ledgers as they are now
        (stamped with the close time): comparing it with the stored copy shows whether
        anything reached the shift after it was closed (e.g. a late-replicated row).
        """
        with self.store.read() as s:
            shift = _get_shift(s, shift_id)
            closed = shift.status == ShiftStatus.CLOSED.value
            if closed and shift.z_report and not recompute:
                return ZReport.from_json(shift.z_report)
            generated = shift.closed_at if closed and shift.closed_at else utcnow()
            return _build_report(s, shift, final=closed, generated_at=generated)


# --------------------------------------------------------------------------- internals


def _get_shift(session: Session, shift_id: str, *, lock: bool = False) -> Shift:
    if not isinstance(shift_id, str) or not shift_id:
        raise NotFoundError("no such shift")
    q = select(Shift).where(Shift.id == shift_id)
    if lock:
        q = q.with_for_update()
    shift = session.scalar(q)
    if shift is None:
        raise NotFoundError("no such shift")
    return shift


def _refuse_closed(session: Session, shift: Shift) -> None:
    if shift.status != ShiftStatus.OPEN.value:
        who = _names(session, [shift.closed_by] if shift.closed_by else []).get(
            shift.closed_by or "", "someone"
        )
        when = _local(shift.closed_at) if shift.closed_at else "earlier"
        raise ConflictError(f"this shift is already closed (by {who} at {when})")


def _get_open_shift(session: Session, shift_id: str, *, lock: bool = False) -> Shift:
    shift = _get_shift(session, shift_id, lock=lock)
    _refuse_closed(session, shift)
    return shift


def _local(when: datetime) -> str:
    """A time as the terminal's local wall clock: what the people in the shop read."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def _names(session: Session, user_ids: Iterable[str | None]) -> dict[str, str]:
    ids = {u for u in user_ids if u}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows}


def _station_names(session: Session, station_ids: Iterable[str]) -> dict[str, str]:
    ids = set(station_ids)
    if not ids:
        return {}
    rows = session.execute(select(Station.id, Station.name).where(Station.id.in_(ids)))
    return {sid: name for sid, name in rows}


def _view(
    session: Session,
    shift: Shift,
    *,
    names: Mapping[str, str] | None = None,
    stations: Mapping[str, str] | None = None,
) -> ShiftView:
    if names is None:
        names = _names(session, [shift.opened_by, shift.closed_by])
    if stations is None:
        stations = _station_names(session, [shift.station_id])
    return ShiftView(
        id=shift.id,
        station_id=shift.station_id,
        station_name=stations.get(shift.station_id, "?"),
        status=shift.status,
        opened_by=shift.opened_by,
        opened_by_name=names.get(shift.opened_by, "?"),
        opened_at=shift.opened_at,
        opening_float_cents=shift.opening_float_cents,
        closed_by=shift.closed_by,
        closed_by_name=names.get(shift.closed_by) if shift.closed_by else None,
        closed_at=shift.closed_at,
        expected_cash_cents=shift.expected_cash_cents,
        counted_cash_cents=shift.counted_cash_cents,
        variance_cents=shift.variance_cents,
        denominations=_int_keys(shift.denominations),
    )


def _tender_flows(session: Session, shift_id: str) -> list[tuple[str, str, int]]:
    """(transaction kind, tender, Σ amount − change) for the shift: the signed money per tender."""
    rows = session.execute(
        select(
            Transaction.kind,
            TransactionTender.tender,
            func.coalesce(func.sum(TransactionTender.amount_cents - TransactionTender.change_cents), 0),
        )
        .join(Transaction, TransactionTender.transaction_id == Transaction.id)
        .where(Transaction.shift_id == shift_id)
        .group_by(Transaction.kind, TransactionTender.tender)
    )
    return [(kind, tender, int(total)) for kind, tender, total in rows]


def _movement_sums(session: Session, shift_id: str) -> dict[str, tuple[int, int]]:
    """kind -> (count, Σ amount) of the shift's cash movements."""
    rows = session.execute(
        select(CashMovement.kind, func.count(), func.coalesce(func.sum(CashMovement.amount_cents), 0))
        .where(CashMovement.shift_id == shift_id)
        .group_by(CashMovement.kind)
    )
    return {kind: (int(n), int(total)) for kind, n, total in rows}


def _expected_cash(session: Session, shift: Shift) -> int:
    cash = sum(
        total for _kind, tender, total in _tender_flows(session, shift.id) if tender == Tender.CASH.value
    )
    moves = _movement_sums(session, shift.id)
    pay_ins = moves.get(CashMovementKind.PAY_IN.value, (0, 0))[1]
    pay_outs = moves.get(CashMovementKind.PAY_OUT.value, (0, 0))[1]
    return shift.opening_float_cents + cash + pay_ins - pay_outs


def _kind_bucket(kind: str) -> str:
    if kind == SALE:
        return "sales"
    if kind in (REFUND, VOID):
        return "refunds"
    return "other"


def _tender_order(tender: str) -> tuple[int, str]:
    known = [t.value for t in Tender]
    return (known.index(tender), "") if tender in known else (len(known), tender)


def _build_report(session: Session, shift: Shift, *, final: bool, generated_at: datetime) -> ZReport:
    """Aggregate the shift's ledgers in SQL (GROUP BY) — a busy Friday is thousands of rows."""
    # transactions by kind and cashier
    rows = session.execute(
        select(
            Transaction.kind,
            Transaction.user_id,
            func.count(),
            func.coalesce(func.sum(Transaction.subtotal_cents), 0),
            func.coalesce(func.sum(Transaction.discount_cents), 0),
            func.coalesce(func.sum(Transaction.tax_cents), 0),
            func.coalesce(func.sum(Transaction.total_cents), 0),
        )
        .where(Transaction.shift_id == shift.id)
        .group_by(Transaction.kind, Transaction.user_id)
    ).all()
    by_kind: dict[str, list[int]] = {}
    by_user: dict[str | None, dict[str, int]] = {}
    for kind, user_id, n, sub, disc, tax, total in rows:
        acc = by_kind.setdefault(kind, [0, 0, 0, 0, 0])
        for i, v in enumerate((n, sub, disc, tax, total)):
            acc[i] += int(v)
        u = by_user.setdefault(
            user_id,
            {"transactions": 0, "sales_count": 0, "sales": 0, "refunds_count": 0, "refunds": 0, "net": 0},
        )
        u["transactions"] += int(n)
        if kind == SALE:
            u["sales_count"] += int(n)
            u["sales"] += int(total)
            u["net"] += int(total) - int(tax)
        elif kind in (REFUND, VOID):
            u["refunds_count"] += int(n)
            u["refunds"] += int(total)
            u["net"] += int(total) - int(tax)

    def totals(kind: str) -> KindTotals:
        n, sub, disc, tax, total = by_kind.get(kind, [0, 0, 0, 0, 0])
        return KindTotals(kind, n, sub, disc, tax, total)

    sales, refunds, voids = totals(SALE), totals(REFUND), totals(VOID)
    other = tuple(totals(k) for k in sorted(by_kind) if k not in (SALE, REFUND, VOID))

    # tenders
    tender_acc: dict[str, dict[str, int]] = {}
    for kind, tender, amount in _tender_flows(session, shift.id):
        acc_t = tender_acc.setdefault(tender, {"sales": 0, "refunds": 0, "other": 0})
        acc_t[_kind_bucket(kind)] += amount
    tenders = tuple(
        TenderTotals(t, a["sales"], a["refunds"], a["other"], a["sales"] + a["refunds"] + a["other"])
        for t, a in sorted(tender_acc.items(), key=lambda item: _tender_order(item[0]))
    )
    cash_t = next((t for t in tenders if t.tender == Tender.CASH.value), TenderTotals(Tender.CASH.value))

    # cash movements
    moves = _movement_sums(session, shift.id)
    pay_in_n, pay_ins = moves.get(CashMovementKind.PAY_IN.value, (0, 0))
    pay_out_n, pay_outs = moves.get(CashMovementKind.PAY_OUT.value, (0, 0))
    no_sales = moves.get(CashMovementKind.NO_SALE.value, (0, 0))[0]
    move_rows = list(
        session.scalars(
            select(CashMovement)
            .where(CashMovement.shift_id == shift.id)
            .order_by(CashMovement.created_at, CashMovement.id)
        )
    )
    expected = shift.opening_float_cents + cash_t.net_cents + pay_ins - pay_outs

    # open carts voided during the shift (no transaction: only the audit trail knows)
    # (the time window only bounds the scan; the margin absorbs another terminal's clock skew)
    cart_q = select(AuditEntry.after).where(
        AuditEntry.action == CART_VOID_ACTION, AuditEntry.at >= shift.opened_at - CLOCK_MARGIN
    )
    if shift.closed_at is not None:
        cart_q = cart_q.where(AuditEntry.at <= shift.closed_at + CLOCK_MARGIN)
    carts_n = carts_cents = 0
    for after in session.scalars(cart_q):
        if isinstance(after, dict) and after.get("shift_id") == shift.id:
            carts_n += 1
            value = after.get("total_cents")
            if isinstance(value, int) and not isinstance(value, bool):
                carts_cents += value

    names = _names(
        session,
        [shift.opened_by, shift.closed_by, *by_user]
        + [m.user_id for m in move_rows]
        + [m.approved_by for m in move_rows],
    )
    cashiers = tuple(
        sorted(
            (
                CashierTotals(
                    user_id=uid,
                    name=names.get(uid, "?") if uid else "(no cashier)",
                    transactions=u["transactions"],
                    sales_count=u["sales_count"],
                    sales_cents=u["sales"],
                    refunds_count=u["refunds_count"],
                    refunds_cents=u["refunds"],
                    net_sales_cents=u["net"],
                )
                for uid, u in by_user.items()
            ),
            key=lambda c: (c.name.lower(), c.user_id or ""),
        )
    )
    counted = shift.counted_cash_cents if final else None
    return ZReport(
        shift_id=shift.id,
        station_id=shift.station_id,
        station_name=_station_names(session, [shift.station_id]).get(shift.station_id, "?"),
        shop_name=str(_setting(session, "shop.name") or ""),
        currency_symbol=_symbol(session),
        final=final,
        generated_at=generated_at,
        opened_by_id=shift.opened_by,
        opened_by_name=names.get(shift.opened_by, "?"),
        opened_at=shift.opened_at,
        closed_by_id=shift.closed_by,
        closed_by_name=names.get(shift.closed_by) if shift.closed_by else None,
        closed_at=shift.closed_at,
        sales=sales,
        refunds=refunds,
        voids=voids,
        voided_carts_count=carts_n,
        voided_carts_cents=carts_cents,
        other=other,
        gross_sales_cents=sales.subtotal_cents,
        discounts_cents=sales.discount_cents,
        tax_cents=sales.tax_cents + refunds.tax_cents + voids.tax_cents,
        net_sales_cents=sales.net_cents + refunds.net_cents + voids.net_cents,
        net_total_cents=sales.total_cents + refunds.total_cents + voids.total_cents,
        tenders=tenders,
        cash=CashSummary(
            opening_float_cents=shift.opening_float_cents,
            cash_sales_cents=cash_t.sales_cents,
            cash_refunds_cents=cash_t.refunds_cents,
            cash_other_cents=cash_t.other_cents,
            pay_ins_cents=pay_ins,
            pay_outs_cents=pay_outs,
            expected_cents=expected,
            counted_cents=counted,
            variance_cents=counted - expected if counted is not None else None,
        ),
        no_sales=no_sales,
        pay_ins_count=pay_in_n,
        pay_outs_count=pay_out_n,
        movements=tuple(
            MovementLine(
                kind=m.kind,
                amount_cents=m.amount_cents,
                reason=m.reason,
                user_name=names.get(m.user_id) if m.user_id else None,
                approved_by_name=names.get(m.approved_by) if m.approved_by else None,
                at=m.created_at,
            )
            for m in move_rows
        ),
        cashiers=cashiers,
        denominations=_int_keys(shift.denominations) if final else None,
    )


# --------------------------------------------------------------------------- printing


_TENDER_LABELS = {
    Tender.CASH.value: "Cash",
    Tender.CARD.value: "Card",
    Tender.STORE_CREDIT.value: "Store credit",
    Tender.GIFT_CARD.value: "Gift card",
}
_MOVEMENT_LABELS = {
    CashMovementKind.PAY_IN.value: "Pay-in",
    CashMovementKind.PAY_OUT.value: "Pay-out",
    CashMovementKind.NO_SALE.value: "No-sale",
}


def z_report_text(report: ZReport, width: int = 42, *, tz: tzinfo | None = None) -> str:
    """Plain-text Z (or X) report, ``width`` characters a line, for the receipt printer or screen.

    Pure text, no printer codes: the hardware layer turns it into ESC/POS, the UI shows it
    in a monospace box, and a re-print of a closed shift renders the stored report, so
    it is identical to the first print. Times are shown in ``tz`` (default: the terminal's
    local zone).
    """
    if width < 32:
        raise ValidationError("a Z report needs at least 32 characters a line")
    sym = report.currency_symbol

    def money(v: int) -> str:
        return format_cents(v, sym)

    def when(d: datetime | None) -> str:
        return d.astimezone(tz).strftime("%Y-%m-%d %H:%M") if d else "-"

    def row(label: str, value: str = "", indent: int = 0) -> str:
        label = " " * indent + label
        room = width - len(value) - 1
        if len(label) > room:
            label = label[: max(room - 1, 0)] + "…"
        return f"{label:<{room}} {value}" if value else label[:width]

    def count_row(label: str, n: int, value: int, indent: int = 0) -> str:
        return row(f"{label} ({n})", money(value), indent)

    rule = "-" * width
    out: list[str] = []
    if report.shop_name:
        out.append(report.shop_name[:width].center(width).rstrip())
    title = "Z REPORT" if report.final else "X REPORT (shift open)"
    out += [title.center(width).rstrip(), rule]
    out += [
        row("Station", report.station_name),
        row("Opened", when(report.opened_at)),
        row("  by", report.opened_by_name),
    ]
    if report.closed_at is not None:
        out += [row("Closed", when(report.closed_at)), row("  by", report.closed_by_name or "?")]
    out += [row("Printed", when(report.generated_at)), rule, "SALES"]
    out += [
        count_row("Sales", report.sales.count, report.sales.total_cents, 2),
        count_row("Refunds", report.refunds.count, report.refunds.total_cents, 2),
        count_row("Voided sales", report.voids.count, report.voids.total_cents, 2),
        count_row("Voided carts", report.voided_carts_count, report.voided_carts_cents, 2),
    ]
    out += [count_row(o.kind.replace("_", " ").capitalize(), o.count, o.total_cents, 2) for o in report.other]
    out += [
        row("Gross sales", money(report.gross_sales_cents), 2),
        row("Discounts", money(-report.discounts_cents), 2),
        row("Tax", money(report.tax_cents), 2),
        row("Net sales (ex tax)", money(report.net_sales_cents), 2),
        row("Net total (incl. tax)", money(report.net_total_cents), 2),
        rule,
        "TENDERS",
    ]
    if not report.tenders:
        out.append(row("(none)", "", 2))
    for t in report.tenders:
        out.append(row(_TENDER_LABELS.get(t.tender, t.tender), money(t.net_cents), 2))
        out.append(row("sales", money(t.sales_cents), 4))
        out.append(row("refunds", money(t.refunds_cents), 4))
        if t.other_cents:
            out.append(row("other", money(t.other_cents), 4))
    c = report.cash
    out += [
        rule,
        "CASH",
        row("Opening float", money(c.opening_float_cents), 2),
        row("Cash sales", money(c.cash_sales_cents), 2),
        row("Cash refunds", money(c.cash_refunds_cents), 2),
    ]
    if c.cash_other_cents:
        out.append(row("Other cash", money(c.cash_other_cents), 2))
    out += [
        count_row("Pay-ins", report.pay_ins_count, c.pay_ins_cents, 2),
        count_row("Pay-outs", report.pay_outs_count, -c.pay_outs_cents, 2),
        row("Expected in drawer", money(c.expected_cents), 2),
    ]
    if c.counted_cents is not None:
        out.append(row("Counted", money(c.counted_cents), 2))
    if c.variance_cents is not None:
        label = (
            "Variance (over)"
            if c.variance_cents > 0
            else "Variance (short)"
            if c.variance_cents < 0
            else "Variance"
        )
        out.append(row(label, money(c.variance_cents), 2))
    if report.denominations:
        out.append(row("Count by denomination", "", 2))
        for denom, n in report.denominations.items():
            if n:
                out.append(row(f"{n} x {money(denom)}", money(n * denom), 4))
    out.append(row("No-sales", str(report.no_sales), 2))
    if report.movements:
        out += [rule, "DRAWER LOG"]
        for m in report.movements:
            label = f"{when(m.at)[11:]} {_MOVEMENT_LABELS.get(m.kind, m.kind)}"
            value = money(-m.amount_cents if m.kind == CashMovementKind.PAY_OUT.value else m.amount_cents)
            out.append(row(label, value if m.kind != CashMovementKind.NO_SALE.value else "", 2))
            who = m.user_name or "?"
            if m.approved_by_name and m.approved_by_name != m.user_name:
                who += f", ok {m.approved_by_name}"
            out += textwrap.wrap(
                who + (f": {m.reason}" if m.reason else ""),
                width,
                initial_indent=" " * 4,
                subsequent_indent=" " * 6,
            )
    out += [rule, "BY CASHIER"]
    if not report.cashiers:
        out.append(row("(no transactions)", "", 2))
    for cashier in report.cashiers:
        out += [
            row(cashier.name, f"{cashier.transactions} trans.", 2),
            count_row("Sales", cashier.sales_count, cashier.sales_cents, 4),
            count_row("Refunds/voids", cashier.refunds_count, cashier.refunds_cents, 4),
            row("Net sales (ex tax)", money(cashier.net_sales_cents), 4),
        ]
    out.append(rule)
    return "\n".join(line.rstrip() for line in out) + "\n"
