"""All models, imported here so the metadata is complete wherever the store is used."""

from vaultsync.store.models.audit import AuditEntry
from vaultsync.store.models.catalog import CardSet, Game, Product, Sku
from vaultsync.store.models.customers import CreditEntry, Customer, CustomerBalance
from vaultsync.store.models.events import Event, EventEntry
from vaultsync.store.models.inventory_ops import ReorderPoint, StockCount, StockCountEntry
from vaultsync.store.models.locations import Location
from vaultsync.store.models.pos import Cart, GiftCard, GiftCardEntry, PrintJob
from vaultsync.store.models.pricing import (
    PriceConfirmation,
    PriceFeed,
    PriceFeedState,
    PriceReview,
    PriceRule,
    PriceUpdate,
)
from vaultsync.store.models.settings import Setting
from vaultsync.store.models.shifts import CashMovement, Shift
from vaultsync.store.models.stock import StockLevel, StockMovement
from vaultsync.store.models.sync_alerts import SyncAlert
from vaultsync.store.models.sync_meta import (
    Change,
    CompactionFloor,
    Node,
    NodeState,
    PeerLink,
    VectorClockEntry,
)
from vaultsync.store.models.sync_net import PairingCode
from vaultsync.store.models.sync_versions import ColumnVersion
from vaultsync.store.models.transactions import Counter, Transaction, TransactionLine, TransactionTender
from vaultsync.store.models.users import LoginThrottle, Station, User

__all__ = [
    "AuditEntry",
    "CardSet",
    "Cart",
    "CashMovement",
    "Change",
    "ColumnVersion",
    "CompactionFloor",
    "Counter",
    "CreditEntry",
    "Customer",
    "CustomerBalance",
    "Event",
    "EventEntry",
    "Game",
    "GiftCard",
    "GiftCardEntry",
    "Location",
    "LoginThrottle",
    "Node",
    "NodeState",
    "PairingCode",
    "PeerLink",
    "PriceConfirmation",
    "PriceFeed",
    "PriceFeedState",
    "PriceReview",
    "PriceRule",
    "PriceUpdate",
    "PrintJob",
    "Product",
    "ReorderPoint",
    "Setting",
    "Shift",
    "Sku",
    "Station",
    "StockCount",
    "StockCountEntry",
    "StockLevel",
    "StockMovement",
    "SyncAlert",
    "Transaction",
    "TransactionLine",
    "TransactionTender",
    "User",
    "VectorClockEntry",
]
