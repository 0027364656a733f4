"""Sync nodes over real mutual-TLS sockets on loopback: pairing, live push, anti-entropy, revocation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.net_helpers import free_port
from vaultsync.domain.enums import Tender
from vaultsync.services.checkout import TenderInput
from vaultsync.store import Store, open_store
from vaultsync.store.models import Node, PeerLink
from vaultsync.store.types import utcnow
from vaultsync.sync import pairing
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.node import SyncNode


def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Mesh:
    """Terminals of one shop, each a store + data dir + SyncNode on loopback."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.stores: list[Store] = []
        self.nodes: list[SyncNode] = []
        self.ports: list[int] = []

    def terminal(self, name: str, peers: list[int], *, interval: float = 0.5) -> SyncNode:
        d = self.tmp / name
        d.mkdir()
        store = open_store(f"sqlite:///{d / 'vaultsync.db'}")
        self.stores.append(store)
        if not self.nodes:
            ident = pairing.init_shop(store, d, name="Card Castle")
        else:
            first = self.nodes[0]
            assert first.pairing_port is not None
            code = pairing.create_code(first.store)
            ident = pairing.join(store, d, "127.0.0.1", first.pairing_port, code.code, name=name).identity
        port = free_port()
        node = SyncNode(
            store,
            ident,
            host="127.0.0.1",
            port=port,
            static_peers=[f"127.0.0.1:{p}" for p in peers],
            zeroconf=False,
            interval=interval,
            pairing_port=free_port(),
        )
        node.start()
        self.nodes.append(node)
        self.ports.append(port)
        return node

    def close(self) -> None:
        for n in self.nodes:
            n.stop()
        for s in self.stores:
            s.close()


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    m = Mesh(tmp_path)
    yield m
    m.close()


def caught_up(a: Store, b: Store) -> bool:
    """b holds everything a holds."""
    ca, cb = vector_clock(a), vector_clock(b)
    return all(cb.get(o, 0) >= s for o, s in ca.items())


def sell(pos: Pos, request: str) -> None:
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    view = pos.checkout.add_sku(cart.id, pos.bulk_id, 1, actor=pos.cashier)
    pos.checkout.complete(
        cart.id, [TenderInput(Tender.CASH, view.total_cents)], actor=pos.cashier, client_request_id=request
    )


def test_a_sale_is_pushed_to_a_connected_peer_at_once(mesh: Mesh) -> None:
    # anti-entropy is 1 h away from the start (a round already under way when the interval
    # changed could otherwise deliver the sale first), so only live push can deliver in time
    a = mesh.terminal("a", [], interval=3600)
    b = mesh.terminal("b", [mesh.ports[0]], interval=3600)
    pos = build_pos(a.store)
    assert wait_for(lambda: caught_up(a.store, b.store))
    assert wait_for(lambda: any(p.ready for p in a.links()))  # a dialled back after b announced itself
    pulled_before = sum(p.pulled for p in b.links())
    sell(pos, "live-1")
    assert wait_for(lambda: caught_up(a.store, b.store), timeout=3.0)
    # b commits the pushed sale before a has read b's reply: wait for a to count the push
    assert wait_for(lambda: any(p.pushes for p in a.links()), timeout=5.0)
    assert sum(p.pulled for p in b.links()) == pulled_before  # b did not fetch it itself


def test_a_peer_that_was_down_catches_up_by_anti_entropy(mesh: Mesh) -> None:
    a = mesh.terminal("a", [])
    b = mesh.terminal("b", [mesh.ports[0]])
    pos = build_pos(a.store)
    assert wait_for(lambda: caught_up(a.store, b.store))
    b.stop()
    for i in range(5):
        sell(pos, f"offline-{i}")
    assert not caught_up(a.store, b.store)
    b2 = SyncNode(
        b.store,
        b.identity,
        host="127.0.0.1",
        port=mesh.ports[1],
        static_peers=[f"127.0.0.1:{mesh.ports[0]}"],
        zeroconf=False,
        interval=0.5,
    )
    mesh.nodes[1] = b2
    b2.start()
    assert wait_for(lambda: caught_up(a.store, b2.store))
    status = b2.status()
    assert status["peers"][0]["node_id"] == a.store.node_id and status["peers"][0]["online"]


def test_three_terminals_converge_and_a_revocation_shuts_one_out(mesh: Mesh) -> None:
    a = mesh.terminal("a", [])
    b = mesh.terminal("b", [mesh.ports[0]])
    c = mesh.terminal("c", [mesh.ports[0], mesh.ports[1]])
    build_pos(a.store)
    assert wait_for(lambda: caught_up(a.store, b.store) and caught_up(a.store, c.store))
    # revoke c on a; the replicated row reaches b, and both refuse c from then on
    with a.store.uow() as uow:
        row = uow.session.get(Node, c.store.node_id)
        assert row is not None
        row.revoked_at = utcnow()
    a.revoked_changed()
    assert wait_for(lambda: c.store.node_id in b.trust.revoked())
    assert wait_for(
        lambda: all(not p.ready for p in c.links()) and c.store.node_id not in a.server.connected_nodes()  # type: ignore[union-attr]
    )
    # c's new writes reach nobody
    with c.store.uow() as uow:
        uow.add(Node(node_id="00000000000000ff", name="forged"))
    time.sleep(1.5)
    with a.store.read() as s:
        assert s.get(Node, "00000000000000ff") is None
    with b.store.read() as s:
        assert s.get(Node, "00000000000000ff") is None


