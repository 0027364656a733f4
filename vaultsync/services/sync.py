"""Sync for people: status, peers, lag, alerts, pairing, revocation, "sync now" (UI and CLI).

Works whether or not this process runs the sync node: ``vaultsync sync status`` in a
second shell reads what the serving process mirrored into ``peer_links``; the manager
screen inside ``vaultsync serve`` sees the live node. Everything that changes the
mesh (pairing code, revocation, sync now) needs a manager and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.store import Store
from vaultsync.store.models import Node, PeerLink
from vaultsync.store.types import utcnow
from vaultsync.sync import alerts as alerts_mod
from vaultsync.sync import pairing, pki
from vaultsync.sync.apply import vector_clock

#: a peer not heard from for this long shows as offline in the mirrored view
ONLINE_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class PeerView:
    node_id: str
    name: str
    address: str
    source: str
    online: bool
    last_seen: datetime | None
    #: changes this terminal has that the peer lacks, and the reverse (by vector clocks)
    peer_lacks: int
    we_lack: int
    last_error: str | None


@dataclass(frozen=True)
class TerminalView:
    node_id: str
    name: str
    paired_at: datetime | None
    revoked_at: datetime | None
    is_self: bool
    fingerprint: str | None


@dataclass(frozen=True)
class SyncStatus:
    node_id: str
    shop_id: str
    paired: bool
    can_pair: bool
    running: bool
    listening: str | None
    pairing_port: int | None
    discovery: str
    peers: list[PeerView]
    terminals: list[TerminalView]
    alerts: list[Any] = field(default_factory=list)
    rejected_messages: int = 0
    refused_connections: int = 0
    last_rejection: str = ""
    problem: str | None = None
    #: open alerts and how many are critical, counted (``alerts`` lists at most 500)
    alerts_open: int = 0
    alerts_critical: int = 0
    #: set when a peer showed this terminal was restored from an old backup: sync is stopped
    #: (quarantined) until it is re-identified (``vaultsync sync reidentify``), selling goes on
    identity_conflict: str | None = None


@dataclass(frozen=True)
class RoundView:
    peer: str
    node_id: str
    applied: int
    error: str | None


def _lag(mine: dict[str, int], theirs: dict[str, int]) -> tuple[int, int]:
    behind = sum(max(0, s - int(theirs.get(o, 0))) for o, s in mine.items())
    ahead = sum(max(0, int(s) - mine.get(o, 0)) for o, s in theirs.items())
    return behind, ahead


class SyncService:
    """``node`` is the running :class:`~vaultsync.sync.node.SyncNode` of this process, if any."""

    def __init__(self, store: Store, data_dir: Path, node: Any = None) -> None:
        self.store = store
        self.data_dir = data_dir
        self.node = node

    # -- reading ---------------------------------------------------------------------------

    def paired(self) -> bool:
        return pki.has_identity(self.data_dir)

    def identity(self) -> pki.Identity:
        return pki.load_identity(self.data_dir, node_id=self.store.node_id)

    def terminals(self) -> list[TerminalView]:
        with self.store.read() as s:
            rows = s.scalars(select(Node).order_by(Node.name, Node.node_id))
            return [
                TerminalView(
                    r.node_id,
                    r.name,
                    r.paired_at,
                    r.revoked_at,
                    r.node_id == self.store.node_id,
                    r.cert_fingerprint,
                )
                for r in rows
            ]

    def peers(self) -> list[PeerView]:
        mine = vector_clock(self.store)
        names = {t.node_id: t.name for t in self.terminals()}
        if self.node is not None and self.node.started:
            out = []
            for st in self.node.links():
                behind, ahead = st.lag(mine)
                out.append(
                    PeerView(
                        st.node_id,
                        names.get(st.node_id, ""),
                        st.address,
                        st.source,
                        st.connected and st.ready,
                        st.last_seen,
                        behind,
                        ahead,
                        st.last_error,
                    )
                )
            return out
        now = utcnow()
        with self.store.read() as s:
            links = list(s.scalars(select(PeerLink).order_by(PeerLink.node_id)))
        out = []
        for link in links:
            behind, ahead = _lag(mine, dict(link.last_clock or {}))
            online = link.last_seen_at is not None and now - link.last_seen_at < ONLINE_WINDOW
            addr = f"{link.address}:{link.port}"
            out.append(
                PeerView(
                    link.node_id,
                    names.get(link.node_id, ""),
                    addr,
                    link.source,
                    online,
                    link.last_seen_at,
                    behind,
                    ahead,
                    link.last_error,
                )
            )
        return out

    def alerts(self) -> list[Any]:
        return list(alerts_mod.list_alerts(self.store, unresolved_only=True))

    def view_status(self, *, actor: UserView | None) -> SyncStatus:
        """:meth:`status` for a person: managers only (it names every terminal of the shop)."""
        require_role(actor, Role.MANAGER)
        return self.status()

    def status(self) -> SyncStatus:
        paired = self.paired()
        problem = None
        can_pair = False
        if paired:
            try:
                can_pair = self.identity().ca_key_pem is not None
            except pki.PkiError as exc:
                problem = str(exc)
        else:
            problem = "not paired: run `vaultsync shop init` (first terminal) or `vaultsync join`"
        node = self.node
        running = bool(node is not None and node.started)
        server = getattr(node, "server", None) if running else None
        conflict = getattr(node, "identity_conflict", None) if running else None
        counts = alerts_mod.count_open(self.store)
        if conflict is not None:
            problem = f"sync stopped: {conflict.reason}"
        return SyncStatus(
            node_id=self.store.node_id,
            shop_id=self.store.shop_id,
            paired=paired,
            can_pair=can_pair,
            running=running,
            listening=f"{node.host}:{node.port}" if running else None,
            pairing_port=node.pairing_port if running else None,
            discovery=node.discovery_status if running else "off",
            peers=self.peers(),
            terminals=self.terminals(),
            alerts=self.alerts(),
            alerts_open=counts[0],
            alerts_critical=counts[1],
            rejected_messages=server.stats.rejected if server else 0,
            refused_connections=server.stats.refused_peers if server else 0,
            last_rejection=server.stats.last_rejection if server else "",
            problem=problem,
            identity_conflict=conflict.reason if conflict is not None else None,
        )

    # -- changing --------------------------------------------------------------------------

    def init_shop(self, name: str) -> pki.Identity:
        """Shop setup on the first terminal (CLI ``shop init``; no user exists yet there)."""
        if not name.strip():
            raise ValidationError("the shop needs a name")
        return pairing.init_shop(self.store, self.data_dir, name=name.strip())

    def create_pairing_code(self, *, actor: UserView | None) -> pairing.IssuedCode:
        user = require_role(actor, Role.MANAGER)
        ident = self.identity()
        if ident.ca_key_pem is None:
            raise ConflictError(
                "new terminals are paired at the shop's first terminal (the one that holds the shop CA); "
                "open its sync screen or run `vaultsync pair` there"
            )
        issued = pairing.create_code(self.store, user_id=user.id)
        with self.store.uow() as uow:
            audit.record(
                uow.session,
                "sync.pairing_code",
                user_id=user.id,
                after={"expires": issued.expires_at.isoformat()},
            )
        return issued

    def create_pairing_code_cli(self) -> pairing.IssuedCode:
        """``vaultsync pair`` at the terminal itself: access to its data directory is the authority."""
        ident = self.identity()
        if ident.ca_key_pem is None:
            raise ConflictError(
                "this terminal holds no shop CA key: run `vaultsync pair` on the shop's first terminal"
            )
        issued = pairing.create_code(self.store)
        with self.store.uow() as uow:
            audit.record(
                uow.session,
                "sync.pairing_code",
                after={"expires": issued.expires_at.isoformat(), "via": "cli"},
            )
        return issued

    def revoke(self, node_id: str, *, actor: UserView | None) -> TerminalView:
        user = require_role(actor, Role.MANAGER)
        return self._revoke(node_id, user_id=user.id)

    def revoke_cli(self, node_id: str) -> TerminalView:
        return self._revoke(node_id, user_id=None)

    def _revoke(self, node_id: str, *, user_id: str | None) -> TerminalView:
        node_id = node_id.strip().lower()
        if node_id == self.store.node_id:
            raise ValidationError("a terminal cannot revoke itself; revoke it from another terminal")
        with self.store.uow() as uow:
            row = uow.session.get(Node, node_id)
            if row is None:
                raise NotFoundError(f"no terminal {node_id} in this shop")
            if row.revoked_at is not None:
                raise ConflictError(f"terminal {row.name} ({node_id}) is already revoked")
            row.revoked_at = utcnow()
            audit.record(
                uow.session,
                "sync.revoke",
                user_id=user_id,
                entity_type="node",
                entity_id=node_id,
                after={"name": row.name},
            )
            view = TerminalView(
                row.node_id, row.name, row.paired_at, row.revoked_at, False, row.cert_fingerprint
            )
        if self.node is not None and self.node.started:
            self.node.revoked_changed()
        return view

    def resolve_alert(self, alert_id: str, *, actor: UserView | None) -> Any:
        user = require_role(actor, Role.MANAGER)
        return alerts_mod.resolve_alert(self.store, alert_id, user.id)

    def sync_now(self, *, actor: UserView | None = None, require_user: bool = True) -> list[RoundView]:
        if require_user:
            require_role(actor, Role.CASHIER)
        if self.node is None or not self.node.started:
            raise ConflictError(
                "sync is not running in this process (start the terminal with `vaultsync serve`)"
            )
        return [RoundView(r.peer, r.node_id, r.applied, r.error) for r in self.node.sync_now()]
