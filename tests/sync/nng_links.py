"""Real-transport links for the replication tests: mutual TLS over nng on loopback, cuttable.

:class:`NngMesh` gives every store of a test its own :class:`~vaultsync.sync.transport.Server`
(``tls+tcp`` on 127.0.0.1, certificate of one shop CA, CN = the store's node id) answering
through :func:`~vaultsync.sync.protocol.handle`, and every directed pair (caller → peer) its
own :class:`~vaultsync.sync.transport.Client` that dials the peer through a
:class:`~tests.sync.tcp_proxy.TcpProxy`. :meth:`NngMesh.cut` blocks both proxies of a pair
(the TCP connections are dropped and new ones refused: a real partition, calls fail with
``PeerUnavailable``); :meth:`NngMesh.heal` lets them through again and redials at once (nng's
own reconnect back-off would otherwise keep a healed link down for seconds).

:meth:`NngMesh.link` is a :data:`~tests.sync.links.LinkFactory`, so it plugs into
:class:`~tests.sync.links.Faulty` as the inner link. :meth:`NngMesh.close` stops every
server, client and proxy; :func:`leaks` tells a test what is still running afterwards.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence

from tests.sync.net_helpers import identity, new_shop
from tests.sync.tcp_proxy import TcpProxy
from vaultsync.store import Store
from vaultsync.sync import transport
from vaultsync.sync.pki import Identity
from vaultsync.sync.protocol import Call, Payload, PeerUnavailable, ProtocolError, handle

#: generous: a pull applies its batch inside the peer's request on a loaded 2-core machine
CALL_TIMEOUT_MS = 10_000
#: how long a freshly (re)dialled link may take to finish its TLS handshake
CONNECT_TIMEOUT = 10.0


class NngMesh:
    def __init__(self, stores: Sequence[Store], *, workers: int = 2) -> None:
        shop = new_shop()
        self.stores = list(stores)
        self._index = {id(s): k for k, s in enumerate(self.stores)}
        self.identities: list[Identity] = [identity(shop, s.node_id) for s in self.stores]
        self.servers: list[transport.Server] = []
        self.proxies: dict[tuple[int, int], TcpProxy] = {}
        self.clients: dict[tuple[int, int], transport.Client] = {}
        self.cut_pairs: set[frozenset[int]] = set()
        self._closed = False
        try:
            for store, ident in zip(self.stores, self.identities, strict=True):
                server = transport.Server(
                    transport.server_tls(ident),
                    self._handler(store),
                    host="127.0.0.1",
                    port=0,
                    workers=workers,
                    authorize=self._not_itself(store.node_id),
                    name=f"sm-{store.node_id[:6]}",
                )
                server.start()
                self.servers.append(server)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _not_itself(me: str) -> transport.Authorizer:
        return lambda node: "that is this terminal itself" if node == me else None

    @staticmethod
    def _handler(store: Store) -> transport.Handler:
        def answer(kind: str, payload: Payload, peer: str) -> Payload:
            return handle(store, kind, payload, peer_node=peer)

        return answer

    # -- links -------------------------------------------------------------------------------

    def _client(self, i: int, j: int) -> transport.Client:
        client = self.clients.get((i, j))
        if client is not None:
            return client
        proxy = self.proxies.get((i, j))
        if proxy is None:
            proxy = self.proxies[(i, j)] = TcpProxy(self.servers[j].port)
            if frozenset((i, j)) in self.cut_pairs:
                proxy.block()
        client = transport.Client(
            transport.client_tls(self.identities[i]),
            "127.0.0.1",
            proxy.port,
            timeout_ms=CALL_TIMEOUT_MS,
            unavailable=PeerUnavailable,
            remote_error=ProtocolError,
        )
        client.open()
        self.clients[(i, j)] = client
        if frozenset((i, j)) not in self.cut_pairs:
            client.wait_connected(CONNECT_TIMEOUT)
        return client

    def link(self, caller: Store, peer: Store) -> Call:
        """A Call from ``caller`` to ``peer`` over the real transport (a LinkFactory)."""
        if self._closed:
            raise RuntimeError("the mesh is closed")
        i, j = self._index[id(caller)], self._index[id(peer)]
        client = self._client(i, j)

        def call(kind: str, payload: Payload) -> Payload:
            return client.call(kind, payload)

        return call

    def probe(self, caller: Store, peer: Store, kind: str, payload: Payload, timeout_ms: int) -> Payload:
        """One call with a short timeout (to show that a cut link really carries nothing)."""
        i, j = self._index[id(caller)], self._index[id(peer)]
        return self._client(i, j).call(kind, payload, timeout_ms=timeout_ms)

    # -- partitions --------------------------------------------------------------------------

    def cut(self, i: int, j: int) -> None:
        self.cut_pairs.add(frozenset((i, j)))
        for pair in ((i, j), (j, i)):
            proxy = self.proxies.get(pair)
            if proxy is not None:
                proxy.block()

    def heal(self, i: int, j: int) -> None:
        if frozenset((i, j)) not in self.cut_pairs:
            return
        self.cut_pairs.discard(frozenset((i, j)))
        for pair in ((i, j), (j, i)):
            proxy = self.proxies.get(pair)
            if proxy is not None:
                proxy.unblock()
            client = self.clients.pop(pair, None)
            if client is not None:  # redial now rather than after nng's back-off
                client.close()

    # -- teardown ----------------------------------------------------------------------------

    def ports(self) -> list[int]:
        return [s.port for s in self.servers] + [p.port for p in self.proxies.values()]

    def close(self) -> None:
        self._closed = True
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        for proxy in self.proxies.values():
            proxy.close()
        for server in self.servers:
            server.stop()


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def leaks(ports: Sequence[int], baseline: set[threading.Thread], *, wait: float = 15.0) -> list[str]:
    """What a closed mesh left behind: ports still accepting, threads not in ``baseline``."""
    end = time.monotonic() + wait
    while True:
        threads = [t for t in threading.enumerate() if t not in baseline and t.is_alive()]
        open_ports = [p for p in ports if listening(p)]
        if (not threads and not open_ports) or time.monotonic() > end:
            break
        time.sleep(0.05)
    out = [f"port {p} still listening" for p in open_ports]
    out += [f"thread {t.name} still running" for t in threads]
    return out


__all__ = ["CALL_TIMEOUT_MS", "NngMesh", "leaks", "listening"]
