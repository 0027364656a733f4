"""The multi-process mesh benchmark's harness (benchmarks/bench_mesh.py) works and cleans up.

Three terminals, each its own OS process with its own SQLite database, certificate and
SyncNode (mutual TLS on loopback), ring up three sales each through the checkout
service; the harness must see them converge to identical replicas and leave no worker
process behind. A second test proves the clean-up on failure: a coordinator that raises,
and a worker whose coordinator vanished (stdin closed), both end every worker. This
keeps the load benchmark of issue 4 from rotting silently; its speed is measured by
``python -m benchmarks.bench_mesh``, not here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks.bench_mesh import Mesh, Params, lagging, prepare, run_mesh, table, target_clock
from tests.sync.net_helpers import free_port
from vaultsync.store import open_store
from vaultsync.sync import pairing
from vaultsync.sync.node import SyncNode


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_three_processes_converge_to_identical_replicas() -> None:
    p = Params(nodes=3, sales=3, pace_ms=50, degree=2, interval=0.5, idle_s=0, timeout=60, setup_timeout=120)
    r = run_mesh(p)
    assert r["identical"]
    assert len(set(r["digests"])) == 1 and len(r["digests"]) == 3
    assert r["transactions"] == 9  # every sale of every register, on every replica, once
    assert r["total_changes"] >= 9 * 3  # a sale writes several replicated rows
    assert r["delivered"] == r["total_changes"] * 2
    assert r["push_applied"] + r["pull_applied"] == r["delivered"]
    assert 0 <= r["converge_s"] < 60
    assert r["wire"] > 0 and all(mb > 0 for mb in r["rss_mb"])
    rendered = table(r).markdown()
    assert "every replica identical (digest + row counts): met" in rendered
    assert all(_gone(pid) for pid in r["pids"]), "a worker process outlived the benchmark"


def test_workers_die_with_a_failing_coordinator_or_a_closed_pipe(tmp_path: Path) -> None:
    p = Params(nodes=2, sales=1, interval=0.5, idle_s=0)
    specs, _cashier, _sku, _shop = prepare(tmp_path, p)
    with pytest.raises(RuntimeError, match="coordinator failed"), Mesh(specs, p) as mesh:
        for proc in mesh.procs:
            proc.expect("ready", 60)
        pids = [proc.popen.pid for proc in mesh.procs]
        # a worker whose coordinator is gone (its stdin closes) stops on its own
        first = mesh.procs[0]
        assert first.popen.stdin is not None
        first.popen.stdin.close()
        first.popen.wait(timeout=30)
        raise RuntimeError("coordinator failed")
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in pids)


def test_lag_arithmetic() -> None:
    statuses = [
        {"clock": {"a": 5, "b": 2}},
        {"clock": {"a": 3, "b": 4, "c": 0}},
        {"clock": {"a": 5, "b": 4}},
    ]
    target = target_clock(statuses)
    assert target == {"a": 5, "b": 4}
    assert lagging(statuses, target) == [(0, 2), (1, 2)]
    assert lagging([statuses[2]], target) == []


def test_an_idle_node_reads_the_revoked_set_at_most_once_a_second(tmp_path: Path) -> None:
    """The maintainer steps four times a second; re-reading the revoked set each step was
    four database reads a second per terminal for nothing (at 50 terminals, a visible share
    of the idle mesh's CPU). Trust re-reads at most once a second; revoked_changed() at once."""
    store = open_store(f"sqlite:///{tmp_path / 'vaultsync.db'}")
    ident = pairing.init_shop(store, tmp_path, name="Idle Shop")
    node = SyncNode(
        store,
        ident,
        host="127.0.0.1",
        port=free_port(),
        zeroconf=False,
        interval=60,
        pairing_port=free_port(),
    )
    reads = 0
    inner = node.trust.refresh

    def counted() -> set[str]:
        nonlocal reads
        reads += 1
        return inner()

    node.trust.refresh = counted  # type: ignore[method-assign]
    node.start()
    try:
        time.sleep(0.5)
        reads = 0
        time.sleep(3.0)
        assert 1 <= reads <= 4, f"{reads} reads of the revoked set in 3 s"
        before = reads
        node.revoked_changed()  # a revocation recorded here is enforced at once
        assert reads == before + 1
    finally:
        node.stop()
        store.close()
