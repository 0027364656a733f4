"""Mesh convergence with one OS process per terminal (issue 4: 50 nodes x 1,000 sales).

Every terminal is its own process (:mod:`benchmarks.bench_mesh_worker`) with its own
SQLite database, its own certificate from the one shop CA, and a real :class:`SyncNode`
talking mutual TLS over ``tls+tcp`` on loopback to static peers (no zeroconf). Each
terminal dials ``--degree`` others — the next one in a ring (so the mesh is always
connected) plus random ones — and is dialled back; anti-entropy every ``--interval``
seconds relays changes to the terminals a node is not linked to. Every register rings up
``--sales`` sales through the real checkout service, one every ``--pace-ms`` ms (the
registers' schedules are staggered across one pace period).

**Why the sales are paced.** A sale is 5 change rows (transaction, line, tender, stock
movement, and the SKU row's LWW update). With N terminals every change is applied on N-1
others, so the mesh applies ``N * (N-1) * sales * rows`` changes: 50 x 49 x 1,000 x 5 ≈
12 M applications, on 2 shared cores. The mesh keeps up only if the offered load
``N * (N-1) * rows / pace`` stays under what the cores apply (printed in the table, with
the single-process merge rate measured in the same run as the anchor). Sold faster than
that, the backlog at the last sale, not the protocol, decides the convergence time.

Measured: time from the last sale until every vector clock is equal AND every replica's
digest and per-table row counts agree; changes applied per second mesh-wide; bytes on
the wire per change delivered (transport counters); peak RSS and CPU seconds per node;
what arrived by live push vs anti-entropy pull, duplicates, busy-database refusals.

**Degree and interval at 50 terminals.** Each link costs an anti-entropy round (a
``changes`` request, a ``hello`` for the lag figures, a ``peer_links`` write) every
interval on both ends, so the idle mesh's CPU grows with ``nodes x links / interval``:
at 50 terminals, degree 3 (~6 links each) and a 1 s interval the converged, idle mesh
used 1.8 of the 2 cores; at 5 s, 1.1-1.3. Relaying grows the other way: a change
reaches a terminal that is not a direct peer of its origin after up to one interval per
hop (~3 hops at degree 3 for 50 nodes), so the worst-case relay latency is a few
intervals. 5 s (the node's default) and degree 3 keep both inside the 30 s target; a
higher degree shortens the paths but multiplies the rounds and the duplicate deliveries.

A run that does not converge within ``--timeout`` after the last sale stops with a
report of which nodes lag, by how much and why (their counters). Every worker runs in its
own process group and is killed on exit, Ctrl-C or failure; workers also die with the
coordinator (stdin EOF and ``PR_SET_PDEATHSIG``).

Run::

    .venv/bin/python -m benchmarks.bench_mesh                     # quick: 10 nodes x 50 sales
    .venv/bin/python -m benchmarks.bench_mesh --nodes 50 --sales 1000 --pace-ms 1000
    .venv/bin/python -m benchmarks --only sync                    # quick run inside the suite
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import Table
from benchmarks.shop_keys import enroll
from tests.services.pos_fixtures import build_pos
from vaultsync.store import open_store
from vaultsync.store.models import StockMovement
from vaultsync.sync import pairing
from vaultsync.sync.apply import apply_batch, vector_clock
from vaultsync.sync.protocol import changes_for

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("bench_mesh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Params:
    nodes: int = 10
    sales: int = 50
    pace_ms: float = 200.0
    degree: int = 3
    interval: float = 1.0
    workers: int = 2
    #: seconds between a worker's status lines (each costs it a vector-clock read)
    status_s: float = 0.5
    seed: int = 7
    #: seconds allowed from the last sale to convergence before the run is declared stuck
    timeout: float = 120.0
    setup_timeout: float = 300.0
    #: seconds the converged mesh is watched with no sales (its idle CPU), 0 to skip
    idle_s: float = 5.0
    keep: bool = False
    log_level: str = "WARNING"


@dataclass
class Spec:
    index: int
    dir: Path
    port: int
    pairing_port: int
    node_id: str
    peers: list[int] = field(default_factory=list)


def progress(text: str) -> None:
    """One line on stderr per phase, so a long run shows where it is."""
    print(f"[bench_mesh {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class MeshTimeout(RuntimeError):
    """The mesh did not converge in time; the message says which nodes lag and why."""


# --------------------------------------------------------------------------- set-up


def prepare(root: Path, p: Params) -> tuple[list[Spec], str, str, str]:
    """Databases + certificates for every terminal (one shop CA), the shop's base data on node 0.

    Pairing itself is measured by the tests; here the first terminal signs each new
    terminal's key directly, as :mod:`benchmarks.bench_sync` does. Returns the specs, the
    cashier's user id, the SKU every register sells and the shop id.
    """
    specs: list[Spec] = []
    first_dir = root / "n000"
    first_dir.mkdir()
    first = open_store(f"sqlite:///{first_dir / 'vaultsync.db'}")
    try:
        ca = pairing.init_shop(first, first_dir, name="Mesh Bench Shop")
        specs.append(Spec(0, first_dir, free_port(), free_port(), first.node_id))
        for i in range(1, p.nodes):
            d = root / f"n{i:03d}"
            d.mkdir()
            store = open_store(f"sqlite:///{d / 'vaultsync.db'}")
            try:
                enroll(first, ca, store, d, f"register {i}")
                specs.append(Spec(i, d, free_port(), 0, store.node_id))
            finally:
                store.close()
        pos = build_pos(first)
        with first.uow() as uow:  # enough stock that no register ever oversells
            uow.add(
                StockMovement(sku_id=pos.bulk_id, location_id=pos.case_id, delta=10_000_000, reason="receive")
            )
        cashier, sku, shop_id = pos.cashier.id, pos.bulk_id, first.shop_id
    finally:
        first.close()
    rng = random.Random(p.seed)
    for spec in specs:
        ring = (spec.index + 1) % p.nodes
        others = [j for j in range(p.nodes) if j not in (spec.index, ring)]
        spec.peers = ([ring] if p.nodes > 1 else []) + rng.sample(
            others, min(max(0, p.degree - 1), len(others))
        )
    return specs, cashier, sku, shop_id


# --------------------------------------------------------------------------- worker processes


class Proc:
    """One worker process: its pipes, its latest status line, its other messages."""

    def __init__(self, spec: Spec, specs: list[Spec], p: Params) -> None:
        self.spec = spec
        self.log_path = spec.dir / "worker.log"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.bench_mesh_worker",
            "--dir",
            str(spec.dir),
            "--index",
            str(spec.index),
            "--port",
            str(spec.port),
            "--pairing-port",
            str(spec.pairing_port),
            "--interval",
            str(p.interval),
            "--workers",
            str(p.workers),
            "--log-level",
            p.log_level,
            "--status-s",
            str(p.status_s),
        ]
        for j in spec.peers:
            cmd += ["--peer", f"127.0.0.1:{specs[j].port}"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self.popen = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            start_new_session=True,  # own process group: killed as a group
        )
        self.status: dict[str, Any] = {}
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"mesh-read-{spec.index}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("type") in ("status", "sold"):
                self.status = msg
            if msg.get("type") != "status":
                self.messages.put(msg)

    def send(self, **cmd: Any) -> None:
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(json.dumps(cmd) + "\n")
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise RuntimeError(f"node {self.spec.index} is gone ({self.describe_exit()})") from exc

    def expect(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None and self.messages.empty():
                raise RuntimeError(f"node {self.spec.index} exited ({self.describe_exit()})")
            try:
                msg = self.messages.get(timeout=min(0.5, max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise MeshTimeout(f"node {self.spec.index}: no {kind!r} within {timeout:.0f} s") from None
                continue
            if msg.get("type") == "error":
                raise RuntimeError(f"node {self.spec.index}: {msg.get('message')}")
            if msg.get("type") == kind:
                return msg

    def describe_exit(self) -> str:
        code = self.popen.poll()
        tail = ""
        with contextlib.suppress(OSError):
            tail = self.log_path.read_text(errors="replace")[-600:].strip()
        return f"exit code {code}; log tail: {tail or '(empty)'}"

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # its own group: pgid == its pid
        with contextlib.suppress(Exception):
            self.popen.wait(timeout=5)
        self._log.close()


class Mesh:
    """The running worker processes; a context manager that always leaves no process behind."""

    def __init__(self, specs: list[Spec], p: Params) -> None:
        self.specs = specs
        self.p = p
        self.procs: list[Proc] = []
        atexit.register(self.kill_all)

    def __enter__(self) -> Mesh:
        self._old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
        if threading.current_thread() is threading.main_thread():
            for s in self._old:
                signal.signal(s, _raise_exit)
        try:
            for spec in self.specs:
                self.procs.append(Proc(spec, self.specs, self.p))
        except BaseException:
            self.kill_all()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            self.kill_all()
            atexit.unregister(self.kill_all)
            if threading.current_thread() is threading.main_thread():
                for s, h in self._old.items():
                    signal.signal(s, h)

    def stop_all(self, grace: float = 20.0) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                proc.send(cmd="stop")
        deadline = time.monotonic() + grace
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))

    def kill_all(self) -> None:
        for proc in self.procs:
            proc.kill()

    def broadcast(self, kind: str, timeout: float, **cmd: Any) -> list[dict[str, Any]]:
        for proc in self.procs:
            proc.send(**cmd)
        deadline = time.monotonic() + timeout
        return [proc.expect(kind, max(1.0, deadline - time.monotonic())) for proc in self.procs]

    def statuses(self) -> list[dict[str, Any]]:
        return [proc.status for proc in self.procs]

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"node {proc.spec.index} exited ({proc.describe_exit()})")


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- convergence


def _clean(clock: dict[str, int]) -> dict[str, int]:
    return {o: int(s) for o, s in clock.items() if s}


def target_clock(statuses: list[dict[str, Any]]) -> dict[str, int]:
    """Each origin's own last seq as that origin reports it: what every replica must reach."""
    target: dict[str, int] = {}
    for st in statuses:
        for origin, seq in _clean(st.get("clock", {})).items():
            target[origin] = max(target.get(origin, 0), seq)
    return target


