"""Who may talk to this terminal, and what it knows about each peer (for the sync screen).

:class:`Trust` answers "may node X connect?" for the transport: a certificate from the
shop CA got it through the TLS handshake; here it is refused if it is this terminal's
own id or if the replicated ``nodes`` table says it was revoked. The revoked set is
read from the database at most once a second (the transport asks on every message) and
re-read at once when a revocation is made or arrives.

:class:`PeerState` is the in-memory view of one link, mirrored to the local
``peer_links`` table so ``vaultsync sync status`` (another process) can show it too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from vaultsync.store.database import Store
from vaultsync.store.models import Node, PeerLink
from vaultsync.store.types import utcnow

REFRESH_SECONDS = 1.0


class Trust:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._revoked: dict[str, datetime] = {}
        self._loaded_at = 0.0

    def refresh(self) -> set[str]:
        """Re-read the revoked set now; returns it."""
        with self._store.read() as s:
            rows = s.execute(select(Node.node_id, Node.revoked_at).where(Node.revoked_at.is_not(None)))
            revoked = {str(n): at for n, at in rows if at is not None}
        with self._lock:
            self._revoked = revoked
            self._loaded_at = time.monotonic()
        return set(revoked)

    def revoked(self) -> set[str]:
        with self._lock:
            stale = time.monotonic() - self._loaded_at > REFRESH_SECONDS
        if stale:
            return self.refresh()
        with self._lock:
            return set(self._revoked)

    def authorize(self, node: str) -> str | None:
        if node == self._store.node_id:
            return "that is this terminal itself"
        if node in self.revoked():
            with self._lock:
                at = self._revoked.get(node)
            when = at.strftime("%Y-%m-%d %H:%M UTC") if at else "earlier"
            return f"terminal {node} was revoked ({when})"
        return None


@dataclass
class PeerState:
    """One peer as this terminal sees it."""

    address: str
    source: str
    node_id: str = ""
    connected: bool = False
    ready: bool = False  # hello exchanged and accepted
    last_seen: datetime | None = None
    last_error: str | None = None
    #: the peer's vector clock as of its last hello / push reply
    clock: dict[str, int] = field(default_factory=dict)
    #: highest own seq the peer is known to hold (live push resumes after it)
    pushed_upto: int = 0
    pushes: int = 0
    pulled: int = 0

    def lag(self, mine: dict[str, int]) -> tuple[int, int]:
        """(changes the peer lacks from us, changes we lack from it), by vector clocks."""
        theirs = self.clock
        behind = sum(max(0, s - theirs.get(o, 0)) for o, s in mine.items())
        ahead = sum(max(0, s - mine.get(o, 0)) for o, s in theirs.items())
        return behind, ahead

    def as_dict(self, mine: dict[str, int]) -> dict[str, Any]:
        behind, ahead = self.lag(mine)
        return {
            "address": self.address,
            "source": self.source,
            "node_id": self.node_id,
            "online": self.connected and self.ready,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "last_error": self.last_error,
            "peer_lacks": behind,
            "we_lack": ahead,
        }


def save_link(store: Store, peer: PeerState) -> None:
    """Mirror a peer's state into ``peer_links`` (local table) for other processes to read."""
    if not peer.node_id:
        return
    host, _, port = peer.address.rpartition(":")
    with store.uow() as uow:
        row = uow.session.get(PeerLink, peer.node_id)
        if row is None:
            row = PeerLink(node_id=peer.node_id, address=host.strip("[]"), port=int(port or 0))
            uow.session.add(row)
        row.address = host.strip("[]")[:128]
        row.port = int(port or 0)
        row.source = peer.source[:16]
        row.last_seen_at = (peer.last_seen or utcnow()) if peer.ready else row.last_seen_at
        row.last_clock = dict(peer.clock) if peer.clock else row.last_clock
        row.last_error = peer.last_error


def acknowledged_clocks(store: Store, live: list[PeerState]) -> dict[str, dict[str, Any]]:
    """Each peer's vector clock as last seen: what it has acknowledged holding (for compaction).

    The live links' clocks are the freshest; ``peer_links`` keeps those of peers that are
    offline right now, so a terminal that is switched off for the weekend still holds
    compaction back instead of being forgotten. A stale clock only ever under-states
    what a peer holds, which makes compaction keep more, never less.
    """
    with store.read() as s:
        acked: dict[str, dict[str, Any]] = {
            str(node): dict(clock) for node, clock in s.execute(select(PeerLink.node_id, PeerLink.last_clock))
            if isinstance(clock, dict) and clock
        }
    for peer in live:
        if peer.node_id and peer.clock:
            acked[peer.node_id] = dict(peer.clock)
    return acked
