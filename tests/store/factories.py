"""Minimal valid rows for every model, creating parents as needed (tests only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vaultsync.domain.ids import new_id, new_node_id
from vaultsync.services.price_age import encode_skus
from vaultsync.store.base import Base
from vaultsync.store.models import (
    AuditEntry,
    CardSet,
    Cart,
    CashMovement,
    CreditEntry,
    Customer,
    Event,
    EventEntry,
    Game,
    GiftCard,
    GiftCardEntry,
    Location,
    Node,
    PriceConfirmation,
    PriceFeed,
    PriceReview,
    PriceRule,
    PriceUpdate,
    Product,
    ReorderPoint,
    Setting,
    Shift,
    Sku,
    Station,
    StockCount,
    StockCountEntry,
    StockMovement,
    SyncAlert,
    Transaction,
    TransactionLine,
    TransactionTender,
    User,
)
from vaultsync.store.session import VaultSession

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _add(s: VaultSession, obj: Base) -> Any:
    s.add(obj)
    s.flush()
    return obj


def game(s: VaultSession) -> Game:
    return _add(s, Game(code=f"g{new_id()[-8:]}", name="Magic"))


def card_set(s: VaultSession) -> CardSet:
    return _add(s, CardSet(game_id=game(s).id, code=f"S{new_id()[-6:]}", name="Set"))


def product(s: VaultSession) -> Product:
    cs = card_set(s)
    return _add(
        s, Product(game_id=cs.game_id, set_id=cs.id, kind="single", name="Card", collector_number="1")
    )


def sku(s: VaultSession) -> Sku:
    return _add(
        s, Sku(product_id=product(s).id, sku_code=f"SKU-{new_id()}", condition="NM", shelf_price_cents=100)
    )


def location(s: VaultSession) -> Location:
    return _add(s, Location(kind="store", name="Main"))


def stock_count(s: VaultSession) -> StockCount:
    return _add(s, StockCount(location_id=location(s).id, name="Case count"))


def customer(s: VaultSession) -> Customer:
    return _add(s, Customer(first_name="Ash", last_name="Ketchum"))


def user(s: VaultSession) -> User:
    return _add(s, User(username=f"u{new_id()[-10:]}", display_name="U", role="cashier"))


def station(s: VaultSession) -> Station:
    return _add(s, Station(name="Register", role="cashier", receipt_prefix=new_id()[-6:]))


def shift(s: VaultSession) -> Shift:
    return _add(s, Shift(station_id=station(s).id, opened_by=user(s).id, opening_float_cents=10000))


def transaction(s: VaultSession) -> Transaction:
    return _add(s, Transaction(number=f"T-{new_id()[-16:]}", kind="sale", total_cents=100))


def gift_card(s: VaultSession) -> GiftCard:
    return _add(s, GiftCard(code=f"GC{new_id()[-12:]}"))


def event(s: VaultSession) -> Event:
    return _add(s, Event(name="FNM", starts_at=NOW, fee_cents=500))


FACTORIES: dict[type[Base], Callable[[VaultSession], Base]] = {
    Game: game,
    CardSet: card_set,
    Product: product,
    Sku: sku,
    Location: location,
    Customer: customer,
    User: user,
    Station: station,
    Shift: shift,
    Transaction: transaction,
    Event: event,
    StockMovement: lambda s: _add(
        s, StockMovement(sku_id=sku(s).id, location_id=location(s).id, delta=3, reason="receive")
    ),
    TransactionLine: lambda s: _add(
        s,
        TransactionLine(
            transaction_id=transaction(s).id,
            line_no=1,
            description="x",
            quantity=1,
            unit_price_cents=100,
            total_cents=100,
        ),
    ),
    TransactionTender: lambda s: _add(
        s, TransactionTender(transaction_id=transaction(s).id, tender="cash", amount_cents=100)
    ),
    CreditEntry: lambda s: _add(
        s, CreditEntry(customer_id=customer(s).id, delta_cents=500, reason="adjustment")
    ),
    EventEntry: lambda s: _add(s, EventEntry(event_id=event(s).id, customer_id=customer(s).id)),
    CashMovement: lambda s: _add(s, CashMovement(shift_id=shift(s).id, kind="pay_in", amount_cents=100)),
    PriceUpdate: lambda s: _add(s, PriceUpdate(sku_id=sku(s).id, source="manual", new_cents=150)),
    PriceReview: lambda s: _add(s, PriceReview(sku_id=sku(s).id, source="feed", proposed_cents=900)),
    PriceConfirmation: lambda s: _add(
        s,
        PriceConfirmation(
            source="feed", as_of=datetime.now(UTC), mode="only", listed=1, skus=encode_skus([sku(s).id])
        ),
    ),
    AuditEntry: lambda s: _add(
        s, AuditEntry(node_id=new_node_id(), node_seq=1, action="x", prev_hash="0" * 64, hash="1" * 64)
    ),
    Setting: lambda s: _add(s, Setting(key=f"k.{new_id()}", value={"a": 1})),
    Node: lambda s: _add(s, Node(node_id=new_node_id(), name="Register 9")),
    Cart: lambda s: _add(s, Cart(payload={"lines": []})),
    GiftCard: gift_card,
    GiftCardEntry: lambda s: _add(s, GiftCardEntry(gift_card_id=gift_card(s).id, delta_cents=2500)),
    StockCount: stock_count,
    StockCountEntry: lambda s: _add(
        s,
        StockCountEntry(
            count_id=stock_count(s).id,
            sku_id=sku(s).id,
            location_id=location(s).id,
            counted=2,
            seen_on_hand=3,
        ),
    ),
    ReorderPoint: lambda s: _add(s, ReorderPoint(sku_id=sku(s).id, min_on_hand=2, reorder_qty=6)),
    SyncAlert: lambda s: _add(
        s,
        SyncAlert(
            id=new_id(),
            kind="oversell",
            severity="warning",
            subject_table="skus",
            subject_id=sku(s).id,
            message="Sold more than on hand",
            detected_by=new_node_id(),
        ),
    ),
    PriceRule: lambda s: _add(
        s, PriceRule(name=f"Rule {new_id()[-6:]}", game_id=game(s).id, markup_bps=11000)
    ),
    PriceFeed: lambda s: _add(s, PriceFeed(name=f"feed-{new_id()[-8:]}", url="http://127.0.0.1:9/p.csv")),
}

#: a column of each mutable (lww) model that an update test can change, with a new value
MUTATIONS: dict[type[Base], tuple[str, Any]] = {
    Game: ("name", "Magic: The Gathering"),
    CardSet: ("name", "Renamed Set"),
    Product: ("name", "Renamed Card"),
    Sku: ("shelf_price_cents", 199),
    Location: ("name", "Case 1"),
    Customer: ("email", "ash@example.com"),
    User: ("display_name", "New Name"),
    Station: ("printer_uri", "network://127.0.0.1:9100"),
    Shift: ("status", "closed"),
    Event: ("capacity", 32),
    EventEntry: ("status", "checked_in"),
    PriceReview: ("status", "accepted"),
    Setting: ("value", {"a": 2}),
    Node: ("revoked_at", NOW),
    Cart: ("status", "held"),
    GiftCard: ("is_active", False),
    StockCount: ("status", "abandoned"),
    ReorderPoint: ("min_on_hand", 4),
    SyncAlert: ("resolution_note", "counted again"),
    PriceRule: ("markup_bps", 12500),
    PriceFeed: ("interval_minutes", 60),
}
