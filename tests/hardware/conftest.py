"""Fixtures for the hardware tests: a sample receipt, a fake network printer, a station."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from vaultsync.domain.receipt import Receipt, ReceiptLine, ReceiptTender
from vaultsync.hardware.simulated import FakeNetworkPrinter
from vaultsync.store import Store
from vaultsync.store.models import Station


def _sample_receipt() -> Receipt:
    return Receipt(
        number="T2-000123",
        kind="sale",
        at=datetime(2024, 5, 3, 23, 15, tzinfo=UTC),
        shop_name="Dragon's Hoard Cards",
        header_lines=["12 Main St, Springfield", "555-0100"],
        cashier="Alice",
        station="Register 2",
        lines=[
            ReceiptLine(
                "Charizard ex - Obsidian Flames 223/197 Special Illustration Rare Pokémon",
                1,
                15000,
                13500,
                discount_cents=1500,
                detail="NM · Foil",
            ),
            ReceiptLine("Dragon Shield Matte Sleeves (100)", 3, 1099, 3297),
        ],
        subtotal_cents=18297,
        discount_cents=1500,
        tax_cents=1360,
        total_cents=18157,
        tenders=[ReceiptTender("Card", 10000, "A1B2C3"), ReceiptTender("Cash", 10000)],
        change_cents=1843,
        customer="Bob Buyer",
        footer_lines=["Thank you! Returns within 14 days with receipt."],
    )


# aiosmtpd logs every SMTP session from its own thread; by then pytest may have closed the
# stream a root handler points at, which prints "--- Logging error ---" noise. Its chatter
# is not what these tests check.
logging.getLogger("mail.log").propagate = False
logging.getLogger("mail.log").addHandler(logging.NullHandler())

@pytest.fixture
def receipt() -> Receipt:
    return _sample_receipt()


@pytest.fixture
def make_receipt() -> Callable[..., Receipt]:
    def make(**changes: Any) -> Receipt:
        return replace(_sample_receipt(), **changes)

    return make


@pytest.fixture
def fake_printer() -> Iterator[FakeNetworkPrinter]:
    with FakeNetworkPrinter() as printer:
        yield printer


@pytest.fixture
def make_station(sqlite_store: Store) -> Callable[..., Station]:
    counter = iter(range(1, 100))

    def make(printer_uri: str | None, *, has_drawer: bool = True, **settings: Any) -> Station:
        n = next(counter)
        station = Station(
            name=f"Register {n}",
            role="cashier",
            receipt_prefix=f"T{n}",
            printer_uri=printer_uri,
            has_drawer=has_drawer,
            settings=settings,
        )
        with sqlite_store.uow() as uow:
            uow.add(station)
        return station

    return make
