"""Ringing up a sale: cart, scans, discounts and overrides, tenders, and completing it.

Open carts live in this process's memory (a cart is not yet anything the shop owes
anyone) and are written to the ``carts`` table when parked, which is what lets another
terminal resume them once synced. Completing a sale writes the transaction, its lines
and tenders, the stock movements, store-credit and gift-card entries, the popularity
bumps, the audit entries for overrides and the receipt print job in ONE database
transaction — and a retried submit with the same client request id returns the sale
already made instead of making a second one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.cart import CartLine, CartState, Discount
from vaultsync.domain.enums import MovementReason, Role, Tender, TransactionKind
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.domain.ids import new_id
from vaultsync.domain.money import MAX_CENTS
from vaultsync.domain.pricing import BPS, Totals
from vaultsync.services import audit
from vaultsync.services.approval import approve
from vaultsync.services.auth import AuthService, UserView, require_role
from vaultsync.services.pricing import spike_warning
from vaultsync.services.receipts import transaction_by_number
from vaultsync.services.shifts import open_shift_for
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import (
    CardSet,
    Cart,
    Counter,
    CreditEntry,
    Customer,
    CustomerBalance,
    Game,
    GiftCard,
    GiftCardEntry,
    Product,
    Sku,
    Station,
    StockLevel,
    StockMovement,
    Transaction,
    TransactionLine,
    TransactionTender,
)

MAX_QTY = 9_999
MAX_LINES = 500
MAX_CODE = 64
RECEIPT_RE = re.compile(r"^[A-Z0-9]{1,8}-\d{6,}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class TenderInput:
    kind: Tender
    amount_cents: int
    #: card: the payment terminal's approval reference; gift card: its code
    reference: str | None = None


@dataclass(frozen=True)
class LineView:
    line_id: str
    sku_id: str | None
    description: str
    detail: str | None
    quantity: int
    unit_price_cents: int
    list_price_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    serialized: bool
    price_reason: str | None
    #: the market moved above the shelf price since the item was priced (pricing's spike warning)
    price_warning: str | None = None


@dataclass(frozen=True)
class CartView:
    id: str
    customer_id: str | None
    customer_name: str | None
    lines: list[LineView]
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    tax_inclusive: bool
    item_count: int


@dataclass(frozen=True)
class SaleResult:
    transaction_id: str
    number: str
    total_cents: int
    change_cents: int
    #: True when this was a retried submit and the sale already existed
    replayed: bool = False
    opens_drawer: bool = False


@dataclass(frozen=True)
class HeldCart:
    id: str
    label: str | None
    station_id: str | None
    user_id: str | None
    total_items: int
    updated_at: str


#: called inside the sale's unit of work with (session, transaction id): the hardware layer
#: uses it to queue the receipt in the same transaction as the sale
ReceiptHook = Callable[[Session, str], None]
#: called after a committed cash sale/refund with (station id, user id, reason): kicks the drawer
DrawerHook = Callable[[str, str | None, str], object]


@dataclass
class CheckoutService:
    store: Store
    auth: AuthService
    shop: ShopService
    receipt_hook: ReceiptHook | None = None
    drawer_hook: DrawerHook | None = None
    _carts: dict[str, CartState] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------------ carts

    def new_cart(self, *, actor: UserView, station_id: str) -> CartView:
        require_role(actor, Role.CASHIER)
        self._station(station_id)
        cart = CartState(station_id=station_id, user_id=actor.id)
        with self._lock:
            self._carts[cart.id] = cart
        return self.view(cart.id)

    def view(self, cart_id: str) -> CartView:
        cart = self._cart(cart_id)
        return self._view(cart, *self._tax())

    def _cart(self, cart_id: str) -> CartState:
        with self._lock:
            cart = self._carts.get(cart_id)
        if cart is None:
            raise NotFoundError("that sale is no longer open (completed, parked or voided)")
        return cart

    def _tax(self) -> tuple[dict[str, int], bool]:
        rates = self.shop.get("tax.rates") or {}
        return {str(k): int(v) for k, v in rates.items()}, bool(self.shop.get("tax.inclusive"))

    def _view(self, cart: CartState, rates: dict[str, int], inclusive: bool) -> CartView:
        try:
            totals = cart.price(rates, tax_inclusive=inclusive)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        lines = [
            LineView(
                line_id=li.line_id,
                sku_id=li.sku_id,
                description=li.description,
                detail=li.detail,
                quantity=li.quantity,
                unit_price_cents=li.unit_price_cents,
                list_price_cents=li.list_price_cents,
                discount_cents=p.discount_cents,
                tax_cents=p.tax_cents,
                total_cents=p.total_cents,
                serialized=li.serialized,
                price_reason=li.price_reason,
                price_warning=li.price_warning,
            )
            for li, p in zip(cart.lines, totals.lines, strict=True)
        ]
        return CartView(
            id=cart.id,
            customer_id=cart.customer_id,
            customer_name=cart.customer_name,
            lines=lines,
            subtotal_cents=totals.subtotal_cents,
            discount_cents=totals.discount_cents,
            tax_cents=totals.tax_cents,
            total_cents=totals.total_cents,
            tax_inclusive=inclusive,
            item_count=sum(li.quantity for li in cart.lines),
        )

    # ------------------------------------------------------------------ adding lines

    def scan(self, cart_id: str, code: str, *, actor: UserView) -> CartView:
        """What a barcode scanner (or the keyboard) typed: barcode, SKU code or cert number."""
        require_role(actor, Role.CASHIER)
        code = (code or "").strip()
        if not code:
            raise ValidationError("nothing was scanned")
        if len(code) > MAX_CODE or _CONTROL.search(code):
            raise ValidationError("that scan is not a barcode this shop uses")
        cart = self._cart(cart_id)
        with self.store.read() as s:
            sku_id = self._find_sku(s, code)
            if sku_id is None:
                if RECEIPT_RE.match(code.upper()) and transaction_by_number(s, code) is not None:
                    raise ValidationError(f"{code.upper()} is a receipt: use Refund to return items from it")
                raise NotFoundError(f"no item with code {code!r}")
        return self.add_sku(cart.id, sku_id, 1, actor=actor)

    @staticmethod
    def _find_sku(s: Session, code: str) -> str | None:
        # SKU codes are upper case; both spellings keep the lookup on the unique index
        found = s.scalar(select(Sku.id).where(Sku.sku_code.in_({code, code.upper()})).limit(1))
        if found:
            return found
        found = s.scalar(select(Sku.id).where(Sku.cert_number == code))
        if found:
            return found
        # several SKUs can share a UPC (e.g. conditions of one product): prefer one in stock
        on_hand = (
            select(func.coalesce(func.sum(StockLevel.on_hand), 0))
            .where(StockLevel.sku_id == Sku.id)
            .scalar_subquery()
        )
        return s.scalar(
            select(Sku.id)
            .where(Sku.barcode == code, Sku.is_active.is_(True))
            .order_by(on_hand.desc())
            .limit(1)
        )

    def add_sku(self, cart_id: str, sku_id: str, quantity: int = 1, *, actor: UserView) -> CartView:
        require_role(actor, Role.CASHIER)
        _check_qty(quantity)
        cart = self._cart(cart_id)
        with self.store.read() as s:
            row = s.execute(
                select(Sku, Product, Game, CardSet)
                .join(Product, Sku.product_id == Product.id)
                .join(Game, Product.game_id == Game.id)
                .outerjoin(CardSet, Product.set_id == CardSet.id)
                .where(Sku.id == sku_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError("no such item")
            sku, product, game, card_set = row
            if not sku.is_active or not product.is_active:
                raise ConflictError(f"{product.name} is not for sale (inactive)")
            on_hand = _on_hand(s, sku_id)
            warning = spike_warning(
                s,
                sku.id,
                sku.shelf_price_cents,
                sku.market_price_cents,
                str(self.shop.get("shop.currency_symbol") or "$"),
            )
        with self._lock:
            in_cart = sum(li.quantity for li in cart.lines if li.sku_id == sku_id)
            if sku.serialized:
                if in_cart:
                    raise ConflictError(f"{product.name} ({sku.sku_code}) is already in this sale")
                if quantity != 1:
                    raise ValidationError("a serialized item (slab, one-off) is sold one at a time")
                if on_hand < 1:
                    raise ConflictError(f"{product.name} ({sku.sku_code}) has already been sold")
            elif on_hand < in_cart + quantity:
                raise ConflictError(f"out of stock: {product.name} — {max(on_hand - in_cart, 0)} left")
            existing = next(
                (
                    li
                    for li in cart.lines
                    if li.sku_id == sku_id
                    and li.discount is None
                    and li.price_reason is None
                    and not li.serialized
                ),
                None,
            )
            if existing is not None:
                existing.quantity += quantity
            else:
                if len(cart.lines) >= MAX_LINES:
                    raise ValidationError(f"a sale holds at most {MAX_LINES} lines")
                cart.lines.append(
                    CartLine(
                        sku_id=sku.id,
                        description=_description(product, card_set),
                        detail=_detail(sku),
                        quantity=quantity,
                        unit_price_cents=sku.shelf_price_cents,
                        list_price_cents=sku.shelf_price_cents,
                        tax_category=product.tax_category or game.tax_category,
                        cost_cents=sku.cost_basis_cents,
                        serialized=sku.serialized,
                        price_warning=warning,
                    )
                )
        return self.view(cart_id)

    def add_custom(
        self,
        cart_id: str,
        description: str,
        unit_price_cents: int,
        quantity: int = 1,
        *,
        reason: str,
        actor: UserView,
        tax_category: str = "standard",
    ) -> CartView:
        """A line with a typed-in price (a one-off without a SKU, a service); always with a reason."""
        require_role(actor, Role.CASHIER)
        _check_qty(quantity)
        _check_price(unit_price_cents)
        description = (description or "").strip()
        if not description or len(description) > 200:
            raise ValidationError("a custom line needs a description (up to 200 characters)")
        if not (reason or "").strip():
            raise ValidationError("a custom line needs a reason")
        rates, _ = self._tax()
        if tax_category not in rates:
            raise ValidationError(f"no tax rate configured for category {tax_category!r}")
        cart = self._cart(cart_id)
        with self._lock:
            cart.lines.append(
                CartLine(
                    sku_id=None,
                    description=description,
                    quantity=quantity,
                    unit_price_cents=unit_price_cents,
                    list_price_cents=unit_price_cents,
                    tax_category=tax_category,
                    price_reason=reason.strip()[:200],
                )
            )
        return self.view(cart_id)

    # ------------------------------------------------------------------ editing lines

    def set_quantity(self, cart_id: str, line_id: str, quantity: int, *, actor: UserView) -> CartView:
        require_role(actor, Role.CASHIER)
        _check_qty(quantity)
        cart = self._cart(cart_id)
        line = _line(cart, line_id)
        if line.serialized and quantity != 1:
            raise ValidationError("a serialized item (slab, one-off) is sold one at a time")
        if line.sku_id is not None and quantity > line.quantity:
            with self.store.read() as s:
                on_hand = _on_hand(s, line.sku_id)
            others = sum(li.quantity for li in cart.lines if li.sku_id == line.sku_id and li is not line)
            if on_hand < others + quantity:
                raise ConflictError(f"out of stock: {line.description} — {max(on_hand - others, 0)} left")
        with self._lock:
            line.quantity = quantity
        return self.view(cart_id)

    def remove_line(self, cart_id: str, line_id: str, *, actor: UserView) -> CartView:
        require_role(actor, Role.CASHIER)
        cart = self._cart(cart_id)
        line = _line(cart, line_id)
        with self._lock:
            cart.lines.remove(line)
        return self.view(cart_id)

    def discount_line(
        self,
        cart_id: str,
        line_id: str,
        discount: Discount | None,
        *,
        reason: str | None,
        actor: UserView,
        approval_pin: str | None = None,
    ) -> CartView:
        """Percent (basis points) or amount off one line; above the shop's threshold a manager approves."""
        require_role(actor, Role.CASHIER)
        cart = self._cart(cart_id)
        line = _line(cart, line_id)
        approver = None
        if discount is not None:
            share = _check_discount(discount, line.unit_price_cents * line.quantity)
            if share > int(self.shop.get("pos.discount_approval_bps")):
                approver = self._approve(
                    approval_pin,
                    f"discount of {share / 100:.0f}% on {line.description}",
                    actor,
                    "override.discount",
                )
        with self._lock:
            line.discount = discount
            line.discount_reason = (reason or "").strip()[:200] or None
            line.approved_by = approver.id if approver else line.approved_by
        if approver:
            self._audit_override(
                "override.discount", actor, approver, {"line": line.description, "discount": discount}
            )
        return self.view(cart_id)

    def discount_cart(
        self,
        cart_id: str,
        discount: Discount | None,
        *,
        reason: str | None,
        actor: UserView,
        approval_pin: str | None = None,
    ) -> CartView:
        require_role(actor, Role.CASHIER)
        cart = self._cart(cart_id)
        approver = None
        if discount is not None:
            base = sum(li.unit_price_cents * li.quantity for li in cart.lines)
            share = _check_discount(discount, base)
            if share > int(self.shop.get("pos.discount_approval_bps")):
                approver = self._approve(
                    approval_pin, f"discount of {share / 100:.0f}% on the sale", actor, "override.discount"
                )
        with self._lock:
            cart.cart_discount = discount
            cart.cart_discount_reason = (reason or "").strip()[:200] or None
            cart.cart_approved_by = approver.id if approver else None
        if approver:
            self._audit_override(
                "override.discount", actor, approver, {"cart": cart.id, "discount": discount}
            )
        return self.view(cart_id)

    def override_price(
        self,
        cart_id: str,
        line_id: str,
        unit_price_cents: int,
        *,
        reason: str,
        actor: UserView,
        approval_pin: str | None = None,
    ) -> CartView:
        """Charge a different unit price; below cost needs a manager."""
        require_role(actor, Role.CASHIER)
        _check_price(unit_price_cents)
        if not (reason or "").strip():
            raise ValidationError("a price override needs a reason")
        cart = self._cart(cart_id)
        line = _line(cart, line_id)
        approver = None
        if line.cost_cents is not None and unit_price_cents < line.cost_cents:
            approver = self._approve(
                approval_pin, f"price below cost on {line.description}", actor, "override.price"
            )
        with self._lock:
            line.unit_price_cents = unit_price_cents
            line.price_reason = reason.strip()[:200]
            line.approved_by = approver.id if approver else line.approved_by
        after = {"line": line.description, "list": line.list_price_cents, "price": unit_price_cents}
        self._audit_override("override.price", actor, approver, after)
        return self.view(cart_id)

    def attach_customer(self, cart_id: str, customer_id: str | None, *, actor: UserView) -> CartView:
        require_role(actor, Role.CASHIER)
        cart = self._cart(cart_id)
        if customer_id is None:
            with self._lock:
                cart.customer_id, cart.customer_name, cart.tax_exempt = None, None, False
            return self.view(cart_id)
        with self.store.read() as s:
            customer = s.get(Customer, customer_id)
            if customer is None or not customer.is_active:
                raise NotFoundError("no such customer")
            with self._lock:
                cart.customer_id = customer.id
                cart.customer_name = f"{customer.first_name} {customer.last_name}".strip()
                cart.tax_exempt = customer.tax_exempt
        return self.view(cart_id)

    def _approve(self, pin: str | None, reason: str, actor: UserView, action: str) -> UserView:
        """A manager's PIN (or a manager ringing up) approves; wrong PINs are audited by approve()."""
        return approve(self.auth, pin, reason, actor=actor, action=action)

    def _audit_override(
        self, action: str, actor: UserView, approver: UserView | None, after: dict[str, Any]
    ) -> None:
        with self.store.uow() as uow:
            audit.record(
                uow.session,
                action,
                user_id=actor.id,
                approved_by=approver.id if approver else None,
                after=after,
            )

    # ------------------------------------------------------------------ park / resume / void

    def park(self, cart_id: str, *, label: str | None, actor: UserView) -> str:
        require_role(actor, Role.CASHIER)
        cart = self._cart(cart_id)
        if not cart.lines:
            raise ValidationError("an empty sale cannot be parked")
        with self.store.uow() as uow:
            row = uow.session.get(Cart, cart.id)
            if row is None:
                row = Cart(id=cart.id)
                uow.add(row)
            row.station_id, row.user_id, row.customer_id = cart.station_id, actor.id, cart.customer_id
            row.status = "held"
            row.label = (label or "").strip()[:80] or None
            row.payload = cart.to_json()
            audit.record(uow.session, "cart.park", user_id=actor.id, entity_type="cart", entity_id=cart.id)
        with self._lock:
            self._carts.pop(cart.id, None)
        return cart.id

    def held_carts(self) -> list[HeldCart]:
        with self.store.read() as s:
            rows = s.scalars(select(Cart).where(Cart.status == "held").order_by(Cart.updated_at.desc()))
            return [
                HeldCart(
                    id=r.id,
                    label=r.label,
                    station_id=r.station_id,
                    user_id=r.user_id,
                    total_items=sum(int(li.get("quantity", 0)) for li in r.payload.get("lines", [])),
                    updated_at=r.updated_at.isoformat(),
                )
                for r in rows
            ]

    def resume(self, held_id: str, *, actor: UserView, station_id: str) -> CartView:
        require_role(actor, Role.CASHIER)
        self._station(station_id)
        with self.store.uow() as uow:
            row = uow.session.get(Cart, held_id)
            if row is None or row.status != "held":
                raise NotFoundError("that parked sale was already resumed, completed or voided")
            cart = CartState.from_json(row.payload)
            cart.station_id, cart.user_id = station_id, actor.id
            row.status = "open"
            row.station_id = station_id
            audit.record(uow.session, "cart.resume", user_id=actor.id, entity_type="cart", entity_id=row.id)
        with self._lock:
            self._carts[cart.id] = cart
        return self.view(cart.id)

    def void_cart(self, cart_id: str, *, actor: UserView, reason: str | None = None) -> None:
        """Abandon an open sale: nothing was sold, nothing to reverse; audited for the Z report."""
        require_role(actor, Role.CASHIER)
        cart = self._cart(cart_id)
        view = self._view(cart, *self._tax())
        with self.store.uow() as uow:
            shift_id = _open_shift_id(uow.session, cart.station_id)
            row = uow.session.get(Cart, cart.id)
            if row is not None:
                row.status = "voided"
            audit.record(
                uow.session,
                "cart.void",
                user_id=actor.id,
                entity_type="cart",
                entity_id=cart.id,
                after={
                    "shift_id": shift_id,
                    "total_cents": view.total_cents,
                    "lines": len(cart.lines),
                    "reason": reason,
                },
            )
        with self._lock:
            self._carts.pop(cart_id, None)

    # ------------------------------------------------------------------ completing

    def complete(
        self,
        cart_id: str,
        tenders: Sequence[TenderInput],
        *,
        actor: UserView,
        client_request_id: str,
    ) -> SaleResult:
        require_role(actor, Role.CASHIER)
        request_id = _request_id(client_request_id, "sale")
        replay = self._replayed(request_id)
        if replay is not None:
            with self._lock:
                self._carts.pop(cart_id, None)
            return replay
        cart = self._cart(cart_id)
        if not cart.lines:
            raise ValidationError("the sale is empty")
        rates, inclusive = self._tax()
        try:
            totals = cart.price(rates, tax_inclusive=inclusive)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        change = _check_tenders(tenders, totals.total_cents, has_customer=cart.customer_id is not None)
        with self.store.uow() as uow, uow.session.no_autoflush:
            # no autoflush: everything below is flushed once at commit, so change capture
            # numbers the whole sale in one go instead of once per lookup
            s = uow.session
            if s.scalar(select(Transaction.id).where(Transaction.client_request_id == request_id)):
                raise ConflictError("this sale was just completed on another request; refresh")
            station = s.get(Station, cart.station_id) if cart.station_id else None
            if station is None:
                raise ConflictError("this terminal has no station set up")
            shift_id = _open_shift_id(s, station.id, lock=True)
            if shift_id is None:
                raise ConflictError("open a shift before selling")
            self._check_payment_sources(s, cart, tenders)
            moves = self._plan_stock(s, cart)
            txn = Transaction(
                id=new_id(),
                number=_next_number(s, station.receipt_prefix),
                kind=TransactionKind.SALE.value,
                station_id=station.id,
                user_id=actor.id,
                customer_id=cart.customer_id,
                shift_id=shift_id,
                approved_by=cart.cart_approved_by
                or next((li.approved_by for li in cart.lines if li.approved_by), None),
                subtotal_cents=totals.subtotal_cents,
                discount_cents=totals.discount_cents,
                tax_cents=totals.tax_cents,
                total_cents=totals.total_cents,
                tax_inclusive=inclusive,
                client_request_id=request_id,
                note=cart.cart_discount_reason,
                node_id=self.store.node_id,
            )
            s.add(txn)
            self._write_lines(s, txn, cart, totals)
            self._write_tenders(s, txn, cart, tenders, change, actor)
            for sku_id, location_id, qty in moves:
                s.add(
                    StockMovement(
                        sku_id=sku_id,
                        location_id=location_id,
                        delta=-qty,
                        reason=MovementReason.SALE.value,
                        ref_type="transaction",
                        ref_id=txn.id,
                        user_id=actor.id,
                    )
                )
            for li in cart.lines:
                if li.sku_id:
                    sku = s.get(Sku, li.sku_id)
                    if sku is not None:
                        sku.popularity += li.quantity
            if cart.customer_id is not None or any(li.approved_by for li in cart.lines):
                audit.record(
                    s,
                    "sale.complete",
                    user_id=actor.id,
                    approved_by=txn.approved_by,
                    station_id=station.id,
                    entity_type="transaction",
                    entity_id=txn.id,
                    after={"number": txn.number, "total_cents": txn.total_cents},
                )
            held = s.get(Cart, cart.id)
            if held is not None:
                held.status, held.transaction_id = "completed", txn.id
            if self.receipt_hook is not None:
                s.flush()  # the receipt is built from the rows just written
                self.receipt_hook(s, txn.id)
            result = SaleResult(
                transaction_id=txn.id,
                number=txn.number,
                total_cents=txn.total_cents,
                change_cents=change,
                opens_drawer=any(t.kind is Tender.CASH for t in tenders) and station.has_drawer,
            )
        with self._lock:
            self._carts.pop(cart_id, None)
        if result.opens_drawer and self.drawer_hook is not None and cart.station_id:
            self.drawer_hook(cart.station_id, actor.id, f"cash sale {result.number}")
        return result

    def _replayed(self, request_id: str) -> SaleResult | None:
        with self.store.read() as s:
            txn = s.scalar(select(Transaction).where(Transaction.client_request_id == request_id))
            if txn is None:
                return None
            change = sum(t.change_cents for t in txn.tenders)
            return SaleResult(txn.id, txn.number, txn.total_cents, change, replayed=True)

    def _check_payment_sources(self, s: Session, cart: CartState, tenders: Sequence[TenderInput]) -> None:
        credit = sum(t.amount_cents for t in tenders if t.kind is Tender.STORE_CREDIT)
        if credit:
            balance = s.get(CustomerBalance, cart.customer_id)
            available = balance.balance_cents if balance else 0
            if available < credit:
                raise ConflictError(
                    f"store credit is short: balance {available / 100:.2f}, asked {credit / 100:.2f}"
                )
        by_card: dict[str, int] = {}
        for t in tenders:
            if t.kind is Tender.GIFT_CARD:
                by_card[(t.reference or "").strip().upper()] = (
                    by_card.get((t.reference or "").strip().upper(), 0) + t.amount_cents
                )
        for code, amount in by_card.items():
            card = s.scalar(select(GiftCard).where(GiftCard.code == code))
            if card is None or not card.is_active:
                raise NotFoundError(f"no active gift card {code!r}")
            gc_balance = s.scalar(
                select(func.coalesce(func.sum(GiftCardEntry.delta_cents), 0)).where(
                    GiftCardEntry.gift_card_id == card.id
                )
            )
            if (gc_balance or 0) < amount:
                raise ConflictError(f"gift card {code} holds only {(gc_balance or 0) / 100:.2f}")

    def _plan_stock(self, s: Session, cart: CartState) -> list[tuple[str, str, int]]:
        """Where each sold unit comes from: the fullest locations first. Checked under the write lock."""
        moves: list[tuple[str, str, int]] = []
        wanted: dict[str, int] = {}
        names: dict[str, str] = {}
        for li in cart.lines:
            if li.sku_id:
                wanted[li.sku_id] = wanted.get(li.sku_id, 0) + li.quantity
                names[li.sku_id] = li.description
        for sku_id, qty in wanted.items():
            levels = s.execute(
                select(StockLevel.location_id, StockLevel.on_hand)
                .where(StockLevel.sku_id == sku_id, StockLevel.on_hand > 0)
                .order_by(StockLevel.on_hand.desc(), StockLevel.location_id)
            ).all()
            available = sum(int(q) for _, q in levels)
            if available < qty:
                sku = s.get(Sku, sku_id)
                if sku is not None and sku.serialized:
                    raise ConflictError(f"{names[sku_id]} has already been sold")
                raise ConflictError(f"out of stock: {names[sku_id]} — {available} left")
            remaining = qty
            for location_id, on_hand in levels:
                take = min(remaining, int(on_hand))
                moves.append((sku_id, location_id, take))
                remaining -= take
                if remaining == 0:
                    break
        return moves

    def _write_lines(self, s: Session, txn: Transaction, cart: CartState, totals: Totals) -> None:
        for no, (li, p) in enumerate(zip(cart.lines, totals.lines, strict=True), start=1):
            s.add(
                TransactionLine(
                    transaction_id=txn.id,
                    line_no=no,
                    sku_id=li.sku_id,
                    description=li.description + (f" ({li.detail})" if li.detail else ""),
                    quantity=li.quantity,
                    unit_price_cents=li.unit_price_cents,
                    list_price_cents=li.list_price_cents,
                    discount_cents=p.discount_cents,
                    tax_cents=p.tax_cents,
                    total_cents=p.total_cents,
                    cost_cents=li.cost_cents,
                    tax_category=li.tax_category,
                    reason=li.price_reason or li.discount_reason,
                )
            )

    def _write_tenders(
        self,
        s: Session,
        txn: Transaction,
        cart: CartState,
        tenders: Sequence[TenderInput],
        change: int,
        actor: UserView,
    ) -> None:
        change_left = change
        for t in tenders:
            given_change = min(change_left, t.amount_cents) if t.kind is Tender.CASH else 0
            change_left -= given_change
            reference = (t.reference or "").strip() or None
            if t.kind is Tender.GIFT_CARD and reference:
                reference = reference.upper()
            s.add(
                TransactionTender(
                    transaction_id=txn.id,
                    tender=t.kind.value,
                    amount_cents=t.amount_cents,
                    change_cents=given_change,
                    reference=reference,
                )
            )
            if t.kind is Tender.STORE_CREDIT and cart.customer_id:
                s.add(
                    CreditEntry(
                        customer_id=cart.customer_id,
                        delta_cents=-t.amount_cents,
                        reason="purchase",
                        ref_type="transaction",
                        ref_id=txn.id,
                        user_id=actor.id,
                    )
                )
            elif t.kind is Tender.GIFT_CARD and reference:
                card = s.scalar(select(GiftCard).where(GiftCard.code == reference))
                assert card is not None  # checked by _check_payment_sources
                s.add(
                    GiftCardEntry(
                        gift_card_id=card.id,
                        delta_cents=-t.amount_cents,
                        ref_type="transaction",
                        ref_id=txn.id,
                        user_id=actor.id,
                    )
                )

    # ------------------------------------------------------------------ look-ups

    def _station(self, station_id: str) -> None:
        with self.store.read() as s:
            station = s.get(Station, station_id)
            if station is None or not station.is_active:
                raise NotFoundError("no such station")