def lagging(statuses: list[dict[str, Any]], target: dict[str, int]) -> list[tuple[int, int]]:
    """(node index, changes it still lacks) for every node not at the target, worst first."""
    out = []
    for i, st in enumerate(statuses):
        clock = _clean(st.get("clock", {}))
        missing = sum(max(0, seq - clock.get(o, 0)) for o, seq in target.items())
        if missing or not st:
            out.append((i, missing if st else -1))
    return sorted(out, key=lambda x: -x[1])


def wait_converged(mesh: Mesh, timeout: float, what: str, *, settle: float | None = None) -> float:
    """Wait until every node's clock equals the target (and stays so for a status period)."""
    deadline = time.monotonic() + timeout
    fresh_after = time.time()
    while True:
        mesh.check_alive()
        statuses = mesh.statuses()
        fresh = all(st and st.get("t", 0) > fresh_after for st in statuses)
        if fresh and not any(st.get("selling") for st in statuses):
            target = target_clock(statuses)
            if not lagging(statuses, target):
                # a second look, with status lines sent after this target was seen
                seen = time.time()
                time.sleep(settle if settle is not None else mesh.p.status_s + 0.2)
                again = mesh.statuses()
                fresh_again = all(st.get("t", 0) > seen for st in again)
                if fresh_again and target_clock(again) == target and not lagging(again, target):
                    return time.time()
        if time.monotonic() > deadline:
            raise MeshTimeout(f"{what}: not converged after {timeout:.0f} s\n" + lag_report(mesh))
        time.sleep(0.2)


