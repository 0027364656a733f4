"""Group commit of merges (vaultsync.sync.group_merge): real SQLite replicas, real threads.

Two registers (two origins) ring up real sales; a third replica merges their changes from
several threads at once, as a terminal's server workers (pushes) and maintainer (pulls)
do. The queue is held busy while the callers arrive, so the grouping itself is
deterministic rather than a race the test hopes to win.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from tests.services.pos_fixtures import build_pos
from tests.sync.test_apply import second_register, sell, snapshot
from vaultsync.store import Store, open_store
from vaultsync.sync import group_merge, hlc
from vaultsync.sync.apply import ApplyResult, RemoteChange, apply_batch, changes_since, vector_clock
from vaultsync.sync.protocol import ProtocolError, handle, push_payload

#: registers a and b, the replica, a's sales, b's sales
Shop = tuple[Store, Store, Store, list[RemoteChange], list[RemoteChange]]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    """Registers ``a`` and ``b`` (each with 6 sales of its own), an empty replica ``dst``,
    and each register's own sales as changes (``a``'s catalog is merged into ``dst``)."""
    a, b, dst = (open_store(f"sqlite:///{tmp_path / f'{n}.db'}") for n in ("a", "b", "dst"))
    pos = build_pos(a)
    catalog = changes_since(a, {}, 100_000)
    apply_batch(b, catalog)
    apply_batch(dst, catalog)
    reg_b, station_b = second_register(pos, b, "T2")
    for k in range(6):
        sell(pos.checkout, pos, pos.station_id, pos.bulk_id, f"a-{k}")
        sell(reg_b, pos, station_b, pos.bulk_id, f"b-{k}")
    known = vector_clock(dst)
    sales_a = [c for c in changes_since(a, known, 100_000) if c.origin_node == a.node_id]
    sales_b = [c for c in changes_since(b, known, 100_000) if c.origin_node == b.node_id]
    yield a, b, dst, sales_a, sales_b
    for s in (a, b, dst):
        s.close()


def merge_together(
    store: Store, batches: Sequence[Sequence[RemoteChange]]
) -> list[ApplyResult | BaseException]:
    """Every batch from its own thread, all queued while the queue is held busy, then released."""
    q = group_merge._queue(store)
    out: list[ApplyResult | BaseException | None] = [None] * len(batches)

    def run(i: int) -> None:
        try:
            out[i] = group_merge.merge(store, batches[i])
        except BaseException as exc:  # handed back to the test to assert on
            out[i] = exc

    with q.cond:
        q.busy = True  # as if a merge were running: every caller queues behind it
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(q.pending) < len(batches):
        assert time.monotonic() < deadline, "callers did not queue"
        time.sleep(0.005)
    with q.cond:
        q.busy = False
        q.cond.notify_all()
    for t in threads:
        t.join(timeout=30)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_batches_that_arrive_together_are_merged_in_one_transaction(shop: Shop) -> None:
    a, b, dst, sales_a, sales_b = shop
    half_a, half_b = len(sales_a) // 2, len(sales_b) // 2
    batches = [sales_a[:half_a], sales_b[:half_b], sales_a[half_a:], sales_b[half_b:]]
    before = group_merge.grouped_merges(dst)
    results = merge_together(dst, batches)
    assert group_merge.grouped_merges(dst) == before + 1
    assert all(isinstance(r, ApplyResult) for r in results)
    ok = [r for r in results if isinstance(r, ApplyResult)]
    # each caller learns what happened to its own changes, and the same clock
    assert [r.applied for r in ok] == [len(batch) for batch in batches]
    assert all(r.deferred == [] and r.skipped_duplicates == 0 for r in ok)
    assert all(r.clock == ok[0].clock for r in ok)
    assert ok[0].clock[a.node_id] == vector_clock(a)[a.node_id]
    assert ok[0].clock[b.node_id] == vector_clock(b)[b.node_id]
    # the same replica as merging them one by one
    alone = open_store(f"sqlite:///{Path(str(dst.engine.url.database)).with_name('alone.db')}")
    try:
        apply_batch(alone, changes_since(a, {}, 100_000))
        apply_batch(alone, sales_b)
        assert snapshot(dst) == snapshot(alone)
        assert handle(dst, "digest", {})["digest"] == handle(alone, "digest", {})["digest"]
    finally:
        alone.close()


def test_a_batch_arriving_with_the_one_that_fills_its_gap_applies_instead_of_waiting(shop: Shop) -> None:
    a, _b, dst, sales_a, _sales_b = shop
    head, tail = sales_a[:5], sales_a[5:]
    # alone, the tail waits for the head (deferred: nothing applied) ...
    assert apply_batch(dst, tail).applied == 0
    # ... together, in either order, both apply in the same merge
    results = merge_together(dst, [tail, head])
    assert [r.applied for r in results if isinstance(r, ApplyResult)] == [len(tail), len(head)]
    assert vector_clock(dst)[a.node_id] == vector_clock(a)[a.node_id]


def test_a_change_two_callers_both_sent_is_applied_once_and_reported_to_both(shop: Shop) -> None:
    a, _b, dst, sales_a, _sales_b = shop
    pushed = sales_a[:5]  # a live push, and a pull that carries the same sale and more
    results = merge_together(dst, [pushed, sales_a])
    ok = [r for r in results if isinstance(r, ApplyResult)]
    assert [r.applied for r in ok] == [5, len(sales_a)]
    assert len(ok[1].applied_changes) == len(sales_a)
    assert vector_clock(dst)[a.node_id] == vector_clock(a)[a.node_id]
    # and the changes were written once: a second merge of everything finds them all held
    again = apply_batch(dst, sales_a)
    assert (again.applied, again.skipped_duplicates) == (0, len(sales_a))


def test_one_bad_batch_fails_alone_and_the_others_in_its_group_still_apply(shop: Shop) -> None:
    _a, b, dst, sales_a, sales_b = shop
    future = hlc.encode(hlc.wall_ms() + 3_600_000)  # an hour ahead: refused
    bad = [replace(sales_b[0], origin_node="f" * 16, seq=1, hlc=future)]
    results = merge_together(dst, [sales_a, bad, sales_b])
    assert isinstance(results[0], ApplyResult) and results[0].applied == len(sales_a)
    assert isinstance(results[1], hlc.ClockDriftError)
    assert isinstance(results[2], ApplyResult) and results[2].applied == len(sales_b)
    assert "f" * 16 not in vector_clock(dst)
    assert vector_clock(dst)[b.node_id] == vector_clock(b)[b.node_id]


def test_a_group_stays_under_the_size_cap_and_a_leader_left_out_is_served_after(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _b, dst, sales_a, _sales_b = shop
    monkeypatch.setattr(group_merge, "MAX_GROUP_CHANGES", len(sales_a) // 3 + 1)
    third = -(-len(sales_a) // 3)
    batches = [sales_a[i : i + third] for i in range(0, len(sales_a), third)]
    before = group_merge.grouped_merges(dst)
    results = merge_together(dst, batches)
    assert group_merge.grouped_merges(dst) == before  # each batch alone: none fits beside another
    assert [r.applied for r in results if isinstance(r, ApplyResult)] == [len(x) for x in batches]
    assert vector_clock(dst)[a.node_id] == vector_clock(a)[a.node_id]


def test_pushes_from_many_threads_through_the_protocol_all_land(shop: Shop) -> None:
    a, b, dst, sales_a, sales_b = shop
    batches = [sales_a[i : i + 5] for i in range(0, len(sales_a), 5)]
    batches += [sales_b[i : i + 5] for i in range(0, len(sales_b), 5)]
    replies: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def push(batch: Sequence[RemoteChange]) -> None:
        for _ in range(200):  # a push that arrives before its predecessor is deferred: resend
            try:
                reply = handle(dst, "push", push_payload(batch), peer_node=batch[0].origin_node)
            except ProtocolError as exc:
                errors.append(exc)
                return
            if not reply["deferred"]:
                replies.append(reply)
                return
            time.sleep(0.01)
        errors.append(AssertionError("push stayed deferred"))

    threads = [threading.Thread(target=push, args=(batch,)) for batch in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    # every change landed once: each batch is its own changes, re-sent only while deferred
    assert sum(int(str(r["applied"])) for r in replies) == len(sales_a) + len(sales_b)
    assert vector_clock(dst)[a.node_id] == vector_clock(a)[a.node_id]
    assert vector_clock(dst)[b.node_id] == vector_clock(b)[b.node_id]
