"""The terminal's print queue: receipts are stored first and printed after.

A sale must complete whether or not the printer is on, has paper, or is reachable. So
nothing in the sale path talks to a printer: the checkout service renders the receipt
and calls :meth:`PrintQueue.enqueue_in` inside the sale's own unit of work, which makes
the receipt job part of the sale's transaction (both commit, or neither). A
:class:`PrintWorker` thread then sends pending jobs in order, retrying with
exponential backoff; after ``max_attempts`` failures a job is marked ``failed`` but
kept, so the cashier's "receipt not printed — retry" indicator
(:meth:`PrintQueue.status`) can offer a manual :meth:`PrintQueue.retry`.

Delivery is at-least-once per attempt: a job is marked printed only after the printer
took all its bytes, and sends are serialised within the process so two threads never
print the same job twice. (A crash between "printer took it" and "marked printed"
reprints that one receipt on restart — a duplicate slip is better than a lost one.)
Run one worker per station per process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.domain.ids import new_id
from vaultsync.domain.receipt import Receipt
from vaultsync.hardware.printers import DEFAULT_TIMEOUT, PrinterError, send
from vaultsync.hardware.receipt_render import RenderOptions, render_receipt
from vaultsync.store import Store
from vaultsync.store.models import PrintJob, Station
from vaultsync.store.types import utcnow

log = logging.getLogger(__name__)

JOB_KINDS = ("receipt", "z_report", "label", "drawer")
PENDING, PRINTED, FAILED = "pending", "printed", "failed"
DEFAULT_MAX_ATTEMPTS = 6
#: a print job bigger than this is a bug (a receipt is a few KB; a label sheet with images maybe 200 KB)
MAX_JOB_BYTES = 4 * 1024 * 1024

#: one send at a time per process: the same job can never be sent by two threads at once
_SEND_LOCK = threading.RLock()


@dataclass(frozen=True)
class JobView:
    """A print job without its bytes, for screens and the API."""

    id: str
    station_id: str | None
    kind: str
    ref_id: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    printed_at: datetime | None
    size: int

    @classmethod
    def of(cls, job: PrintJob) -> JobView:
        return cls(
            id=job.id,
            station_id=job.station_id,
            kind=job.kind,
            ref_id=job.ref_id,
            status=job.status,
            attempts=job.attempts,
            last_error=job.last_error,
            created_at=job.created_at,
            printed_at=job.printed_at,
            size=len(job.data or b""),
        )


@dataclass(frozen=True)
class QueueStatus:
    """What the cashier's printer indicator shows."""

    pending: int
    failed: int
    last_error: str | None

    @property
    def needs_attention(self) -> bool:
        """True when a receipt is waiting or gave up: show "receipt not printed — retry"."""
        return self.failed > 0 or (self.pending > 0 and self.last_error is not None)


@dataclass(frozen=True)
class DrainResult:
    printed: list[str]
    gave_up: list[str]
    error: str | None
    remaining: int


def _check_job(kind: str, data: bytes) -> None:
    if kind not in JOB_KINDS:
        raise ValidationError(f"print job kind must be one of {', '.join(JOB_KINDS)}")
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationError("a print job needs some bytes to print")
    if len(data) > MAX_JOB_BYTES:
        raise ValidationError("print job too large")


