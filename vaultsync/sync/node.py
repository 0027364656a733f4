"""One terminal's sync node: listener, peer links, live push and anti-entropy (DESIGN.md §4).

Threads, and why each exists:

* the transport's server workers answer peers' requests through the replication
  protocol (``protocol.handle``) for an authenticated peer;
* the **pusher** sleeps until a local transaction with writes commits (the
  :mod:`vaultsync.store.notify` hook), then sends this node's new changes to every ready
  peer at once — this is what makes a sale visible on the next terminal in milliseconds;
* the **maintainer** keeps one link per known address (discovery + static list), says
  hello to each new connection (refusing other shops, other versions, revoked nodes)
  and runs an anti-entropy pull from every ready peer every ``interval`` seconds and
  whenever a link (re)connects. Anti-entropy repairs whatever push missed: a peer that
  was offline, a push that timed out, a change relayed from a third terminal. Every
  ``compact_interval`` seconds it also compacts the change log up to what every known
  peer has acknowledged (``protocol.compact``), so the log does not grow for ever.

A terminal restored from an older backup is caught at the first hello in either direction
(:func:`vaultsync.sync.reidentify.detect`): the node is then *quarantined* — it refuses every
request, pulls nothing and pushes nothing under its old identity (the register keeps
selling locally) until ``vaultsync sync reidentify`` gives it a new one.

Nothing here touches the database except through the protocol's functions, the
``peer_links`` mirror and the revoked set (:mod:`vaultsync.sync.peers`).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy.exc import OperationalError

from vaultsync.domain.errors import VaultSyncError
from vaultsync.store import notify
from vaultsync.store.database import Store
from vaultsync.store.types import utcnow
from vaultsync.sync import greeting, reidentify, transport
from vaultsync.sync.peers import PeerState, Trust, acknowledged_clocks, save_link
from vaultsync.sync.pki import Identity

log = logging.getLogger(__name__)

DEFAULT_PORT = 8470
DEFAULT_INTERVAL = 5.0
#: seconds between change-log compactions (entries every peer holds are folded and dropped)
DEFAULT_COMPACT_INTERVAL = 3600.0
PUSH_LIMIT = 1000
#: peers pushed to at the same time
PUSH_THREADS = 8
#: changes per anti-entropy batch: each batch is one write transaction, and while it runs the
#: register on this terminal waits for the database, so batches stay small (well under a second)
PULL_BATCH = 1000
#: an unchanged link is mirrored into ``peer_links`` at most this often (well inside the
#: 60 s after which the mirrored view shows a peer offline)
MIRROR_EVERY = 20.0
#: network-level request (answered by the node, not the replication protocol)
ANNOUNCE = "link.announce"


def load_protocol() -> ModuleType:
    """The replication protocol module (``vaultsync.sync.protocol``, owned by the engine)."""
    return importlib.import_module("vaultsync.sync.protocol")


@dataclass(frozen=True)
class RoundResult:
    peer: str
    node_id: str
    applied: int = 0
    error: str | None = None


class _Link:
    def __init__(self, client: transport.Client, state: PeerState) -> None:
        self.client = client
        self.state = state
        self.lock = threading.Lock()  # one round at a time per link
        self.hello_pending = True
        #: what was last mirrored into ``peer_links``, and when (see :meth:`SyncNode._mirror`)
        self.mirrored: tuple[Any, ...] | None = None
        self.mirrored_at = -float("inf")


class SyncNode:
    """Start with :meth:`start`, stop with :meth:`stop`; thread-safe status for the UI."""

    def __init__(
        self,
        store: Store,
        identity: Identity,
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        static_peers: Sequence[str] = (),
        zeroconf: bool = True,
        interval: float = DEFAULT_INTERVAL,
        protocol: ModuleType | None = None,
        advertise_addresses: Sequence[str] | None = None,
        zeroconf_interfaces: Sequence[str] | None = None,
        timeout_ms: int = transport.DEFAULT_TIMEOUT_MS,
        shop_name: str = "",
        pairing_port: int | None = None,
        learn_inbound: bool = True,
        workers: int = transport.WORKERS,
        compact_interval: float = DEFAULT_COMPACT_INTERVAL,
    ) -> None:
        if identity.node_id != store.node_id:
            raise VaultSyncError(
                f"this terminal's certificate is for node {identity.node_id}, its database is node "
                f"{store.node_id}: pair this database again (`vaultsync join`)"
            )
        self.store = store
        self.identity = identity
        self.host = host
        self.port = port
        self.interval = interval
        #: 0 turns compaction off
        self.compact_interval = compact_interval
        self.last_compaction: Any = None
        self._static = list(static_peers)
        self._zeroconf = zeroconf
        self._advertise = advertise_addresses
        self._zc_interfaces = zeroconf_interfaces
        self._timeout = timeout_ms
        self._pairing_port = pairing_port
        self._learn = learn_inbound
        self._workers = workers
        #: addresses of peers that connected to us and told us their port (node -> endpoint)
        self._learned: dict[str, str] = {}
        self._proto = protocol or load_protocol()
        self.trust = Trust(store)
        self._server_tls = transport.server_tls(identity)
        self._client_tls = transport.client_tls(identity)
        self.server: transport.Server | None = None
        self.pairing: transport.Server | None = None
        #: where new terminals join (sync port + 1); None on a terminal without the CA key
        self.pairing_port: int | None = None
        self.shop_name = shop_name
        self._discovery: Any = None
        self._links: dict[str, _Link] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._push_wake = threading.Event()
        self._round_wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._push_pool = ThreadPoolExecutor(max_workers=PUSH_THREADS, thread_name_prefix="sync-push")
        self._unsubscribe: Any = None
        self.started = False
        self.discovery_status = "off"
        #: set when a peer shows this database is older than its identity (see module docstring)
        self.identity_conflict: reidentify.IdentityConflict | None = None
        #: peers whose hello this process checked: only they are served changes (a peer whose
        #: link survived our restart would otherwise pull before our identity was checked)
        self._greeted: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self.started:
            return
        self.trust.refresh()
        self.server = transport.Server(
            self._server_tls,
            self._handle,
            host=self.host,
            port=self.port,
            authorize=self.trust.authorize,
            workers=self._workers,
        )
        self.server.start()
        self.port = self.server.port
        if self.identity.ca_key_pem is not None:
            from vaultsync.sync.pairing import pairing_server

            want = self._pairing_port if self._pairing_port is not None else self.port + 1
            self.pairing = pairing_server(
                self.store, self.identity, host=self.host, port=want, shop_name=self.shop_name
            )
            try:
                self.pairing.start()
                self.pairing_port = self.pairing.port
            except Exception as exc:  # the sync port works without it; say why pairing does not
                log.warning("pairing port %d unavailable: %s", want, exc)
                self.pairing = None
        notify.install_default()
        self._unsubscribe = notify.subscribe(self.store.engine, self._push_wake.set)
        self._start_discovery()
        for target, name in ((self._pusher, "sync-pusher"), (self._maintainer, "sync-maintainer")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        self.started = True
        log.info("sync node %s listening on %s:%d", self.store.node_id, self.host, self.port)

    def stop(self) -> None:
        self._stop.set()
        self._push_wake.set()
        self._round_wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._discovery is not None:
            try:
                self._discovery.stop()
            except Exception:
                log.exception("stopping discovery failed")
        for t in self._threads:
            t.join(timeout=10)
        self._push_pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            links = list(self._links.values())
            self._links.clear()
        for link in links:
            link.client.close()
            self._mirror(link, force=True)  # the last clocks and "last seen" outlive the process
        if self.server is not None:
            self.server.stop()
        if self.pairing is not None:
            self.pairing.stop()
        self.started = False

    def __enter__(self) -> SyncNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_discovery(self) -> None:
        from vaultsync.sync.discovery import Discovery

        self._discovery = Discovery(
            node_id=self.store.node_id,
            shop_id=self.store.shop_id,
            port=self.port,
            protocol_version=int(getattr(self._proto, "PROTOCOL_VERSION", 1)),
            advertise=self._zeroconf,
            browse=self._zeroconf,
            static_peers=self._static,
            on_change=lambda _peers: self._round_wake.set(),
            interfaces=self._zc_interfaces,
            advertise_addresses=self._advertise,
        )
        try:
            self._discovery.start()
        except Exception as exc:  # zeroconf trouble must not stop static peers from syncing
            log.warning("sync discovery could not start: %s (static peers still used)", exc)
        self.discovery_status = str(getattr(self._discovery, "status", "off"))

    # -- server side -----------------------------------------------------------------------

    def _handle(self, kind: str, payload: dict[str, Any], peer: str) -> dict[str, Any]:
        if self.identity_conflict is not None:
            raise reidentify.RestoredTerminal(self.identity_conflict)
        if kind == ANNOUNCE:
            return self._on_announce(payload, peer)
        if kind != "hello" and peer not in self._greeted:
            raise self._proto.ProtocolError("say hello first (this terminal restarted since your last hello)")
        # a pushed revocation takes effect within a second: Trust re-reads the revoked set at
        # most once a second and the maintainer drops revoked peers' links on its next step
        try:
            reply: dict[str, Any] = self._proto.handle(self.store, kind, payload, peer_node=peer)
        except OperationalError as exc:
            # the database stayed locked past its busy timeout (a long local write): the peer
            # gets a clear refusal and its next anti-entropy round delivers the same changes
            log.warning("sync: %s from %s not applied, database busy: %s", kind, peer, exc.orig)
            raise self._proto.PeerUnavailable("the peer's database is busy; will retry") from exc
        if kind == "hello" and payload:
            self._check_identity(payload)
            self._greeted.add(peer)
        return reply

    def _check_identity(self, hello: dict[str, Any]) -> None:
        """Quarantine this node (and raise) if a peer's hello shows it was restored from a backup."""
        conflict = reidentify.detect(self.store, hello)
        if conflict is None:
            return
        if self.identity_conflict is None:
            self.identity_conflict = conflict
            log.error("sync: %s", conflict.reason)
            for st in self.links():
                st.ready = False
        raise reidentify.RestoredTerminal(self.identity_conflict)

    def _on_announce(self, payload: dict[str, Any], peer: str) -> dict[str, Any]:
        """A peer that dialled us says where it listens, so we can dial back and push to it."""
        port = payload.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise self._proto.ProtocolError("link.announce needs a port 1-65535")
        if self._learn and self.server is not None:
            host = self.server.peer_host(peer)
            if host and not self._has_link_to(peer):
                endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                with self._lock:
                    self._learned[peer] = endpoint
                self._round_wake.set()
        return {"ok": True}

    def _has_link_to(self, node: str) -> bool:
        with self._lock:
            return any(link.state.node_id == node for link in self._links.values())

    # -- links -----------------------------------------------------------------------------

    def _wanted(self) -> dict[str, str]:
        """address -> source, from discovery (zeroconf + static list)."""
        wanted: dict[str, str] = {}
        if self._discovery is not None:
            for p in self._discovery.peers():
                if p.node_id and p.node_id == self.store.node_id:
                    continue
                wanted.setdefault(p.endpoint, p.source)
        with self._lock:
            learned = dict(self._learned)
        for node, endpoint in learned.items():
            if node not in self.trust.revoked():
                wanted.setdefault(endpoint, "inbound")
        return wanted

    def _sync_links(self) -> None:
        wanted = self._wanted()
        with self._lock:
            stale = [a for a in self._links if a not in wanted]
            removed = [self._links.pop(a) for a in stale]
            new = [a for a in wanted if a not in self._links]
        for link in removed:
            link.client.close()
        for address in new:
            host, _, port = address.rpartition(":")
            client = greeting.dial(
                self._client_tls,
                host.strip("[]"),
                int(port),
                trust=self.trust,
                timeout_ms=self._timeout,
                proto=self._proto,
            )
            link = _Link(client, PeerState(address=address, source=wanted[address]))
            with self._lock:
                self._links[address] = link

    def links(self) -> list[PeerState]:
        with self._lock:
            return [link.state for link in self._links.values()]

    def _ready_links(self) -> list[_Link]:
        with self._lock:
            links = list(self._links.values())
        seen: set[str] = set()
        out = []
        for link in links:
            st = link.state
            if st.ready and link.client.connected and st.node_id not in seen:
                seen.add(st.node_id)
                out.append(link)
        return out

    # -- hello + anti-entropy ----------------------------------------------------------------

    def _hello(self, link: _Link) -> None:
        reply = greeting.hello(self.store, link.client, self._proto)
        self._check_identity(reply)
        node = str(reply.get("node_id", ""))
        st = link.state
        st.node_id = node
        st.clock = {str(k): int(v) for k, v in dict(reply.get("clock") or {}).items()}
        st.pushed_upto = st.clock.get(self.store.node_id, 0)
        st.ready = True
        link.hello_pending = False
        try:
            link.client.call(ANNOUNCE, {"port": self.port})
        except VaultSyncError as exc:  # an older peer without it still syncs, only without push-back
            log.debug("announce to %s failed: %s", st.address, exc)

    def _round(self, link: _Link) -> RoundResult:
        """Hello if needed, then pull what we lack; errors are recorded, never raised."""
        st = link.state
        if not link.lock.acquire(blocking=False):
            return RoundResult(st.address, st.node_id, error="round already running")
        try:
            if self.identity_conflict is not None:  # quarantined: see the module docstring
                raise reidentify.RestoredTerminal(self.identity_conflict)
            st.connected = link.client.connected
            if not st.connected:
                st.ready = False
                link.hello_pending = True
                st.last_error = link.client.refused_reason or "not connected"
                return RoundResult(st.address, st.node_id, error=st.last_error)
            if link.hello_pending or not st.ready:
                self._hello(link)
            result = self._proto.pull(self.store, link.client.call, batch=PULL_BATCH)
            applied = int(getattr(result, "applied", 0))
            # tables the round wrote; a reconcile may write any (it reports rows, not tables)
            wrote = set(getattr(result, "tables", ("nodes",)))
            if getattr(result, "needs_reconcile", False) and hasattr(self._proto, "reconcile"):
                # the peer already compacted changes we lack: compare row versions instead
                recon = self._proto.reconcile(self.store, link.client.call)
                applied += int(getattr(recon, "fetched", 0))
                wrote.add("nodes")
                log.info("sync: reconciled with %s (%d rows fetched)", st.address, applied)
            st.pulled += applied
            st.last_seen = utcnow()
            st.last_error = None
            # the peer's clock for the lag figures: from its last "changes" reply, or (a peer
            # that does not send it) from one more hello
            peer_clock = getattr(result, "peer_clock", None)
            if peer_clock is None:
                reply = link.client.call("hello", self._proto.handle(self.store, "hello", {}))
                peer_clock = dict(reply.get("clock") or {})
            st.clock = {str(k): int(v) for k, v in peer_clock.items()}
            if applied:
                if "nodes" in wrote:  # a revocation takes effect now
                    self.trust.refresh()
                self._push_wake.set()  # relay nothing, but our clock moved: peers' lag view
            return RoundResult(st.address, st.node_id, applied)
        except VaultSyncError as exc:
            # not ready until a hello succeeds again (the next maintainer step, for a connected
            # link): a refused or timed-out peer is not "online", and a revoked terminal whose
            # connections keep being accepted and dropped must not look ready between two drops
            st.ready = False
            link.hello_pending = True
            st.last_error = str(exc)
            log.info("sync round with %s failed: %s", st.address, exc)
            return RoundResult(st.address, st.node_id, error=str(exc))
        except OperationalError as exc:
            # this database stayed locked past its busy timeout: try again next round
            st.last_error = "this terminal's database was busy; retrying"
            log.warning("sync round with %s: database busy (%s)", st.address, exc.orig)
            return RoundResult(st.address, st.node_id, error=st.last_error)
        except Exception as exc:
            link.hello_pending = True
            st.last_error = f"internal error: {type(exc).__name__}"
            log.exception("sync round with %s failed", st.address)
            return RoundResult(st.address, st.node_id, error=st.last_error)
        finally:
            link.lock.release()
            self._mirror(link)

    def _mirror(self, link: _Link, *, force: bool = False) -> None:
        """Mirror a link into ``peer_links`` (for ``vaultsync sync status`` in another shell, and
        the clocks compaction keeps for offline peers) when its state changed, else at most
        every ``MIRROR_EVERY`` seconds: a write transaction per round per peer (an fsync each)
        held the write lock against sales and merges for nothing on an idle mesh."""
        st = link.state
        key = (st.node_id, st.address, st.source, st.ready, st.last_error)
        now = time.monotonic()
        if not force and key == link.mirrored and now - link.mirrored_at < MIRROR_EVERY:
            return
        try:
            save_link(self.store, st)
        except Exception:
            log.debug("could not record peer state", exc_info=True)
            return
        link.mirrored, link.mirrored_at = key, now

    def sync_now(self) -> list[RoundResult]:
        """One anti-entropy round with every known peer, now (the "sync now" button)."""
        self._sync_links()
        with self._lock:
            links = list(self._links.values())
        for link in links:
            if not link.client.connected:
                link.client.wait_connected(1.0)
        return [self._round(link) for link in links]

    def _enforce_revocations(self, *, reread: bool = False) -> None:
        # the maintainer runs this four times a second: the revoked set is re-read from the
        # database at most once a second (Trust.revoked), not on every step; a revocation
        # recorded here re-reads at once (revoked_changed)
        revoked = self.trust.refresh() if reread else self.trust.revoked()
        if not revoked:
            return
        if self.server is not None:
            for node in revoked:
                if self.server.drop(node):
                    log.warning("sync: dropped connections of revoked terminal %s", node)
        with self._lock:
            doomed = [a for a, link in self._links.items() if link.state.node_id in revoked]
        for address in doomed:
            with self._lock:
                link = self._links.get(address)
            if link is not None:
                link.state.ready = False
                link.state.last_error = "revoked"
                link.client.close()
                link.client.open()  # it will be refused at the handshake until un-listed

    def revoked_changed(self) -> None:
        """Call after a revocation was recorded locally: refuse and drop that node at once."""
        self._enforce_revocations(reread=True)

    def compact_now(self) -> Any:
        """Compact the change log up to what every known peer acknowledged; the result, or None.

        A trusted terminal that never reported a clock holds everything back (the engine's
        rule), so a new shop with an unpaired-but-registered till compacts nothing yet.
        """
        if not hasattr(self._proto, "compact"):
            return None
        acked = acknowledged_clocks(self.store, self.links())
        try:
            result = self._proto.compact(self.store, acked)
        except VaultSyncError as exc:  # a malformed stored clock: keep everything, say why
            log.warning("sync: compaction skipped: %s", exc)
            return None
        self.last_compaction = result
        if result.dropped:
            log.info("sync: compacted %d log entries (%d versions folded)", result.dropped, result.folded)
        return result

    def _maintainer(self) -> None:
        last_round = -float("inf")
        last_compaction = time.monotonic()  # not at start-up: let the links report their clocks first
        while not self._stop.is_set():
            try:
                self._sync_links()
                self._enforce_revocations()
                now = time.monotonic()
                due = now - last_round >= self.interval  # read each time: the interval may change
                with self._lock:
                    links = list(self._links.values())
                for link in links:
                    fresh = link.client.connected and (link.hello_pending or not link.state.ready)
                    if due or fresh or link.state.connected != link.client.connected:
                        self._round(link)
                if due:
                    last_round = now
                if self.compact_interval > 0 and now - last_compaction >= self.compact_interval:
                    last_compaction = now
                    self.compact_now()
            except Exception:
                log.exception("sync maintainer step failed")
            self._round_wake.wait(timeout=min(0.25, self.interval))
            self._round_wake.clear()

    # -- live push -------------------------------------------------------------------------

    def _pusher(self) -> None:
        while not self._stop.is_set():
            self._push_wake.wait(timeout=1.0)
            if self._stop.is_set():
                return
            self._push_wake.clear()
            try:
                self._push_all()
            except Exception:
                log.exception("live push failed")

    def _push_all(self) -> None:
        if self.identity_conflict is not None:
            return  # nothing more goes out under an identity this database no longer owns
        links = self._ready_links()
        if not links:
            return
        proto = self._proto
        start = min(link.state.pushed_upto for link in links)
        changes = proto.local_changes_after(self.store, start, PUSH_LIMIT)
        if not changes:
            return
        todo = [(link, [c for c in changes if c.seq > link.state.pushed_upto]) for link in links]
        todo = [(link, mine) for link, mine in todo if mine]
        if len(todo) == 1:
            self._push_one(*todo[0])
        elif todo:
            # every peer applies in its own database: push to all at once, not one after another
            # (with five terminals the last one would otherwise wait for four applies)
            list(self._push_pool.map(lambda item: self._push_one(*item), todo))
        if len(changes) >= PUSH_LIMIT:
            self._push_wake.set()  # more waiting

    def _push_one(self, link: _Link, mine: list[Any]) -> None:
        st = link.state
        try:
            reply = link.client.call("push", self._proto.push_payload(mine))
        except VaultSyncError as exc:
            st.last_error = f"push: {exc}"
            link.hello_pending = True
            self._round_wake.set()
            return
        st.pushes += 1
        st.last_seen = utcnow()
        clock = reply.get("clock")
        if isinstance(clock, dict):
            st.clock = {str(k): int(v) for k, v in clock.items() if isinstance(v, int)}
            st.pushed_upto = st.clock.get(self.store.node_id, st.pushed_upto)
        elif not reply.get("deferred"):
            st.pushed_upto = max(st.pushed_upto, mine[-1].seq)

    # -- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        from vaultsync.sync.apply import vector_clock

        mine = vector_clock(self.store)
        server = self.server
        return {
            "node_id": self.store.node_id,
            "listening": f"{self.host}:{self.port}" if self.started else None,
            "discovery": str(getattr(self._discovery, "status", "off")),
            "peers": [st.as_dict(mine) for st in self.links()],
            "connected_in": sorted(server.connected_nodes()) if server else [],
            "rejected_messages": server.stats.rejected if server else 0,
            "refused_connections": server.stats.refused_peers if server else 0,
            "last_rejection": server.stats.last_rejection if server else "",
            "identity_conflict": self.identity_conflict.reason if self.identity_conflict else None,
        }


