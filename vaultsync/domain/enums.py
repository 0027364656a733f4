"""Closed vocabularies of the shop, stored as their string values.

Stored as strings (not integers) so a database read by a person, a CSV export and a
peer running a newer version all stay unambiguous.
"""

from __future__ import annotations

from enum import StrEnum


class Condition(StrEnum):
    NM = "NM"
    LP = "LP"
    MP = "MP"
    HP = "HP"
    DMG = "DMG"

    @property
    def label(self) -> str:
        return _CONDITION_LABELS[self]


_CONDITION_LABELS = {
    Condition.NM: "Near Mint",
    Condition.LP: "Lightly Played",
    Condition.MP: "Moderately Played",
    Condition.HP: "Heavily Played",
    Condition.DMG: "Damaged",
}


class Finish(StrEnum):
    NORMAL = "normal"
    FOIL = "foil"
    ETCHED = "etched"


class Grader(StrEnum):
    PSA = "PSA"
    BGS = "BGS"
    CGC = "CGC"
    SGC = "SGC"


class ProductKind(StrEnum):
    """How a product is stocked and sold."""

    SINGLE = "single"  # an ungraded single card, many copies per SKU
    GRADED = "graded"  # a slab: serialized, one per SKU, cert number unique
    SEALED = "sealed"  # booster boxes, packs, decks
    BULK = "bulk"  # commons sold by the count or weight
    SUPPLY = "supply"  # sleeves, binders, deck boxes
    COMIC = "comic"
    ONE_OFF = "one_off"  # serialized one-of-a-kind items (signed, misprints)


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    CASHIER = "cashier"

    @property
    def rank(self) -> int:
        return {Role.CASHIER: 1, Role.MANAGER: 2, Role.ADMIN: 3}[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


class StationRole(StrEnum):
    CASHIER = "cashier"
    KIOSK = "kiosk"  # customer price check: read-only, no login
    MANAGER = "manager"
    HQ = "hq"


class MovementReason(StrEnum):
    SALE = "sale"
    RETURN = "return"
    BUY = "buy"
    RECEIVE = "receive"
    ADJUST = "adjust"
    COUNT = "count"
    TRANSFER = "transfer"
    EVENT = "event"


class TransactionKind(StrEnum):
    SALE = "sale"
    REFUND = "refund"
    VOID = "void"  # reversal of a completed sale (manager override)
    BUY = "buy"
    EVENT_ENTRY = "event_entry"
    PAYOUT = "payout"
    NO_SALE = "no_sale"


class TransactionStatus(StrEnum):
    COMPLETED = "completed"
    VOIDED = "voided"


class Tender(StrEnum):
    CASH = "cash"
    CARD = "card"
    STORE_CREDIT = "store_credit"
    GIFT_CARD = "gift_card"


class CreditReason(StrEnum):
    BUYLIST = "buylist"
    REFUND = "refund"
    PURCHASE = "purchase"  # credit spent as a tender
    EVENT_PRIZE = "event_prize"
    ADJUSTMENT = "adjustment"


class CashMovementKind(StrEnum):
    PAY_IN = "pay_in"
    PAY_OUT = "pay_out"
    NO_SALE = "no_sale"


class ShiftStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PriceReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EDITED = "edited"
    #: a later market price made the held one moot (applied, or itself held instead)
    SUPERSEDED = "superseded"


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
