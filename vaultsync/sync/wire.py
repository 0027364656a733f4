"""The peer-to-peer wire format: one msgpack envelope per nng message (DESIGN.md §4).

Why an envelope of its own on top of TLS: TLS says *who* sent the bytes; the envelope
says what they are and lets a node refuse anything it does not expect *before* a
single handler runs. Every message is a msgpack array of exactly seven items::

    [version, type, request id, sent at (ms), nonce (16 bytes), kind, payload]

* ``version`` — :data:`WIRE_VERSION`; a different one is refused with a clear reason, so
  a terminal on an old build says "upgrade me" instead of misreading bytes.
* ``type`` — request, reply or error (an error's payload is ``{"reason": str}``).
* ``request id`` — chosen by the caller, echoed by the reply; a reply to another
  request is refused.
* ``sent at`` + ``nonce`` — replay protection (:class:`ReplayGuard`): a message older
  or newer than :data:`MAX_SKEW_MS`, or whose nonce was already seen, is refused.
* ``kind`` — the request kind (``hello``, ``changes``, ``push``…), a short dotted name.
* ``payload`` — a map with string keys of msgpack-able values.

Decoding is strict: hard size limit (:data:`MAX_MESSAGE_BYTES`) checked before
unpacking, msgpack's own length limits (so a 4-byte header cannot announce a 4 GB
string), string map keys only, no extension types, and exact item types. Anything
else is a :class:`WireError`: the receiver logs it, answers (or drops) and keeps serving.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgpack

WIRE_VERSION = 1

REQUEST = 1
REPLY = 2
ERROR = 3
_TYPES = {REQUEST, REPLY, ERROR}

#: Largest message a node sends or accepts. A bounded change batch (5,000 changes of a
#: few hundred bytes) or a snapshot chunk fits with room; anything bigger is refused.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: How far a message's timestamp may be from this node's clock (terminals without NTP drift).
MAX_SKEW_MS = 5 * 60 * 1000
NONCE_BYTES = 16
_MAX_ITEMS = 1_000_000
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}(?:\.[a-z][a-z0-9_]{0,23}){0,3}$")
_MAX_REQUEST_ID = (1 << 63) - 1


class WireError(ValueError):
    """A message that is not a valid VaultSync envelope; the text says why (for the log)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    type: int
    request_id: int
    kind: str
    payload: dict[str, Any]
    sent_at_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)
    nonce: bytes = field(default_factory=lambda: os.urandom(NONCE_BYTES))
    version: int = WIRE_VERSION

    @property
    def is_error(self) -> bool:
        return self.type == ERROR


def request(request_id: int, kind: str, payload: dict[str, Any]) -> Envelope:
    return Envelope(REQUEST, request_id, kind, payload)


def reply_to(req: Envelope, payload: dict[str, Any]) -> Envelope:
    return Envelope(REPLY, req.request_id, req.kind, payload)


def error_to(req: Envelope | None, reason: str) -> Envelope:
    """An error reply; ``req`` is None when the request itself could not be decoded."""
    rid = req.request_id if req is not None else 0
    kind = req.kind if req is not None else "error"
    return Envelope(ERROR, rid, kind, {"reason": reason[:500]})


def encode(env: Envelope) -> bytes:
    """Pack an envelope; refuses what the peer would refuse (bad kind, too large)."""
    if not _KIND_RE.match(env.kind):
        raise WireError(f"bad message kind {env.kind!r}")
    if env.type not in _TYPES:
        raise WireError(f"bad message type {env.type}")
    try:
        data = msgpack.packb(
            [env.version, env.type, env.request_id, env.sent_at_ms, env.nonce, env.kind, env.payload],
            use_bin_type=True,
            strict_types=False,
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise WireError(f"payload of {env.kind!r} cannot be encoded: {exc}") from exc
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"{env.kind!r} message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return bytes(data)


def decode(data: bytes) -> Envelope:
    """Unpack and check one message; :class:`WireError` for anything malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    if not data:
        raise WireError("empty message")
    try:
        items = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=MAX_MESSAGE_BYTES,
            max_bin_len=MAX_MESSAGE_BYTES,
            max_array_len=_MAX_ITEMS,
            max_map_len=_MAX_ITEMS,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise WireError(f"undecodable message: {type(exc).__name__}: {exc}") from None
    if not isinstance(items, list) or len(items) != 7:
        raise WireError("message is not a 7-item envelope")
    version, mtype, rid, sent_at, nonce, kind, payload = items
    if type(version) is not int or version != WIRE_VERSION:
        raise WireError(f"wire version {version!r} is not supported (this node speaks {WIRE_VERSION})")
    if type(mtype) is not int or mtype not in _TYPES:
        raise WireError(f"bad message type {mtype!r}")
    if type(rid) is not int or not 0 <= rid <= _MAX_REQUEST_ID:
        raise WireError("bad request id")
    if type(sent_at) is not int or sent_at < 0:
        raise WireError("bad timestamp")
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise WireError("bad nonce")
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise WireError(f"bad message kind {str(kind)[:40]!r}")
    if not isinstance(payload, dict):
        raise WireError("payload is not a map")
    if mtype == ERROR and not isinstance(payload.get("reason"), str):
        raise WireError("error message without a reason")
    return Envelope(mtype, rid, kind, payload, sent_at, nonce, version)


class ReplayGuard:
    """Refuses a message seen before or stamped outside the accepted clock window.

    Nonces are remembered for as long as their timestamps stay acceptable (twice the
    skew window), up to ``capacity`` entries; a message older than the window is refused
    by its timestamp, so forgetting its nonce after that is safe. Thread-safe.
    """

    def __init__(self, *, skew_ms: int = MAX_SKEW_MS, capacity: int = 200_000) -> None:
        self._skew = skew_ms
        self._capacity = capacity
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()
        #: oldest timestamp still accepted after the memory had to drop nonces early
        self._floor = 0

    def check(self, env: Envelope, *, now_ms: int | None = None) -> None:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if env.sent_at_ms < now - self._skew or env.sent_at_ms > now + self._skew:
            raise WireError(
                f"message stamped {env.sent_at_ms - now:+d} ms from this node's clock "
                f"(more than {self._skew // 1000} s): stale, replayed or a wrong clock"
            )
        with self._lock:
            if env.sent_at_ms < self._floor:
                raise WireError("message older than the replay window still remembered")
            if env.nonce in self._seen:
                raise WireError("replayed message (nonce already seen)")
            self._seen[env.nonce] = env.sent_at_ms
            horizon = now - 2 * self._skew
            while self._seen:
                _nonce, stamp = next(iter(self._seen.items()))
                if stamp >= horizon and len(self._seen) <= self._capacity:
                    break
                self._seen.popitem(last=False)
                if stamp >= horizon:
                    self._floor = max(self._floor, stamp + 1)
