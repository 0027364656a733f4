"""Simulated receipt printer for tests and ``vaultsync demo``, and an ESC/POS byte decoder.

:class:`FakeNetworkPrinter` is a real TCP server on loopback that behaves like an
Ethernet receipt printer on port 9100: it records every byte, answers the real-time
status query (``DLE EOT n``) like an Epson TM printer, and can be switched

* ``offline`` — the port is closed, connections are refused (printer switched off);
* ``stall`` — connections are accepted but nothing is read or answered (a hung printer);
* ``no_paper`` — status replies say "paper end" (out of paper);
* ``online`` — normal.

:func:`decode_escpos` splits ESC/POS bytes into printed text, cuts, drawer kicks and
barcodes, so tests (and the demo's on-screen "paper") can assert on what a real
printer would have done rather than on escpos's internals.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

_STATUS_QUERY = re.compile(rb"\x10\x04([\x01-\x04])")
#: replies of an idle, healthy Epson TM printer to DLE EOT 1..4; fixed bits 1 and 4 are always set
_STATUS_OK = {1: 0x16, 2: 0x12, 3: 0x12, 4: 0x12}
_STATUS_NO_PAPER = 0x72  # DLE EOT 4 with "paper end" bits 5 and 6 set

MODES = ("online", "offline", "stall", "no_paper")


@dataclass
class Decoded:
    """What a printer would do with some ESC/POS bytes."""

    text: str = ""
    cuts: list[int] = field(
        default_factory=list
    )  # GS V mode values (0/48 full, 1/49 partial, 65/66 feed+cut)
    drawer_kicks: list[tuple[int, int, int]] = field(default_factory=list)  # (pin m, on, off)
    barcodes: list[tuple[int, bytes]] = field(default_factory=list)  # (GS k type m, data)
    codepages: list[int] = field(default_factory=list)  # ESC t n selections

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


# ESC commands with a fixed number of argument bytes (the subset escpos emits and more)
_ESC_ARGS = {
    b"!": 1,
    b"-": 1,
    b"2": 0,
    b"3": 1,
    b"@": 0,
    b"E": 1,
    b"G": 1,
    b"J": 1,
    b"M": 1,
    b"R": 1,
    b"V": 1,
    b"a": 1,
    b"c": 2,
    b"d": 1,
    b"t": 1,
    b"{": 1,
    b"p": 3,
    b"B": 2,
    b"=": 1,
    b"K": 1,
}
_GS_ARGS = {b"!": 1, b"B": 1, b"H": 1, b"b": 1, b"f": 1, b"h": 1, b"w": 1, b"L": 2, b"W": 2, b"|": 1}


def decode_escpos(data: bytes, *, encoding: str = "cp437") -> Decoded:
    """Parse ESC/POS bytes into text and device actions.

    Knows the commands python-escpos emits for text, styles, barcodes, cuts and the
    cash drawer; text bytes are decoded with ``encoding`` (the code page selected
    with ``ESC t``; CP437 unless told otherwise).
    """
    out = Decoded()
    text = bytearray()
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x1B and i + 1 < n:  # ESC
            cmd = data[i + 1 : i + 2]
            argc = _ESC_ARGS.get(cmd, 0)
            args = data[i + 2 : i + 2 + argc]
            if cmd == b"p" and len(args) == 3:
                out.drawer_kicks.append((args[0], args[1], args[2]))
            elif cmd == b"t" and args:
                out.codepages.append(args[0])
            elif cmd == b"d" and args:
                text += b"\n" * args[0]
            i += 2 + argc
        elif byte == 0x1D and i + 1 < n:  # GS
            cmd = data[i + 1 : i + 2]
            if cmd == b"V":
                mode = data[i + 2] if i + 2 < n else 0
                out.cuts.append(mode)
                i += 4 if mode in (65, 66) else 3
            elif cmd == b"k":
                kind = data[i + 2] if i + 2 < n else 0
                if kind >= 65:  # function B: length-prefixed
                    length = data[i + 3] if i + 3 < n else 0
                    out.barcodes.append((kind, bytes(data[i + 4 : i + 4 + length])))
                    i += 4 + length
                else:  # function A: NUL-terminated
                    end = data.find(b"\x00", i + 3)
                    end = n if end < 0 else end
                    out.barcodes.append((kind, bytes(data[i + 3 : end])))
                    i = end + 1
            else:
                i += 2 + _GS_ARGS.get(cmd, 0)
        elif byte == 0x10 and i + 2 < n and data[i + 1] == 0x04:  # DLE EOT n: status query, not printed
            i += 3
        elif byte in (0x0A, 0x0D) or byte >= 0x20:
            if byte != 0x0D:
                text.append(byte)
            i += 1
        else:
            i += 1
    out.text = text.decode(encoding, errors="replace")
    return out


def strip_status_queries(data: bytes) -> bytes:
    """``data`` without real-time status queries: what the printer actually prints."""
    return _STATUS_QUERY.sub(b"", data)


class FakeNetworkPrinter:
    """A loopback TCP "receipt printer" (random free port) that records what it is sent.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``jobs`` holds one
    entry per connection (status queries removed), ``received`` everything concatenated.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, mode: str = "online") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.host = host
        self.port = port
        self._mode = mode
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._want_listen = mode != "offline"
        self._conns: list[socket.socket] = []
        self._jobs: list[bytes] = []
        self._raw = bytearray()
        self.connections = 0
        self.status_queries = 0

    # lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeNetworkPrinter:
        self._running = True
        self._listen()  # binds now so ``port``/``uri`` are known even when starting offline
        if self._mode == "offline":
            self._close_listener()
        self._want_listen = self._mode != "offline"
        self._thread = threading.Thread(target=self._serve, name=f"fake-printer-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._running = False
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._close_listener()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> FakeNetworkPrinter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def uri(self) -> str:
        return f"network://{self.host}:{self.port}"

    # modes ---------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Switch behaviour; ``offline`` closes the port, anything else reopens it.

        Returns once the port is actually closed or open, so a test can connect (or
        expect a refusal) right after the call.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self._changed:
            self._mode = mode
            self._want_listen = mode != "offline"
            self._changed.notify_all()
            deadline = time.monotonic() + 2
            while self._running and (self._listener is not None) != self._want_listen:
                if time.monotonic() > deadline:
                    raise RuntimeError("fake printer did not switch mode")
                self._changed.wait(0.05)

    def go_offline(self) -> None:
        self.set_mode("offline")

    def go_online(self) -> None:
        self.set_mode("online")

    def stall(self) -> None:
        self.set_mode("stall")

    def out_of_paper(self) -> None:
        self.set_mode("no_paper")

    # what was received ---------------------------------------------------------------

    @property
    def jobs(self) -> list[bytes]:
        """One entry per finished connection that sent something, status queries removed."""
        with self._lock:
            return list(self._jobs)

    @property
    def received(self) -> bytes:
        """Everything printed so far (all connections, status queries removed)."""
        with self._lock:
            return strip_status_queries(bytes(self._raw))

    def decoded(self) -> Decoded:
        return decode_escpos(self.received)

    def text(self) -> str:
        return self.decoded().text

    def cuts(self) -> list[int]:
        return self.decoded().cuts

    def drawer_kicks(self) -> list[tuple[int, int, int]]:
        return self.decoded().drawer_kicks

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._raw.clear()

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` jobs have arrived (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._jobs) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # internals -----------------------------------------------------------------------

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _close_listener(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _serve(self) -> None:
        # Only this thread opens, closes and accepts on the listening socket: closing it
        # from another thread while accept() is blocked would leave it listening.
        while self._running:
            with self._changed:
                if self._want_listen and self._listener is None:
                    self._listen()
                    self._changed.notify_all()
                elif not self._want_listen and self._listener is not None:
                    self._close_listener()
                    self._changed.notify_all()
                sock = self._listener
            if sock is None:
                time.sleep(0.02)
                continue
            ready, _, _ = select.select([sock], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with self._lock:
                self._conns.append(conn)
                self.connections += 1
            if self._mode == "stall":
                continue  # accept, then never read or answer: the client's timeouts must save it
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buf = bytearray()
        answered = 0
        conn.settimeout(0.2)
        try:
            while self._running:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                with self._lock:
                    buf += chunk
                    self._raw += chunk
                queries = _STATUS_QUERY.findall(bytes(buf))
                for query in queries[answered:]:
                    kind = query[0]
                    reply = _STATUS_NO_PAPER if (self._mode == "no_paper" and kind == 4) else _STATUS_OK[kind]
                    with self._lock:
                        self.status_queries += 1
                    with contextlib.suppress(OSError):
                        conn.sendall(bytes([reply]))
                answered = len(queries)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            job = strip_status_queries(bytes(buf))
            with self._changed:
                if conn in self._conns:
                    self._conns.remove(conn)
                if job:
                    self._jobs.append(job)
                self._changed.notify_all()
