"""Discovery on the real loopback interface with real zeroconf (multicast DNS) traffic."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf

from vaultsync.domain.errors import ValidationError
from vaultsync.domain.ids import new_node_id
from vaultsync.sync.discovery import SERVICE_TYPE, Discovery, PeerAddress, parse_static_peer, shop_hash

LOOPBACK = ["127.0.0.1"]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def make(shop: str, port: int, **kwargs: object) -> Discovery:
    return Discovery(
        node_id=new_node_id(),
        shop_id=shop,
        port=port,
        protocol_version=1,
        interfaces=LOOPBACK,
        advertise_addresses=LOOPBACK,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def started() -> Iterator[Callable[[Discovery], Discovery]]:
    running: list[Discovery] = []

    def start(d: Discovery) -> Discovery:
        d.start()
        running.append(d)
        return d

    yield start
    for d in running:
        d.stop()


def node_ids(d: Discovery) -> set[str]:
    return {p.node_id for p in d.peers() if p.source == "zeroconf"}


def test_terminals_of_one_shop_find_each_other_and_not_another_shop(
    started: Callable[[Discovery], Discovery],
) -> None:
    a = started(make("shop-1", 7401))
    b = started(make("shop-1", 7402))
    other = started(make("shop-2", 7403))
    assert a.status == "running"

    assert wait_for(lambda: node_ids(a) == {b.node_id} and node_ids(b) == {a.node_id})
    peer = next(p for p in a.peers() if p.node_id == b.node_id)
    assert peer == PeerAddress("127.0.0.1", 7402, b.node_id, "zeroconf", 1)
    assert peer.endpoint == "127.0.0.1:7402"
    # the other shop sees only itself: nothing
    time.sleep(0.5)
    assert node_ids(other) == set()
    assert other.node_id not in node_ids(a)


def test_a_stopped_terminal_disappears_and_listeners_hear_about_it(
    started: Callable[[Discovery], Discovery],
) -> None:
    views: list[set[str]] = []
    lock = threading.Lock()

    def on_change(peers: list[PeerAddress]) -> None:
        with lock:
            views.append({p.node_id for p in peers})

    a = started(make("shop-x", 7411, on_change=on_change))
    b = make("shop-x", 7412)
    b.start()
    try:
        assert wait_for(lambda: b.node_id in node_ids(a))
        with lock:
            assert any(b.node_id in v for v in views)
    finally:
        b.stop()  # unregisters: zeroconf sends a goodbye
    assert wait_for(lambda: node_ids(a) == set())
    with lock:
        assert views[-1] == set()


def test_malformed_and_foreign_advertisements_are_ignored(started: Callable[[Discovery], Discovery]) -> None:
    a = started(make("shop-m", 7421))
    zc = Zeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    good_node = new_node_id()
    def ad(name: str, port: int, properties: dict) -> ServiceInfo:
        return ServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", addresses=[socket.inet_aton("127.0.0.1")],
                           port=port, properties=properties, server=f"{name}.local.")

    ours = shop_hash("shop-m")
    infos = [
        ad("bad1", 7000, {"node": "NOT HEX!", "shop": ours, "proto": "1"}),  # garbage node id
        ad("bad2", 7000, {"node": new_node_id()}),  # no shop hash at all
        ad("bad3", 7000, {b"node": b"\xff\xfe", b"shop": b"\x00"}),  # binary junk in TXT values
        # one of ours, with a protocol version that is not a number: still a peer, version unknown
        ad("ok", 7009, {"node": good_node, "shop": ours, "proto": "x"}),
    ]
    try:
        for info in infos:
            zc.register_service(info)
        assert wait_for(lambda: good_node in node_ids(a))
        time.sleep(0.5)
        assert node_ids(a) == {good_node}
        assert next(p for p in a.peers() if p.node_id == good_node).protocol_version is None
    finally:
        zc.unregister_all_services()
        zc.close()


def test_static_peers_are_listed_beside_advertised_ones(started: Callable[[Discovery], Discovery]) -> None:
    d = started(make("shop-s", 7431, static_peers=["10.0.0.5:7400", "[::1]:7401", "till-2.local:7402"]))
    assert [(p.host, p.port, p.source, p.node_id) for p in d.peers()] == [
        ("10.0.0.5", 7400, "static", ""),
        ("::1", 7401, "static", ""),
        ("till-2.local", 7402, "static", ""),
    ]
    assert d.peers()[1].endpoint == "[::1]:7401"


def test_static_only_mode_needs_no_multicast() -> None:
    d = make("shop-s", 7441, static_peers=["192.168.1.9:7400"], advertise=False, browse=False)
    d.start()
    assert d.status == "off"
    assert [p.host for p in d.peers()] == ["192.168.1.9"]
    d.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.20:7400", ("192.168.1.20", 7400)),
        (" till-1:1 ", ("till-1", 1)),
        ("[fe80::1]:65535", ("fe80::1", 65535)),
    ],
)
def test_parse_static_peer(text: str, expected: tuple[str, int]) -> None:
    assert parse_static_peer(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "host", "host:", ":7400", "host:0", "host:65536", "host:-1", "host:74a0", "bad host:7400",
     "[::1:7400", "[nope]:7400", "1.2.3.4.5:7400", "a\x00b:7400", "ünï:7400"],
)
def test_parse_static_peer_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_static_peer(text)


def test_constructor_rejects_bad_identity_and_port() -> None:
    with pytest.raises(ValidationError):
        Discovery(node_id="XYZ", shop_id="s", port=7400, protocol_version=1)
    with pytest.raises(ValidationError):
        Discovery(node_id=new_node_id(), shop_id="s", port=0, protocol_version=1)
    with pytest.raises(ValidationError):
        Discovery(node_id=new_node_id(), shop_id="s", port=7400, protocol_version=1, static_peers=["nope"])
