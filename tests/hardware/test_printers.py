"""Printer URIs, raw sends to a fake network printer, timeouts, and the cash drawer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from vaultsync.domain.errors import ValidationError
from vaultsync.domain.receipt import Receipt
from vaultsync.hardware import printers
from vaultsync.hardware.drawer import kick, open_drawer
from vaultsync.hardware.printers import PrinterError, PrinterTarget, parse_printer_uri, send
from vaultsync.hardware.receipt_render import render_receipt
from vaultsync.hardware.simulated import FakeNetworkPrinter
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, Station


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("network://10.0.0.20:9100", PrinterTarget("network", host="10.0.0.20", port=9100)),
        ("network://printer.local", PrinterTarget("network", host="printer.local", port=9100)),
        (
            "network://10.0.0.20:9101?status=0",
            PrinterTarget("network", host="10.0.0.20", port=9101, status_check=False),
        ),
        ("file:///dev/usb/lp0", PrinterTarget("file", path="/dev/usb/lp0")),
        ("usb://04b8:0202", PrinterTarget("usb", vendor_id=0x04B8, product_id=0x0202)),
        ("serial:///dev/ttyS0?baudrate=19200", PrinterTarget("serial", path="/dev/ttyS0", baudrate=19200)),
        ("dummy://", PrinterTarget("dummy")),
        ("dummy://front", PrinterTarget("dummy", name="front")),
    ],
)
def test_parse_printer_uri(uri: str, expected: PrinterTarget) -> None:
    assert parse_printer_uri(uri) == expected


@pytest.mark.parametrize("uri", [None, "", "  ", "none", "NONE"])
def test_no_printer(uri: str | None) -> None:
    assert parse_printer_uri(uri) is None
    assert printers.open_printer(uri) is None
    with pytest.raises(PrinterError, match="no receipt printer"):
        send(uri, b"x")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("10.0.0.20:9100", "not understood"),
        ("lpt://1", "not understood"),
        ("network://:9100", "no host"),
        ("network://10.0.0.20:99999", "invalid port"),
        ("file://relative/path", "absolute path"),
        ("usb://04b8", "usb://VENDOR:PRODUCT"),
        ("usb://zzzz:0202", "usb://VENDOR:PRODUCT"),
        ("serial:///dev/ttyS0?baudrate=fast", "baudrate"),
        ("serial:///dev/ttyS0?baudrate=12345", "unsupported baudrate"),
    ],
)
def test_bad_uris_are_clear_validation_errors(uri: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_printer_uri(uri)


def test_escpos_printer_objects() -> None:
    from escpos.printer import Dummy, File, Network

    net = printers.open_printer("network://10.0.0.20:9100", timeout=9)
    assert isinstance(net, Network) and net.timeout <= printers.DEFAULT_CONNECT_TIMEOUT
    assert isinstance(printers.open_printer("file:///dev/usb/lp0"), File)
    assert isinstance(printers.open_printer("dummy://"), Dummy)


def test_fake_printer_receives_exactly_the_rendered_bytes(
    fake_printer: FakeNetworkPrinter, receipt: Receipt
) -> None:
    data = render_receipt(receipt)
    send(fake_printer.uri, data, timeout=2)
    assert fake_printer.wait_for_jobs(1)
    assert fake_printer.jobs == [data]
    assert fake_printer.status_queries == 1  # asked for paper status before printing
    decoded = fake_printer.decoded()
    assert "TOTAL                              $181.57" in decoded.text
    assert decoded.cuts == [0]


def test_status_check_can_be_turned_off(fake_printer: FakeNetworkPrinter) -> None:
    send(fake_printer.uri + "?status=0", b"hello\n", timeout=2)
    assert fake_printer.wait_for_jobs(1)
    assert fake_printer.jobs == [b"hello\n"] and fake_printer.status_queries == 0


def test_offline_printer_is_refused_quickly(fake_printer: FakeNetworkPrinter) -> None:
    fake_printer.go_offline()
    start = time.monotonic()
    with pytest.raises(PrinterError, match="refused the connection"):
        send(fake_printer.uri, b"x", timeout=2)
    assert time.monotonic() - start < 1.0
    fake_printer.go_online()
    send(fake_printer.uri, b"back\n", timeout=2)
    assert fake_printer.wait_for_jobs(1) and fake_printer.jobs == [b"back\n"]


def test_stalled_printer_times_out_within_the_limit(fake_printer: FakeNetworkPrinter) -> None:
    fake_printer.stall()
    start = time.monotonic()
    with pytest.raises(PrinterError, match="did not answer"):
        send(fake_printer.uri, b"x" * 100, timeout=0.5)
    assert time.monotonic() - start < 1.0


def test_stalled_printer_without_status_times_out_while_sending(fake_printer: FakeNetworkPrinter) -> None:
    fake_printer.stall()
    start = time.monotonic()
    with pytest.raises(PrinterError, match="stopped taking data"):
        # more than the kernel buffers hold, so the write itself blocks on the hung printer
        send(fake_printer.uri + "?status=0", b"x" * (64 * 1024 * 1024), timeout=0.5)
    assert time.monotonic() - start < 1.5


def test_out_of_paper_is_detected_and_nothing_is_sent(fake_printer: FakeNetworkPrinter) -> None:
    fake_printer.out_of_paper()
    with pytest.raises(PrinterError, match="out of paper"):
        send(fake_printer.uri, b"receipt\n", timeout=2)
    time.sleep(0.1)
    assert fake_printer.jobs == []


def test_unreachable_host_does_not_hang() -> None:
    start = time.monotonic()
    with pytest.raises(PrinterError):
        send("network://10.255.255.1:9100", b"x", timeout=0.3)  # non-routable
    assert time.monotonic() - start < 1.5


def test_file_printer(tmp_path: Path) -> None:
    target = tmp_path / "lp0"
    send(f"file://{target}", b"\x1b@hello\n", timeout=2)
    assert target.read_bytes() == b"\x1b@hello\n"
    with pytest.raises(PrinterError, match="not available"):
        send(f"file://{tmp_path}/missing-dir/lp0", b"x", timeout=2)


def test_dummy_printer_keeps_what_was_printed() -> None:
    printers.clear_dummy("t")
    send("dummy://t", b"one", timeout=1)
    send("dummy://t", b"two", timeout=1)
    assert printers.dummy_output("t") == b"onetwo"
    assert printers.dummy_jobs("t") == [b"one", b"two"]
    printers.clear_dummy("t")
    assert printers.dummy_output("t") == b""


def test_usb_and_serial_without_drivers_explain_what_is_missing() -> None:
    for uri, package in [("usb://04b8:0202", "pyusb"), ("serial:///dev/ttyS99", "pyserial")]:
        try:
            __import__("usb" if package == "pyusb" else "serial")
        except ImportError:
            with pytest.raises(PrinterError, match=package):
                send(uri, b"x", timeout=1)
        else:  # driver installed: there is no such device here
            with pytest.raises(PrinterError):
                send(uri, b"x", timeout=1)


# --- cash drawer ------------------------------------------------------------------------


def _audit(store: Store) -> list[AuditEntry]:
    with store.read() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.node_seq)))


def test_drawer_kick_reaches_the_printer(fake_printer: FakeNetworkPrinter) -> None:
    kick(fake_printer.uri, pin=5)
    assert fake_printer.wait_for_jobs(1)
    assert fake_printer.jobs == [b"\x1bp\x01\x32\x32"]
    assert fake_printer.drawer_kicks() == [(1, 50, 50)]


def test_open_drawer_is_audited(
    sqlite_store: Store, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri)
    result = open_drawer(
        sqlite_store, station, user_id="u-cashier", approved_by="u-manager", reason="no sale: change"
    )
    assert result.opened and result.error is None
    assert fake_printer.wait_for_jobs(1)
    assert fake_printer.drawer_kicks() == [(0, 50, 50)]
    [entry] = _audit(sqlite_store)
    assert entry.action == "drawer.open"
    assert entry.user_id == "u-cashier" and entry.approved_by == "u-manager"
    assert entry.station_id == station.id
    assert entry.after is not None and entry.after["reason"] == "no sale: change"


def test_drawer_failure_is_reported_not_raised(
    sqlite_store: Store, fake_printer: FakeNetworkPrinter, make_station: Callable[..., Station]
) -> None:
    station = make_station(fake_printer.uri, drawer_pin=5)
    fake_printer.go_offline()
    result = open_drawer(sqlite_store, station.id, user_id="u1", reason="cash sale T1-000001")
    assert not result.opened
    assert result.error is not None and "refused the connection" in result.error
    assert [e.action for e in _audit(sqlite_store)] == ["drawer.open", "drawer.open_failed"]


def test_station_without_drawer_or_printer(sqlite_store: Store, make_station: Callable[..., Station]) -> None:
    no_drawer = make_station("dummy://x", has_drawer=False)
    result = open_drawer(sqlite_store, no_drawer, user_id="u1", reason="no sale")
    assert not result.opened and result.error is not None and "no cash drawer" in result.error
    no_printer = make_station(None)
    result = open_drawer(sqlite_store, no_printer, user_id="u1", reason="no sale")
    assert not result.opened and result.error is not None and "no receipt printer" in result.error
    with pytest.raises(ValidationError, match="reason"):
        open_drawer(sqlite_store, no_printer, user_id="u1", reason=" ")
