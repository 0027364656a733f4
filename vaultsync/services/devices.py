"""The terminal's devices as the register sees them: receipts, the drawer, email.

Ties the hardware layer to sales without letting a device decide a sale's fate: the
receipt is queued inside the sale's own transaction (so a completed sale always has its
receipt job, and a rolled-back one never does), printed afterwards by a background
worker that retries a printer that is off or out of paper, and the drawer is kicked
only after the sale committed.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session

from vaultsync.domain.errors import NotFoundError
from vaultsync.hardware.drawer import DrawerResult, open_drawer
from vaultsync.hardware.email_receipt import send_receipt_email
from vaultsync.hardware.print_queue import PrintQueue, PrintWorker, QueueStatus
from vaultsync.hardware.receipt_render import RenderOptions, options_for, receipt_text
from vaultsync.services.receipts import ReceiptService, transaction_by_number
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import Station, Transaction

log = logging.getLogger(__name__)


class DeviceService:
    def __init__(self, store: Store, shop: ShopService, receipts: ReceiptService) -> None:
        self.store = store
        self.shop = shop
        self.receipts = receipts
        self.queue = PrintQueue(store)
        self._workers: dict[str, PrintWorker] = {}
        self._lock = threading.Lock()

    def _options(self, s: Session, station_id: str | None) -> RenderOptions:
        station = s.get(Station, station_id) if station_id else None
        return options_for(self.shop.all(), station.settings if station else None)

    # ------------------------------------------------------------------ receipts

    def receipt_hook(self, session: Session, transaction_id: str) -> None:
        """Called by checkout/refunds inside the sale's unit of work: queue its receipt."""
        txn = session.get(Transaction, transaction_id)
        if txn is None:  # pragma: no cover - the caller just added it
            raise NotFoundError("no such transaction")
        receipt = self.receipts.build(session, transaction_id)
        self.queue.enqueue_receipt_in(
            session,
            txn.station_id,
            receipt,
            ref_id=transaction_id,
            options=self._options(session, txn.station_id),
        )
        if txn.station_id:
            self.ensure_worker(txn.station_id)  # idles until the sale commits and wakes it

    def receipt_preview(self, number: str) -> str:
        """The receipt as the printer would lay it out, for the screen."""
        with self.store.read() as s:
            txn = transaction_by_number(s, number)
            if txn is None:
                raise NotFoundError(f"no receipt {number!r}")
            receipt = self.receipts.build(s, txn.id)
            options = self._options(s, txn.station_id)
        return receipt_text(receipt, options)

    def reprint(self, number: str, station_id: str) -> str:
        receipt = self.receipts.for_number(number)
        with self.store.read() as s:
            options = self._options(s, station_id)
        job = self.queue.reprint(station_id, receipt, ref_id=number, options=options)
        self.ensure_worker(station_id)
        return job

    def email(self, number: str, to: str) -> None:
        receipt = self.receipts.for_number(number)
        send_receipt_email(receipt, to, self.shop.all())

    def print_text(self, station_id: str, kind: str, text: str, ref_id: str | None = None) -> str:
        """Queue a plain-text document (a Z report) as ESC/POS for this station's printer."""
        from escpos.printer import Dummy

        printer = Dummy()
        printer.text(text if text.endswith("\n") else text + "\n")
        printer.cut()
        job = self.queue.enqueue(station_id, kind, ref_id, printer.output)
        self.ensure_worker(station_id)
        return job

    def status(self, station_id: str) -> QueueStatus:
        return self.queue.status(station_id)

    def retry_failed(self, station_id: str) -> int:
        count = self.queue.retry_failed(station_id)
        self.ensure_worker(station_id)
        return count

    # ------------------------------------------------------------------ drawer

    def open_drawer(
        self, station_id: str, *, user_id: str | None, reason: str, approved_by: str | None = None
    ) -> DrawerResult:
        """Audited kick; a drawer that does not open is reported in the result, never raised."""
        result = open_drawer(self.store, station_id, user_id=user_id, reason=reason, approved_by=approved_by)
        if not result.opened:
            log.warning("drawer of station %s did not open: %s", station_id, result.error)
        return result

    # ------------------------------------------------------------------ workers

    def ensure_worker(self, station_id: str) -> None:
        """Start this station's print worker once per process (it idles when there is nothing)."""
        with self._lock:
            worker = self._workers.get(station_id)
            if worker is not None and worker.running:
                return
            self._workers[station_id] = PrintWorker(self.queue, station_id).start()

    def stop(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()
