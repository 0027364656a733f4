"""Request/reply between terminals: pynng ``req0``/``rep0`` over ``tls+tcp`` with mutual TLS.

The transport knows nothing about the database. A :class:`Server` answers requests
with a handler ``(kind, payload, peer node id) -> reply payload``; a :class:`Client`
is one outgoing link to one peer and offers ``call(kind, payload) -> reply payload``,
which is exactly the ``Call`` the replication protocol is written against.

Who is talking: both sides require a certificate signed by the shop CA
(``auth_mode=required``), so a device without one never completes a handshake, and a
certificate of another shop's CA fails verification the same way. After the
handshake the peer's node id is read from the verified certificate (nng's
``tls-peer-cn`` pipe option) and passed to ``authorize``; a refused peer's connection
is closed at once, and every request is authorised again (a revocation that arrives
while a peer is connected takes effect on its next message, and :meth:`Server.drop`
closes its connections immediately).

Every message is checked by :mod:`vaultsync.sync.wire` (size, version, types, replay)
before a handler sees it. A bad message is logged, answered with an error when a reply
is possible, and the server keeps serving; a handler's exception becomes an error reply.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pynng
from pynng._nng import ffi, lib

from vaultsync.domain.errors import ReplicationError, VaultSyncError
from vaultsync.sync import wire
from vaultsync.sync.pki import Identity, node_from_peer_cn, shop_server_name

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Handler = Callable[[str, Payload, str], Payload]
#: peer node id -> None if it may talk to us, else the reason it may not
Authorizer = Callable[[str], str | None]

DEFAULT_TIMEOUT_MS = 10_000
WORKERS = 4


class TransportError(ReplicationError):
    """Base of the transport's own errors (used when no protocol error classes are given)."""


class Unreachable(TransportError):
    """The peer could not be reached or did not answer in time."""


class RemoteError(TransportError):
    """The peer answered with an error (the reason is its text)."""


def _pipe_string(pipe: Any, option: str) -> str | None:
    out = ffi.new("char **")
    if lib.nng_pipe_get_string(pipe.pipe, option.encode(), out) != 0:
        return None
    try:
        return str(ffi.string(out[0]).decode("utf-8", "replace"))
    finally:
        lib.nng_strfree(out[0])


def _pipe_verified(pipe: Any) -> bool:
    out = ffi.new("bool *")
    if lib.nng_pipe_get_bool(pipe.pipe, b"tls-verified", out) != 0:
        return False
    return bool(out[0])


def peer_node_of(pipe: Any) -> str | None:
    """The node id of a pipe's verified TLS peer, or None (not verified / not a terminal cert)."""
    if not _pipe_verified(pipe):
        return None
    cn = _pipe_string(pipe, "tls-peer-cn")
    return node_from_peer_cn(cn) if cn else None