def one_shot(
    store: Store,
    identity: Identity,
    peers: Sequence[str],
    action: str,
    *,
    protocol: ModuleType | None = None,
    timeout_ms: int = 30_000,
) -> list[dict[str, Any]]:
    """Connect to each peer, say hello, and run one ``action`` (pull, bootstrap, verify) — no listener.

    For the CLI (``vaultsync sync now|verify``, ``join``) while or before a terminal serves:
    the same TLS identity and trust rules as the node, one round per peer, results as
    plain dicts. A failure with one peer is reported and the next peer is tried.
    """
    from vaultsync.sync.discovery import parse_static_peer

    proto = protocol or load_protocol()
    trust = Trust(store)
    trust.refresh()
    tls = transport.client_tls(identity)
    results: list[dict[str, Any]] = []
    for address in peers:
        host, port = parse_static_peer(address)
        client = greeting.dial(tls, host, port, trust=trust, timeout_ms=timeout_ms, proto=proto)
        row: dict[str, Any] = {"peer": address}
        try:
            client.wait_connected(5.0)
            reply = greeting.hello(store, client, proto)
            conflict = reidentify.detect(store, reply)
            if conflict is not None:
                raise reidentify.RestoredTerminal(conflict)
            row["node_id"] = str(reply.get("node_id", ""))
            if action == "bootstrap" and hasattr(proto, "bootstrap"):
                result = proto.bootstrap(store, client.call)
            elif action in ("pull", "bootstrap"):
                result = proto.pull(store, client.call, batch=PULL_BATCH)
            elif action == "verify":
                if not hasattr(proto, "verify"):
                    raise VaultSyncError("this build cannot verify yet (the protocol has no digest)")
                result = proto.verify(store, client.call)
            else:
                raise ValueError(f"unknown action {action!r}")
            if getattr(result, "needs_reconcile", False) and hasattr(proto, "reconcile"):
                result = proto.reconcile(store, client.call)
            for key in ("applied", "identical", "differing", "rows", "changes", "pulled", "fetched"):
                if hasattr(result, key):
                    row[key] = getattr(result, key)
        except VaultSyncError as exc:
            row["error"] = str(exc)
        finally:
            client.close()
        results.append(row)
    return results
