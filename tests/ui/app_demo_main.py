"""NiceGUI main file for the tests that run the UI on the ``vaultsync demo`` shop."""

from __future__ import annotations

import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")

from nicegui import app, ui

from tests.ui.seed import fresh_services
from ui.server import create_app

services = fresh_services("demo")
create_app(services)
app.on_shutdown(services.store.close)
ui.run(storage_secret="vaultsync ui test secret", title="VaultSync demo test")