def test_terminals_found_by_zeroconf_sync_without_any_static_peer(tmp_path: Path) -> None:
    """Discovery (lead's zeroconf module) on loopback feeds the links: no --peer given anywhere."""
    dirs = [tmp_path / n for n in ("a", "b")]
    stores = []
    nodes = []
    try:
        for i, d in enumerate(dirs):
            d.mkdir()
            store = open_store(f"sqlite:///{d / 'vaultsync.db'}")
            stores.append(store)
            if i == 0:
                ident = pairing.init_shop(store, d, name="Card Castle")
            else:
                code = pairing.create_code(stores[0])
                assert nodes[0].pairing_port is not None
                ident = pairing.join(
                    store, d, "127.0.0.1", nodes[0].pairing_port, code.code, name="b"
                ).identity
            node = SyncNode(
                store,
                ident,
                host="127.0.0.1",
                port=free_port(),
                zeroconf=True,
                zeroconf_interfaces=["127.0.0.1"],
                advertise_addresses=["127.0.0.1"],
                interval=0.5,
                pairing_port=free_port(),
            )
            node.start()
            nodes.append(node)
        build_pos(stores[0])
        assert wait_for(lambda: caught_up(stores[0], stores[1]), timeout=20)
        sources = {p.source for n in nodes for p in n.links()}
        assert "zeroconf" in sources
    finally:
        for n in nodes:
            n.stop()
        for s in stores:
            s.close()


def change_count(store: Store) -> int:
    from sqlalchemy import func, select

    from vaultsync.store.models import Change

    with store.read() as s:
        return int(s.scalar(select(func.count()).select_from(Change)) or 0)


def test_compaction_drops_what_every_peer_holds_and_a_later_terminal_still_converges(mesh: Mesh) -> None:
    from tests.sync.test_apply import on_hand

    a = mesh.terminal("a", [])
    b = mesh.terminal("b", [mesh.ports[0]])
    pos = build_pos(a.store)
    for i in range(3):
        sell(pos, f"before-compaction-{i}")
    assert wait_for(lambda: caught_up(a.store, b.store) and caught_up(b.store, a.store))
    # a's view of b's clock must have caught up too (hello, push and "changes" replies carry
    # it): b may have pulled a's sales itself, and a only learns that on its next round
    mine = vector_clock(a.store)[a.store.node_id]

    def b_acknowledged_all_of_a() -> bool:
        ready = [p for p in a.links() if p.ready]
        return bool(ready) and all(int(p.clock.get(a.store.node_id, 0)) >= mine for p in ready)

    assert wait_for(b_acknowledged_all_of_a)
    before = change_count(a.store)

    result = a.compact_now()
    assert result is not None and not result.waiting_for
    assert result.dropped > 0
    assert change_count(a.store) == before - result.dropped

    # business after compaction still flows, and a terminal paired afterwards gets everything
    sell(pos, "after-compaction")
    c = mesh.terminal("c", [mesh.ports[0]])
    assert wait_for(lambda: caught_up(a.store, c.store) and caught_up(a.store, b.store), timeout=40)
    assert on_hand(c.store, pos.bulk_id) == on_hand(a.store, pos.bulk_id) == on_hand(b.store, pos.bulk_id)

    # a terminal that is paired but has never reported its clock holds compaction back
    d_dir = mesh.tmp / "d"
    d_dir.mkdir()
    d_store = open_store(f"sqlite:///{d_dir / 'vaultsync.db'}")
    mesh.stores.append(d_store)
    assert a.pairing_port is not None
    code = pairing.create_code(a.store)
    pairing.join(d_store, d_dir, "127.0.0.1", a.pairing_port, code.code, name="d")
    sell(pos, "while-d-is-silent")
    held = a.compact_now()
    assert held is not None
    assert d_store.node_id in held.waiting_for
    assert held.dropped == 0


def test_peer_state_is_mirrored_on_change_not_on_every_round(mesh: Mesh) -> None:
    a = mesh.terminal("a", [])
    b = mesh.terminal("b", [mesh.ports[0]], interval=0.2)
    build_pos(a.store)
    assert wait_for(lambda: caught_up(a.store, b.store))

    def mirrored() -> PeerLink | None:
        with b.store.read() as s:
            return s.get(PeerLink, a.store.node_id)

    assert wait_for(lambda: (row := mirrored()) is not None and row.last_seen_at is not None)
    first = mirrored()
    assert first is not None
    time.sleep(1.5)  # several idle rounds: nothing changed, nothing rewritten
    again = mirrored()
    assert again is not None and again.last_seen_at == first.last_seen_at
    b.stop()  # the last state outlives the process, for `vaultsync sync status` and compaction
    last = mirrored()
    assert last is not None and last.last_seen_at is not None and first.last_seen_at is not None
    assert last.last_seen_at > first.last_seen_at
    assert dict(last.last_clock or {}) == vector_clock(a.store)
