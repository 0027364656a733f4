"""Hybrid logical clock packed into one signed 64-bit integer.

Layout: ``wall_ms << 16 | counter``. A single integer sorts correctly with plain
integer comparison in Python, in SQL indexes and in the Cython kernels, and fits a
BIGINT column. The 47 bits of milliseconds last until the year 6429; the 16-bit
counter absorbs 65,536 events per millisecond before borrowing from the wall part,
which stays monotonic (it only ever moves the clock forward).

Ties between nodes are broken by node id, outside this module: the total order of
writes is ``(hlc, node_id)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

COUNTER_BITS = 16
COUNTER_MASK = (1 << COUNTER_BITS) - 1
#: A remote clock further ahead of our wall clock than this is refused: a peer with a
#: clock set to 2099 must not drag every terminal's timestamps into the future.
MAX_DRIFT_MS = 5 * 60 * 1000


class ClockDriftError(ValueError):
    """A remote HLC is implausibly far ahead of local wall time."""


def encode(wall_ms: int, counter: int = 0) -> int:
    if wall_ms < 0 or not 0 <= counter <= COUNTER_MASK:
        raise ValueError(f"bad HLC parts: wall_ms={wall_ms} counter={counter}")
    return (wall_ms << COUNTER_BITS) | counter


def decode(hlc: int) -> tuple[int, int]:
    """Split into (wall_ms, counter)."""
    return hlc >> COUNTER_BITS, hlc & COUNTER_MASK


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def now_floor() -> int:
    """The smallest HLC for the current wall time: what a fresh local event must exceed."""
    return encode(wall_ms())


def to_datetime(hlc: int) -> datetime:
    return datetime.fromtimestamp(decode(hlc)[0] / 1000, tz=UTC)


def next_after(last: int, floor: int) -> int:
    """The HLC of a local event given the last issued HLC and the current wall floor."""
    return floor if floor > last else last + 1


def check_remote(remote: int, floor: int | None = None) -> None:
    """Raise ClockDriftError if ``remote`` is too far ahead of local wall time."""
    floor = now_floor() if floor is None else floor
    if decode(remote)[0] - decode(floor)[0] > MAX_DRIFT_MS:
        raise ClockDriftError(
            f"remote clock {to_datetime(remote).isoformat()} is more than "
            f"{MAX_DRIFT_MS // 1000}s ahead of this terminal's clock"
        )


class HLC:
    """In-memory hybrid logical clock for one node.

    The store persists its clock in ``node_state`` (so several processes on one
    database stay monotonic); this class serves code that needs a clock without a
    database, like the sync engine's message stamps and the tests.
    """

    def __init__(self, last: int = 0, clock: Callable[[], int] = wall_ms) -> None:
        self._last = last
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def last(self) -> int:
        return self._last

    def now(self) -> int:
        """Stamp a local event: strictly greater than every HLC issued or observed before."""
        with self._lock:
            self._last = next_after(self._last, encode(self._clock()))
            return self._last

    def observe(self, remote: int) -> int:
        """Merge a remote HLC (on receive), returning the new local HLC."""
        with self._lock:
            floor = encode(self._clock())
            check_remote(remote, floor)
            self._last = max(next_after(self._last, floor), remote + 1)
            return self._last
