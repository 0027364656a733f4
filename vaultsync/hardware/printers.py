"""Opening a station's receipt printer from its ``printer_uri`` and sending raw bytes to it.

Supported URIs (``Station.printer_uri``):

* ``network://host:port`` — an Ethernet/Wi-Fi ESC/POS printer (port 9100 if omitted),
  through escpos ``Network``. Before sending, the printer is asked for its paper status
  (``DLE EOT 4``), so "out of paper" and "accepts connections but is hung" are detected
  instead of silently swallowing a receipt. Add ``?status=0`` for one-way forwarders
  (e.g. ``socat`` to a USB printer) that never answer.
* ``file:///dev/usb/lp0`` — a device file (escpos ``File``).
* ``usb://04b8:0202`` — a USB printer by vendor:product id (escpos ``Usb``; needs pyusb).
* ``serial:///dev/ttyS0?baudrate=19200`` — a serial printer (escpos ``Serial``; needs pyserial).
* ``dummy://`` or ``dummy://name`` — escpos ``Dummy``; what is "printed" is kept in
  memory (:func:`dummy_output`), for the demo and tests.
* ``none`` or empty — the station has no printer.

:func:`send` is the one call the print queue makes. It never takes longer than its
timeout: network I/O uses socket timeouts bounded by one deadline, and device files,
USB and serial (whose drivers can block indefinitely when a printer is off) are written
from a helper thread the caller stops waiting for at the deadline.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy, File, Network

from vaultsync.domain.errors import ValidationError, VaultSyncError

DEFAULT_PORT = 9100
DEFAULT_TIMEOUT = 5.0
#: connecting to a printer on the shop LAN takes milliseconds; waiting longer only delays the cashier
DEFAULT_CONNECT_TIMEOUT = 2.0

_SCHEMES = ("network", "file", "usb", "serial", "dummy")
_PAPER_END_BITS = 0x60  # DLE EOT 4 reply: bits 5 and 6 set = paper roll end detected


class PrinterError(VaultSyncError):
    """The printer could not take the job; the message says why in words a cashier can act on."""

    http_status = 503


@dataclass(frozen=True)
class PrinterTarget:
    """A parsed ``printer_uri``."""

    scheme: str
    host: str = ""
    port: int = DEFAULT_PORT
    path: str = ""
    vendor_id: int = 0
    product_id: int = 0
    baudrate: int = 9600
    status_check: bool = True
    name: str = ""

    def describe(self) -> str:
        """Short human name for messages ("printer at 10.0.0.20:9100")."""
        if self.scheme == "network":
            return f"printer at {self.host}:{self.port}"
        if self.scheme in ("file", "serial"):
            return f"printer at {self.path}"
        if self.scheme == "usb":
            return f"USB printer {self.vendor_id:04x}:{self.product_id:04x}"
        return f"simulated printer {self.name or 'default'}"


def parse_printer_uri(uri: str | None) -> PrinterTarget | None:
    """Parse a station's printer URI; None means "no printer". Raises ValidationError."""
    raw = (uri or "").strip()
    if not raw or raw.lower() == "none":
        return None
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or "://" not in raw:
        raise ValidationError(
            f"printer address {raw!r} is not understood: use network://host:port, file:///dev/usb/lp0, "
            "usb://VID:PID, serial:///dev/ttyS0?baudrate=9600, dummy:// or none"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme == "network":
        if not parts.hostname:
            raise ValidationError(f"printer address {raw!r} has no host (network://10.0.0.20:9100)")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise ValidationError(f"printer address {raw!r} has an invalid port") from exc
        status = query.get("status", "1").lower() not in ("0", "false", "no", "off")
        return PrinterTarget("network", host=parts.hostname, port=port, status_check=status)
    if scheme in ("file", "serial"):
        path = parts.path or ""
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValidationError(f"printer address {raw!r} needs an absolute path ({scheme}:///dev/...)")
        baud = 9600
        if scheme == "serial" and "baudrate" in query:
            try:
                baud = int(query["baudrate"])
            except ValueError as exc:
                raise ValidationError(f"printer address {raw!r}: baudrate must be a number") from exc
            if baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
                raise ValidationError(f"printer address {raw!r}: unsupported baudrate {baud}")
        return PrinterTarget(scheme, path=path, baudrate=baud)
    if scheme == "usb":
        ids = (parts.netloc or parts.path.strip("/")).split(":")
        try:
            if len(ids) != 2:
                raise ValueError
            vid, pid = int(ids[0], 16), int(ids[1], 16)
        except ValueError as exc:
            raise ValidationError(
                f"printer address {raw!r}: USB printers are usb://VENDOR:PRODUCT in hex (usb://04b8:0202)"
            ) from exc
        if not (0 < vid <= 0xFFFF and 0 < pid <= 0xFFFF):
            raise ValidationError(f"printer address {raw!r}: USB ids are 4 hex digits each")
        return PrinterTarget("usb", vendor_id=vid, product_id=pid)
    return PrinterTarget("dummy", name=(parts.netloc + parts.path).strip("/"))


# --- simulated printer sink ------------------------------------------------------------

_dummy_lock = threading.Lock()
_dummy_outputs: dict[str, list[bytes]] = {}


def dummy_output(name: str = "") -> bytes:
    """Everything sent to ``dummy://name`` in this process (the demo's "paper")."""
    with _dummy_lock:
        return b"".join(_dummy_outputs.get(name, []))


def dummy_jobs(name: str = "") -> list[bytes]:
    """The separate sends to ``dummy://name``, oldest first."""
    with _dummy_lock:
        return list(_dummy_outputs.get(name, []))


def clear_dummy(name: str | None = None) -> None:
    """Forget what was sent to one dummy printer (or all of them)."""
    with _dummy_lock:
        if name is None:
            _dummy_outputs.clear()
        else:
            _dummy_outputs.pop(name, None)


# --- opening ---------------------------------------------------------------------------


def open_printer(uri: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> Escpos | None:
    """An escpos printer object for ``uri`` (not yet connected), or None for "no printer".

    For callers that want escpos's own API (``.text``, ``.cut``…). Receipts are better
    rendered with :mod:`~vaultsync.hardware.receipt_render` and sent with :func:`send`.
    """
    target = parse_printer_uri(uri)
    if target is None:
        return None
    return _make(target, timeout)


def _make(target: PrinterTarget, timeout: float) -> Escpos:
    if target.scheme == "network":
        return Network(target.host, target.port, timeout=min(timeout, DEFAULT_CONNECT_TIMEOUT))
    if target.scheme == "file":
        return File(target.path, auto_flush=True)
    if target.scheme == "dummy":
        return Dummy()
    from escpos.printer import Serial, Usb

    need = "pyusb" if target.scheme == "usb" else "pyserial"
    driver = Usb if target.scheme == "usb" else Serial
    # escpos only fails at open()/close() when the driver library is missing, with a
    # RuntimeError that reads like a crash; check first and say what to install
    if not driver.is_usable():
        raise PrinterError(f"{target.describe()}: this terminal needs the {need} package installed")
    if target.scheme == "usb":
        return Usb(target.vendor_id, target.product_id, timeout=int(timeout * 1000))
    return Serial(target.path, baudrate=target.baudrate, timeout=timeout)


# --- sending ---------------------------------------------------------------------------


def send(uri: str | None, data: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Write ``data`` (ESC/POS bytes) to the printer at ``uri`` within ``timeout`` seconds.

    Raises :class:`PrinterError` with a cashier-readable reason on any failure, and
    ValidationError for a malformed or missing printer address.
    """
    target = parse_printer_uri(uri)
    if target is None:
        raise PrinterError("this station has no receipt printer configured")
    if timeout <= 0:
        raise ValidationError("printer timeout must be positive")
    if target.scheme == "network":
        _send_network(target, data, timeout)
    elif target.scheme == "dummy":
        with _dummy_lock:
            _dummy_outputs.setdefault(target.name, []).append(bytes(data))
    else:
        _with_deadline(lambda: _send_device(target, data, timeout), timeout, target)


def _send_network(target: PrinterTarget, data: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    where = target.describe()
    printer = Network(target.host, target.port, timeout=min(timeout, DEFAULT_CONNECT_TIMEOUT))
    try:
        try:
            printer.open()
        except DeviceNotFoundError as exc:
            raise PrinterError(_connect_reason(where, exc.__context__, timeout)) from exc
        sock = printer.device
        assert isinstance(sock, socket.socket)
        if target.status_check:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                paper = printer.paper_status()
            except (TimeoutError, OSError) as exc:
                raise PrinterError(
                    f"{where} accepted the connection but did not answer (busy, stalled or in an error "
                    "state: check the cover and paper). For a one-way forwarder add ?status=0 to its address"
                ) from exc
            if paper == 0:
                raise PrinterError(f"{where} is out of paper")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PrinterError(f"{where} timed out after {timeout:g}s")
        sock.settimeout(remaining)
        try:
            sock.sendall(data)
        except TimeoutError as exc:
            raise PrinterError(
                f"{where} stopped taking data after {timeout:g}s (stalled, out of paper or cover open)"
            ) from exc
        except OSError as exc:
            raise PrinterError(f"{where} dropped the connection while printing ({_os_reason(exc)})") from exc
    finally:
        printer.close()


def _connect_reason(where: str, exc: BaseException | None, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"{where} refused the connection (is it switched on? is the port right?)"
    if isinstance(exc, TimeoutError):
        return (
            f"{where} did not answer within {min(timeout, DEFAULT_CONNECT_TIMEOUT):g}s (unreachable or off)"
        )
    if isinstance(exc, socket.gaierror):
        return f"{where}: unknown host name"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return f"{where} is unreachable (check the network cable and its IP address)"
    return f"{where} cannot be reached ({_os_reason(exc)})"


def _os_reason(exc: BaseException | None) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _send_device(target: PrinterTarget, data: bytes, timeout: float) -> None:
    where = target.describe()
    printer = _make(target, timeout)
    try:
        try:
            printer.open()
        except (DeviceNotFoundError, OSError) as exc:
            cause = exc.__context__ if isinstance(exc, DeviceNotFoundError) else exc
            raise PrinterError(f"{where} is not available ({_os_reason(cause or exc)})") from exc
        except Exception as exc:  # pyusb / pyserial raise their own exception types
            raise PrinterError(f"{where} is not available ({exc})") from exc
        try:
            printer._raw(data)
        except (OSError, EscposError) as exc:
            raise PrinterError(f"{where} failed while printing ({_os_reason(exc)})") from exc
        except Exception as exc:  # pyusb / pyserial raise their own exception types
            raise PrinterError(f"{where} failed while printing ({exc})") from exc
    finally:
        with contextlib.suppress(Exception):
            printer.close()


def _with_deadline(fn: Callable[[], None], timeout: float, target: PrinterTarget) -> None:
    """Run ``fn`` in a helper thread and give up waiting at the deadline.

    A device write blocked in the kernel cannot be interrupted from Python; the helper
    thread is a daemon so it never keeps the process alive, and the caller (a sale, the
    print worker) carries on with a clear error instead of freezing the register.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"printer-send-{target.scheme}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise PrinterError(f"{target.describe()} did not take the job within {timeout:g}s (off or stalled)")
    error = outcome.get("error")
    if error is not None:
        raise error