# ---------------------------------------------------------------------- helpers


def _request_id(value: str, what: str) -> str:
    """The client's id of one submit attempt: a retry with the same id replays, never repeats."""
    request_id = (value or "").strip()
    if not request_id or len(request_id) > 64:
        raise ValidationError(f"a {what} needs a client request id (1-64 characters)")
    return request_id


def _check_qty(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QTY:
        raise ValidationError(f"quantity must be a whole number from 1 to {MAX_QTY}")


def _check_price(cents: int) -> None:
    if isinstance(cents, bool) or not isinstance(cents, int) or not 0 <= cents <= MAX_CENTS:
        raise ValidationError("a price is a whole number of cents, zero or more")


def _check_discount(discount: Discount, base_cents: int) -> int:
    """Validate; return the discount's share of ``base_cents`` in basis points."""
    kind, value = discount
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("a discount is a non-negative whole number")
    if kind == "percent":
        if value > BPS:
            raise ValidationError("a discount cannot exceed 100%")
        return value
    if kind == "amount":
        if value > MAX_CENTS:
            raise ValidationError("discount amount out of range")
        return BPS if base_cents <= 0 else min(BPS, value * BPS // base_cents)
    raise ValidationError("a discount is a percent or an amount")


def _check_tenders(tenders: Sequence[TenderInput], total: int, *, has_customer: bool) -> int:
    """Validate the payment; return the change due (only cash gives change)."""
    if not tenders:
        raise ValidationError("choose how the customer pays")
    for t in tenders:
        if not isinstance(t.kind, Tender):
            raise ValidationError(f"unknown tender {t.kind!r}")
        if (
            isinstance(t.amount_cents, bool)
            or not isinstance(t.amount_cents, int)
            or not 0 < t.amount_cents <= MAX_CENTS
        ):
            raise ValidationError("each payment must be a positive amount")
        ref = (t.reference or "").strip()
        if t.kind is Tender.CARD and not ref:
            raise ValidationError("a card payment needs the terminal's approval reference")
        if t.kind is Tender.GIFT_CARD and not ref:
            raise ValidationError("a gift card payment needs the card's code")
        if ref and (len(ref) > 64 or _CONTROL.search(ref)):
            raise ValidationError("that payment reference is not valid")
        if t.kind is Tender.STORE_CREDIT and not has_customer:
            raise ValidationError("attach the customer to pay with store credit")
    paid = sum(t.amount_cents for t in tenders)
    non_cash = sum(t.amount_cents for t in tenders if t.kind is not Tender.CASH)
    if paid < total:
        raise ValidationError(f"payment is short by {(total - paid) / 100:.2f}")
    if non_cash > total:
        raise ValidationError(
            "card, credit and gift card payments cannot exceed the total (no change on them)"
        )
    return paid - total


def _line(cart: CartState, line_id: str) -> CartLine:
    try:
        return cart.line(line_id)
    except KeyError:
        raise NotFoundError("that line is no longer in the sale") from None


def _on_hand(s: Session, sku_id: str) -> int:
    return int(
        s.scalar(select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.sku_id == sku_id))
        or 0
    )


def _open_shift_id(s: Session, station_id: str | None, *, lock: bool = False) -> str | None:
    """The station's open shift; ``lock`` (when writing money) makes a concurrent shift close
    wait for this transaction, so nothing lands on a shift whose Z report is already frozen."""
    if station_id is None:
        return None
    shift = open_shift_for(s, station_id, lock=lock)
    return shift.id if shift is not None else None


def _next_number(s: Session, prefix: str) -> str:
    """Next receipt number of this station. The counter is local; after a restore it resumes
    above the highest number the database already holds, so numbers never repeat."""
    name = f"receipt:{prefix}"
    counter = s.get(Counter, name)
    if counter is None:
        highest = s.scalars(select(Transaction.number).where(Transaction.number.like(f"{prefix}-%"))).all()
        start = max((int(n.rsplit("-", 1)[1]) for n in highest if n.rsplit("-", 1)[1].isdigit()), default=0)
        counter = Counter(name=name, value=start)
        s.add(counter)
    counter.value += 1
    return f"{prefix}-{counter.value:06d}"


def _description(product: Product, card_set: CardSet | None) -> str:
    parts = [product.name]
    if card_set is not None:
        parts.append(f"[{card_set.code}{' ' + product.collector_number if product.collector_number else ''}]")
    return " ".join(parts)


def _detail(sku: Sku) -> str | None:
    if sku.grader:
        return f"{sku.grader} {sku.grade or ''}".strip() + (f" #{sku.cert_number}" if sku.cert_number else "")
    parts = [p for p in (sku.condition, None if sku.finish == "normal" else sku.finish.capitalize()) if p]
    if sku.language and sku.language != "EN":
        parts.append(sku.language)
    return " · ".join(parts) or None
