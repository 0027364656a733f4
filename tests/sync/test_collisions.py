"""Unique-value collisions between replicas: settled the same way on every node, in any order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.test_apply import exchange, second_register, sell, sell_the_slab_on_both, snapshot, sync
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ConflictError, NotFoundError, PermissionDenied
from vaultsync.store import Store, open_store
from vaultsync.store.models import CardSet, Game, Sku, Station, SyncAlert, Transaction, User
from vaultsync.sync import alerts, collisions
from vaultsync.sync.apply import apply_batch, changes_since, vector_clock


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Pos, Store, Store, Store]]:
    stores = [open_store(f"sqlite:///{tmp_path / f'{n}.db'}") for n in "abc"]
    a, b, c = stores
    pos = build_pos(a)
    sync(a, b)
    sync(a, c)
    yield pos, a, b, c
    for s in stores:
        s.close()


def add(store: Store, obj: Any) -> str:
    with store.uow() as uow:
        uow.add(obj)
        uow.flush()
        return str(obj.id)


def get(store: Store, model: Any, pk: str) -> Any:
    with store.read() as s:
        return s.get(model, pk)


def open_alerts(store: Store) -> list[alerts.AlertView]:
    return alerts.list_alerts(store)


def product_of(store: Store, sku_id: str) -> str:
    return str(get(store, Sku, sku_id).product_id)


@pytest.mark.parametrize("first", ["a", "b"])
def test_the_same_sku_code_created_on_two_terminals(
    shop: tuple[Pos, Store, Store, Store], first: str
) -> None:
    pos, a, b, c = shop
    product = product_of(a, pos.nm_id)
    x, y = (a, b) if first == "a" else (b, a)
    early = add(x, Sku(product_id=product, sku_code="MTG-DMU-107-LP", condition="LP", shelf_price_cents=1))
    time.sleep(0.002)
    late = add(y, Sku(product_id=product, sku_code="MTG-DMU-107-LP", condition="LP", shelf_price_cents=2))
    results = exchange(a, b)
    assert any(r.collisions for r in results)
    exchange(a, b)  # the rename written by each side reaches the other
    renamed = collisions.candidates("MTG-DMU-107-LP", late, 64)[0]
    for node in (a, b):
        assert get(node, Sku, early).sku_code == "MTG-DMU-107-LP"
        assert get(node, Sku, late).sku_code == renamed
        [alert] = open_alerts(node)
        assert alert.kind == alerts.UNIQUE_COLLISION and alert.subject_id == late
        assert alert.details["kept_by"] == early and alert.details["renamed_to"] == renamed
    assert snapshot(a) == snapshot(b)
    sync(a, c)  # a third node learns it all through one peer: the same outcome
    assert snapshot(c) == snapshot(a)


def test_a_third_node_settles_the_clash_identically_in_either_order(
    shop: tuple[Pos, Store, Store, Store], tmp_path: Path
) -> None:
    _pos, a, b, c = shop
    game = str(get(a, Game, str(get(a, CardSet, _set_id(a)).game_id)).id)
    add(a, CardSet(game_id=game, code="MKM", name="Murders at Karlov Manor"))
    time.sleep(0.002)
    late = add(b, CardSet(game_id=game, code="MKM", name="Karlov Manor (typo)"))
    from_a = changes_since(a, vector_clock(c), 10_000)
    from_b = changes_since(b, vector_clock(c), 10_000)
    states = []
    for i in range(2):
        replica = open_store(f"sqlite:///{tmp_path / f'r{i}.db'}")
        try:
            sync(c, replica)
            if i == 0:
                apply_batch(replica, from_a)
                apply_batch(replica, from_b)
            else:
                apply_batch(replica, from_b)
                apply_batch(replica, from_a)
            assert get(replica, CardSet, late).code == collisions.candidates("MKM", late, 24)[0]
            states.append({k: v for k, v in snapshot(replica).items() if k != "sync_alerts"})
        finally:
            replica.close()
    assert states[0] == states[1]


def _set_id(store: Store) -> str:
    with store.read() as s:
        return str(s.scalar(select(CardSet.id).limit(1)))


def test_a_duplicate_certificate_number_is_flagged_as_possible_fraud(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    product = product_of(a, pos.nm_id)
    first = add(a, Sku(product_id=product, sku_code="PSA-A", grader="PSA", grade="10", cert_number="7777"))
    time.sleep(0.002)
    other = add(b, Sku(product_id=product, sku_code="PSA-B", grader="PSA", grade="9", cert_number="7777"))
    exchange(a, b)
    exchange(a, b)
    for node in (a, b):
        assert get(node, Sku, first).cert_number == "7777"  # the first entered keeps it
        assert get(node, Sku, other).cert_number == collisions.candidates("7777", other, 32)[0]
        [alert] = open_alerts(node)
        assert alert.kind == alerts.DUPLICATE_CERT and alert.severity == alerts.CRITICAL
        assert "possible fraud" in alert.message
    assert snapshot(a) == snapshot(b)


def test_the_same_receipt_prefix_on_two_stations_and_their_receipt_numbers(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    """Two stations both set up as "T2" while apart, and each sold: the stations' prefixes and the
    two receipts "T2-000001" clash. Both sales are kept; the later station and receipt are renamed."""
    pos, a, b, _ = shop
    checkout_a, station_a = second_register(pos, a, "T2")
    time.sleep(0.002)
    checkout_b, station_b = second_register(pos, b, "T2")
    sell(checkout_a, pos, station_a, pos.bulk_id, "sale-a")
    time.sleep(0.002)
    sell(checkout_b, pos, station_b, pos.bulk_id, "sale-b")
    exchange(a, b)
    exchange(a, b)
    for node in (a, b):
        sa, sb = get(node, Station, station_a), get(node, Station, station_b)
        assert sa.receipt_prefix == "T2"
        assert sb.receipt_prefix.startswith("T2~") and len(sb.receipt_prefix) <= 8
        with node.read() as s:
            numbers = {st: num for st, num in s.execute(select(Transaction.station_id, Transaction.number))}
        assert numbers[station_a] == "T2-000001"
        assert numbers[station_b].startswith("T2-000001~")
        kinds = sorted(x.details["table"] for x in open_alerts(node))
        assert kinds == ["stations", "transactions"]
    assert snapshot(a) == snapshot(b)


def test_the_same_username_created_twice(shop: tuple[Pos, Store, Store, Store]) -> None:
    pos, a, b, _ = shop
    first = pos.auth.add_user("jo", "Jo A", Role.CASHIER, pin="1111")
    time.sleep(0.002)
    with b.uow() as uow:
        user = User(username="jo", display_name="Jo B", role="cashier")
        uow.add(user)
        uow.flush()
        second = user.id
    exchange(a, b)
    exchange(a, b)
    for node in (a, b):
        assert get(node, User, first.id).username == "jo"
        assert get(node, User, second).username.startswith("jo~")
    assert snapshot(a) == snapshot(b)


# --------------------------------------------------------------------------- alerts


def test_an_oversell_alert_is_persisted_once_and_resolved_everywhere(
    shop: tuple[Pos, Store, Store, Store],
) -> None:
    pos, a, b, _ = shop
    sell_the_slab_on_both(pos, b, "T3")
    exchange(a, b)
    exchange(a, b)
    [on_a] = open_alerts(a)
    [on_b] = open_alerts(b)
    assert on_a.id == on_b.id and on_a.kind == alerts.OVERSELL
    assert on_a.details == {"sku_id": pos.slab_id, "location_id": pos.case_id, "on_hand": -1}
    with pytest.raises(PermissionDenied):
        alerts.resolve_alert(a, on_a.id, pos.cashier.id)
    with pytest.raises(NotFoundError):
        alerts.resolve_alert(a, "0" * 32, pos.manager.id)
    done = alerts.resolve_alert(a, on_a.id, pos.manager.id, "customer B refunded")
    assert done.resolved_by == pos.manager.id and done.resolution_note == "customer B refunded"
    with pytest.raises(ConflictError):
        alerts.resolve_alert(a, on_a.id, pos.manager.id)
    exchange(a, b)
    assert open_alerts(b) == []
    [resolved] = alerts.list_alerts(b, unresolved_only=False)
    assert resolved.resolved_by == pos.manager.id
    assert snapshot(a) == snapshot(b)
    with b.read() as s:
        assert s.scalar(select(SyncAlert.kind)) == alerts.OVERSELL


def test_collision_and_compaction_on_either_backend(store: Store, tmp_path: Path) -> None:
    """The parametrized store (SQLite or PostgreSQL) and a SQLite peer: a receipt-prefix clash
    (a column of 8 characters: the suffix must fit PostgreSQL's VARCHAR), then compaction."""
    from tests.sync.links import direct
    from vaultsync.sync.protocol import compact, pull

    pos = build_pos(store)
    peer = open_store(f"sqlite:///{tmp_path / 'peer.db'}")
    try:
        pull(peer, direct(peer, store))
        _, first = second_register(pos, store, "REG-0001")
        time.sleep(0.002)
        _, later = second_register(pos, peer, "REG-0001")
        for _ in range(2):
            pull(peer, direct(peer, store))
            pull(store, direct(store, peer))
        for node in (store, peer):
            assert get(node, Station, first).receipt_prefix == "REG-0001"
            renamed = get(node, Station, later).receipt_prefix
            assert renamed == collisions.candidates("REG-0001", later, 8)[0] and len(renamed) == 8
        assert snapshot(store) == snapshot(peer)
        result = compact(store, {peer.node_id: vector_clock(peer)})
        assert result.dropped > 0 and result.folded > 0
        with peer.uow() as uow:  # an edit after compaction still merges by version
            station = uow.session.get(Station, later)
            assert station is not None
            station.name = "Register by the door"
        pull(store, direct(store, peer))
        assert get(store, Station, later).name == "Register by the door"
        assert snapshot(store) == snapshot(peer)
    finally:
        peer.close()
