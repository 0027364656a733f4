"""Finding the shop's other terminals: zeroconf on the LAN, plus a static list (DESIGN.md §4).

Discovery only says *where* a peer might be. Whether it is one of ours is decided by the
mutual-TLS handshake (certificate from the shop CA, not revoked) — an advertisement is
unauthenticated, so nothing here is trusted beyond "try connecting there". Advertisements
from another shop (different shop hash) or from a node with a malformed TXT record are
ignored, so two shops in one mall do not keep dialling each other.

The TXT record carries a hash of the shop id rather than the id itself: the id names the
mesh, and there is no reason to broadcast it to every device on the Wi-Fi.

Networks that block multicast (guest Wi-Fi, some managed switches) are served by the
static list (``host:port``); when zeroconf cannot start at all, discovery says why in
:attr:`Discovery.status` and keeps serving the static peers — the shop keeps syncing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vaultsync.domain.errors import ValidationError

log = logging.getLogger(__name__)

SERVICE_TYPE = "_vaultsync._tcp.local."
#: how long resolving one advertisement may take before it is skipped (milliseconds)
RESOLVE_TIMEOUT_MS = 3000

_NODE_RE = re.compile(r"^[0-9a-f]{4,32}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class PeerAddress:
    """Somewhere a peer may be reached. ``node_id`` is "" for a static peer until its handshake."""

    host: str
    port: int
    node_id: str
    source: str  # "zeroconf" | "static"
    protocol_version: int | None

    @property
    def endpoint(self) -> str:
        """``host:port`` with IPv6 hosts bracketed, as nng addresses want them."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def shop_hash(shop_id: str) -> str:
    """What the TXT record carries instead of the shop id."""
    return hashlib.sha256(f"vaultsync-shop:{shop_id}".encode()).hexdigest()[:16]


def _valid_port(port: int) -> bool:
    return 0 < port < 65536