def _fresh_statuses(mesh: Mesh, after: float, timeout: float) -> None:
    """Wait until every node has reported a status taken after wall-clock time ``after``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(st.get("t", 0) > after for st in mesh.statuses()):
            return
        time.sleep(0.05)


def measure_idle(mesh: Mesh, seconds: float) -> float:
    """Cores the converged mesh uses with no sales: the cost of anti-entropy rounds alone."""
    if seconds <= 0:
        return 0.0
    _fresh_statuses(mesh, time.time(), 10.0)
    a = mesh.statuses()
    time.sleep(seconds)
    _fresh_statuses(mesh, time.time(), 10.0)
    b = mesh.statuses()
    cpu = sum(y.get("cpu_s", 0) - x.get("cpu_s", 0) for x, y in zip(a, b, strict=True))
    wall = sum(y.get("t", 0) - x.get("t", 0) for x, y in zip(a, b, strict=True)) / max(1, len(a))
    return cpu / wall if wall > 0 else 0.0


def lag_report(mesh: Mesh) -> str:
    statuses = mesh.statuses()
    target = target_clock(statuses)
    lines = [f"target: {sum(target.values()):,} changes from {len(target)} origins"]
    lags = lagging(statuses, target)
    lines.append(f"{len(lags)} of {len(statuses)} nodes lag (counters since the worker started):")
    for i, missing in lags[:15]:
        st = statuses[i]
        lines.append(
            f"  node {i:3d}: lacks {missing:,} changes; "
            f"links ready {st.get('links_ready')}/{st.get('links')}; "
            f"push applied {st.get('push_applied', 0):,} (dup {st.get('push_skipped', 0):,}, "
            f"deferred {st.get('push_deferred', 0):,}); pull applied {st.get('pull_applied', 0):,} in "
            f"{st.get('pull_batches', 0):,} batches ({st.get('pull_s', 0):.1f} s); busy {st.get('busy', 0)}; "
            f"cpu {st.get('cpu_s', 0):.0f} s; log {mesh.procs[i].log_path}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- anchor


def merge_anchor(specs: list[Spec], shop_id: str, root: Path, chunk: int, limit: int) -> tuple[int, float]:
    """Changes/s of the merge engine in one process: one replica's whole log into a fresh database.

    Applied in ``chunk``-sized transactions in HLC order: 1,000 is an anti-entropy batch
    (PULL_BATCH), ~5 is what one live push of one commit of a sale carries. The mesh has
    to do this N times over (every node applies everything once), so
    ``N * changes / rate / cores`` is the least CPU time the mesh can converge in. At most
    ``limit`` changes are applied (a prefix in HLC order, so every parent comes first): the
    rate is what matters, and small batches are slow enough to dominate a big run otherwise.
    """
    src = open_store(f"sqlite:///{specs[-1].dir / 'vaultsync.db'}")
    fresh_dir = root / f"anchor-{chunk}"
    fresh_dir.mkdir()
    dst = open_store(f"sqlite:///{fresh_dir / 'vaultsync.db'}")
    try:
        pairing.adopt_shop(dst, shop_id)
        changes: list[Any] = []
        clock: dict[str, int] = {}
        while True:  # fetch first (not timed): the anchor is the apply, as the mesh's is
            batch, more = changes_for(src, clock, 1000)
            batch = [c for c in batch if c.seq > clock.get(c.origin_node, 0)]  # not the fork-check repeat
            if not batch:
                break
            changes.extend(batch)
            for c in batch:
                clock[c.origin_node] = max(clock.get(c.origin_node, 0), c.seq)
            if not more:
                break
        changes.sort(key=lambda c: (c.hlc, c.origin_node, c.seq))
        del changes[limit:]
        batches = [
            sorted(changes[i : i + chunk], key=lambda c: (c.origin_node, c.seq))
            for i in range(0, len(changes), chunk)
        ]
        t0 = time.perf_counter()
        for batch in batches:
            apply_batch(dst, batch)
        elapsed = time.perf_counter() - t0
        want: dict[str, int] = {}
        for c in changes:
            want[c.origin_node] = max(want.get(c.origin_node, 0), c.seq)
        if _clean(vector_clock(dst)) != want:
            raise RuntimeError("the anchor replica did not reach the source's clock")
    finally:
        src.close()
        dst.close()
    return len(changes), elapsed


# --------------------------------------------------------------------------- the run


def run_mesh(p: Params) -> dict[str, Any]:
    """Run the whole benchmark; a dict of measurements (see :func:`table`)."""
    tmp = tempfile.mkdtemp(prefix="vaultsync-mesh-")
    root = Path(tmp)
    ok = False
    try:
        t0 = time.monotonic()
        progress(f"preparing {p.nodes} databases and certificates in {root}")
        specs, cashier, sku, shop_id = prepare(root, p)
        progress(f"starting {p.nodes} worker processes")
        prepared = time.monotonic() - t0
        with Mesh(specs, p) as mesh:
            for proc in mesh.procs:
                proc.expect("ready", p.setup_timeout)
            wait_converged(mesh, p.setup_timeout, "base data")
            progress(f"base data everywhere after {time.monotonic() - t0:.1f} s; opening registers")
            mesh.broadcast("opened", p.setup_timeout, cmd="open", cashier=cashier)
            wait_converged(mesh, p.setup_timeout, "registers opened")
            setup = time.monotonic() - t0
            idle_cpu = measure_idle(mesh, p.idle_s)
            progress(f"set up in {setup:.1f} s; idle mesh uses {idle_cpu:.2f} cores; selling")
            before = {i: dict(st) for i, st in enumerate(mesh.statuses())}
            base_total = sum(target_clock(mesh.statuses()).values())
            start_at = time.time() + 1.0
            for i, proc in enumerate(mesh.procs):
                offset = p.pace_ms * i / max(1, p.nodes) / 1000  # registers staggered over one period
                proc.send(cmd="sell", sales=p.sales, pace_ms=p.pace_ms, start_at=start_at + offset, sku=sku)
            plan = p.pace_ms * (p.sales - 1) / 1000 + p.pace_ms / 1000
            sold = [proc.expect("sold", plan + p.setup_timeout) for proc in mesh.procs]
            errors = [f"node {i}: {s['sell_error']}" for i, s in enumerate(sold) if s.get("sell_error")]
            if errors:
                raise RuntimeError("selling failed: " + "; ".join(errors[:5]))
            last_sale = max(s["last_sale_at"] for s in sold)
            first_sale = min(s["first_sale_at"] for s in sold)
            _fresh_statuses(mesh, last_sale, 10.0)
            progress("last sale rung up; waiting for convergence")
            backlog = lag_report(mesh)
            at_last_sale = mesh.statuses()
            lacking_at_last = sum(m for _, m in lagging(at_last_sale, target_clock(at_last_sale)))
            converged_seen = wait_converged(
                mesh, p.timeout + (last_sale - time.time()), "after the last sale"
            )
            after = mesh.statuses()
            converged_at = max([last_sale, *(st.get("last_apply_at", 0) for st in after)])
            converged_at = min(converged_at, converged_seen)
            progress(f"all vector clocks equal {converged_at - last_sale:.1f} s after the last sale; digests")
            # every node hashes its whole replica at once: ~5 s of CPU each at 50 x 1,000 on
            # 2 cores, so a fixed 2 minutes was too short (it failed a converged 50 x 1,000 run)
            digests = mesh.broadcast("digest", max(120.0, 10.0 * p.nodes), cmd="digest")
            pids = [proc.popen.pid for proc in mesh.procs]
        ok = True
    finally:
        if not ok and not p.keep:
            print(f"(worker logs kept in {root})", file=sys.stderr)
    total_changes = sum(target_clock(after).values()) - base_total
    distinct = {d["digest"] for d in digests}
    rows = {json.dumps(d["rows"], sort_keys=True) for d in digests}
    progress(f"converged {converged_at - last_sale:.1f} s after the last sale; measuring the merge anchor")
    anchor_changes, anchor_s = merge_anchor(specs, shop_id, root, 1000, 20_000)
    anchor_small, anchor_small_s = merge_anchor(specs, shop_id, root, 5, 3_000)
    if not p.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)

    def delta(key: str) -> list[float]:
        return [float(a.get(key, 0)) - float(before[i].get(key, 0)) for i, a in enumerate(after)]

    delivered = total_changes * (p.nodes - 1)
    return {
        "params": p,
        "pids": pids,
        "digests": [d["digest"] for d in digests],
        "prepared_s": prepared,
        "setup_s": setup,
        "total_changes": total_changes,
        "delivered": delivered,
        "selling_s": last_sale - first_sale,
        "converge_s": converged_at - last_sale,
        "elapsed_s": converged_at - first_sale,
        "lacking_at_last_sale": lacking_at_last,
        "backlog_report": backlog,
        "identical": len(distinct) == 1 and len(rows) == 1,
        "transactions": digests[0]["rows"].get("transactions"),
        "wire": sum(delta("wire_bytes")) / 2,  # each byte is counted by its sender and receiver
        "push_applied": sum(delta("push_applied")),
        "pull_applied": sum(delta("pull_applied")),
        "dups": sum(delta("push_skipped")) + sum(delta("pull_skipped")),
        "busy": sum(delta("busy")),
        "grouped": sum(delta("grouped")),
        "apply_s": sum(delta("push_s")) + sum(delta("pull_s")),
        "serve_s": sum(delta("serve_s")),
        "cpu": delta("cpu_s"),
        "rss_mb": [a.get("rss_kb", 0) / 1024 for a in after],
        "sale_ms_avg": sum(s["sale_ms_avg"] for s in sold) / len(sold),
        "sale_ms_max": max(s["sale_ms_max"] for s in sold),
        "late_ms_max": max(s["late_ms_max"] for s in sold),
        "links": [a.get("links", 0) for a in after],
        "anchor_changes": anchor_changes,
        "anchor_rate": anchor_changes / anchor_s if anchor_s else 0.0,
        "anchor_small": anchor_small,
        "anchor_small_rate": anchor_small / anchor_small_s if anchor_small_s else 0.0,
        "idle_cores": idle_cpu,
        "register_locked": sum(s.get("register_locked", 0) for s in sold),
    }


def table(r: dict[str, Any]) -> Table:
    p: Params = r["params"]
    per_sale = r["total_changes"] / max(1, p.nodes * p.sales)
    offered = p.nodes * (p.nodes - 1) * per_sale / (p.pace_ms / 1000)
    rate = r["delivered"] / max(1e-9, r["elapsed_s"])
    cores = os.cpu_count() or 1
    floor_s = r["delivered"] / max(1.0, r["anchor_rate"]) / cores
    cpu = r["cpu"]
    converge = r["converge_s"]
    return Table(
        title=(
            f"Mesh convergence: {p.nodes} terminals x {p.sales} sales, one process each "
            f"(mutual TLS on loopback, degree {p.degree}, anti-entropy every {p.interval:g} s)"
        ),
        columns=["measure", "value"],
        rows=[
            ["sales (total) / change rows written", f"{p.nodes * p.sales:,} / {r['total_changes']:,}"],
            ["pace per register (ms) / selling took (s)", f"{p.pace_ms:g} / {r['selling_s']:.1f}"],
            ["last sale → all clocks equal + digests equal (s)", round(converge, 2)],
            ["changes still missing somewhere at the last sale", r["lacking_at_last_sale"]],
            ["changes applied mesh-wide per second (ours)", round(rate)],
            ["offered load: changes/s the mesh must apply to keep up", round(offered)],
            [
                f"anchor: merge in one process, the first {r['anchor_changes']:,} changes of the log in "
                f"batches of 1,000 / the first {r['anchor_small']:,} in batches of 5 (changes/s)",
                f"{r['anchor_rate']:,.0f} / {r['anchor_small_rate']:,.0f}",
            ],
            [f"anchor: least CPU time for all applies on {cores} cores (s)", round(floor_s, 1)],
            ["bytes on the wire per change delivered", round(r["wire"] / max(1, r["delivered"]), 1)],
            [
                "arrived by live push / by anti-entropy pull / duplicates",
                (f"{int(r['push_applied']):,} / {int(r['pull_applied']):,} / {int(r['dups']):,}"),
            ],
            [
                "wall time in push merges + pulls (incl. waits, round trips), summed over threads, "
                "all nodes (s) / serving pulls (s)",
                f"{r['apply_s']:.0f} / {r['serve_s']:.0f}",
            ],
            ["merges that took several peers' batches in one transaction (group_merge)", int(r["grouped"])],
            [
                "busy-database refusals to peers / register waits past the busy timeout",
                (f"{int(r['busy'])} / {int(r['register_locked'])}"),
            ],
            [
                "cores used by the converged mesh with no sales (anti-entropy alone)",
                round(r["idle_cores"], 2),
            ],
            [
                "CPU s per node: mean / max (all nodes: total)",
                f"{sum(cpu) / len(cpu):.1f} / {max(cpu):.1f} ({sum(cpu):.0f})",
            ],
            [
                "peak RSS per node MB: mean / max",
                f"{sum(r['rss_mb']) / len(r['rss_mb']):.0f} / {max(r['rss_mb']):.0f}",
            ],
            [
                "a sale at the register, ms: mean / max (worst lateness)",
                (f"{r['sale_ms_avg']:.0f} / {r['sale_ms_max']:.0f} ({r['late_ms_max']:.0f})"),
            ],
            ["set-up: certificates + base data + registers everywhere (s)", round(r["setup_s"], 1)],
        ],
        notes=[
            f"each terminal is its own process with its own SQLite database; it dials {p.degree} others "
            f"(ring + random) and is dialled back (~{sum(r['links']) / len(r['links']):.1f} links each); "
            "live push reaches direct peers, anti-entropy relays the rest",
            f"a sale is ~{per_sale:.1f} change rows; every change is applied on {p.nodes - 1} other nodes "
            f"({r['delivered']:,} applications); the registers share the 2 cores with all of it",
            f"every replica ends with the same digest and row counts: {r['identical']} "
            f"({r['transactions']:,} transactions rows)",
        ],
        targets=[
            (f"{p.nodes} nodes converge within 30 s of the last sale", converge <= 30 and r["identical"]),
            ("every replica identical (digest + row counts)", bool(r["identical"])),
        ],
    )


def run(quick: bool) -> list[Table]:
    """Suite entry (``python -m benchmarks --only sync``).

    Quick (~2 min): 10 x 50, one sale every 0.5 s per register, anti-entropy every 1 s.
    Full (~14 min): the issue's 50 terminals, 40 sales each at one every 15 s (the pace the
    2 shared cores sustain with the merge engine as it is), anti-entropy every 5 s.
    """
    if quick:
        p = Params(nodes=10, sales=50, pace_ms=500)
    else:
        p = Params(nodes=50, sales=40, pace_ms=15_000, interval=5.0, status_s=1.0, timeout=600)
    return [table(run_mesh(p))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--sales", type=int, default=50, help="sales per register")
    ap.add_argument("--pace-ms", type=float, default=200.0, help="one sale per register every PACE ms")
    ap.add_argument("--degree", type=int, default=3, help="peers each terminal dials")
    ap.add_argument("--interval", type=float, default=1.0, help="anti-entropy interval (s)")
    ap.add_argument("--workers", type=int, default=2, help="server threads per node")
    ap.add_argument("--timeout", type=float, default=120.0, help="give up this long after the last sale (s)")
    ap.add_argument("--setup-timeout", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--status-s", type=float, default=0.5, help="workers' status period (s)")
    ap.add_argument("--idle-s", type=float, default=5.0, help="watch the idle converged mesh this long (s)")
    ap.add_argument("--keep", action="store_true", help="keep the databases and worker logs")
    ap.add_argument("--log-level", default="WARNING", help="workers' log level (their logs: n*/worker.log)")
    ap.add_argument(
        "--results",
        action="store_true",
        help="also write the table as the 'mesh' section of benchmarks/RESULTS.md (a long run's record)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    p = Params(
        nodes=args.nodes,
        sales=args.sales,
        pace_ms=args.pace_ms,
        degree=args.degree,
        interval=args.interval,
        workers=args.workers,
        timeout=args.timeout,
        setup_timeout=args.setup_timeout,
        seed=args.seed,
        status_s=args.status_s,
        idle_s=args.idle_s,
        keep=args.keep,
        log_level=args.log_level,
    )
    try:
        result = run_mesh(p)
    except MeshTimeout as exc:
        print(f"MESH DID NOT CONVERGE: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"MESH RUN FAILED: {exc}", file=sys.stderr)
        return 1
    text = table(result).markdown()
    print(text)
    print()
    print("backlog at the last sale:\n" + result["backlog_report"])
    if args.results:
        from benchmarks import runner

        given = " ".join(sys.argv[1:] if argv is None else argv)
        record = f"{text}\n\n- run: `python -m benchmarks.bench_mesh {given}`"
        runner.write_results(runner.RESULTS, runner.machine_info(), {"mesh": record})
        print(f"wrote the mesh section of {runner.RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