def url(host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"tls+tcp://{h}:{port}"


def server_tls(identity: Identity) -> pynng.TLSConfig:
    return pynng.TLSConfig(
        pynng.TLSConfig.MODE_SERVER,
        ca_string=identity.ca_cert_pem,
        own_cert_string=identity.cert_pem,
        own_key_string=identity.key_pem,
        auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED,
    )


def client_tls(identity: Identity) -> pynng.TLSConfig:
    return pynng.TLSConfig(
        pynng.TLSConfig.MODE_CLIENT,
        server_name=shop_server_name(identity.shop_id),
        ca_string=identity.ca_cert_pem,
        own_cert_string=identity.cert_pem,
        own_key_string=identity.key_pem,
        auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED,
    )


@dataclass
class Stats:
    """Counters for the sync screen and the benchmark (approximate under concurrency)."""

    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rejected: int = 0
    refused_peers: int = 0
    last_rejection: str = ""
    #: the most recent refusals and rejections, newest last (a burst can bury the one that matters)
    recent_rejections: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    by_kind: dict[str, int] = field(default_factory=dict)

    def note_rejection(self, text: str) -> None:
        self.last_rejection = text
        self.recent_rejections.append(text)


def _allow_all(node: str) -> str | None:
    return None


#: every open server and client, closed before pynng's own exit hook finalises nng: a socket
#: or context freed after ``nng_fini`` (a daemon thread still waiting, an object collected at
#: interpreter shutdown) makes nng abort the whole process
_open: weakref.WeakSet[Server | Client] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for obj in list(_open):
        with contextlib.suppress(Exception):
            if isinstance(obj, Server):
                obj.stop()
            else:
                obj.close()


# atexit runs hooks last-registered-first: ours (registered after pynng's import) runs before nng_fini
atexit.register(_close_all_at_exit)


class Server:
    """Listens on ``tls+tcp://host:port`` and answers requests with ``handler``.

    ``require_peer_cert=False`` is for the pairing listener only (a terminal that is not
    paired yet has no certificate); then ``peer`` passed to the handler is "".
    """

    def __init__(
        self,
        tls: pynng.TLSConfig,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        authorize: Authorizer = _allow_all,
        workers: int = WORKERS,
        require_peer_cert: bool = True,
        name: str = "sync",
    ) -> None:
        self._tls = tls
        self._handler = handler
        self._authorize = authorize
        self._host = host
        self._port = port
        self._workers = workers
        self._require_cert = require_peer_cert
        self._name = name
        self._sock: pynng.Rep0 | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._pipes: dict[int, tuple[Any, str]] = {}  # pipe id -> (pipe, node)
        self._lock = threading.Lock()
        self._guards: dict[str, wire.ReplayGuard] = {}
        self._contexts: list[Any] = []
        self.stats = Stats()
        self.port = port

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        sock = pynng.Rep0(tls_config=self._tls, recv_max_size=wire.MAX_MESSAGE_BYTES + 1024)
        sock.add_post_pipe_connect_cb(self._on_connect)
        sock.add_post_pipe_remove_cb(self._on_remove)
        listener = sock.listen(url(self._host, self._port))
        # nng reports the port in network byte order
        self.port = socket.ntohs(int(listener.local_address.port)) if self._port == 0 else self._port
        self._sock = sock
        _open.add(self)
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"{self._name}-server-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._lock:  # from here on no worker creates a context (see _work)
            self._stop.set()
            contexts = list(self._contexts)
        for ctx in contexts:  # wakes the workers' receives before the socket goes away
            _close_quietly(ctx)
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        _open.discard(self)

    # -- connections -----------------------------------------------------------------------

    def _on_connect(self, pipe: Any) -> None:
        node = peer_node_of(pipe)
        if node is None:
            if self._require_cert:
                self._refuse(pipe, "?", "no verified terminal certificate")
                return
            node = ""
        else:
            reason = self._authorize(node)
            if reason is not None:
                self._refuse(pipe, node, reason)
                return
        with self._lock:
            self._pipes[pipe.id] = (pipe, node)

    def _on_remove(self, pipe: Any) -> None:
        with self._lock:
            self._pipes.pop(pipe.id, None)

    def _refuse(self, pipe: Any, node: str, reason: str) -> None:
        self.stats.refused_peers += 1
        self.stats.note_rejection(f"{node}: {reason}")
        log.warning("sync: refused connection from %s (%s): %s", node, _remote(pipe), reason)
        with contextlib.suppress(pynng.NNGException):
            pipe.close()

    def drop(self, node: str) -> int:
        """Close every connection of ``node`` (after it was revoked); returns how many."""
        with self._lock:
            victims = [p for p, n in self._pipes.values() if n == node]
        for p in victims:
            with contextlib.suppress(pynng.NNGException):
                p.close()
        return len(victims)

    def peer_host(self, node: str) -> str | None:
        """The remote IP address of one of ``node``'s current connections."""
        with self._lock:
            pipes = [p for p, n in self._pipes.values() if n == node]
        for p in pipes:
            try:
                addr = p.remote_address
            except pynng.NNGException:
                continue
            host = str(addr).rpartition(":")[0].strip("[]")
            if host:
                return host
        return None

    def connected_nodes(self) -> set[str]:
        with self._lock:
            return {n for _, n in self._pipes.values() if n}

    # -- requests --------------------------------------------------------------------------

    def _work(self) -> None:
        # created under the lock stop() takes, and only while not stopping: a context made
        # after stop() collected the ones to close would block its worker until the socket
        # closed, and one made while the socket closes races nng's teardown
        with self._lock:
            if self._stop.is_set() or self._sock is None:
                return
            ctx = self._sock.new_context()
            self._contexts.append(ctx)
        try:
            while not self._stop.is_set():
                try:
                    msg = ctx.recv_msg()
                except (pynng.Closed, TypeError):  # pynng raises TypeError on a context closed under it
                    return
                except pynng.NNGException as exc:
                    if self._stop.is_set():
                        return
                    log.warning("sync: receive failed: %s", exc)
                    continue
                out = self._answer(msg)
                if out is None:
                    continue
                try:
                    ctx.send(out)
                    self.stats.bytes_out += len(out)
                except (pynng.Closed, TypeError):
                    return
                except pynng.NNGException as exc:
                    log.info("sync: reply not delivered: %s", exc)
        finally:
            _close_quietly(ctx)

    def _answer(self, msg: pynng.Message) -> bytes | None:  # noqa: PLR0911 - one exit per refusal
        data = msg.bytes
        self.stats.bytes_in += len(data)
        with self._lock:
            entry = self._pipes.get(msg.pipe.id)
        if entry is None:
            # a pipe that was refused (or closed) before its message got here
            node = peer_node_of(msg.pipe) if self._require_cert else ""
            if node is None:
                self._reject("?", "message from a connection without a verified certificate")
                return None
        else:
            node = entry[1]
        if node:
            reason = self._authorize(node)
            if reason is not None:
                self._reject(node, reason)
                with contextlib.suppress(pynng.NNGException):
                    msg.pipe.close()
                return None
        try:
            env = wire.decode(data)
        except wire.WireError as exc:
            self._reject(node, str(exc))
            return _encode_error(None, f"malformed message: {exc}")
        if env.type != wire.REQUEST:
            self._reject(node, "not a request")
            return _encode_error(env, "expected a request")
        try:
            self._guard(node).check(env)
        except wire.WireError as exc:
            self._reject(node, str(exc))
            return _encode_error(env, str(exc))
        self.stats.requests += 1
        self.stats.by_kind[env.kind] = self.stats.by_kind.get(env.kind, 0) + 1
        try:
            result = self._handler(env.kind, env.payload, node)
            if not isinstance(result, dict):
                raise TypeError(f"handler for {env.kind!r} returned {type(result).__name__}")
            return wire.encode(wire.reply_to(env, result))
        except VaultSyncError as exc:
            log.info("sync: %s from %s refused: %s", env.kind, node or "pairing client", exc)
            return _encode_error(env, str(exc))
        except wire.WireError as exc:
            log.error("sync: reply to %s not encodable: %s", env.kind, exc)
            return _encode_error(env, "reply too large or not encodable")
        except Exception:
            log.exception("sync: handler for %s from %s failed", env.kind, node)
            return _encode_error(env, "internal error on the peer (see its log)")

    def _guard(self, node: str) -> wire.ReplayGuard:
        with self._lock:
            g = self._guards.get(node)
            if g is None:
                g = self._guards[node] = wire.ReplayGuard(capacity=100_000)
            return g

    def _reject(self, node: str, reason: str) -> None:
        self.stats.rejected += 1
        self.stats.note_rejection(f"{node or '?'}: {reason}")
        log.warning("sync: rejected message from %s: %s", node or "unknown peer", reason)


def _close_quietly(obj: Any) -> None:
    # a context stop() already closed: pynng raises TypeError on a second close
    with contextlib.suppress(pynng.NNGException, TypeError):
        obj.close()


def _remote(pipe: Any) -> str:
    try:
        return str(pipe.remote_address)
    except Exception:
        return "?"


def _encode_error(env: wire.Envelope | None, reason: str) -> bytes:
    return wire.encode(wire.error_to(env, reason))


class Client:
    """One outgoing link to one peer at ``host:port``; nng reconnects by itself.

    ``call`` is thread-safe (each call uses its own req context). ``peer_node`` is the
    node id from the server's verified certificate once connected; a server that
    ``authorize`` refuses (revoked, unknown) is disconnected at once.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        tls: pynng.TLSConfig,
        host: str,
        port: int,
        *,
        authorize: Authorizer = _allow_all,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        unavailable: type[Exception] = Unreachable,
        remote_error: type[Exception] = RemoteError,
        require_peer_cert: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self._tls = tls
        self._authorize = authorize
        self._timeout = timeout_ms
        self._unavailable = unavailable
        self._remote_error = remote_error
        self._require_cert = require_peer_cert
        self._sock: pynng.Req0 | None = None
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.peer_node: str | None = None
        self.refused_reason: str | None = None
        self.bytes_out = 0
        self.bytes_in = 0
        self._active: set[Any] = set()  # contexts of calls in flight

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def open(self) -> None:
        with self._lock:
            if self._sock is not None:
                return
            sock = pynng.Req0(
                tls_config=self._tls,
                recv_timeout=self._timeout,
                send_timeout=self._timeout,
                recv_max_size=wire.MAX_MESSAGE_BYTES + 1024,
                reconnect_time_min=100,
                reconnect_time_max=3000,
                # a request whose reply is lost is not re-sent by nng: the caller decides
                resend_time=-1,
            )
            sock.add_post_pipe_connect_cb(self._on_connect)
            sock.add_post_pipe_remove_cb(self._on_remove)
            sock.dial(url(self.host, self.port), block=False)
            self._sock = sock
            _open.add(self)

    def close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
            active = list(self._active)
        for ctx in active:  # abort calls in flight before their socket goes away
            _close_quietly(ctx)
        self._connected.clear()
        if sock is not None:
            sock.close()
        _open.discard(self)

    def _on_connect(self, pipe: Any) -> None:
        node = peer_node_of(pipe)
        if node is None and self._require_cert:
            self.refused_reason = "peer has no verified terminal certificate"
            pipe.close()
            return
        if node:
            reason = self._authorize(node)
            if reason is not None:
                self.refused_reason = reason
                log.warning("sync: refused peer %s at %s: %s", node, self.address, reason)
                pipe.close()
                return
        self.peer_node = node
        self.refused_reason = None
        self._connected.set()

    def _on_remove(self, pipe: Any) -> None:
        self._connected.clear()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def call(self, kind: str, payload: Payload, *, timeout_ms: int | None = None) -> Payload:
        """Send one request and return the reply payload (see module docstring)."""
        sock = self._sock
        if sock is None:
            raise self._unavailable(f"link to {self.address} is closed")
        req = wire.request(next(self._ids), kind, payload)
        try:
            data = wire.encode(req)
        except wire.WireError as exc:
            raise self._remote_error(f"cannot send {kind}: {exc}") from exc
        if self.peer_node:
            # trust can change while a link is up (a revocation arrives): every call asks again
            reason = self._authorize(self.peer_node)
            if reason is not None:
                self.refused_reason = reason
                raise self._unavailable(f"peer {self.address} refused: {reason}")
        deadline = time.monotonic() + (timeout_ms or self._timeout) / 1000
        if not self._connected.is_set() and not self._connected.wait(max(0.0, deadline - time.monotonic())):
            why = f" ({self.refused_reason})" if self.refused_reason else ""
            raise self._unavailable(f"peer {self.address} is not connected{why}")
        try:
            ctx = sock.new_context()
        except pynng.NNGException as exc:
            raise self._unavailable(f"link to {self.address} is closed") from exc
        with self._lock:
            self._active.add(ctx)
        try:
            ctx.send(data)
            self.bytes_out += len(data)
            raw = ctx.recv()
        except pynng.Timeout as exc:
            raise self._unavailable(f"peer {self.address} did not answer {kind} in time") from exc
        except pynng.NNGException as exc:
            raise self._unavailable(f"peer {self.address}: {exc}") from exc
        finally:
            with self._lock:
                self._active.discard(ctx)
            _close_quietly(ctx)
        self.bytes_in += len(raw)
        try:
            rep = wire.decode(raw)
        except wire.WireError as exc:
            raise self._remote_error(f"peer {self.address} sent a malformed reply: {exc}") from exc
        if rep.request_id != req.request_id:
            raise self._remote_error(f"peer {self.address} answered another request")
        if rep.type == wire.ERROR:
            raise self._remote_error(str(rep.payload.get("reason", "error")))
        if rep.type != wire.REPLY:
            raise self._remote_error(f"peer {self.address} sent a request instead of a reply")
        return rep.payload