def parse_static_peer(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` → (host, port); anything else is a ValidationError."""
    raw = text.strip()
    if not raw:
        raise ValidationError("a static peer needs host:port, got an empty value")
    if raw.startswith("["):
        host, sep, port_text = raw[1:].partition("]:")
        if not sep:
            raise ValidationError(f"static peer {text!r}: write an IPv6 address as [addr]:port")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValidationError(f"static peer {text!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = raw.rpartition(":")
        if not sep or not host:
            raise ValidationError(f"static peer {text!r}: expected host:port, e.g. 192.168.1.20:7400")
        if not _HOST_RE.match(host) or all(label.isdigit() for label in host.split(".")):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValidationError(f"static peer {text!r}: {host!r} is not a host or address") from None
    if not (port_text.isascii() and port_text.isdigit()) or not _valid_port(int(port_text)):
        raise ValidationError(f"static peer {text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def local_ipv4_addresses() -> list[str]:
    """The addresses to advertise: this machine's IPv4 addresses, loopback only if nothing else."""
    import ifaddr  # a dependency of zeroconf

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and ip.ip not in found:
                found.append(ip.ip)
    lan = [a for a in found if not a.startswith("127.")]
    return lan or ["127.0.0.1"]


def _txt(properties: dict[bytes, bytes | None], key: str) -> str | None:
    value = properties.get(key.encode())
    if value is None:
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None


class Discovery:
    """Advertise this terminal and keep a live list of the shop's peers.

    ``interfaces`` are the addresses zeroconf listens on (``None``: every interface);
    ``advertise_addresses`` what this node announces (default: its LAN addresses). Both
    exist so tests can keep everything on loopback.
    """

    def __init__(
        self,
        *,
        node_id: str,
        shop_id: str,
        port: int,
        protocol_version: int,
        advertise: bool = True,
        browse: bool = True,
        static_peers: Sequence[str] = (),
        on_change: Callable[[list[PeerAddress]], None] | None = None,
        interfaces: Sequence[str] | None = None,
        advertise_addresses: Sequence[str] | None = None,
    ) -> None:
        if not _NODE_RE.match(node_id):
            raise ValidationError(f"node id {node_id!r} is not a VaultSync node id")
        if not _valid_port(port):
            raise ValidationError(f"sync port {port} is outside 1–65535")
        self.node_id = node_id
        self.port = port
        self.protocol_version = protocol_version
        self._shop = shop_hash(shop_id)
        self._advertise = advertise
        self._browse = browse
        self._static = [
            PeerAddress(host, p, "", "static", None) for host, p in map(parse_static_peer, static_peers)
        ]
        self._on_change = on_change
        self._interfaces = list(interfaces) if interfaces is not None else None
        self._addresses = list(advertise_addresses) if advertise_addresses is not None else None
        self._lock = threading.Lock()
        self._found: dict[str, PeerAddress] = {}  # service name -> peer
        self._zc: Any = None
        self._browser: Any = None
        self._info: Any = None
        #: "off", "running", or why zeroconf is unavailable (static peers still work)
        self.status = "off"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._zc is not None or not (self._advertise or self._browse):
            return
        from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceInfo, Zeroconf

        try:
            zc = Zeroconf(
                interfaces=self._interfaces if self._interfaces is not None else InterfaceChoice.All,
                ip_version=IPVersion.V4Only,
            )
        except OSError as exc:  # no multicast route, no permission...
            self.status = f"zeroconf unavailable ({exc}); using the static peer list only"
            log.warning("discovery: %s", self.status)
            return
        self._zc = zc
        try:
            if self._advertise:
                addresses = self._addresses or local_ipv4_addresses()
                self._info = ServiceInfo(
                    SERVICE_TYPE,
                    f"vaultsync-{self.node_id}.{SERVICE_TYPE}",
                    addresses=[socket.inet_aton(a) for a in addresses],
                    port=self.port,
                    properties={
                        "node": self.node_id,
                        "shop": self._shop,
                        "port": str(self.port),
                        "proto": str(self.protocol_version),
                    },
                    server=f"vaultsync-{self.node_id}.local.",
                )
                zc.register_service(self._info, allow_name_change=False)
            if self._browse:
                self._browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[self._on_service])
        except Exception as exc:  # a name clash or a socket error must not stop the terminal
            self.status = f"zeroconf failed ({exc}); using the static peer list only"
            log.warning("discovery: %s", self.status)
            self._close_zc()
            return
        self.status = "running"

    def stop(self) -> None:
        self._close_zc()
        with self._lock:
            had = bool(self._found)
            self._found.clear()
        self.status = "off"
        if had:
            self._notify()

    def _close_zc(self) -> None:
        zc, self._zc = self._zc, None
        if zc is None:
            return
        if self._browser is not None:
            self._browser.cancel()
            self._browser = None
        try:
            if self._info is not None:
                zc.unregister_service(self._info)  # sends the goodbye, so peers drop us at once
        finally:
            self._info = None
            zc.close()

    def __enter__(self) -> Discovery:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the view --------------------------------------------------------------------------

    def peers(self) -> list[PeerAddress]:
        """Every place a peer may be: advertised ones first (they carry a node id), then static."""
        with self._lock:
            found = sorted(self._found.values(), key=lambda p: (p.node_id, p.host, p.port))
        seen = {(p.host, p.port) for p in found}
        return found + [p for p in self._static if (p.host, p.port) not in seen]

    # -- zeroconf callbacks (run on zeroconf's browser thread) -------------------------------

    def _on_service(self, zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        from zeroconf import ServiceStateChange

        try:
            if state_change is ServiceStateChange.Removed:
                with self._lock:
                    changed = self._found.pop(name, None) is not None
            else:
                info = zeroconf.get_service_info(service_type, name, timeout=RESOLVE_TIMEOUT_MS)
                peer = self._peer_from(info) if info is not None else None
                with self._lock:
                    before = self._found.get(name)
                    if peer is None:
                        self._found.pop(name, None)
                    else:
                        self._found[name] = peer
                    changed = before != peer
        except Exception:  # a hostile advertisement must never kill the browser thread
            log.exception("discovery: could not handle %s", name)
            return
        if changed:
            self._notify()

    def _peer_from(self, info: Any) -> PeerAddress | None:
        """A shop peer from an advertisement, or None (logged) when it is not one of ours."""
        props: dict[bytes, bytes | None] = info.properties or {}
        node = _txt(props, "node")
        if node is None or not _NODE_RE.match(node) or node == self.node_id:
            return None
        if _txt(props, "shop") != self._shop:
            return None  # another shop's terminal: not an error, just not ours
        proto_text = _txt(props, "proto")
        proto = int(proto_text) if proto_text and proto_text.isdigit() and len(proto_text) < 6 else None
        port = info.port
        if not isinstance(port, int) or not _valid_port(port):
            log.warning("discovery: %s advertises an invalid port %r", node, port)
            return None
        addresses = [a for a in info.parsed_addresses() if ":" not in a]
        if not addresses:
            return None
        return PeerAddress(addresses[0], port, node, "zeroconf", proto)

    def _notify(self) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(self.peers())
        except Exception:
            log.exception("discovery: the peer-change callback failed")
