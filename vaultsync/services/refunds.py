"""Returns, refunds and voids of completed sales.

A refund is a new transaction pointing at the original (``original_id``), never an edit
of it. Amounts are negative (money leaves the till), quantities of returned lines are
negative, and each line's refund is its exact share of what was paid: returning k of n
units refunds ``cum(done + k) − cum(done)`` with ``cum(m) = total × m // n`` and
``cum(n) = total``, so partial returns can never add up to more than the line cost,
and a full return gives back exactly the line total including its tax and discounts.

Refunds go back to the original tenders in proportion to what each actually kept
(cash less change), or entirely to store credit. Above the shop's threshold, without a
receipt, and for voids, a manager approves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import MovementReason, Role, Tender, TransactionKind
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.domain.money import MAX_CENTS
from vaultsync.domain.pricing import allocate
from vaultsync.services import audit
from vaultsync.services.approval import approve
from vaultsync.services.auth import AuthService, UserView, require_role
from vaultsync.services.checkout import DrawerHook, ReceiptHook, _next_number, _open_shift_id, _request_id
from vaultsync.services.receipts import transaction_by_number
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import (
    CreditEntry,
    Customer,
    GiftCard,
    GiftCardEntry,
    Location,
    Sku,
    Station,
    StockMovement,
    Transaction,
    TransactionLine,
    TransactionTender,
)

TO_ORIGINAL = "original"
TO_STORE_CREDIT = "store_credit"
TO_CASH = "cash"


@dataclass(frozen=True)
class RefundableLine:
    line_id: str
    sku_id: str | None
    description: str
    sold_quantity: int
    refunded_quantity: int
    total_cents: int

    @property
    def remaining(self) -> int:
        return self.sold_quantity - self.refunded_quantity


@dataclass(frozen=True)
class PaidTender:
    tender: str
    reference: str | None
    kept_cents: int  # what the shop kept: amount − change − earlier refunds to it


@dataclass(frozen=True)
class Refundable:
    transaction_id: str
    number: str
    kind: str
    at: datetime
    customer_id: str | None
    total_cents: int
    refunded_cents: int
    lines: list[RefundableLine]
    tenders: list[PaidTender]


@dataclass(frozen=True)
class ReturnLine:
    """Return ``quantity`` of the original line ``line_id``; ``restock`` False for damaged items."""

    line_id: str
    quantity: int
    restock: bool = True


@dataclass(frozen=True)
class NoReceiptItem:
    sku_id: str
    quantity: int
    unit_refund_cents: int
    restock: bool = True


@dataclass(frozen=True)
class RefundResult:
    transaction_id: str
    number: str
    refund_cents: int  # positive: what the customer gets back
    tenders: list[tuple[str, int, str | None]]  # (tender, amount given back, reference)
    replayed: bool = False
    opens_drawer: bool = False


class RefundService:
    def __init__(
        self,
        store: Store,
        auth: AuthService,
        shop: ShopService,
        receipt_hook: ReceiptHook | None = None,
        drawer_hook: DrawerHook | None = None,
    ) -> None:
        self.store = store
        self.auth = auth
        self.shop = shop
        self.receipt_hook = receipt_hook
        self.drawer_hook = drawer_hook

    # ------------------------------------------------------------------ look-ups

    def lookup(self, number: str) -> Refundable:
        """The sale behind a receipt number (as scanned from the receipt's barcode)."""
        with self.store.read() as s:
            txn = transaction_by_number(s, number)
            if txn is None:
                raise NotFoundError(f"no receipt {number!r}")
            if txn.kind != TransactionKind.SALE.value:
                raise ValidationError(f"{txn.number} is a {txn.kind}, not a sale")
            return _refundable(s, txn)

    def sales_of_customer(self, customer_id: str, limit: int = 50) -> list[Refundable]:
        with self.store.read() as s:
            txns = s.scalars(
                select(Transaction)
                .where(Transaction.customer_id == customer_id, Transaction.kind == TransactionKind.SALE.value)
                .order_by(Transaction.created_at.desc())
                .limit(limit)
            )
            return [_refundable(s, t) for t in txns]

    # ------------------------------------------------------------------ refunds

    def refund(
        self,
        number: str,
        lines: Sequence[ReturnLine],
        *,
        actor: UserView,
        station_id: str,
        client_request_id: str,
        to: str = TO_ORIGINAL,
        approval_pin: str | None = None,
        reason: str | None = None,
    ) -> RefundResult:
        require_role(actor, Role.CASHIER)
        request_id = _request_id(client_request_id, "refund")
        replay = self._replayed(request_id)
        if replay is not None:
            return replay
        if to not in (TO_ORIGINAL, TO_STORE_CREDIT):
            raise ValidationError("refund to the original payment or to store credit")
        if not lines:
            raise ValidationError("choose what is being returned")
        original = self.lookup(number)
        by_id = {li.line_id: li for li in original.lines}
        seen: set[str] = set()
        for r in lines:
            if r.line_id not in by_id:
                raise NotFoundError("that line is not on this receipt")
            if r.line_id in seen:
                raise ValidationError("each line can appear once per refund")
            seen.add(r.line_id)
            _check_qty(r.quantity)
            line = by_id[r.line_id]
            if r.quantity > line.remaining:
                raise ConflictError(
                    f"{line.description}: {line.refunded_quantity} of {line.sold_quantity} already returned"
                    f", at most {line.remaining} left to return"
                )
        amounts = {r.line_id: _share(by_id[r.line_id], r.quantity) for r in lines}
        total = sum(amounts.values())
        if to == TO_STORE_CREDIT and original.customer_id is None:
            raise ValidationError("this sale has no customer: attach one or refund to the original payment")
        approver = None
        if total > int(self.shop.get("pos.refund_approval_cents")):
            approver = approve(
                self.auth,
                approval_pin,
                f"refund of {total / 100:.2f} on {original.number}",
                actor=actor,
                action="refund",
                station_id=station_id,
                entity_type="transaction",
                entity_id=original.transaction_id,
            )
        return self._kick(
            self._write(
                original=original,
                kind=TransactionKind.REFUND,
                returns=[(by_id[r.line_id], r.quantity, r.restock, amounts[r.line_id]) for r in lines],
                to=to,
                actor=actor,
                approver=approver,
                station_id=station_id,
                request_id=request_id,
                reason=reason,
            ),
            station_id,
            actor,
        )

    def void_sale(
        self,
        number: str,
        *,
        actor: UserView,
        station_id: str,
        client_request_id: str,
        approval_pin: str | None = None,
        reason: str | None = None,
    ) -> RefundResult:
        """Reverse a completed sale entirely (rung up by mistake): always a manager's call."""
        require_role(actor, Role.CASHIER)
        request_id = _request_id(client_request_id, "refund")
        replay = self._replayed(request_id)
        if replay is not None:
            return replay
        original = self.lookup(number)
        if original.refunded_cents:
            raise ConflictError(f"{original.number} already has returns; refund the remaining lines instead")
        approver = approve(
            self.auth,
            approval_pin,
            f"void of {original.number}",
            actor=actor,
            action="void",
            station_id=station_id,
            entity_type="transaction",
            entity_id=original.transaction_id,
        )
        return self._kick(
            self._write(
                original=original,
                kind=TransactionKind.VOID,
                returns=[(li, li.sold_quantity, True, li.total_cents) for li in original.lines],
                to=TO_ORIGINAL,
                actor=actor,
                approver=approver,
                station_id=station_id,
                request_id=request_id,
                reason=reason,
            ),
            station_id,
            actor,
        )

    def refund_without_receipt(
        self,
        items: Sequence[NoReceiptItem],
        *,
        actor: UserView,
        station_id: str,
        client_request_id: str,
        to: str = TO_STORE_CREDIT,
        customer_id: str | None = None,
        approval_pin: str | None = None,
        reason: str,
    ) -> RefundResult:
        """A return with no receipt: at a manager's discretion, to store credit (default) or cash."""
        require_role(actor, Role.CASHIER)
        request_id = _request_id(client_request_id, "refund")
        replay = self._replayed(request_id)
        if replay is not None:
            return replay
        if to not in (TO_STORE_CREDIT, TO_CASH):
            raise ValidationError("a return without receipt goes to store credit or cash")
        if to == TO_STORE_CREDIT and not customer_id:
            raise ValidationError("attach the customer to refund to store credit")
        if not items:
            raise ValidationError("choose what is being returned")
        if not (reason or "").strip():
            raise ValidationError("a return without receipt needs a reason")
        for item in items:
            _check_qty(item.quantity)
            if not 0 <= item.unit_refund_cents <= MAX_CENTS:
                raise ValidationError("refund amounts are whole cents, zero or more")
        total = sum(i.unit_refund_cents * i.quantity for i in items)
        if total > MAX_CENTS:
            raise ValidationError("refund amount out of range")
        approver = approve(
            self.auth,
            approval_pin,
            f"return without receipt ({total / 100:.2f})",
            actor=actor,
            action="refund.no_receipt",
            station_id=station_id,
        )
        with self.store.uow() as uow:
            s = uow.session
            if customer_id is not None:
                customer = s.get(Customer, customer_id)
                if customer is None:
                    raise NotFoundError("no such customer")
            station, shift_id = _station_and_shift(s, station_id)
            txn = Transaction(
                number=_next_number(s, station.receipt_prefix),
                kind=TransactionKind.REFUND.value,
                station_id=station.id,
                user_id=actor.id,
                customer_id=customer_id,
                shift_id=shift_id,
                approved_by=approver.id,
                subtotal_cents=-total,
                total_cents=-total,
                client_request_id=request_id,
                note=reason.strip()[:500],
                node_id=self.store.node_id,
            )
            s.add(txn)
            s.flush()
            default_loc = _default_location(s)
            for no, item in enumerate(items, start=1):
                sku = s.get(Sku, item.sku_id)
                if sku is None:
                    raise NotFoundError("no such item")
                amount = item.unit_refund_cents * item.quantity
                s.add(
                    TransactionLine(
                        transaction_id=txn.id,
                        line_no=no,
                        sku_id=sku.id,
                        description=sku.sku_code,
                        quantity=-item.quantity,
                        unit_price_cents=item.unit_refund_cents,
                        total_cents=-amount,
                        restock=item.restock,
                        reason="no receipt",
                    )
                )
                if item.restock and default_loc:
                    s.add(
                        StockMovement(
                            sku_id=sku.id,
                            location_id=default_loc,
                            delta=item.quantity,
                            reason=MovementReason.RETURN.value,
                            ref_type="transaction",
                            ref_id=txn.id,
                            user_id=actor.id,
                        )
                    )
            given: list[tuple[str, int, str | None]] = [
                (Tender.STORE_CREDIT.value if to == TO_STORE_CREDIT else Tender.CASH.value, total, None)
            ]
            self._pay_back(s, txn, given, customer_id, actor)
            audit.record(
                s,
                "refund.no_receipt",
                user_id=actor.id,
                approved_by=approver.id,
                station_id=station.id,
                entity_type="transaction",
                entity_id=txn.id,
                after={"total_cents": total, "to": to},
            )
            if self.receipt_hook is not None:
                self.receipt_hook(s, txn.id)
            result = RefundResult(
                txn.id, txn.number, total, given, opens_drawer=to == TO_CASH and station.has_drawer
            )
        return self._kick(result, station_id, actor)

    def _kick(self, result: RefundResult, station_id: str, actor: UserView) -> RefundResult:
        """Open the drawer for cash given back, after the refund committed."""
        if result.opens_drawer and self.drawer_hook is not None:
            self.drawer_hook(station_id, actor.id, f"cash refund {result.number}")
        return result

    # ------------------------------------------------------------------ writing

    def _write(
        self,
        *,
        original: Refundable,
        kind: TransactionKind,
        returns: list[tuple[RefundableLine, int, bool, int]],
        to: str,
        actor: UserView,
        approver: UserView | None,
        station_id: str,
        request_id: str,
        reason: str | None,
    ) -> RefundResult:
        total = sum(amount for *_, amount in returns)
        with self.store.uow() as uow:
            s = uow.session
            station, shift_id = _station_and_shift(s, station_id)
            # re-check under the write lock: another terminal/process may have refunded meanwhile
            fresh = {
                li.line_id: li for li in _refundable(s, s.get_one(Transaction, original.transaction_id)).lines
            }
            for line, qty, _, _ in returns:
                if qty > fresh[line.line_id].remaining:
                    raise ConflictError(
                        f"{line.description} was returned meanwhile; look the receipt up again"
                    )
            orig_lines = {
                li.id: li
                for li in s.scalars(
                    select(TransactionLine).where(TransactionLine.transaction_id == original.transaction_id)
                )
            }
            tax = sum(
                _cum_share(orig_lines[li.line_id].tax_cents, li.sold_quantity, li.refunded_quantity, q)
                for li, q, _, _ in returns
            )
            discount = sum(
                _cum_share(orig_lines[li.line_id].discount_cents, li.sold_quantity, li.refunded_quantity, q)
                for li, q, _, _ in returns
            )
            txn = Transaction(
                number=_next_number(s, station.receipt_prefix),
                kind=kind.value,
                station_id=station.id,
                user_id=actor.id,
                customer_id=original.customer_id,
                shift_id=shift_id,
                original_id=original.transaction_id,
                approved_by=approver.id if approver else None,
                subtotal_cents=-(total - tax + discount)
                if not _inclusive(s, original)
                else -(total + discount),
                discount_cents=-discount,
                tax_cents=-tax,
                total_cents=-total,
                tax_inclusive=_inclusive(s, original),
                client_request_id=request_id,
                note=(reason or "").strip()[:500] or None,
                node_id=self.store.node_id,
            )
            s.add(txn)
            s.flush()
            for no, (line, qty, restock, amount) in enumerate(returns, start=1):
                orig = orig_lines[line.line_id]
                s.add(
                    TransactionLine(
                        transaction_id=txn.id,
                        line_no=no,
                        sku_id=orig.sku_id,
                        location_id=orig.location_id,
                        description=orig.description,
                        quantity=-qty,
                        unit_price_cents=orig.unit_price_cents,
                        list_price_cents=orig.list_price_cents,
                        discount_cents=-_cum_share(
                            orig.discount_cents, line.sold_quantity, line.refunded_quantity, qty
                        ),
                        tax_cents=-_cum_share(
                            orig.tax_cents, line.sold_quantity, line.refunded_quantity, qty
                        ),
                        total_cents=-amount,
                        cost_cents=orig.cost_cents,
                        tax_category=orig.tax_category,
                        original_line_id=orig.id,
                        restock=restock,
                        reason=reason,
                    )
                )
                if restock and orig.sku_id:
                    s.add(
                        StockMovement(
                            sku_id=orig.sku_id,
                            location_id=_return_location(s, original.transaction_id, orig.sku_id),
                            delta=qty,
                            reason=MovementReason.RETURN.value,
                            ref_type="transaction",
                            ref_id=txn.id,
                            user_id=actor.id,
                        )
                    )
            given: list[tuple[str, int, str | None]]
            if to == TO_STORE_CREDIT:
                given = [(Tender.STORE_CREDIT.value, total, None)]
            else:
                given = _split_over_tenders(total, original.tenders)
            self._pay_back(s, txn, given, original.customer_id, actor)
            audit.record(
                s,
                f"{kind.value}.complete",
                user_id=actor.id,
                approved_by=approver.id if approver else None,
                station_id=station.id,
                entity_type="transaction",
                entity_id=txn.id,
                after={"original": original.number, "total_cents": total, "to": to},
            )
            if self.receipt_hook is not None:
                self.receipt_hook(s, txn.id)
            cash_out = any(t == Tender.CASH.value for t, _, _ in given)
            return RefundResult(
                txn.id, txn.number, total, given, opens_drawer=cash_out and station.has_drawer
            )

    def _pay_back(
        self,
        s: Session,
        txn: Transaction,
        given: list[tuple[str, int, str | None]],
        customer_id: str | None,
        actor: UserView,
    ) -> None:
        for tender, amount, reference in given:
            if amount == 0:
                continue
            s.add(
                TransactionTender(
                    transaction_id=txn.id, tender=tender, amount_cents=-amount, reference=reference
                )
            )
            if tender == Tender.STORE_CREDIT.value:
                if customer_id is None:
                    raise ValidationError("store credit needs a customer")
                s.add(
                    CreditEntry(
                        customer_id=customer_id,
                        delta_cents=amount,
                        reason="refund",
                        ref_type="transaction",
                        ref_id=txn.id,
                        user_id=actor.id,
                    )
                )
            elif tender == Tender.GIFT_CARD.value and reference:
                card = s.scalar(select(GiftCard).where(GiftCard.code == reference))
                if card is not None:
                    s.add(
                        GiftCardEntry(
                            gift_card_id=card.id,
                            delta_cents=amount,
                            ref_type="transaction",
                            ref_id=txn.id,
                            user_id=actor.id,
                        )
                    )

    def _replayed(self, request_id: str) -> RefundResult | None:
        with self.store.read() as s:
            txn = s.scalar(select(Transaction).where(Transaction.client_request_id == request_id))
            if txn is None:
                return None
            if txn.kind not in (TransactionKind.REFUND.value, TransactionKind.VOID.value):
                raise ConflictError("that request id belongs to another kind of transaction")
            given = [(t.tender, -t.amount_cents, t.reference) for t in txn.tenders]
            return RefundResult(txn.id, txn.number, -txn.total_cents, given, replayed=True)


# ---------------------------------------------------------------------- helpers


def _check_qty(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValidationError("a returned quantity is a whole number, 1 or more")


def _cum_share(total: int, sold: int, done: int, k: int) -> int:
    """The part of ``total`` belonging to units done+1 … done+k of ``sold`` (see module docstring)."""

    def cum(m: int) -> int:
        return total if m >= sold else total * m // sold

    return cum(done + k) - cum(done)


def _share(line: RefundableLine, quantity: int) -> int:
    return _cum_share(line.total_cents, line.sold_quantity, line.refunded_quantity, quantity)


def _refundable(s: Session, txn: Transaction) -> Refundable:
    refunds = s.scalars(select(Transaction).where(Transaction.original_id == txn.id)).all()
    refund_ids = [r.id for r in refunds]
    returned: dict[str, int] = {}
    if refund_ids:
        for line_id, qty in s.execute(
            select(TransactionLine.original_line_id, func.sum(TransactionLine.quantity))
            .where(TransactionLine.transaction_id.in_(refund_ids))
            .group_by(TransactionLine.original_line_id)
        ):
            returned[str(line_id)] = -int(qty)
    lines = [
        RefundableLine(li.id, li.sku_id, li.description, li.quantity, returned.get(li.id, 0), li.total_cents)
        for li in txn.lines
    ]
    given_back: dict[tuple[str, str | None], int] = {}
    for r in refunds:
        for t in r.tenders:
            key = (t.tender, t.reference)
            given_back[key] = given_back.get(key, 0) - t.amount_cents
    tenders = []
    for t in txn.tenders:
        key = (t.tender, t.reference)
        kept = t.amount_cents - t.change_cents
        back = min(kept, given_back.get(key, 0))
        given_back[key] = given_back.get(key, 0) - back
        tenders.append(PaidTender(t.tender, t.reference, kept - back))
    return Refundable(
        transaction_id=txn.id,
        number=txn.number,
        kind=txn.kind,
        at=txn.created_at,
        customer_id=txn.customer_id,
        total_cents=txn.total_cents,
        refunded_cents=-sum(r.total_cents for r in refunds),
        lines=lines,
        tenders=tenders,
    )


def _split_over_tenders(total: int, tenders: list[PaidTender]) -> list[tuple[str, int, str | None]]:
    """Give ``total`` back over the original tenders in proportion to what each still holds."""
    weights = [max(t.kept_cents, 0) for t in tenders]
    if sum(weights) < total:
        raise ConflictError("the refund exceeds what is left of the original payment")
    shares = allocate(total, weights)
    # rounding can push a share one cent over its tender; move such cents to tenders with room
    for i, (share, cap) in enumerate(zip(shares, weights, strict=True)):
        excess = share - cap
        if excess > 0:
            shares[i] = cap
            for j, cap_j in enumerate(weights):
                room = cap_j - shares[j]
                take = min(room, excess)
                if take > 0:
                    shares[j] += take
                    excess -= take
                if excess == 0:
                    break
    return [(t.tender, amount, t.reference) for t, amount in zip(tenders, shares, strict=True) if amount]


def _station_and_shift(s: Session, station_id: str) -> tuple[Station, str]:
    station = s.get(Station, station_id)
    if station is None:
        raise ConflictError("this terminal has no station set up")
    shift_id = _open_shift_id(s, station.id, lock=True)
    if shift_id is None:
        raise ConflictError("open a shift before refunding")
    return station, shift_id


def _inclusive(s: Session, original: Refundable) -> bool:
    txn = s.get(Transaction, original.transaction_id)
    return bool(txn and txn.tax_inclusive)


def _return_location(s: Session, txn_id: str, sku_id: str) -> str:
    """Back where it was sold from, so the cashier's count of that case stays right."""
    loc = s.scalar(
        select(StockMovement.location_id)
        .where(StockMovement.ref_id == txn_id, StockMovement.sku_id == sku_id)
        .limit(1)
    )
    if loc is not None:
        return loc
    fallback = _default_location(s)
    if fallback is None:
        raise ConflictError("no location to put returned stock in: create one first")
    return fallback


def _default_location(s: Session) -> str | None:
    return s.scalar(
        select(Location.id).where(Location.parent_id.is_(None)).order_by(Location.created_at).limit(1)
    )
