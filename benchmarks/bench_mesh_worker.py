"""One terminal of the multi-process mesh benchmark (:mod:`benchmarks.bench_mesh`), in its own process.

Started by the coordinator as ``python -m benchmarks.bench_mesh_worker --dir D --port P
--peer host:port ...``; the terminal's database and certificate are already in ``D``
(the coordinator paired it with the shop CA). It runs a real :class:`SyncNode` (mutual
TLS over ``tls+tcp`` on loopback, static peers, no zeroconf) and rings up sales through
the real :class:`CheckoutService`, like a register would.

Control is line-based JSON: commands on stdin, replies and a status line every
``--status-s`` seconds on stdout (everything else — logging — goes to stderr, which the
coordinator sends to a per-node log file). Commands::

    {"cmd": "open", "cashier": ID}                        open this terminal's register (station + shift)
    {"cmd": "sell", "sales": N, "pace_ms": P, "start_at": T, "sku": ID}   ring up N sales, one every P ms
    {"cmd": "digest"}                                     replicated-state digest + row counts
    {"cmd": "stop"}                                       stop the node, exit 0

The worker exits on its own when stdin closes (the coordinator died) and asks the
kernel to SIGKILL it when its parent dies (Linux ``PR_SET_PDEATHSIG``), so a crashed
or killed benchmark leaves no orphans.

The protocol module handed to the node is the real one with :func:`~vaultsync.sync.protocol.handle`
and :func:`~vaultsync.sync.protocol.pull` wrapped to count what arrives by push and by
pull, duplicates, time spent applying and serving, and busy-database refusals: the
status line carries these, so a lagging node can be explained, not only spotted.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from vaultsync.domain.enums import Tender
from vaultsync.services.auth import AuthService
from vaultsync.services.checkout import CheckoutService, TenderInput
from vaultsync.services.shop import ShopService
from vaultsync.store import open_store
from vaultsync.store.database import Store
from vaultsync.store.models import Shift, Station
from vaultsync.sync import group_merge, pki
from vaultsync.sync import protocol as real_protocol
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.node import SyncNode

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: the kernel SIGKILLs this process when the coordinator goes (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the stdin watch still ends the worker
        pass


class Counters:
    """What this terminal received, served and spent time on (read by the status thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.push_calls = 0
        self.push_applied = 0
        self.push_skipped = 0
        self.push_deferred = 0
        self.push_s = 0.0
        self.pull_rounds = 0
        self.pull_batches = 0
        self.pull_applied = 0
        self.pull_skipped = 0
        self.pull_s = 0.0
        self.served_batches = 0
        self.served_changes = 0
        self.serve_s = 0.0
        self.busy = 0
        self.errors = 0
        self.last_error = ""
        #: wall-clock time of the last commit that applied foreign changes (convergence instant)
        self.last_apply_at = 0.0

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {k: v for k, v in vars(self).items() if k != "lock"}


def instrumented_protocol(counters: Counters) -> types.ModuleType:
    """The real protocol module with ``handle`` and ``pull`` counted (everything else as is)."""
    mod = types.ModuleType("vaultsync.sync.protocol_counted")
    mod.__dict__.update({k: v for k, v in vars(real_protocol).items() if not k.startswith("__")})
    inner_handle = real_protocol.handle
    inner_pull = real_protocol.pull

    def handle(store: Store, kind: str, payload: dict[str, Any], *, peer_node: str | None = None) -> Any:
        t0 = time.perf_counter()
        try:
            reply = inner_handle(store, kind, payload, peer_node=peer_node)
        except OperationalError:
            with counters.lock:
                counters.busy += 1
            raise
        dt = time.perf_counter() - t0
        with counters.lock:
            if kind == "push":
                counters.push_calls += 1
                counters.push_applied += int(reply.get("applied", 0))
                counters.push_skipped += int(reply.get("skipped", 0))
                counters.push_deferred += int(reply.get("deferred", 0))
                counters.push_s += dt
                if reply.get("applied"):
                    counters.last_apply_at = time.time()
            elif kind == "changes":
                counters.served_batches += 1
                counters.served_changes += len(reply.get("changes") or ())
                counters.serve_s += dt
        return reply

    def pull(store: Store, call: Any, *, batch: int = 5000) -> Any:
        t0 = time.perf_counter()
        try:
            result = inner_pull(store, call, batch=batch)
        except OperationalError:
            with counters.lock:
                counters.busy += 1
            raise
        dt = time.perf_counter() - t0
        with counters.lock:
            counters.pull_rounds += 1
            counters.pull_batches += result.batches
            counters.pull_applied += result.applied
            counters.pull_skipped += result.skipped
            counters.pull_s += dt
            if result.applied:
                counters.last_apply_at = time.time()
        return result

    mod.handle = handle  # type: ignore[attr-defined]
    mod.pull = pull  # type: ignore[attr-defined]
    return mod


class Worker:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out_lock = threading.Lock()
        self.counters = Counters()
        self.store = open_store(f"sqlite:///{Path(args.dir) / 'vaultsync.db'}")
        self.node = SyncNode(
            self.store,
            pki.load_identity(Path(args.dir), node_id=self.store.node_id),
            host="127.0.0.1",
            port=args.port,
            static_peers=list(args.peer),
            zeroconf=False,
            interval=args.interval,
            pairing_port=args.pairing_port or None,
            workers=args.workers,
            protocol=instrumented_protocol(self.counters),
            compact_interval=0,
        )
        self.sold = 0
        self.first_sale_at = 0.0
        self.last_sale_at = 0.0
        self.sale_ms_max = 0.0
        self.sale_ms_sum = 0.0
        #: how far behind its schedule the register fell at worst (the database was busy)
        self.late_ms_max = 0.0
        self.selling = False
        #: register steps that waited out the busy timeout behind replication writes (retried)
        self.register_locked = 0
        self.sell_error = ""
        self.register: tuple[CheckoutService, str] | None = None
        self.stop = threading.Event()

    # -- output --------------------------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, "node": self.store.node_id, **fields})
        with self.out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def status(self) -> dict[str, Any]:
        node = self.node
        wire = 0
        if node.server is not None:
            wire += node.server.stats.bytes_in + node.server.stats.bytes_out
        links = list(node._links.values())
        for link in links:
            wire += link.client.bytes_in + link.client.bytes_out
        cpu = os.times()
        return {
            "t": time.time(),
            "clock": vector_clock(self.store),
            "sold": self.sold,
            "selling": self.selling,
            "first_sale_at": self.first_sale_at,
            "last_sale_at": self.last_sale_at,
            "sale_ms_avg": self.sale_ms_sum / self.sold if self.sold else 0.0,
            "sale_ms_max": self.sale_ms_max,
            "late_ms_max": self.late_ms_max,
            "sell_error": self.sell_error,
            "register_locked": self.register_locked,
            "wire_bytes": wire,
            "links": len(links),
            "links_ready": sum(1 for link in links if link.state.ready),
            "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "cpu_s": cpu.user + cpu.system,
            "grouped": group_merge.grouped_merges(self.store),
            **self.counters.as_dict(),
        }

    def _status_loop(self) -> None:
        while not self.stop.wait(self.args.status_s):
            try:
                self.emit("status", **self.status())
            except Exception as exc:  # a busy database must not kill the reporter
                self.emit("warning", message=f"status failed: {exc}")

    # -- commands ------------------------------------------------------------------------

    def open_register(self, cashier_id: str) -> None:
        auth = AuthService(self.store)
        cashier = auth.get(cashier_id)
        with self.store.uow() as uow:
            station = Station(
                name=f"Register {self.args.index}",
                role="cashier",
                receipt_prefix=f"M{self.args.index:03d}",
                has_drawer=True,
            )
            uow.add(station)
            uow.flush()
            uow.add(Shift(station_id=station.id, opened_by=cashier.id, opening_float_cents=0))
            station_id = station.id
        self.cashier = cashier
        self.register = (CheckoutService(self.store, auth, ShopService(self.store)), station_id)

    def sell(self, sales: int, pace_ms: float, start_at: float, sku_id: str) -> None:
        """Ring up ``sales`` sales on a fixed schedule (a late sale does not shift the next ones)."""
        assert self.register is not None
        checkout, station_id = self.register
        self.selling = True
        try:
            for k in range(sales):
                due = start_at + k * pace_ms / 1000
                wait = due - time.time()
                if wait > 0 and self.stop.wait(wait):
                    return
                self.late_ms_max = max(self.late_ms_max, -wait * 1000)
                t0 = time.perf_counter()
                self._sell_one(checkout, station_id, sku_id, f"mesh-{self.args.index}-{k}")
                ms = (time.perf_counter() - t0) * 1000
                now = time.time()
                if not self.sold:
                    self.first_sale_at = now
                self.sold += 1
                self.last_sale_at = now
                self.sale_ms_sum += ms
                self.sale_ms_max = max(self.sale_ms_max, ms)
        except Exception as exc:
            self.sell_error = f"{type(exc).__name__}: {exc}"
            logging.getLogger(__name__).exception("selling failed")
        finally:
            self.selling = False
            self.emit("sold", **self.status())

    def _sell_one(self, checkout: CheckoutService, station_id: str, sku_id: str, request: str) -> None:
        """One sale as the register does it: new cart, scan the SKU, take cash (three commits)."""
        cart = self._retry(lambda: checkout.new_cart(actor=self.cashier, station_id=station_id))
        view = self._retry(lambda: checkout.add_sku(cart.id, sku_id, 1, actor=self.cashier))
        self._retry(
            lambda: checkout.complete(
                cart.id,
                [TenderInput(Tender.CASH, view.total_cents)],
                actor=self.cashier,
                client_request_id=request,
            )
        )

    def _retry(self, step: Any, attempts: int = 5) -> Any:
        """Run one register step; a database locked past its busy timeout is retried (counted).

        A cashier whose tap failed taps again; the benchmark does the same and reports how
        often the register waited out the whole busy timeout behind replication writes.
        """
        for attempt in range(attempts):
            try:
                return step()
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or attempt == attempts - 1:
                    raise
                self.register_locked += 1
        raise AssertionError("unreachable")

    def digest(self) -> dict[str, Any]:
        reply = real_protocol.handle(self.store, "digest", {})
        return {
            "digest": reply["digest"],
            "rows": {name: t["rows"] for name, t in reply["tables"].items()},
            "clock": vector_clock(self.store),
        }

    def run(self) -> None:
        self.node.start()
        self.emit("ready", port=self.node.port)
        threading.Thread(target=self._status_loop, name="mesh-status", daemon=True).start()
        seller: threading.Thread | None = None
        for line in sys.stdin:  # EOF: the coordinator is gone
            try:
                msg = json.loads(line)
                cmd = msg.get("cmd")
                if cmd == "open":
                    self.open_register(msg["cashier"])
                    self.emit("opened")
                elif cmd == "sell":
                    seller = threading.Thread(
                        target=self.sell,
                        args=(int(msg["sales"]), float(msg["pace_ms"]), float(msg["start_at"]), msg["sku"]),
                        name="mesh-register",
                        daemon=True,
                    )
                    seller.start()
                elif cmd == "digest":
                    self.emit("digest", **self.digest())
                elif cmd == "stop":
                    break
                else:
                    self.emit("error", message=f"unknown command {cmd!r}")
            except Exception as exc:
                self.emit("error", message=f"{type(exc).__name__}: {exc}")
        self.stop.set()
        if seller is not None:
            seller.join(timeout=10)
        self.node.stop()
        self.store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one terminal of benchmarks.bench_mesh")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pairing-port", type=int, default=0)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--status-s", type=float, default=0.5)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    die_with_parent()
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Worker(args).run()


if __name__ == "__main__":
    main()
