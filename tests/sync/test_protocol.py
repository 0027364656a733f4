"""The peer protocol over in-process links (msgpack round-trips, no sockets)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.links import direct
from tests.sync.test_apply import count, on_hand, own_changes, second_register, sell, set_sku, snapshot
from vaultsync.store import Store, open_store
from vaultsync.store.models import Change, Node, Sku
from vaultsync.store.types import utcnow
from vaultsync.sync import protocol
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.protocol import (
    PROTOCOL_VERSION,
    SCHEMA_REVISION,
    ProtocolError,
    changes_for,
    check_hello,
    handle,
    local_changes_after,
    pull,
    push_payload,
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    a = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    b = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def shop(pair: tuple[Store, Store]) -> tuple[Pos, Store, Store]:
    a, b = pair
    pos = build_pos(a)
    pull(b, direct(b, a))
    return pos, a, b


def known(store: Store) -> dict[str, int]:
    """The vector clock without zero entries (a node that never wrote is seq 0 for itself)."""
    return {k: v for k, v in vector_clock(store).items() if v}


def state(store: Store) -> Any:
    return snapshot(store), count(store, Change), vector_clock(store)


# --------------------------------------------------------------------------- hello


def test_hello_reports_identity_version_schema_and_clock(pair: tuple[Store, Store]) -> None:
    a, b = pair
    reply = direct(b, a)("hello", {})
    assert reply["node_id"] == a.node_id and reply["shop_id"] == a.shop_id
    assert reply["protocol"] == PROTOCOL_VERSION and reply["schema"] == SCHEMA_REVISION
    assert reply["clock"] == vector_clock(a)


def _hello(**over: Any) -> dict[str, Any]:
    base = {"node_id": "b" * 16, "shop_id": "shop1", "protocol": PROTOCOL_VERSION, "schema": SCHEMA_REVISION}
    base.update(over)
    return base


LOCAL = _hello(node_id="a" * 16)


def test_check_hello_accepts_a_peer_of_the_same_shop_and_build() -> None:
    check_hello(LOCAL, _hello())


@pytest.mark.parametrize(
    ("remote", "reason"),
    [
        (_hello(shop_id="other"), "another shop"),
        (_hello(node_id="a" * 16), "own node id"),
        (_hello(protocol=PROTOCOL_VERSION + 1), "newer VaultSync; upgrade the this terminal"),
        (_hello(protocol=PROTOCOL_VERSION - 1), "older VaultSync; upgrade the peer"),
        (_hello(schema="0002_pos"), "older VaultSync .*upgrade the peer"),
        (_hello(schema="0099_future"), "newer VaultSync .*upgrade this terminal"),
        (_hello(protocol="1"), "'protocol' must be an integer"),
        (_hello(protocol=True), "'protocol' must be an integer"),
        ({"shop_id": "shop1"}, "missing field 'node_id'"),
        (_hello(node_id="x" * 40), "node id"),
        (_hello(clock={"n": -1}), "non-negative"),
    ],
)
def test_check_hello_refuses_with_a_clear_reason(remote: dict[str, Any], reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        check_hello(LOCAL, remote)


def test_hello_from_a_peer_of_another_shop_is_refused_server_side(pair: tuple[Store, Store]) -> None:
    a, b = pair  # two fresh databases: two different shops
    mine = protocol.hello_payload(b)
    with pytest.raises(ProtocolError, match="another shop"):
        direct(b, a)("hello", mine)


# --------------------------------------------------------------------------- pull


def test_pull_catches_up_in_bounded_batches(shop: tuple[Pos, Store, Store]) -> None:
    pos, a, b = shop
    for price in range(100, 160):
        set_sku(a, pos.bulk_id, shelf_price_cents=price)
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    calls: list[int] = []
    link = direct(b, a)

    def counting(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = link(kind, payload)
        calls.append(len(reply.get("changes", [])))
        return reply

    result = pull(b, counting, batch=7)
    # each batch also repeats the entry at b's clock for a's origin (the fork check), outside the limit
    assert result.skipped == result.batches >= 9
    assert result.applied + result.skipped == sum(calls) and max(calls) <= 7 + 1
    assert snapshot(a) == snapshot(b) and known(a) == known(b)
    assert on_hand(b, pos.nm_id) == 2
    assert result.peer_clock == vector_clock(a)  # the caller's lag view, without another hello
    again = pull(b, link)
    assert again.applied == 0 and again.batches == 0 and again.peer_clock == vector_clock(a)


def test_a_batch_is_cut_by_bytes_as_well_as_count(shop: tuple[Pos, Store, Store]) -> None:
    pos, a, b = shop
    big = "x" * 300_000
    for i in range(12):
        set_sku(a, pos.bulk_id, notes=f"{i}{big}")
    reply = handle(a, "changes", {"clock": vector_clock(b), "limit": 5000})
    sizes = sum(len(c[6] or "") for c in reply["changes"])
    assert reply["more"] is True and sizes <= protocol.MAX_BATCH_BYTES
    assert 1 <= len(reply["changes"]) < 12
    pull(b, direct(b, a))
    assert snapshot(a) == snapshot(b)


def test_a_batch_is_the_first_changes_the_caller_lacks_in_hlc_order(shop: tuple[Pos, Store, Store]) -> None:
    """Read per origin and merged, a batch is exactly the prefix of everything the caller
    lacks in (hlc, origin, seq) order — for any caller clock and batch size."""
    pos, a, b = shop
    checkout_b, station_b = second_register(pos, b, "T2")
    for i in range(6):  # two origins writing interleaved, each then hearing of the other
        set_sku(a, pos.bulk_id, notes=f"a{i}")
        sell(checkout_b, pos, station_b, pos.bulk_id, f"b{i}")
        if i % 2:
            pull(a, direct(a, b))
    with a.read() as s:
        logged = [(r.hlc, r.origin_node, r.seq) for r in s.scalars(select(Change))]
    full = vector_clock(a)
    rng = random.Random(7)
    for _ in range(40):
        clock = {o: rng.randint(0, q) for o, q in full.items() if rng.random() < 0.8}
        limit = rng.choice([1, 3, 7, 50, 5000])
        lacking = sorted(k for k in logged if k[2] > clock.get(k[1], 0))
        batch, more = changes_for(a, clock, limit)
        new = [c for c in batch if c.seq > clock.get(c.origin_node, 0)]
        assert sorted((c.hlc, c.origin_node, c.seq) for c in new) == lacking[:limit]
        assert more == (len(lacking) > limit)
        # plus, outside the limit, each served origin's entry at the caller's clock (fork check)
        repeated = sorted((c.origin_node, c.seq) for c in batch if c.seq <= clock.get(c.origin_node, 0))
        served = {c.origin_node for c in new}
        assert repeated == sorted((o, clock[o]) for o in served if clock.get(o, 0) > 0)


# --------------------------------------------------------------------------- push


def test_live_push_of_local_changes(shop: tuple[Pos, Store, Store]) -> None:
    pos, a, b = shop
    sent = vector_clock(a)[a.node_id]
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    news = local_changes_after(a, sent)
    assert news and all(c.origin_node == a.node_id and c.seq > sent for c in news)
    assert [c.seq for c in news] == sorted(c.seq for c in news)
    assert local_changes_after(a, sent, limit=2) == news[:2]
    reply = direct(a, b)("push", push_payload(news))
    assert reply["applied"] == len(news) and reply["deferred"] == 0
    assert on_hand(b, pos.nm_id) == 2
    again = direct(a, b)("push", push_payload(news))  # a duplicated push changes nothing
    assert again["applied"] == 0 and again["skipped"] == len(news)
    assert snapshot(a) == snapshot(b)


def test_a_push_after_a_gap_is_deferred_not_lost(shop: tuple[Pos, Store, Store]) -> None:
    pos, a, b = shop
    start = vector_clock(a)[a.node_id]
    set_sku(a, pos.bulk_id, shelf_price_cents=11)
    set_sku(a, pos.bulk_id, shelf_price_cents=12)
    _first, second = local_changes_after(a, start)
    reply = direct(a, b)("push", push_payload([second]))
    assert reply["applied"] == 0 and reply["deferred"] == 1
    pull(b, direct(b, a))
    assert snapshot(a) == snapshot(b)


# --------------------------------------------------------------------------- bad input


def _change(a: Store, **over: Any) -> list[Any]:
    base: dict[str, Any] = {
        "origin": a.node_id,
        "seq": 10_000,
        "hlc": 1,
        "table": "skus",
        "pk": "p" * 32,
        "op": "upsert",
        "data": "{}",
    }
    base.update(over)
    return list(base.values())


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("nope", {}, "unknown request kind"),
        ("changes", {}, "missing field 'clock'"),
        ("changes", {"clock": []}, "must be a vector clock"),
        ("changes", {"clock": {"n": "1"}}, "non-negative integer"),
        ("changes", {"clock": {}, "limit": 10**9}, "'limit' must be in"),
        ("changes", {"clock": {}, "limit": True}, "must be an integer"),
        ("push", {"changes": "x"}, "must be a list"),
        ("push", {"changes": [[1, 2]]}, "must be a list \\[origin"),
        ("push", {"changes": [["o", 1, 1, "node_state", "1", "upsert", "{}"]]}, "not a replicated table"),
        ("push", {"changes": [["o", 1, 1, "skus", "1", "merge", "{}"]]}, "unknown op"),
        ("push", {"changes": [["o", 0, 1, "skus", "1", "upsert", "{}"]]}, "seq must be"),
        ("push", {"changes": [["o", 1, -5, "skus", "1", "upsert", "{}"]]}, "hlc must be"),
        ("push", {"changes": [["o", 1, 1, "skus", "1" * 65, "upsert", "{}"]]}, "pk must be"),
        ("push", {"changes": [["o", 1, 1, "skus", "1", "upsert", None]]}, "needs data"),
        ("push", {"changes": [["o", 1, 1, "skus", "1", "delete", "{}"]]}, "carries no data"),
        ("push", {"changes": [["o", 1, 1, "skus", "1", "upsert", "x" * (2 << 20)]]}, "needs data"),
        ("push", {"changes": [["o", 1, 1, "skus", "1", "delete", None]] * 10_001}, "at most"),
    ],
)
def test_malformed_requests_are_refused_and_change_nothing(
    shop: tuple[Pos, Store, Store], kind: str, payload: dict[str, Any], reason: str
) -> None:
    _, _, b = shop
    before = state(b)
    with pytest.raises(ProtocolError, match=reason):
        handle(b, kind, payload)
    assert state(b) == before


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('{"no_such_column": 1}', "does not have"),
        ("not json", "nothing applied"),
        ("[1, 2]", "nothing applied"),
    ],
)
def test_a_push_that_cannot_be_applied_is_refused_whole(
    shop: tuple[Pos, Store, Store], data: str, reason: str
) -> None:
    pos, a, b = shop
    set_sku(a, pos.bulk_id, notes="good")
    [good] = own_changes(a, vector_clock(b)[a.node_id])
    bad = _change(a, seq=good.seq + 1, hlc=good.hlc + 1, pk=pos.bulk_id, data=data)
    before = state(b)
    with pytest.raises(ProtocolError, match=reason):
        handle(b, "push", {"changes": [protocol.change_to_wire(good), bad]})
    assert state(b) == before


def test_a_change_from_the_future_is_refused(shop: tuple[Pos, Store, Store]) -> None:
    pos, a, b = shop
    from vaultsync.sync import hlc

    future = hlc.now_floor() + hlc.encode(3600 * 1000)
    seq = vector_clock(b)[a.node_id] + 1
    bad = _change(a, seq=seq, hlc=future, pk=pos.bulk_id, data=json.dumps({"notes": "2099"}))
    before = state(b)
    with pytest.raises(ProtocolError, match="implausible clock"):
        handle(b, "push", {"changes": [bad]})
    assert state(b) == before
    with b.read() as s:
        assert s.scalar(select(func.count()).select_from(Sku).where(Sku.notes == "2099")) == 0


def test_a_pull_says_which_tables_it_wrote(shop: tuple[Pos, Store, Store]) -> None:
    """The node re-reads the revoked set after a pull only when ``nodes`` changed (a
    revocation takes effect at once); a pull of sales does not cost that read."""
    pos, a, b = shop
    sell(pos.checkout, pos, pos.station_id, pos.nm_id, "sale-a")
    sales = pull(b, direct(b, a))
    assert sales.applied > 0 and "nodes" not in sales.tables
    assert {"transactions", "stock_movements"} <= sales.tables
    with a.uow() as uow:
        uow.session.add(Node(node_id="f" * 16, name="Till 9", revoked_at=utcnow()))
    revocation = pull(b, direct(b, a))
    assert revocation.applied == 1 and revocation.tables == {"nodes"}
    assert pull(b, direct(b, a)).tables == frozenset()
