"""In-process links between replicas: a :data:`~vaultsync.sync.protocol.Call` without sockets.

``direct(peer)`` calls the peer's :func:`~vaultsync.sync.protocol.handle` directly, with
every request and reply round-tripped through msgpack (so a payload that would not survive
the real wire fails here too) and the error path of the real transport: a
:class:`ProtocolError` raised by the peer comes back as a ProtocolError.

``Faulty`` wraps a link with injected faults for the state-machine test: it can drop a
request (PeerUnavailable, nothing done), drop the reply (the peer DID act, the caller
hears nothing), deliver a push twice, or hold pushes back and deliver them later out of
order. The same tests run over the real nng transport by giving ``Faulty`` another inner
factory (``tests.sync.nng_links.NngMesh.link``): then every fault is applied to real
messages on real mutual-TLS sockets.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack

from vaultsync.store import Store
from vaultsync.sync.protocol import Call, Payload, PeerUnavailable, ProtocolError, handle

LinkFactory = Callable[[Store, Store], Call]
"""(caller, peer) -> a Call from caller to peer."""


def wire(payload: Payload) -> Payload:
    out = msgpack.unpackb(msgpack.packb(payload, use_bin_type=True), raw=False, strict_map_key=True)
    assert isinstance(out, dict)
    return out


def direct(caller: Store, peer: Store) -> Call:
    def call(kind: str, payload: Payload) -> Payload:
        try:
            reply = handle(peer, kind, wire(payload), peer_node=caller.node_id)
        except ProtocolError as exc:
            raise ProtocolError(f"peer refused {kind}: {exc.reason}") from None
        return wire(reply)

    return call


@dataclass
class Faulty:
    """A link factory injecting loss, duplication and reordering, driven by one seeded RNG.

    ``inner`` is the link the faults are applied to: :func:`direct` (in process) or a real
    transport link. A lost request never reaches the peer; a lost reply was acted on by the
    peer; a duplicated push is sent twice; a held push is delivered later through ``inner``.
    """

    rng: random.Random
    inner: LinkFactory = direct
    loss: float = 0.1
    reply_loss: float = 0.05
    dup: float = 0.1
    delay: float = 0.2
    #: pushes held back, delivered later (reordering)
    held: list[tuple[Store, Store, Payload]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def __call__(self, caller: Store, peer: Store) -> Call:
        inner = self.inner(caller, peer)

        def call(kind: str, payload: Payload) -> Payload:
            if self.rng.random() < self.loss:
                self._count("lost")
                raise PeerUnavailable("injected: request lost")
            if kind == "push" and self.rng.random() < self.delay:
                self.held.append((caller, peer, payload))
                self._count("held")
                raise PeerUnavailable("injected: push delayed")
            reply = inner(kind, payload)
            if kind == "push" and self.rng.random() < self.dup:
                self._count("duplicated")
                inner(kind, payload)
            if self.rng.random() < self.reply_loss:
                self._count("reply lost")
                raise PeerUnavailable("injected: reply lost")
            return reply

        return call

    def deliver_held(self, connected: Callable[[Store, Store], bool]) -> int:
        """Deliver held pushes between nodes that can currently reach each other, shuffled."""
        ready = [h for h in self.held if connected(h[0], h[1])]
        self.held = [h for h in self.held if not connected(h[0], h[1])]
        self.rng.shuffle(ready)
        for caller, peer, payload in ready:
            try:
                self.inner(caller, peer)("push", payload)
            except PeerUnavailable:  # a real link can fail here too: the push is lost after all
                self._count("held lost")
        return len(ready)
