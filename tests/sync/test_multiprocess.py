"""Three ``vaultsync serve`` processes on loopback with real mutual TLS: partition, heal, SIGKILL.

The shop is set up the way a person would do it: ``shop init`` on the first terminal,
``pair`` there and ``join`` on the other two. Each terminal dials its peers through a
TCP relay the test can cut (a network partition). Sales are rung up through the
checkout service on each terminal's own database (as its register would) while the
terminals cannot reach each other; after the partition heals all three converge. Then
one terminal is killed with SIGKILL while it is catching up and restarted: nothing is
lost, nothing is duplicated, every replica ends identical.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.net_helpers import free_port
from tests.sync.tcp_proxy import TcpProxy
from vaultsync.domain.enums import Tender
from vaultsync.services.auth import AuthService
from vaultsync.services.checkout import CheckoutService, TenderInput
from vaultsync.services.shop import ShopService
from vaultsync.store import Store, capture, open_store
from vaultsync.store.base import replicated_tables
from vaultsync.store.models import Shift, Station, StockLevel, StockMovement, Transaction
from vaultsync.sync import pairing
from vaultsync.sync.apply import vector_clock

EXE = [sys.executable, "-m", "vaultsync.cli"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {
    "VAULTSYNC_HASH_PROFILE": "test",
    "VAULTSYNC_LOG_LEVEL": "INFO",
}


def cli(*args: str) -> str:
    out = subprocess.run([*EXE, *args], env=ENV, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"vaultsync {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


class Terminal:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        self.ui_port = free_port()
        self.sync_port = free_port()
        self.peers: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "serve.log"
        self._log_from = 0

    @property
    def db(self) -> str:
        return f"sqlite:///{self.dir / 'vaultsync.db'}"

    def start(self) -> None:
        self.launch()
        self.wait_started()

    def launch(self) -> None:
        args = [
            "serve", "--data-dir", str(self.dir), "--host", "127.0.0.1", "--port", str(self.ui_port),
            "--sync-host", "127.0.0.1", "--sync-port", str(self.sync_port), "--no-zeroconf",
            "--no-peer-learning", "--sync-interval", "0.5",
        ]  # fmt: skip
        for p in self.peers:
            args += ["--peer", f"127.0.0.1:{p}"]
        self._log_from = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen([*EXE, *args], stdout=fh, stderr=subprocess.STDOUT, env=ENV)

    def wait_started(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.output()}"
            if "sync: node" in self.log.read_text(errors="replace")[self._log_from :]:
                return
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not start its sync node:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def wait_for(cond: Callable[[], bool], timeout: float, why: Callable[[], str] = lambda: "") -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s {why()}")


def clocks(stores: list[Store]) -> list[dict[str, int]]:
    return [{o: n for o, n in vector_clock(s).items() if n} for s in stores]


def converged(stores: list[Store]) -> bool:
    cs = clocks(stores)
    return all(c == cs[0] for c in cs[1:])


def snapshot(store: Store) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    with store.read() as s:
        for model in replicated_tables().values():
            table = model.__table__  # type: ignore[attr-defined]
            out[table.name] = sorted((tuple(r) for r in s.execute(select(table))), key=repr)
        out["stock_levels"] = sorted(s.execute(select(StockLevel.__table__)).all(), key=repr)  # type: ignore[arg-type]
    return out


class Register:
    """Rings up sales on one terminal's database with its own station and shift."""

    def __init__(self, pos: Pos, store: Store, prefix: str) -> None:
        self.pos = pos
        with store.uow() as uow:
            station = Station(
                name=f"Register {prefix}", role="cashier", receipt_prefix=prefix, has_drawer=True
            )
            uow.add(station)
            uow.flush()
            uow.add(Shift(station_id=station.id, opened_by=pos.cashier.id, opening_float_cents=0))
            self.station_id = station.id
        self.checkout = CheckoutService(store, AuthService(store), ShopService(store))
        self.sold = 0

    def sell(self, n: int = 1) -> None:
        for _ in range(n):
            cart = self.checkout.new_cart(actor=self.pos.cashier, station_id=self.station_id)
            view = self.checkout.add_sku(cart.id, self.pos.bulk_id, 1, actor=self.pos.cashier)
            self.checkout.complete(
                cart.id,
                [TenderInput(Tender.CASH, view.total_cents)],
                actor=self.pos.cashier,
                client_request_id=f"{self.station_id}-{self.sold}",
            )
            self.sold += 1


@pytest.fixture
def shop() -> Iterator[tuple[list[Terminal], dict[tuple[int, int], TcpProxy]]]:
    root = Path(tempfile.mkdtemp(prefix="vaultsync-mp-"))
    terms = [Terminal(n, root) for n in ("a", "b", "c")]
    proxies: dict[tuple[int, int], TcpProxy] = {}
    for i, t in enumerate(terms):
        for j, u in enumerate(terms):
            if i != j:
                proxies[(i, j)] = TcpProxy(u.sync_port)
                t.peers.append(proxies[(i, j)].port)
    try:
        yield terms, proxies
    finally:
        for t in terms:
            t.kill(signal.SIGTERM)
        for p in proxies.values():
            p.close()


