"""Hypothesis state machine: several replicas, random writes, partitions and a faulty network.

Nodes are real SQLite database files in a temporary directory, as on a terminal (an
in-memory database shares one connection, so a read session opened inside a write — the
shop settings cache refreshing mid-sale — would collide on it). Links are a pluggable factory
(``tests.sync.links``): here :class:`~tests.sync.links.Faulty` drops requests and replies,
duplicates pushes and holds pushes back to deliver them later, reordered. Each step is one
of: a sale, a stock receipt, a price edit, a customer created / edited / deleted, a
partition or a heal, an anti-entropy pull over a link, a live push of a node's new changes,
or the delivery of held pushes.

After a final full heal every node must hold identical replicated state, no sale or receipt
may be lost (on-hand = initial - sales + receipts on every node), and every last-writer-wins
field must hold the write with the greatest (hlc, node) — for customers including whether
the row exists at all (an edit newer than a delete resurrects it).

:class:`ReplicationOverNng` runs the same machine over the real transport
(:class:`tests.sync.nng_links.NngMesh`): every request is a message on a mutual-TLS nng
socket on loopback, the faults are applied to those messages, a partition blocks the TCP
relay between two terminals (and a rule checks that a cut link really carries nothing),
and the final heal also travels over the sockets. Each example starts and stops its own
servers, clients and relays, and checks that none of them outlives it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import tempfile
import threading
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.links import Faulty, LinkFactory, direct
from tests.sync.nng_links import NngMesh, leaks
from tests.sync.test_apply import on_hand, second_register, sell, snapshot
from vaultsync.domain.errors import ConflictError
from vaultsync.services.checkout import CheckoutService
from vaultsync.store import Store, open_store
from vaultsync.store.models import Change, Customer, Sku, StockMovement
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.protocol import Call, PeerUnavailable, local_changes_after, pull, push_payload

Version = tuple[int, str]

#: CI runs a few hundred steps; VAULTSYNC_SM_EXAMPLES raises it for a soak run.
EXAMPLES = int(os.environ.get("VAULTSYNC_SM_EXAMPLES", "8"))
#: the real-transport variant: fewer examples (each starts 3-4 TLS servers and up to 12 links)
NNG_EXAMPLES = int(os.environ.get("VAULTSYNC_SM_NNG_EXAMPLES", "4"))


def last_version(store: Store, table: str, pk: str) -> Version:
    with store.read() as s:
        row = s.execute(
            select(Change.hlc, Change.origin_node)
            .where(Change.origin_node == store.node_id, Change.table_name == table, Change.pk == pk)
            .order_by(Change.seq.desc())
            .limit(1)
        ).one()
        return (int(row[0]), str(row[1]))


class Replication(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[Store] = []

    @initialize(n=st.integers(min_value=3, max_value=4), rng=st.randoms(use_true_random=False))
    def start(self, n: int, rng: random.Random) -> None:
        self.tmp = tempfile.mkdtemp(prefix="vs-sm-")
        self.nodes = [open_store(f"sqlite:///{self.tmp}/node{i}.db") for i in range(n)]
        inner = self.make_links()
        a = self.nodes[0]
        self.pos: Pos = build_pos(a)
        for other in self.nodes[1:]:
            pull(other, inner(other, a))
        self.registers: list[tuple[CheckoutService, str]] = [(self.pos.checkout, self.pos.station_id)]
        for i, node in enumerate(self.nodes[1:], start=2):
            self.registers.append(second_register(self.pos, node, f"T{i}"))
        self.skus = [self.pos.nm_id, self.pos.bulk_id, self.pos.slab_id]
        self.initial = {sku: on_hand(a, sku) for sku in self.skus}
        self.delta = dict.fromkeys(self.skus, 0)
        self.prices: dict[str, tuple[Version, int]] = {}
        self.customers: list[str] = []
        self.customer_writes: dict[str, list[tuple[Version, str, str | None]]] = {}
        self.down: set[frozenset[int]] = set()
        self.faulty = Faulty(rng, inner=inner)
        self.link: LinkFactory = self.faulty
        self.pushed = [0] * n
        self.requests = itertools.count()
        self.rng = rng

    def teardown(self) -> None:
        self.close_links()
        for node in self.nodes:
            node.close()
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ transport hooks

    def make_links(self) -> LinkFactory:
        """The link every message travels over (faults are injected on top of it)."""
        return direct

    def cut(self, i: int, j: int) -> None:
        """A partition between i and j (in process: the rules just stop using the link)."""

    def reconnect(self, i: int, j: int) -> None:
        """The partition between i and j is over."""

    def healed_link(self, x: Store, y: Store) -> Call:
        """The fault-free link of the final heal."""
        return direct(x, y)

    def close_links(self) -> None:
        """Stop whatever carries the links (before the databases close)."""

    # ------------------------------------------------------------------ helpers

    def up(self, i: int, j: int) -> bool:
        return frozenset((i, j)) not in self.down

    def _node(self, i: int) -> Store:
        return self.nodes[i % len(self.nodes)]

    # ------------------------------------------------------------------ local writes

    @rule(i=st.integers(0, 4), k=st.integers(0, 2))
    def sale(self, i: int, k: int) -> None:
        i %= len(self.nodes)
        checkout, station = self.registers[i]
        sku = self.skus[k]
        try:
            sell(checkout, self.pos, station, sku, f"sm-{next(self.requests)}")
        except ConflictError:  # out of stock as this terminal sees it: no sale
            return
        self.delta[sku] -= 1

    @rule(i=st.integers(0, 4), k=st.integers(0, 2), qty=st.integers(1, 3))
    def receive(self, i: int, k: int, qty: int) -> None:
        node = self._node(i)
        with node.uow() as uow:
            uow.add(
                StockMovement(sku_id=self.skus[k], location_id=self.pos.case_id, delta=qty, reason="receive")
            )
        self.delta[self.skus[k]] += qty

    @rule(i=st.integers(0, 4), k=st.integers(0, 2), price=st.integers(1, 99_999))
    def edit_price(self, i: int, k: int, price: int) -> None:
        node = self._node(i)
        with node.uow() as uow:
            sku = uow.session.get(Sku, self.skus[k])
            assert sku is not None
            if sku.shelf_price_cents == price:
                return
            sku.shelf_price_cents = price
        version = last_version(node, "skus", self.skus[k])
        if self.skus[k] not in self.prices or version > self.prices[self.skus[k]][0]:
            self.prices[self.skus[k]] = (version, price)

    @rule(i=st.integers(0, 4), phone=st.sampled_from(["555-0100", "555-0101", "555-0102"]))
    def add_customer(self, i: int, phone: str) -> None:
        node = self._node(i)
        with node.uow() as uow:
            cust = Customer(first_name="Cust", last_name=str(len(self.customers)), phone=phone)
            uow.add(cust)
            uow.flush()
            cid = cust.id
        self.customers.append(cid)
        self.customer_writes[cid] = [(last_version(node, "customers", cid), "upsert", phone)]

    @precondition(lambda self: bool(self.customers))
    @rule(i=st.integers(0, 4), c=st.integers(0, 50), phone=st.sampled_from(["555-0200", "555-0201"]))
    def edit_customer(self, i: int, c: int, phone: str) -> None:
        node, cid = self._node(i), self.customers[c % len(self.customers)]
        with node.uow() as uow:
            cust = uow.session.get(Customer, cid)
            if cust is None or cust.phone == phone:
                return
            cust.phone = phone
        self.customer_writes[cid].append((last_version(node, "customers", cid), "upsert", phone))

    @precondition(lambda self: bool(self.customers))
    @rule(i=st.integers(0, 4), c=st.integers(0, 50))
    def delete_customer(self, i: int, c: int) -> None:
        node, cid = self._node(i), self.customers[c % len(self.customers)]
        with node.uow() as uow:
            cust = uow.session.get(Customer, cid)
            if cust is None:
                return
            uow.session.delete(cust)
        self.customer_writes[cid].append((last_version(node, "customers", cid), "delete", None))

    # ------------------------------------------------------------------ network

    @rule(i=st.integers(0, 4), j=st.integers(0, 4))
    def partition(self, i: int, j: int) -> None:
        i, j = i % len(self.nodes), j % len(self.nodes)
        if i != j:
            self.down.add(frozenset((i, j)))
            self.cut(i, j)

    @rule(i=st.integers(0, 4), j=st.integers(0, 4))
    def heal_link(self, i: int, j: int) -> None:
        i, j = i % len(self.nodes), j % len(self.nodes)
        if frozenset((i, j)) in self.down:
            self.down.discard(frozenset((i, j)))
            self.reconnect(i, j)

    @rule(i=st.integers(0, 4), j=st.integers(0, 4), batch=st.sampled_from([3, 50, 5000]))
    def anti_entropy(self, i: int, j: int, batch: int) -> None:
        i, j = i % len(self.nodes), j % len(self.nodes)
        if i == j or not self.up(i, j):
            return
        with contextlib.suppress(PeerUnavailable):
            pull(self.nodes[i], self.link(self.nodes[i], self.nodes[j]), batch=batch)

    @rule(i=st.integers(0, 4))
    def live_push(self, i: int) -> None:
        i %= len(self.nodes)
        node = self.nodes[i]
        news = local_changes_after(node, self.pushed[i], limit=200)
        if not news:
            return
        for j, peer in enumerate(self.nodes):
            if j != i and self.up(i, j):
                with contextlib.suppress(PeerUnavailable):
                    self.link(node, peer)("push", push_payload(news))
        self.pushed[i] = news[-1].seq  # sent once; anti-entropy repairs what got lost

    @rule()
    def deliver_held(self) -> None:
        index = {id(n): k for k, n in enumerate(self.nodes)}
        self.faulty.deliver_held(lambda x, y: self.up(index[id(x)], index[id(y)]))

    # ------------------------------------------------------------------ checks

    @invariant()
    def ledgers_are_never_lost_locally(self) -> None:
        if not self.nodes:
            return
        # every node's on-hand is its own view, but never below what the ledger it holds says
        for node in self.nodes:
            with node.read() as s:
                movements = s.execute(select(StockMovement.sku_id, StockMovement.delta)).all()
            for sku in self.skus:
                assert on_hand(node, sku) == sum(d for k, d in movements if k == sku)

    def teardown_checks(self) -> None:
        for pair in list(self.down):
            i, j = sorted(pair)
            self.reconnect(i, j)
        self.down.clear()
        self.faulty.deliver_held(lambda x, y: True)
        for _ in range(6):  # alerts and collision renames are new writes: heal until quiet
            moved = 0
            for x in self.nodes:
                for y in self.nodes:
                    if x is not y:
                        moved += pull(x, self.healed_link(x, y)).applied
            if not moved:
                break
        else:
            raise AssertionError("the mesh did not settle")
        first = snapshot(self.nodes[0])
        for node in self.nodes[1:]:
            assert snapshot(node) == first
        for node in self.nodes:
            for sku in self.skus:
                assert on_hand(node, sku) == self.initial[sku] + self.delta[sku]
            with node.read() as s:
                for sku, (_, price) in self.prices.items():
                    got = s.get(Sku, sku)
                    assert got is not None and got.shelf_price_cents == price
                for cid, writes in self.customer_writes.items():
                    upserts = [w for w in writes if w[1] == "upsert"]
                    deletes = [w for w in writes if w[1] == "delete"]
                    newest_upsert = max(upserts)
                    alive = not deletes or newest_upsert[0] > max(deletes)[0]
                    row: Any = s.get(Customer, cid)
                    assert (row is not None) == alive, cid
                    if alive:
                        assert row.phone == newest_upsert[2]


class ReplicationChecked(Replication):
    def teardown(self) -> None:
        try:
            if self.nodes:
                self.teardown_checks()
        finally:
            super().teardown()


def machine_settings(examples: int, steps: int) -> settings:
    """Settings of the replication machines: no deadline (a step may fsync or start TLS)."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


