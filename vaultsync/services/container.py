"""The services of one running terminal, built once from an open store.

The UI and the API receive this object instead of reaching for globals, which keeps
them testable against a temporary database.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultsync.config import Config
from vaultsync.services.auth import AuthService
from vaultsync.services.catalog import CatalogService
from vaultsync.services.catalog_import import CatalogImportService
from vaultsync.services.checkout import CheckoutService
from vaultsync.services.customers import CustomerService
from vaultsync.services.devices import DeviceService
from vaultsync.services.inventory import InventoryService
from vaultsync.services.labels import LabelService
from vaultsync.services.price_feeds import PriceFeedService
from vaultsync.services.pricing import PricingService
from vaultsync.services.receipts import ReceiptService
from vaultsync.services.refunds import RefundService
from vaultsync.services.shifts import ShiftService
from vaultsync.services.shop import ShopService
from vaultsync.services.stations import StationService
from vaultsync.services.stock_ops import StockOpsService
from vaultsync.services.sync import SyncService
from vaultsync.services.valuation import ValuationService
from vaultsync.store import Store


@dataclass
class Services:
    config: Config
    store: Store
    auth: AuthService
    inventory: InventoryService
    shop: ShopService
    checkout: CheckoutService
    refunds: RefundService
    receipts: ReceiptService
    devices: DeviceService
    stations: StationService
    shifts: ShiftService
    customers: CustomerService
    catalog: CatalogService
    stock: StockOpsService
    catalog_import: CatalogImportService
    pricing: PricingService
    price_feeds: PriceFeedService
    labels: LabelService
    valuation: ValuationService
    sync: SyncService

    @classmethod
    def build(cls, config: Config, store: Store) -> Services:
        auth = AuthService(store)
        shop = ShopService(store)
        receipts = ReceiptService(store, shop)
        devices = DeviceService(store, shop, receipts)

        catalog = CatalogService(store)

        def kick(station_id: str, user_id: str | None, reason: str) -> object:
            return devices.open_drawer(station_id, user_id=user_id, reason=reason)

        return cls(
            config=config,
            store=store,
            auth=auth,
            inventory=InventoryService(store),
            shop=shop,
            checkout=CheckoutService(store, auth, shop, receipt_hook=devices.receipt_hook, drawer_hook=kick),
            refunds=RefundService(store, auth, shop, receipt_hook=devices.receipt_hook, drawer_hook=kick),
            receipts=receipts,
            devices=devices,
            stations=StationService(store),
            shifts=ShiftService(store, auth),
            customers=CustomerService(store),
            catalog=catalog,
            stock=StockOpsService(store),
            catalog_import=CatalogImportService(store, catalog),
            pricing=PricingService(store, auth, shop),
            price_feeds=PriceFeedService(store),
            labels=LabelService(store, shop, devices),
            valuation=ValuationService(store),
            sync=SyncService(store, config.data_dir),
        )
