"""A sale through the wired services prints its receipt and kicks the drawer on a (fake) network printer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.services.pos_fixtures import build_pos
from vaultsync.config import Config
from vaultsync.domain.enums import Tender
from vaultsync.hardware.simulated import FakeNetworkPrinter
from vaultsync.services.checkout import TenderInput
from vaultsync.services.container import Services
from vaultsync.store import Store
from vaultsync.store.models import PrintJob, Station


def test_cash_sale_prints_receipt_and_opens_drawer(sqlite_store: Store, tmp_path: Path) -> None:
    pos = build_pos(sqlite_store)
    with FakeNetworkPrinter() as printer:
        with sqlite_store.uow() as uow:
            station = uow.session.get(Station, pos.station_id)
            assert station is not None
            station.printer_uri = f"{printer.uri}?status=0"
        services = Services.build(Config.resolve(data_dir=tmp_path, db=sqlite_store.url), sqlite_store)
        try:
            cart = services.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
            services.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
            sale = services.checkout.complete(
                cart.id, [TenderInput(Tender.CASH, 10000)], actor=pos.cashier, client_request_id="print-1"
            )
            assert printer.wait_for_jobs(2, timeout=10)
            assert sale.number in printer.text()
            assert printer.drawer_kicks(), "a cash sale opens the drawer"
            with sqlite_store.read() as s:
                job = s.scalar(select(PrintJob).where(PrintJob.ref_id == sale.transaction_id))
                assert job is not None and job.kind == "receipt"
            preview = services.devices.receipt_preview(sale.number)
            assert sale.number in preview and "Sheoldred" in preview
        finally:
            services.devices.stop()


def test_printer_off_never_blocks_or_loses_the_sale(sqlite_store: Store, tmp_path: Path) -> None:
    pos = build_pos(sqlite_store)
    with FakeNetworkPrinter(mode="offline") as printer:
        with sqlite_store.uow() as uow:
            station = uow.session.get(Station, pos.station_id)
            assert station is not None
            station.printer_uri = printer.uri
        services = Services.build(Config.resolve(data_dir=tmp_path, db=sqlite_store.url), sqlite_store)
        try:
            cart = services.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
            services.checkout.scan(cart.id, "333333333333", actor=pos.cashier)
            sale = services.checkout.complete(
                cart.id, [TenderInput(Tender.CARD, 27, "APP-1")], actor=pos.cashier, client_request_id="off-1"
            )
            assert sale.number.startswith("T1-")
            status = services.devices.status(pos.station_id)
            assert status.pending + status.failed >= 1  # waiting for the printer, not lost
        finally:
            services.devices.stop()