ReplicationChecked.TestCase.settings = machine_settings(EXAMPLES, 30)
test_replication_converges = ReplicationChecked.TestCase


class ReplicationOverNng(ReplicationChecked):
    """The same machine, every message on a real mutual-TLS nng socket on loopback."""

    net: NngMesh | None = None

    def make_links(self) -> LinkFactory:
        self.threads_before = set(threading.enumerate())
        self.net = NngMesh(self.nodes)
        self.ports = self.net.ports()
        return self.net.link

    def cut(self, i: int, j: int) -> None:
        assert self.net is not None
        self.net.cut(i, j)

    def reconnect(self, i: int, j: int) -> None:
        assert self.net is not None
        self.net.heal(i, j)

    def healed_link(self, x: Store, y: Store) -> Call:
        assert self.net is not None
        return self.net.link(x, y)

    @precondition(lambda self: bool(self.down))
    @rule(pick=st.integers(0, 50), forward=st.booleans())
    def cut_link_carries_nothing(self, pick: int, forward: bool) -> None:
        """A push across a partition fails and reaches nothing: the cut is a real one."""
        assert self.net is not None
        i, j = sorted(sorted(self.down, key=sorted)[pick % len(self.down)])
        if not forward:
            i, j = j, i
        caller, peer = self.nodes[i], self.nodes[j]
        news = local_changes_after(caller, max(0, vector_clock(caller)[caller.node_id] - 3))
        before = vector_clock(peer)
        served = self.net.servers[j].stats.requests
        try:
            self.net.probe(caller, peer, "push", push_payload(news), timeout_ms=200)
        except PeerUnavailable:
            pass
        else:
            raise AssertionError(f"a push from {i} to {j} crossed a partition")
        assert vector_clock(peer) == before
        assert self.net.servers[j].stats.requests == served
        self.faulty.stats["probed cut"] = self.faulty.stats.get("probed cut", 0) + 1

    def close_links(self) -> None:
        if self.net is None:
            return
        net, self.net = self.net, None
        ports = self.ports + net.ports()
        if os.environ.get("VAULTSYNC_SM_TRACE"):
            print("nng:", [s.stats.by_kind for s in net.servers], self.faulty.stats, len(net.proxies))
        net.close()
        left = leaks(ports, self.threads_before)
        assert not left, f"the example left these behind: {left}"


ReplicationOverNng.TestCase.settings = machine_settings(NNG_EXAMPLES, 25)
test_replication_converges_over_nng = ReplicationOverNng.TestCase
