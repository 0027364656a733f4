"""The NiceGUI main file the ``user`` fixture runs before every UI test.

It builds a private copy of the seeded test shop and starts the real app on it, the
same way the ``vaultsync serve`` command would (minus the network).
"""

from __future__ import annotations

import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")

from nicegui import app, ui

from tests.ui.seed import fresh_services
from ui.server import create_app

services = fresh_services()
create_app(services)
app.on_shutdown(services.store.close)
ui.run(storage_secret="vaultsync ui test secret", title="VaultSync test")
