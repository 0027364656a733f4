"""Identifiers that are unique without coordination.

Every terminal creates rows while offline, so primary keys cannot come from a shared
sequence. UUIDv7 puts the creation time in the high bits: ids sort roughly by age,
which keeps B-tree inserts local and makes a row's age visible when debugging sync.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7 with a 12-bit monotonic counter within the same millisecond."""
    global _last_ms, _counter  # noqa: PLW0603 - process-wide monotonic state, guarded by _lock
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # random start, room to grow
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new primary key: 32 lowercase hex characters of a UUIDv7."""
    return uuid7().hex


def new_node_id() -> str:
    """A terminal's identity in the mesh: random, 16 hex characters, created once per database."""
    return os.urandom(8).hex()


def new_ids(count: int) -> list[str]:
    """``count`` new primary keys at once: what ``count`` calls of :func:`new_id` return
    (same millisecond and counter rules, so they sort after every id made before and
    before every id made after), with one lock, clock read and ``os.urandom`` call per
    batch instead of per id — bulk imports make hundreds of thousands at a time."""
    global _last_ms, _counter  # the same process-wide state as uuid7()
    if count <= 0:
        return []
    rand = bytearray(os.urandom(8 * count))
    rand[::8] = bytes((b & 0x3F) | 0x80 for b in rand[::8])  # RFC 9562 variant bits "10"
    tails = rand.hex()
    out: list[str] = []
    append = out.append
    with _lock:
        ms = time.time_ns() // 1_000_000
        last, counter = _last_ms, _counter
        pos = 0
        while pos < count:
            if ms <= last:
                counter += 1
                if counter > 0xFFF:
                    last += 1
                    counter = 0
            else:
                last = ms
                counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
            # every id left in this millisecond, in one go
            run = min(count - pos, 0xFFF - counter + 1)
            head = f"{last & 0xFFFFFFFFFFFF:012x}7"
            for c in range(counter, counter + run):
                start = 16 * (pos + c - counter)
                append(f"{head}{c:03x}{tails[start : start + 16]}")
            pos += run
            counter += run - 1
        _last_ms, _counter = last, counter
    return out