def partition(proxies: dict[tuple[int, int], TcpProxy], on: bool) -> None:
    for p in proxies.values():
        if on:
            p.block()
        else:
            p.unblock()


def test_partition_heal_and_sigkill_mid_sync(
    shop: tuple[list[Terminal], dict[tuple[int, int], TcpProxy]],
) -> None:
    terms, proxies = shop
    a, b, c = terms
    t0 = time.monotonic()

    def T(what: str) -> None:
        print(f"{time.monotonic() - t0:6.1f}s {what}")

    # -- set up the shop: first terminal, pairing, joining (the CLI a person would use)
    cli("shop", "init", "--data-dir", str(a.dir), "--name", "Card Castle")
    store_a = open_store(a.db)
    pos = build_pos(store_a)
    T("init+pos")
    a.start()
    T("a started")
    # b gets its code from `vaultsync pair`, c from the service the manager screen uses
    codes = [
        json.loads(cli("pair", "--data-dir", str(a.dir), "--json"))["code"],
        pairing.create_code(store_a).code,
    ]
    T("pair")
    joins = [
        subprocess.Popen(
            [*EXE, "join", f"127.0.0.1:{a.sync_port + 1}", code, "--data-dir", str(t.dir), "--name", t.name],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for t, code in zip((b, c), codes, strict=True)
    ]
    for proc in joins:
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0 and "joined shop" in out, out
    T("joined")
    stores = [store_a, open_store(b.db), open_store(c.db)]
    try:
        for t in (b, c):
            t.launch()
        for t in (b, c):
            t.wait_started()
        T("b, c started")
        wait_for(
            lambda: converged(stores),
            20,
            lambda: f"{clocks(stores)}\n" + "\n".join(t.output() for t in terms),
        )
        registers = [Register(pos, s, p) for s, p in zip(stores, ("TA", "TB", "TC"), strict=True)]
        wait_for(lambda: converged(stores), 20)

        # -- partitioned: every terminal keeps selling, nobody hears of the others' sales
        partition(proxies, True)
        for r in registers:
            r.sell(3)
        time.sleep(1.5)  # three anti-entropy intervals
        for i, s in enumerate(stores):
            for j, other in enumerate(stores):
                if i != j:
                    assert vector_clock(s).get(other.node_id, 0) < vector_clock(other)[other.node_id]

        # -- healed: all three converge within seconds
        partition(proxies, False)
        T("partitioned sales")
        healed_in = wait_for(lambda: converged(stores), 20)
        T(f"healed in {healed_in:.1f}s")
        assert healed_in < 15

        # -- SIGKILL mid-sync: c is cut off while a sells a lot, then killed while it catches up
        for p in ((0, 2), (1, 2), (2, 0), (2, 1)):
            proxies[p].block()
        registers[0].sell(5)
        registers[1].sell(5)
        # a delivery of 10,000 single copies: c needs ten batches or more, so the kill lands
        # between two of them even when this process is slow to notice the first (the merge
        # applies a batch in tens of milliseconds; 3,000 left too narrow a window under load)
        received = 10_000
        with stores[0].uow() as uow:
            capture.bulk_insert(
                uow.session,
                StockMovement,
                [{"sku_id": pos.bulk_id, "location_id": pos.case_id, "delta": 1, "reason": "receive"}]
                * received,
            )
        target = vector_clock(stores[0])[stores[0].node_id]
        before = vector_clock(stores[2]).get(stores[0].node_id, 0)
        for p in ((0, 2), (1, 2), (2, 0), (2, 1)):
            proxies[p].unblock()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and vector_clock(stores[2]).get(stores[0].node_id, 0) == before:
            time.sleep(0.005)
        c.kill(signal.SIGKILL)
        mid = vector_clock(stores[2]).get(stores[0].node_id, 0)
        assert before < mid < target, "the kill should land between two applied batches"
        stores[2].close()
        stores[2] = open_store(c.db)  # what the restarted process will find: a consistent database
        T(f"killed c at {mid}/{target} (from {before})")
        c.start()
        T("c restarted")
        wait_for(lambda: converged(stores), 30)
        T("converged")

        # -- nothing lost, nothing duplicated, all replicas identical
        total = sum(r.sold for r in registers)
        for s in stores:
            with s.read() as session:
                sales = session.scalar(select(func.count()).select_from(Transaction))
                on_hand = session.scalar(
                    select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id == pos.bulk_id)
                )
            assert sales == total
            assert on_hand == 1000 + received - total
        first = snapshot(stores[0])
        assert snapshot(stores[1]) == first
        assert snapshot(stores[2]) == first
    finally:
        for s in stores:
            s.close()