class PrintQueue:
    """Persistent, per-station queue of ESC/POS jobs in the local ``print_jobs`` table."""

    def __init__(
        self, store: Store, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        if max_attempts < 1:
            raise ValidationError("max_attempts must be at least 1")
        self.store = store
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._listeners: list[Callable[[bool], None]] = []
        self._listeners_lock = threading.Lock()

    # --- notifications ----------------------------------------------------------------

    def subscribe(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """Call ``callback(urgent)`` (must not block) when jobs may be ready; returns unsubscribe.

        ``urgent`` is True when a person asked for it (retry), False for a new job.
        """
        with self._listeners_lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock, contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def notify(self, *, urgent: bool = False) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback(urgent)
            except Exception:
                log.exception("print queue listener failed")

    # --- adding jobs --------------------------------------------------------------------

    def enqueue(self, station_id: str | None, kind: str, ref_id: str | None, data: bytes) -> str:
        """Store a job in its own unit of work and wake the worker; returns the job id.

        Never talks to the printer, so it cannot block or fail because of one.
        """
        with self.store.uow() as uow:
            job_id = self._add(uow.session, station_id, kind, ref_id, data)
        self.notify()
        return job_id

    def enqueue_in(
        self, session: Session, station_id: str | None, kind: str, ref_id: str | None, data: bytes
    ) -> str:
        """Add a job inside the caller's session (e.g. the sale's unit of work).

        The job commits or rolls back with that session; the worker is woken only after
        a successful commit, so it never looks for a row that is not there yet.
        """
        job_id = self._add(session, station_id, kind, ref_id, data)
        from sqlalchemy import event

        event.listen(session, "after_commit", lambda _s: self.notify(), once=True)
        return job_id

    def enqueue_receipt_in(
        self,
        session: Session,
        station_id: str | None,
        receipt: Receipt,
        *,
        ref_id: str | None = None,
        options: RenderOptions | None = None,
    ) -> str:
        """Render ``receipt`` and :meth:`enqueue_in` it: the one call a sale needs."""
        return self.enqueue_in(session, station_id, "receipt", ref_id, render_receipt(receipt, options))

    def _add(
        self, session: Session, station_id: str | None, kind: str, ref_id: str | None, data: bytes
    ) -> str:
        _check_job(kind, data)
        job = PrintJob(
            id=new_id(),
            station_id=station_id,
            kind=kind,
            ref_id=ref_id,
            data=bytes(data),
            status=PENDING,
            attempts=0,
            created_at=utcnow(),
        )
        session.add(job)
        return job.id

    def reprint(
        self,
        station_id: str | None,
        receipt: Receipt,
        *,
        ref_id: str | None = None,
        options: RenderOptions | None = None,
    ) -> str:
        """Queue a copy of ``receipt`` with the REPRINT banner (never mistaken for a new sale)."""
        data = render_receipt(replace(receipt, reprint=True), options)
        return self.enqueue(station_id, "receipt", ref_id, data)

    def copy_job(self, job_id: str, *, station_id: str | None = None) -> str:
        """Queue the same bytes again (re-print a Z report, a label sheet); returns the new job id."""
        with self.store.read() as s:
            job = s.get(PrintJob, job_id)
            if job is None:
                raise NotFoundError("print job not found")
            kind, ref_id, data, station = job.kind, job.ref_id, job.data, job.station_id
        return self.enqueue(station_id or station, kind, ref_id, data)

    # --- looking --------------------------------------------------------------------------

    def get(self, job_id: str) -> JobView:
        with self.store.read() as s:
            job = s.get(PrintJob, job_id)
            if job is None:
                raise NotFoundError("print job not found")
            return JobView.of(job)

    def data(self, job_id: str) -> bytes:
        with self.store.read() as s:
            job = s.get(PrintJob, job_id)
            if job is None:
                raise NotFoundError("print job not found")
            return bytes(job.data)

    def _list(self, station_id: str | None, status: str) -> list[JobView]:
        with self.store.read() as s:
            jobs = s.scalars(
                select(PrintJob)
                .where(PrintJob.station_id == station_id, PrintJob.status == status)
                .order_by(PrintJob.created_at, PrintJob.id)
            )
            return [JobView.of(job) for job in jobs]

    def pending(self, station_id: str | None) -> list[JobView]:
        """Jobs still to print for this station, oldest first."""
        return self._list(station_id, PENDING)

    def failed(self, station_id: str | None) -> list[JobView]:
        """Jobs the worker gave up on; they wait for :meth:`retry`."""
        return self._list(station_id, FAILED)

    def status(self, station_id: str | None) -> QueueStatus:
        with self.store.read() as s:
            counts = dict(
                s.execute(
                    select(PrintJob.status, func.count())
                    .where(PrintJob.station_id == station_id, PrintJob.status.in_((PENDING, FAILED)))
                    .group_by(PrintJob.status)
                ).all()
            )
            last_error = s.scalar(
                select(PrintJob.last_error)
                .where(
                    PrintJob.station_id == station_id,
                    PrintJob.status.in_((PENDING, FAILED)),
                    PrintJob.last_error.is_not(None),
                )
                .order_by(PrintJob.created_at.desc(), PrintJob.id.desc())
                .limit(1)
            )
        return QueueStatus(
            pending=counts.get(PENDING, 0), failed=counts.get(FAILED, 0), last_error=last_error
        )

    # --- printing ---------------------------------------------------------------------

    def retry(self, job_id: str) -> JobView:
        """Put a job (usually a failed one) back in line with a fresh set of attempts."""
        with self.store.uow() as uow:
            job = uow.session.get(PrintJob, job_id)
            if job is None:
                raise NotFoundError("print job not found")
            if job.status == PRINTED:
                raise ValidationError("this job was already printed; use reprint for a copy")
            job.status = PENDING
            job.attempts = 0
            view = JobView.of(job)
        self.notify(urgent=True)
        return view

    def retry_failed(self, station_id: str | None) -> int:
        """Retry every failed job of a station (the indicator's "retry all"); returns how many."""
        ids = [job.id for job in self.failed(station_id)]
        for job_id in ids:
            self.retry(job_id)
        return len(ids)

    def attempt(
        self, job_id: str, uri: str | None, *, timeout: float | None = None, max_attempts: int | None = None
    ) -> JobView:
        """Send one job now; record the outcome. Never raises for printer trouble.

        A printed job is not sent again. Failure increments ``attempts``, stores the
        reason in ``last_error`` and, at ``max_attempts``, marks the job ``failed``.
        """
        limit = max_attempts or self.max_attempts
        with _SEND_LOCK:
            with self.store.read() as s:
                job = s.get(PrintJob, job_id)
                if job is None:
                    raise NotFoundError("print job not found")
                if job.status == PRINTED:
                    return JobView.of(job)
                data = bytes(job.data)
            error: str | None = None
            try:
                send(uri, data, timeout=timeout or self.timeout)
            except (PrinterError, ValidationError) as exc:
                error = str(exc)
            except Exception as exc:  # a driver bug must not kill the worker or lose the job
                log.exception("unexpected error printing job %s", job_id)
                error = f"printer error: {exc}"
            with self.store.uow() as uow:
                row = uow.session.get(PrintJob, job_id)
                if row is None:  # purged meanwhile
                    raise NotFoundError("print job not found")
                row.attempts += 1
                if error is None:
                    row.status = PRINTED
                    row.printed_at = utcnow()
                    row.last_error = None
                else:
                    row.last_error = error
                    if row.attempts >= limit:
                        row.status = FAILED
                return JobView.of(row)

    def drain(
        self,
        station: Station | str | None,
        uri: str | None = None,
        *,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> DrainResult:
        """One pass over a station's pending jobs, oldest first.

        Stops at the first failure: the printer is evidently unavailable, trying the
        rest would only burn their attempts and print them out of order. Backoff
        between passes is the caller's (:class:`PrintWorker`'s) job. ``uri`` defaults
        to the station's configured printer.
        """
        station_id = station.id if isinstance(station, Station) else station
        if uri is None:
            uri = station.printer_uri if isinstance(station, Station) else self._station_uri(station_id)
        printed: list[str] = []
        gave_up: list[str] = []
        error: str | None = None
        for job in self.pending(station_id):
            view = self.attempt(job.id, uri, timeout=timeout, max_attempts=max_attempts)
            if view.status == PRINTED:
                printed.append(view.id)
                continue
            error = view.last_error
            if view.status == FAILED:
                gave_up.append(view.id)
            break
        remaining = len(self.pending(station_id)) if error else 0
        return DrainResult(printed=printed, gave_up=gave_up, error=error, remaining=remaining)

    def _station_uri(self, station_id: str | None) -> str | None:
        if station_id is None:
            return None
        with self.store.read() as s:
            return s.scalar(select(Station.printer_uri).where(Station.id == station_id))

    def purge_printed(self, older_than: timedelta = timedelta(days=30)) -> int:
        """Delete printed jobs older than ``older_than`` (the table is a queue, not an archive)."""
        cutoff = utcnow() - older_than
        with self.store.uow() as uow:
            result = uow.session.execute(
                delete(PrintJob).where(PrintJob.status == PRINTED, PrintJob.printed_at < cutoff)
            )
            return int(getattr(result, "rowcount", 0) or 0)


class PrintWorker:
    """Background thread that prints a station's queue and retries with backoff.

    Wakes immediately when a job is enqueued (or on :meth:`wake`) unless it is backing
    off after a failure — then new jobs wait for the next retry instead of hammering a
    dead printer; :meth:`PrintQueue.retry` (a person pressing "retry") cuts the backoff
    short. ``on_change`` receives the queue status after every pass, for the UI.
    """

    def __init__(
        self,
        queue: PrintQueue,
        station_id: str | None,
        *,
        uri: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        idle_poll: float = 15.0,
        on_change: Callable[[QueueStatus], None] | None = None,
    ) -> None:
        self.queue = queue
        self.station_id = station_id
        self.uri = uri
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.idle_poll = idle_poll
        self.on_change = on_change
        self.failures = 0
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._work = False
        self._force = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> PrintWorker:
        if self.running:
            return self
        self._stopping = False
        self._unsubscribe = self.queue.subscribe(self.wake)
        self._thread = threading.Thread(target=self._run, name=f"print-worker-{self.station_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current send (bounded by the printer timeout)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self, force: bool = False) -> None:
        """Look at the queue soon; ``force`` (a person pressed retry) also skips any backoff."""
        with self._cond:
            self._work = True
            self._force = self._force or force
            self._cond.notify_all()

    def backoff_delay(self) -> float:
        """Delay before the next try after ``failures`` consecutive failed passes."""
        if self.failures <= 0:
            return 0.0
        return float(min(self.max_delay, self.base_delay * (2 ** (self.failures - 1))))

    def _run(self) -> None:
        next_try = 0.0
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._force or (self._work and now >= next_try):
                        break
                    if self.failures and now >= next_try:
                        break  # backoff elapsed: retry
                    wait = (next_try - now) if self.failures else self.idle_poll
                    if not self._cond.wait(max(0.01, wait)) and not self.failures:
                        break  # idle poll: catch jobs added by other processes
                if self._stopping:
                    return
                self._work = self._force = False
            try:
                result = self.queue.drain(
                    self.station_id, self.uri, max_attempts=self.max_attempts, timeout=self.timeout
                )
            except Exception as exc:  # e.g. the database briefly locked: keep the worker alive
                log.exception("print worker pass failed")
                result = DrainResult([], [], f"print queue error: {exc}", 1)
            if result.error and result.remaining:
                self.failures += 1
                self.last_error = result.error
                next_try = time.monotonic() + self.backoff_delay()
            else:
                self.failures = 0
                self.last_error = result.error
                next_try = 0.0
            if self.on_change is not None:
                try:
                    self.on_change(self.queue.status(self.station_id))
                except Exception:
                    log.exception("print worker status callback failed")
