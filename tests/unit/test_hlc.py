from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultsync.sync import hlc


def test_encode_decode_round_trip() -> None:
    value = hlc.encode(1_700_000_000_000, 42)
    assert hlc.decode(value) == (1_700_000_000_000, 42)
    assert hlc.encode(1, 0) > hlc.encode(0, hlc.COUNTER_MASK)


def test_bad_parts_rejected() -> None:
    with pytest.raises(ValueError):
        hlc.encode(-1)
    with pytest.raises(ValueError):
        hlc.encode(0, hlc.COUNTER_MASK + 1)


def test_monotonic_when_the_wall_clock_steps_back() -> None:
    times = iter([1000, 1000, 999, 500, 1001, 1001])
    clock = hlc.HLC(clock=lambda: next(times))
    stamps = [clock.now() for _ in range(6)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 6
    assert hlc.decode(stamps[4])[0] == 1001


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=50))
def test_strictly_increasing_for_any_clock(walls: list[int]) -> None:
    it = iter(walls)
    clock = hlc.HLC(clock=lambda: next(it))
    stamps = [clock.now() for _ in walls]
    assert all(b > a for a, b in pairwise(stamps))


def test_observe_moves_past_remote() -> None:
    clock = hlc.HLC(clock=lambda: 1000)
    remote = hlc.encode(1000 + 60_000, 7)  # a peer one minute ahead: plausible
    assert clock.observe(remote) > remote
    assert clock.now() > remote


def test_observe_refuses_a_clock_from_the_future() -> None:
    clock = hlc.HLC(clock=lambda: 1000)
    with pytest.raises(hlc.ClockDriftError):
        clock.observe(hlc.encode(1000 + hlc.MAX_DRIFT_MS + 1))
    assert clock.last == 0


def test_store_numbering_is_monotonic_across_processes_and_transactions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two processes writing one database concurrently never reuse a seq or an HLC."""
    import subprocess
    import sys

    from sqlalchemy import select

    from vaultsync.store import open_store
    from vaultsync.store.models import Change

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    open_store(url).close()
    script = (
        "import sys\n"
        "from vaultsync.store import open_store\n"
        "from vaultsync.store.models import Game\n"
        "s = open_store(sys.argv[1])\n"
        "for i in range(40):\n"
        "    with s.uow() as u:\n"
        "        u.add(Game(code=f'{sys.argv[2]}{i}', name='g'))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, url, tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    s = open_store(url)
    with s.read() as session:
        rows = session.execute(select(Change.seq, Change.hlc).order_by(Change.seq)).all()
    s.close()
    assert [r.seq for r in rows] == list(range(1, 81))
    hlcs = [r.hlc for r in rows]
    assert all(b > a for a, b in pairwise(hlcs))
