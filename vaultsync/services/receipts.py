"""Receipts as documents: built from a stored transaction, for print, reprint, email and screen."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaultsync.domain.errors import NotFoundError
from vaultsync.domain.receipt import Receipt, ReceiptLine, ReceiptTender
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import Customer, Station, Transaction, User

TENDER_LABELS = {"cash": "Cash", "card": "Card", "store_credit": "Store credit", "gift_card": "Gift card"}


def transaction_by_number(s: Session, number: str) -> Transaction | None:
    """The transaction behind a receipt number as typed or scanned (any case, stray spaces)."""
    return s.scalar(select(Transaction).where(Transaction.number == (number or "").strip().upper()))


class ReceiptService:
    def __init__(self, store: Store, shop: ShopService) -> None:
        self.store = store
        self.shop = shop

    def for_number(self, number: str, *, reprint: bool = False) -> Receipt:
        with self.store.read() as s:
            txn = transaction_by_number(s, number)
            if txn is None:
                raise NotFoundError(f"no receipt {number!r}")
            return self.build(s, txn.id, reprint=reprint)

    def for_transaction(self, transaction_id: str, *, reprint: bool = False) -> Receipt:
        with self.store.read() as s:
            return self.build(s, transaction_id, reprint=reprint)

    def build(self, s: Session, transaction_id: str, *, reprint: bool = False) -> Receipt:
        """The receipt from inside a session: a sale queues its receipt before it commits."""
        settings = self.shop.all()
        txn = s.get(Transaction, transaction_id)
        if txn is None:
            raise NotFoundError("no such transaction")
        cashier = s.get(User, txn.user_id) if txn.user_id else None
        station = s.get(Station, txn.station_id) if txn.station_id else None
        customer = s.get(Customer, txn.customer_id) if txn.customer_id else None
        original = s.get(Transaction, txn.original_id) if txn.original_id else None
        lines = [
            ReceiptLine(
                description=li.description,
                quantity=li.quantity,
                unit_price_cents=li.unit_price_cents,
                # lines show goods after discounts; tax is its own receipt line unless inclusive
                total_cents=li.total_cents if txn.tax_inclusive else li.total_cents - li.tax_cents,
                discount_cents=li.discount_cents,
                detail=li.reason if li.sku_id is None else None,
            )
            for li in txn.lines
        ]
        tenders = [
            ReceiptTender(TENDER_LABELS.get(t.tender, t.tender), t.amount_cents, t.reference)
            for t in txn.tenders
        ]
        header = [x for x in (settings.get("shop.address"), settings.get("shop.phone")) if x]
        return Receipt(
            number=txn.number,
            kind=txn.kind,
            at=txn.created_at,
            shop_name=str(settings.get("shop.name")),
            header_lines=[str(x) for x in header],
            cashier=cashier.display_name if cashier else "",
            station=station.name if station else "",
            lines=lines,
            subtotal_cents=txn.subtotal_cents,
            discount_cents=txn.discount_cents,
            tax_cents=txn.tax_cents,
            total_cents=txn.total_cents,
            tenders=tenders,
            change_cents=sum(t.change_cents for t in txn.tenders),
            customer=f"{customer.first_name} {customer.last_name}".strip() if customer else None,
            tax_inclusive=txn.tax_inclusive,
            footer_lines=[str(settings.get("receipt.footer") or "")]
            if settings.get("receipt.footer")
            else [],
            currency_symbol=str(settings.get("shop.currency_symbol") or "$"),
            reprint=reprint,
            original_number=original.number if original else None,
        )
