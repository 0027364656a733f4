"""The print queue: a printer that is off, stalled or out of paper never blocks or loses a receipt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.domain.receipt import Receipt
from vaultsync.hardware.print_queue import FAILED, PENDING, PRINTED, PrintQueue, PrintWorker, QueueStatus
from vaultsync.hardware.receipt_render import render_receipt
from vaultsync.hardware.simulated import FakeNetworkPrinter, decode_escpos
from vaultsync.store import Store
from vaultsync.store.models import PrintJob, Station


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def queue(sqlite_store: Store) -> PrintQueue:
    return PrintQueue(sqlite_store, max_attempts=3, timeout=1.0)


def test_enqueue_and_drain_prints_exact_bytes_in_order(
    queue: PrintQueue,
    fake_printer: FakeNetworkPrinter,
    make_station: Callable[..., Station],
    receipt: Receipt,
) -> None:
    station = make_station(fake_printer.uri)
    data = render_receipt(receipt)
    ids = [queue.enqueue(station.id, "receipt", f"tx{i}", data + bytes([i])) for i in range(3)]
    assert [j.id for j in queue.pending(station.id)] == ids
    result = queue.drain(station)  # uri from the station
    assert result.printed == ids and result.error is None
    assert fake_printer.wait_for_jobs(3)
    assert fake_printer.jobs == [data + bytes([i]) for i in range(3)]
    job = queue.get(ids[0])
    assert (
        job.status == PRINTED and job.attempts == 1 and job.printed_at is not None and job.last_error is None
    )
    assert queue.pending(station.id) == []


def test_offline_printer_keeps_job_pending_then_prints_it_exactly_once(
    queue: PrintQueue,
    fake_printer: FakeNetworkPrinter,
    make_station: Callable[..., Station],
    receipt: Receipt,
) -> None:
    station = make_station(fake_printer.uri)
    fake_printer.go_offline()
    data = render_receipt(receipt)
    start = time.monotonic()
    job_id = queue.enqueue(station.id, "receipt", "tx1", data)  # never touches the printer
    assert time.monotonic() - start < 0.5
    result = queue.drain(station.id, fake_printer.uri)
    assert result.printed == [] and result.remaining == 1
    job = queue.get(job_id)
    assert job.status == PENDING and job.attempts == 1
    assert job.last_error is not None and "refused the connection" in job.last_error
    status = queue.status(station.id)
    assert status == QueueStatus(pending=1, failed=0, last_error=job.last_error) and status.needs_attention

    fake_printer.go_online()
    assert queue.drain(station.id, fake_printer.uri).printed == [job_id]
    assert queue.drain(station.id, fake_printer.uri).printed == []  # nothing left to send
    queue.attempt(job_id, fake_printer.uri)  # an explicit attempt on a printed job does not resend
    assert fake_printer.wait_for_jobs(1)
    time.sleep(0.1)
    assert fake_printer.jobs == [data]
    assert queue.get(job_id).status == PRINTED and not queue.status(station.id).needs_attention


def test_stalled_printer_times_out_and_keeps_the_job(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri)
    fake_printer.stall()
    job_id = queue.enqueue(station.id, "receipt", "tx1", b"receipt\n")
    start = time.monotonic()
    view = queue.attempt(job_id, fake_printer.uri, timeout=0.4)
    assert time.monotonic() - start < 1.0
    assert view.status == PENDING and view.last_error is not None and "did not answer" in view.last_error


def test_out_of_paper_keeps_the_job(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri)
    fake_printer.out_of_paper()
    job_id = queue.enqueue(station.id, "receipt", "tx1", b"receipt\n")
    assert queue.drain(station.id).error == f"printer at 127.0.0.1:{fake_printer.port} is out of paper"
    assert queue.get(job_id).status == PENDING
    fake_printer.go_online()  # paper loaded
    assert queue.drain(station.id).printed == [job_id]


def test_failed_after_max_attempts_then_manual_retry(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri)
    fake_printer.go_offline()
    first = queue.enqueue(station.id, "receipt", "tx1", b"one\n")
    second = queue.enqueue(station.id, "receipt", "tx2", b"two\n")
    for _ in range(3):
        result = queue.drain(station.id)
    assert result.gave_up == [first]  # third failure: give up on the oldest, keep it
    job = queue.get(first)
    assert job.status == FAILED and job.attempts == 3 and job.last_error
    assert queue.get(second).attempts == 0  # drain stops at the first failure, order is kept
    assert [j.id for j in queue.failed(station.id)] == [first]
    assert [j.id for j in queue.pending(station.id)] == [second]
    assert queue.status(station.id).failed == 1

    fake_printer.go_online()
    assert queue.drain(station.id).printed == [second]
    assert queue.retry(first).status == PENDING
    assert queue.get(first).attempts == 0
    assert queue.drain(station.id).printed == [first]
    assert fake_printer.wait_for_jobs(2)
    assert fake_printer.jobs == [b"two\n", b"one\n"]
    with pytest.raises(ValidationError, match="already printed"):
        queue.retry(first)


def test_enqueue_in_commits_and_rolls_back_with_the_callers_session(
    sqlite_store: Store, queue: PrintQueue, make_station: Callable[..., Station]
) -> None:
    station = make_station("dummy://q")
    woken: list[bool] = []
    queue.subscribe(woken.append)

    class SaleFailed(Exception):
        pass

    with pytest.raises(SaleFailed), sqlite_store.uow() as uow:
        rolled_back = queue.enqueue_in(uow.session, station.id, "receipt", "tx1", b"lost\n")
        raise SaleFailed
    with pytest.raises(NotFoundError):
        queue.get(rolled_back)
    assert woken == []  # no commit, no wake-up

    with sqlite_store.uow() as uow:
        committed = queue.enqueue_in(uow.session, station.id, "receipt", "tx2", b"kept\n")
        assert woken == []  # not before the sale commits
    assert queue.get(committed).status == PENDING
    assert woken == [False]


def test_enqueue_receipt_in_renders(
    sqlite_store: Store, queue: PrintQueue, make_station: Callable[..., Station], receipt: Receipt
) -> None:
    station = make_station("dummy://q")
    with sqlite_store.uow() as uow:
        job_id = queue.enqueue_receipt_in(uow.session, station.id, receipt, ref_id="tx1")
    assert queue.data(job_id) == render_receipt(receipt)


def test_reprint_and_copy(queue: PrintQueue, make_station: Callable[..., Station], receipt: Receipt) -> None:
    station = make_station("dummy://q")
    job_id = queue.reprint(station.id, receipt, ref_id="tx1")
    text = decode_escpos(queue.data(job_id)).text
    assert "*** REPRINT ***" in text and "Receipt T2-000123" in text
    copy_id = queue.copy_job(job_id)
    assert copy_id != job_id and queue.data(copy_id) == queue.data(job_id)
    assert queue.get(copy_id).station_id == station.id


def test_bad_jobs_are_rejected(queue: PrintQueue) -> None:
    with pytest.raises(ValidationError, match="kind"):
        queue.enqueue(None, "poster", None, b"x")
    with pytest.raises(ValidationError, match="bytes"):
        queue.enqueue(None, "receipt", None, b"")
    with pytest.raises(NotFoundError):
        queue.attempt("nope", "dummy://")


def test_station_without_printer_keeps_jobs(queue: PrintQueue, make_station: Callable[..., Station]) -> None:
    station = make_station(None)
    job_id = queue.enqueue(station.id, "receipt", None, b"x")
    assert queue.drain(station.id).error == "this station has no receipt printer configured"
    assert queue.get(job_id).status == PENDING


def test_purge_printed(sqlite_store: Store, queue: PrintQueue) -> None:
    job_id = queue.enqueue(None, "receipt", None, b"x")
    queue.attempt(job_id, "dummy://purge")
    assert queue.purge_printed(timedelta(days=1)) == 0
    assert queue.purge_printed(timedelta(seconds=-1)) == 1
    with sqlite_store.read() as s:
        assert s.get(PrintJob, job_id) is None


# --- worker -----------------------------------------------------------------------------


def test_worker_prints_on_enqueue_and_recovers_after_outage(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri)
    statuses: list[QueueStatus] = []
    worker = PrintWorker(
        queue,
        station.id,
        max_attempts=50,
        base_delay=0.05,
        max_delay=0.2,
        idle_poll=5,
        on_change=statuses.append,
    ).start()
    try:
        queue.enqueue(station.id, "receipt", "tx1", b"first\n")
        assert fake_printer.wait_for_jobs(1, timeout=3)  # woken by the enqueue, not the 5 s poll

        fake_printer.go_offline()
        second = queue.enqueue(station.id, "receipt", "tx2", b"second\n")
        assert _wait(lambda: worker.failures >= 2)  # retrying with backoff
        assert queue.get(second).attempts >= 2 and worker.last_error is not None
        assert queue.get(second).status == PENDING
        assert any(s.pending == 1 and s.needs_attention for s in statuses)

        fake_printer.go_online()
        assert fake_printer.wait_for_jobs(2, timeout=3)
        assert _wait(lambda: queue.get(second).status == PRINTED)
        time.sleep(0.3)
        assert fake_printer.jobs == [b"first\n", b"second\n"]  # exactly once each
        assert worker.failures == 0
    finally:
        worker.stop()
    assert not worker.running


def test_worker_gives_up_and_manual_retry_wakes_it(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri)
    fake_printer.go_offline()
    worker = PrintWorker(
        queue, station.id, max_attempts=2, base_delay=0.02, max_delay=0.05, idle_poll=30
    ).start()
    try:
        job_id = queue.enqueue(station.id, "receipt", "tx1", b"late\n")
        assert _wait(lambda: queue.get(job_id).status == FAILED)
        assert queue.get(job_id).attempts == 2
        fake_printer.go_online()
        time.sleep(0.2)
        assert fake_printer.jobs == []  # gave up: waits for a person
        queue.retry(job_id)
        assert fake_printer.wait_for_jobs(1, timeout=3)
        assert _wait(lambda: queue.get(job_id).status == PRINTED)
    finally:
        worker.stop()


def test_backoff_grows_to_a_cap(queue: PrintQueue) -> None:
    worker = PrintWorker(queue, None, base_delay=1.0, max_delay=30.0)
    delays = []
    for failures in range(8):
        worker.failures = failures
        delays.append(worker.backoff_delay())
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_sale_is_never_blocked_by_a_stalled_printer(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    """While the worker is stuck waiting on a hung printer, enqueueing still returns at once."""
    station = make_station(fake_printer.uri)
    fake_printer.stall()
    worker = PrintWorker(queue, station.id, timeout=1.0, base_delay=0.05, idle_poll=30).start()
    try:
        queue.enqueue(station.id, "receipt", "tx1", b"one\n")
        time.sleep(0.1)  # worker is now inside the send
        times = []
        for i in range(5):
            start = time.monotonic()
            queue.enqueue(station.id, "receipt", f"tx{i + 2}", b"more\n")
            times.append(time.monotonic() - start)
        assert max(times) < 0.5
        assert len(queue.pending(station.id)) == 6
    finally:
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        stopper.join(5)
