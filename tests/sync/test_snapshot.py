"""Bootstrapping a new terminal from a peer's consistent snapshot plus the changes since."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.links import direct
from tests.sync.test_apply import on_hand, sell, set_sku, snapshot
from vaultsync.domain.errors import ReplicationError
from vaultsync.store import Store, open_store
from vaultsync.store.models import CompactionFloor, Location
from vaultsync.sync import snapshot as snap
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.protocol import ProtocolError, bootstrap, handle, pull, verify


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Pos, Store, Store]]:
    a = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    fresh = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    pos = build_pos(a)
    yield pos, a, fresh
    a.close()
    fresh.close()


def _schema(store: Store) -> list[tuple[Any, ...]]:
    with store.read() as s:
        rows = s.connection().exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master")
        return sorted(tuple(r) for r in rows)


def test_a_fresh_terminal_bootstraps_to_an_identical_replica(shop: tuple[Pos, Store, Store]) -> None:
    pos, a, fresh = shop
    with a.uow() as uow:  # a self-referencing child row whose parent sorts after it
        parent = Location(id="f" * 32, kind="case", name="Case 9")
        uow.add(parent)
        uow.flush()
        uow.add(Location(id="0" * 32, kind="binder", name="Binder 1", parent_id=parent.id))
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    result = bootstrap(fresh, direct(fresh, a), chunk=3)
    assert result.rows > 20 and result.changes == vector_clock(a)[a.node_id]
    assert snapshot(fresh) == snapshot(a)
    assert fresh.shop_id == a.shop_id
    # the copy drops the secondary indexes and builds them afterwards: the very same schema
    assert _schema(fresh) == _schema(a) and any("ix_changes_hlc" in str(r) for r in _schema(fresh))
    assert on_hand(fresh, pos.nm_id) == 2  # derived caches rebuilt from the ledger
    assert verify(fresh, direct(fresh, a)).identical
    assert vector_clock(fresh)[a.node_id] == vector_clock(a)[a.node_id]
    # it is a full peer now: its own writes flow back, A's later ones flow in
    set_sku(fresh, pos.bulk_id, notes="from the new terminal")
    sell(pos.checkout, pos, pos.station_id, pos.bulk_id, "sale-a2")
    pull(a, direct(a, fresh))
    pull(fresh, direct(fresh, a))
    assert snapshot(fresh) == snapshot(a)


def test_changes_written_during_the_copy_arrive_by_the_pull_that_follows(
    shop: tuple[Pos, Store, Store],
) -> None:
    pos, a, fresh = shop
    link = direct(fresh, a)
    wrote: list[bool] = []

    def meddling(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = link(kind, payload)
        if kind == "snapshot.chunk" and not wrote:  # the shop keeps selling while we copy
            sell(pos.checkout, pos, pos.station_id, pos.nm_id, "during-copy")
            wrote.append(True)
        return reply

    result = bootstrap(fresh, meddling, chunk=4)
    assert result.pulled > 0
    assert snapshot(fresh) == snapshot(a)
    assert on_hand(fresh, pos.nm_id) == 2


def test_bootstrap_refuses_a_database_that_holds_data(shop: tuple[Pos, Store, Store]) -> None:
    _, a, fresh = shop
    with pytest.raises(ReplicationError, match="empty database"):
        bootstrap(a, direct(a, fresh))


def test_a_broken_off_bootstrap_is_detected_and_refuses_to_sync(shop: tuple[Pos, Store, Store]) -> None:
    _, a, fresh = shop
    link = direct(fresh, a)
    calls = 0

    def dying(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 6:
            raise ConnectionError("cable pulled")
        return link(kind, payload)

    with pytest.raises(ConnectionError):
        bootstrap(fresh, dying, chunk=2)
    assert snap.is_bootstrapping(fresh)
    with pytest.raises(ReplicationError, match="broke off"):
        pull(fresh, link)
    with pytest.raises(ProtocolError, match="still bootstrapping"):
        handle(fresh, "changes", {"clock": {}})
    with pytest.raises(ReplicationError, match="broke off"):
        bootstrap(fresh, link)
    with fresh.read() as s:
        assert s.get(CompactionFloor, snap.BOOTSTRAP_MARKER) is not None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"id": "nope", "table": "skus"}, "unknown or expired"),
        ({"id": "x", "table": "node_state"}, "not part of a snapshot"),
        ({"id": "x", "table": "changes", "after": ["a", "1"]}, "wrong type"),
        ({"id": "x", "table": "skus", "after": "zzz"}, "must be a list"),
        ({"id": "x", "table": "skus", "limit": 0}, "'limit' must be in"),
    ],
)
def test_bad_snapshot_requests_are_refused(
    shop: tuple[Pos, Store, Store], payload: dict[str, Any], reason: str
) -> None:
    _, a, _ = shop
    with pytest.raises(ProtocolError, match=reason):
        handle(a, "snapshot.chunk", payload)


def test_snapshots_are_closed_and_bounded(shop: tuple[Pos, Store, Store]) -> None:
    _, a, _ = shop
    ids = [handle(a, "snapshot.begin", {})["id"] for _ in range(snap.MAX_OPEN)]
    with pytest.raises(ProtocolError, match="too many snapshots"):
        handle(a, "snapshot.begin", {})
    for sid in ids:
        assert handle(a, "snapshot.end", {"id": sid}) == {"closed": True}
    assert handle(a, "snapshot.end", {"id": ids[0]}) == {"closed": False}


def test_bootstrap_and_reconcile_across_backends(store: Store, tmp_path: Path) -> None:
    """The parametrized store (SQLite or PostgreSQL) serves a snapshot to a SQLite terminal
    (PostgreSQL: the backend-neutral encoded rows, not the raw SQLite copy), then the two
    diverge and are reconciled without clocks."""
    pos = build_pos(store)
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale")
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        bootstrap(fresh, direct(fresh, store), chunk=7)
        assert snapshot(fresh) == snapshot(store)
        set_sku(fresh, pos.nm_id, notes="edited on the new terminal")
        set_sku(store, pos.bulk_id, shelf_price_cents=31)
        from vaultsync.sync.protocol import reconcile

        assert reconcile(fresh, direct(fresh, store)).identical
        assert snapshot(fresh) == snapshot(store)
        assert verify(store, direct(store, fresh)).identical
    finally:
        fresh.close()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda row: row.__setitem__(0, [1, 2]), "do not fit here"),  # a list where a value belongs
        (lambda row: row.__setitem__(0, {"a": 1}), "do not fit here"),
        (lambda row: row.pop(), "malformed"),  # a short row
    ],
)
def test_a_raw_snapshot_row_with_bad_values_is_refused(
    shop: tuple[Pos, Store, Store], tamper: Any, reason: str
) -> None:
    _, a, fresh = shop
    link = direct(fresh, a)

    def lying(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = link(kind, payload)
        if kind == "snapshot.chunk" and payload["table"] == "skus" and reply["rows"]:
            assert reply.get("raw") is True
            tamper(reply["rows"][0])
        return reply

    with pytest.raises(ProtocolError, match=reason):
        bootstrap(fresh, lying)
    assert snap.is_bootstrapping(fresh)  # half a copy: refuses to sync until started again
    with pytest.raises(ReplicationError, match="broke off"):
        pull(fresh, link)
