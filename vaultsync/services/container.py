"""The services of one running terminal, built once from an open store.

The UI and the API receive this object instead of reaching for globals, which keeps
them testable against a temporary database.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultsync.config import Config
from vaultsync.services.auth import AuthService
from vaultsync.services.inventory import InventoryService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store


@dataclass
class Services:
    config: Config
    store: Store
    auth: AuthService
    inventory: InventoryService
    shop: ShopService

    @classmethod
    def build(cls, config: Config, store: Store) -> Services:
        return cls(
            config=config,
            store=store,
            auth=AuthService(store),
            inventory=InventoryService(store),
            shop=ShopService(store),
        )
