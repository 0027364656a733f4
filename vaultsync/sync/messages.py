"""Message vocabulary shared by the protocol's parts: payload types, errors, validation.

Split out of :mod:`vaultsync.sync.protocol` (which re-exports everything here) so the
reconciliation, snapshot and compaction modules can validate peer input the same way
without importing the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from vaultsync.domain.errors import ReplicationError
from vaultsync.sync.apply import DELETE, UPSERT, RemoteChange, replicated

Payload = dict[str, Any]
Call = Callable[[str, Payload], Payload]
"""Send one request of ``kind`` to a peer and return its reply payload.

Raises :class:`PeerUnavailable` when the peer cannot be reached or times out, and
:class:`ProtocolError` when the peer answered with an error."""

#: Hard cap on one message the engine builds or accepts (the transport may cap lower).
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
#: Target size of one batch of changes: well under the message cap (encoding overhead).
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024
#: Most changes one message may carry.
MAX_BATCH_CHANGES: Final = 10_000
#: Largest ``data`` of a single change (a product with big attributes stays far below).
MAX_CHANGE_DATA: Final = 1024 * 1024
#: Most origins a vector clock may name (a shop has a handful of terminals; this is a fence).
MAX_CLOCK_ENTRIES: Final = 4096
MAX_NODE_LEN: Final = 16
MAX_PK_LEN: Final = 64
_MAX_INT64: Final = (1 << 63) - 1
#: Per-change overhead estimate on the wire beyond its strings (msgpack ints and headers).
_CHANGE_OVERHEAD: Final = 40


class ProtocolError(ReplicationError):
    """A request or reply that cannot be accepted; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerUnavailable(ReplicationError):
    """The peer cannot be reached (no route, refused, timed out)."""


# --------------------------------------------------------------------------- validation helpers


def field_of(payload: Any, name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(payload, dict):
        raise ProtocolError(f"payload must be a map, got {type(payload).__name__}")
    if name not in payload:
        raise ProtocolError(f"missing field {name!r}")
    value = payload[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ProtocolError(f"field {name!r} must be {what}, got bool")
    if not isinstance(value, kind):
        raise ProtocolError(f"field {name!r} must be {what}, got {type(value).__name__}")
    return value


def int_field(payload: Payload, name: str, lo: int, hi: int, default: int | None = None) -> int:
    if default is not None and name not in payload:
        return default
    value = field_of(payload, name, int, "an integer")
    if not lo <= value <= hi:
        raise ProtocolError(f"field {name!r} must be in {lo}..{hi}, got {value}")
    return int(value)


def node_id_field(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NODE_LEN:
        raise ProtocolError(f"{where} must be a node id (1..{MAX_NODE_LEN} characters)")
    return value


def parse_clock(value: Any, where: str = "clock") -> dict[str, int]:
    """A vector clock from a peer: ``{node id: seq >= 0}``, bounded in size."""
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} must be a map of node id to seq, got {type(value).__name__}")
    if len(value) > MAX_CLOCK_ENTRIES:
        raise ProtocolError(f"{where} names {len(value)} nodes (at most {MAX_CLOCK_ENTRIES})")
    out: dict[str, int] = {}
    for node, seq in value.items():
        node_id_field(node, f"{where} key")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _MAX_INT64:
            raise ProtocolError(f"{where}[{node!r}] must be a non-negative integer")
        out[node] = int(seq)
    return out


def change_to_wire(c: RemoteChange) -> list[Any]:
    return [c.origin_node, c.seq, c.hlc, c.table_name, c.pk, c.op, c.data]


def change_from_wire(item: Any, tables: Mapping[str, Any] | None = None) -> RemoteChange:
    """One change from a peer, validated: shape, types, sizes, a replicated table, a known op."""
    if not isinstance(item, list | tuple) or len(item) != 7:
        raise ProtocolError("a change must be a list [origin, seq, hlc, table, pk, op, data]")
    origin, seq, hlc, table, pk, op, data = item
    node_id_field(origin, "change origin")
    for name, value, lo in (("seq", seq, 1), ("hlc", hlc, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= _MAX_INT64:
            raise ProtocolError(f"change {origin}:{seq!r}: {name} must be an integer >= {lo}")
    known = replicated() if tables is None else tables
    if not isinstance(table, str) or table not in known:
        raise ProtocolError(f"change {origin}:{seq}: {str(table)[:48]!r} is not a replicated table")
    if not isinstance(pk, str) or not 0 < len(pk) <= MAX_PK_LEN:
        raise ProtocolError(f"change {origin}:{seq}: pk must be a string of 1..{MAX_PK_LEN} characters")
    if op not in (UPSERT, DELETE):
        raise ProtocolError(f"change {origin}:{seq}: unknown op {str(op)[:16]!r}")
    if op == UPSERT:
        if not isinstance(data, str) or len(data) > MAX_CHANGE_DATA:
            raise ProtocolError(f"change {origin}:{seq}: an upsert needs data (a JSON object, bounded)")
    elif data is not None:
        raise ProtocolError(f"change {origin}:{seq}: a delete carries no data")
    return RemoteChange(origin, seq, hlc, table, pk, op, data)


def changes_from_wire(value: Any, where: str = "changes") -> list[RemoteChange]:
    if not isinstance(value, list):
        raise ProtocolError(f"{where} must be a list")
    if len(value) > MAX_BATCH_CHANGES:
        raise ProtocolError(f"{where} holds {len(value)} changes (at most {MAX_BATCH_CHANGES})")
    tables = replicated()
    out = [change_from_wire(item, tables) for item in value]
    if sum(wire_size(c) for c in out) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"{where} exceed {MAX_MESSAGE_BYTES} bytes")
    return out


def wire_size(c: RemoteChange) -> int:
    return _CHANGE_OVERHEAD + len(c.origin_node) + len(c.table_name) + len(c.pk) + len(c.data or "")
