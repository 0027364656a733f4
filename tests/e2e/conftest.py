"""End-to-end fixtures: a real ``vaultsync serve`` process and a real headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright through
``executable_path`` (Playwright's own browser download is not used). Without Chromium
these tests skip; with ``VAULTSYNC_REQUIRE_E2E=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_serve import free_port, running
from vaultsync.services.demo import generate_demo_shop
from vaultsync.store import open_store

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = (
        os.environ.get("VAULTSYNC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        if os.environ.get("VAULTSYNC_REQUIRE_E2E") == "1":
            pytest.fail("VAULTSYNC_REQUIRE_E2E=1 but no Chromium is installed (apt-get install chromium)")
        pytest.skip("no Chromium here (apt-get install chromium)")
    return path


@dataclass(frozen=True)
class Shop:
    url: str
    barcode: str
    barcode_name: str


@pytest.fixture(scope="module")
def demo_shop() -> Iterator[Shop]:
    """A small demo shop served by a real ``vaultsync serve`` on a free loopback port."""
    data = Path(tempfile.mkdtemp(prefix="vaultsync-e2e-"))
    store = open_store(f"sqlite:///{data / 'vaultsync.db'}")
    generate_demo_shop(store, skus=300, seed=11)
    from vaultsync.services.inventory import InventoryService

    row = next(r for r in InventoryService(store).search("", limit=200).rows if r.barcode and r.on_hand > 0)
    store.close()
    port = free_port()
    with running(["serve", "--data-dir", str(data), "--role", "cashier"], port):
        yield Shop(url=f"http://127.0.0.1:{port}", barcode=row.barcode or "", barcode_name=row.name)
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    exe = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()
