"""What goes on a receipt, independent of how it is printed or emailed.

Services build a :class:`Receipt` from a completed transaction; the hardware layer
renders it to ESC/POS bytes, the email sender to text, the UI to a screen preview.
Keeping one document type means the printed, emailed and shown receipts never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    discount_cents: int = 0
    #: "NM · Foil", "PSA 10 #12345678" — the facts a card buyer checks
    detail: str | None = None


@dataclass(frozen=True)
class ReceiptTender:
    label: str  # "Cash", "Card", "Store credit", "Gift card"
    amount_cents: int
    reference: str | None = None  # card approval ref (never card data), gift card code


@dataclass(frozen=True)
class Receipt:
    number: str  # "T2-000123": also printed as a barcode for returns
    kind: str  # TransactionKind value
    at: datetime
    shop_name: str
    header_lines: list[str]
    cashier: str
    station: str
    lines: list[ReceiptLine]
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    tenders: list[ReceiptTender]
    change_cents: int = 0
    customer: str | None = None
    tax_inclusive: bool = False
    footer_lines: list[str] = field(default_factory=list)
    currency_symbol: str = "$"
    #: "REPRINT" banner on copies, so a reprint is never mistaken for a second sale
    reprint: bool = False
    #: the refunded receipt, on refunds
    original_number: str | None = None
