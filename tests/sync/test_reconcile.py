"""Full reconciliation without trusted clocks, and verify (digest compare), over in-process links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.links import direct
from tests.sync.test_apply import on_hand, sell, set_sku, sku_field, snapshot
from vaultsync.store import Store, open_store
from vaultsync.store.models import Customer, Sku, VectorClockEntry
from vaultsync.sync import reconcile as recon
from vaultsync.sync.protocol import ProtocolError, handle, pull, reconcile, verify


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Pos, Store, Store]]:
    a = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    b = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    pos = build_pos(a)
    pull(b, direct(b, a))
    yield pos, a, b
    a.close()
    b.close()


def counting(call: Any, log: list[tuple[str, int]]) -> Any:
    def inner(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = call(kind, payload)
        size = len(payload.get("records", [])) + len(reply.get("records", [])) + len(reply.get("pks", []))
        log.append((kind, size))
        return reply

    return inner


def test_verify_identical_and_different(pair: tuple[Pos, Store, Store]) -> None:
    pos, a, b = pair
    same = verify(b, direct(b, a))
    assert same.identical and same.local_digest == same.remote_digest and not same.differing
    set_sku(a, pos.nm_id, notes="only on A")
    other = verify(b, direct(b, a))
    assert not other.identical and set(other.differing) == {"skus"}
    assert other.differing["skus"] == (4, 4)


def test_reconcile_transfers_only_differing_rows_both_ways(pair: tuple[Pos, Store, Store]) -> None:
    pos, a, b = pair
    # many rows in common, so buckets matter
    with a.uow() as uow:
        for i in range(300):
            uow.add(Customer(first_name=f"C{i}", last_name="Common"))
    pull(b, direct(b, a))
    # now diverge WITHOUT using the clocks: edits on both sides, a sale on A
    set_sku(a, pos.nm_id, shelf_price_cents=8000)
    time.sleep(0.002)
    set_sku(b, pos.bulk_id, notes="b note")
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    with b.uow() as uow:
        uow.add(Customer(first_name="Only", last_name="OnB"))
    log: list[tuple[str, int]] = []
    result = reconcile(b, counting(direct(b, a), log))
    assert result.identical
    assert snapshot(a) == snapshot(b)
    assert on_hand(b, pos.nm_id) == 2
    assert sku_field(a, pos.bulk_id, "notes") == "b note"
    assert sku_field(b, pos.nm_id, "shelf_price_cents") == 8000
    by_table = {t.table: t for t in result.tables}
    assert by_table["customers"].fetched == 0 and by_table["customers"].sent == 1
    # of 300+ customers, only a couple of buckets' keys crossed the wire
    assert by_table["customers"].keys_compared < 60
    assert "games" not in by_table  # identical tables cost one digest
    assert verify(a, direct(a, b)).identical


def test_reconcile_after_a_restore_from_backup(pair: tuple[Pos, Store, Store], tmp_path: Path) -> None:
    """B is restored from an old copy: its clock claims less than it... and more than A knows."""
    pos, a, b = pair
    backup = tmp_path / "b-backup.db"
    b.engine.dispose()
    import shutil

    shutil.copy(tmp_path / "b.db", backup)
    set_sku(b, pos.nm_id, notes="lost in the restore")
    pull(a, direct(a, b))
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    restored = open_store(f"sqlite:///{backup}")
    try:
        result = reconcile(restored, direct(restored, a))
        assert result.identical
        assert sku_field(restored, pos.nm_id, "notes") == "lost in the restore"
        assert on_hand(restored, pos.nm_id) == 2
        assert snapshot(restored) == snapshot(a)
        # the clock now covers what the peer had: anti-entropy has nothing left to send
        assert pull(restored, direct(restored, a)).applied == 0
    finally:
        restored.close()


def test_a_tombstone_wins_over_a_stale_live_copy(pair: tuple[Pos, Store, Store]) -> None:
    _, a, b = pair
    with a.uow() as uow:
        cust = Customer(first_name="Gone", last_name="Soon")
        uow.add(cust)
        uow.flush()
        cid = cust.id
    pull(b, direct(b, a))
    time.sleep(0.002)
    with a.uow() as uow:
        uow.session.delete(uow.session.get(Customer, cid))
    result = reconcile(b, direct(b, a))  # B pulls by rows, not by clock
    assert result.identical
    with b.read() as s:
        assert s.get(Customer, cid) is None
    assert snapshot(a) == snapshot(b)


def test_newer_column_on_the_receiver_is_kept(pair: tuple[Pos, Store, Store]) -> None:
    pos, a, b = pair
    set_sku(a, pos.nm_id, shelf_price_cents=1)
    time.sleep(0.002)
    set_sku(b, pos.nm_id, shelf_price_cents=2)  # newer
    reconcile(a, direct(a, b))
    assert sku_field(a, pos.nm_id, "shelf_price_cents") == sku_field(b, pos.nm_id, "shelf_price_cents") == 2
    # and a later change that is older than the reconciled version still loses
    assert snapshot(a) == snapshot(b)


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("recon.buckets", {"table": "skus", "n": 3}, "power of two"),
        ("recon.buckets", {"table": "node_state", "n": 4}, "not a replicated table"),
        ("recon.keys", {"table": "skus", "n": 4, "buckets": [2, 1]}, "increasing"),
        ("recon.fetch", {"table": "skus", "pks": [1]}, "keys must be strings"),
        ("recon.merge", {"table": "skus", "records": [["x", {"nope": 1}, {}, None]]}, "no column"),
        (
            "recon.merge",
            {"table": "skus", "records": [["x", {"notes": "a"}, {"notes": [1]}, None]]},
            "hlc, node",
        ),
        (
            "recon.merge",
            {"table": "skus", "records": [["x", {}, {"notes": [1, "n"]}, None]]},
            "without its value",
        ),
    ],
)
def test_bad_reconciliation_requests_are_refused(
    pair: tuple[Pos, Store, Store], kind: str, payload: dict[str, Any], reason: str
) -> None:
    _, _, b = pair
    before = snapshot(b)
    with pytest.raises(ProtocolError, match=reason):
        handle(b, kind, payload)
    assert snapshot(b) == before


def test_a_merge_that_breaks_a_foreign_key_changes_nothing(pair: tuple[Pos, Store, Store]) -> None:
    pos, _, b = pair
    before = snapshot(b)
    row = {
        "id": "s" * 32,
        "sku_id": "0" * 32,  # no such SKU
        "location_id": pos.case_id,
        "delta": 5,
        "reason": "receive",
        "node_id": "n" * 16,
        "hlc": 1,
        "created_at": "2026-11-28T09:00:00+00:00",
    }
    record = ["s" * 32, row, {}, None]
    with pytest.raises(ProtocolError, match="FOREIGN KEY"):
        handle(b, "recon.merge", {"table": "stock_movements", "records": [record]})
    assert snapshot(b) == before
    with b.read() as s:
        assert s.scalar(select(func.count()).select_from(Sku)) == 4
        assert s.scalar(select(func.count()).select_from(VectorClockEntry)) == 1


def test_bucket_count_grows_with_the_table() -> None:
    assert recon.bucket_count(0) == 1 and recon.bucket_count(16) == 1
    assert recon.bucket_count(1_000_000) == 65536
    assert recon.bucket_count(1000) == 64
