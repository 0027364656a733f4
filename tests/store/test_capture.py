"""Change capture: every write to every replicated table lands in the change log, atomically."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from sqlalchemy import delete, func, select, update

from tests.store.factories import FACTORIES, MUTATIONS
from vaultsync.domain.errors import ReplicationError
from vaultsync.store import Store, capture
from vaultsync.store.base import Base, replicated_tables
from vaultsync.store.models import (
    Change,
    CreditEntry,
    CustomerBalance,
    Game,
    NodeState,
    Sku,
    StockLevel,
    StockMovement,
)
from vaultsync.sync import hlc

REPLICATED = sorted(replicated_tables().values(), key=lambda m: m.__tablename__)
LWW = [m for m in REPLICATED if m.__replication__ == "lww"]
LEDGER = [m for m in REPLICATED if m.__replication__ == "ledger"]


def changes_for(store: Store, table: str, pk: str) -> list[Change]:
    with store.read() as s:
        return list(
            s.scalars(select(Change).where(Change.table_name == table, Change.pk == pk).order_by(Change.seq))
        )


def all_changes(store: Store) -> list[Change]:
    with store.read() as s:
        return list(s.scalars(select(Change).order_by(Change.seq)))


def pk_of(obj: Base) -> str:
    mapper = obj.__mapper__
    return str(getattr(obj, mapper.get_property_by_column(mapper.primary_key[0]).key))


def test_every_replicated_table_has_a_factory() -> None:
    assert set(FACTORIES) == set(REPLICATED)
    assert set(MUTATIONS) == set(LWW)


@pytest.mark.parametrize("model", REPLICATED, ids=lambda m: m.__tablename__)
def test_insert_is_captured_with_all_columns(store: Store, model: type[Base]) -> None:
    with store.uow() as uow:
        obj = FACTORIES[model](uow.session)
        pk = pk_of(obj)
        expected = {c.name for c in model.__table__.columns}
    [change] = changes_for(store, model.__tablename__, pk)
    assert change.op == "upsert"
    assert change.origin_node == store.node_id
    data = json.loads(change.data or "")
    assert set(data) == expected
    pk_col = model.__mapper__.primary_key[0].name
    assert data[pk_col] == pk


@pytest.mark.parametrize("model", LWW, ids=lambda m: m.__tablename__)
def test_update_is_captured_with_only_changed_columns(store: Store, model: type[Base]) -> None:
    with store.uow() as uow:
        obj = FACTORIES[model](uow.session)
        pk = pk_of(obj)
    column, value = MUTATIONS[model]
    with store.uow() as uow:
        fresh = uow.session.get(model, pk)
        setattr(fresh, column, value)
    changes = changes_for(store, model.__tablename__, pk)
    assert [c.op for c in changes] == ["upsert", "upsert"]
    data = json.loads(changes[1].data or "")
    assert column in data
    assert set(data) <= {column, "updated_at"}
    col = model.__table__.c[column]
    from vaultsync.store import codec

    assert data[column] == codec.encode_value(col, value)
    assert changes[1].hlc > changes[0].hlc


@pytest.mark.parametrize("model", LWW, ids=lambda m: m.__tablename__)
def test_delete_is_captured_as_tombstone(store: Store, model: type[Base]) -> None:
    with store.uow() as uow:
        obj = FACTORIES[model](uow.session)
        pk = pk_of(obj)
    with store.uow() as uow:
        uow.session.delete(uow.session.get(model, pk))
    changes = changes_for(store, model.__tablename__, pk)
    assert [c.op for c in changes] == ["upsert", "delete"]
    assert changes[1].data is None


@pytest.mark.parametrize("model", LEDGER, ids=lambda m: m.__tablename__)
def test_ledger_rows_cannot_be_edited_or_deleted(store: Store, model: type[Base]) -> None:
    with store.uow() as uow:
        obj = FACTORIES[model](uow.session)
        pk = pk_of(obj)
        if hasattr(obj, "hlc"):  # lines and tenders inherit theirs from the transaction
            assert obj.hlc > 0 and obj.node_id
    before = len(all_changes(store))
    column = next(c.key for c in model.__mapper__.column_attrs if c.key not in ("id", "hlc", "node_id"))
    with pytest.raises(ReplicationError, match="insert-only"), store.uow() as uow:
        row = uow.session.get(model, pk)
        current = getattr(row, column)
        setattr(row, column, (current + 1) if isinstance(current, int) else f"{current}x")
        uow.flush()
    with pytest.raises(ReplicationError, match="insert-only"), store.uow() as uow:
        uow.session.delete(uow.session.get(model, pk))
        uow.flush()
    assert len(all_changes(store)) == before


def test_no_op_update_writes_no_change(store: Store) -> None:
    with store.uow() as uow:
        g = FACTORIES[Game](uow.session)
        pk = pk_of(g)
    with store.uow() as uow:
        row = uow.session.get(Game, pk)
        assert row is not None
        row.name = row.name  # same value
    assert len(changes_for(store, "games", pk)) == 1


def test_seq_is_contiguous_and_hlc_strictly_increases(store: Store) -> None:
    for _ in range(5):
        with store.uow() as uow:
            for _ in range(3):
                FACTORIES[Game](uow.session)
    changes = all_changes(store)
    assert [c.seq for c in changes] == list(range(1, len(changes) + 1))
    hlcs = [c.hlc for c in changes]
    assert all(b > a for a, b in pairwise(hlcs))
    with store.read() as s:
        state = s.get(NodeState, 1)
        assert state is not None
        assert state.last_seq == len(changes)
        assert state.last_hlc == hlcs[-1]


def test_rolled_back_work_leaves_no_change_and_no_gap(store: Store) -> None:
    with store.uow() as uow:
        FACTORIES[Game](uow.session)
    with pytest.raises(RuntimeError), store.uow() as uow:
        FACTORIES[Game](uow.session)
        raise RuntimeError("cashier pressed cancel")
    with store.uow() as uow:
        FACTORIES[Game](uow.session)
    assert [c.seq for c in all_changes(store)] == [1, 2]
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Game)) == 2


def test_failed_flush_rolls_back_numbering(store: Store) -> None:
    with store.uow() as uow:
        FACTORIES[Game](uow.session)
    with pytest.raises(Exception), store.uow() as uow:  # noqa: B017 - integrity error type differs per backend
        uow.add(Game(code="dup", name="a"))
        uow.add(Game(code="dup", name="b"))
        uow.flush()
    with store.uow() as uow:
        FACTORIES[Game](uow.session)
    assert [c.seq for c in all_changes(store)] == [1, 2]


def test_bulk_dml_on_replicated_tables_is_refused(store: Store) -> None:
    with store.uow() as uow:
        g = FACTORIES[Game](uow.session)
        pk = pk_of(g)
    with pytest.raises(ReplicationError, match="bypass change capture"), store.uow() as uow:
        uow.session.execute(update(Game).where(Game.id == pk).values(name="sneaky"))
    with pytest.raises(ReplicationError, match="bypass change capture"), store.uow() as uow:
        uow.session.execute(delete(Game).where(Game.id == pk))
    with store.read() as s:
        assert s.get(Game, pk).name != "sneaky"  # type: ignore[union-attr]


def test_replaying_session_does_not_capture_but_keeps_caches(store: Store) -> None:
    with store.uow() as uow:
        mv = FACTORIES[StockMovement](uow.session)
        sku_id, loc_id = mv.sku_id, mv.location_id  # type: ignore[attr-defined]
    before = len(all_changes(store))
    with store.uow() as uow:
        uow.session.info["replaying"] = True
        uow.add(
            StockMovement(
                id="f" * 32,
                sku_id=sku_id,
                location_id=loc_id,
                delta=-1,
                reason="sale",
                node_id="a" * 16,
                hlc=hlc.encode(1),
            )
        )
    assert len(all_changes(store)) == before
    with store.read() as s:
        assert s.get(StockLevel, (sku_id, loc_id)).on_hand == 2  # type: ignore[union-attr]


def test_derived_caches_equal_ledger_sums(store: Store) -> None:
    with store.uow() as uow:
        mv = FACTORIES[StockMovement](uow.session)
        sku_id, loc_id = mv.sku_id, mv.location_id  # type: ignore[attr-defined]
        ce = FACTORIES[CreditEntry](uow.session)
        cust = ce.customer_id  # type: ignore[attr-defined]
    with store.uow() as uow:
        for delta in (-1, -1, 5):
            uow.add(StockMovement(sku_id=sku_id, location_id=loc_id, delta=delta, reason="adjust"))
        uow.add(CreditEntry(customer_id=cust, delta_cents=-200, reason="purchase"))
    with store.read() as s:
        ledger = s.scalar(select(func.sum(StockMovement.delta)).where(StockMovement.sku_id == sku_id))
        assert s.get(StockLevel, (sku_id, loc_id)).on_hand == ledger == 6  # type: ignore[union-attr]
        bal = s.scalar(select(func.sum(CreditEntry.delta_cents)).where(CreditEntry.customer_id == cust))
        assert s.get(CustomerBalance, cust).balance_cents == bal == 300  # type: ignore[union-attr]


def test_bulk_insert_captures_every_row(store: Store) -> None:
    with store.uow() as uow:
        prod = FACTORIES[Sku](uow.session).product_id  # type: ignore[attr-defined]
        loc = FACTORIES[StockMovement](uow.session).location_id  # type: ignore[attr-defined]
    before = all_changes(store)
    rows = [{"product_id": prod, "sku_code": f"BULK-{i}", "shelf_price_cents": i} for i in range(250)]
    with store.uow() as uow:
        capture.bulk_insert(uow.session, Sku, rows)
    with store.read() as s:
        skus = {sku.sku_code: sku for sku in s.scalars(select(Sku).where(Sku.sku_code.like("BULK-%")))}
    assert len(skus) == 250
    assert skus["BULK-7"].finish == "normal" and skus["BULK-7"].is_active  # python defaults applied
    new = all_changes(store)[len(before) :]
    assert len(new) == 250
    assert {c.pk for c in new} == {s.id for s in skus.values()}
    assert [c.seq for c in new] == list(range(before[-1].seq + 1, before[-1].seq + 251))
    with store.uow() as uow:
        capture.bulk_insert(
            uow.session,
            StockMovement,
            [{"sku_id": s.id, "location_id": loc, "delta": 2, "reason": "receive"} for s in skus.values()],
        )
    with store.read() as s:
        total = s.scalar(
            select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id.in_([x.id for x in skus.values()]))
        )
        assert total == 500
        movements = list(s.scalars(select(StockMovement).where(StockMovement.sku_id == skus["BULK-1"].id)))
        assert movements[0].node_id == store.node_id and movements[0].hlc > 0


def test_change_data_round_trips_through_codec(store: Store) -> None:
    from vaultsync.store import codec

    with store.uow() as uow:
        obj = FACTORIES[Sku](uow.session)
        pk = pk_of(obj)
    [change] = changes_for(store, "skus", pk)
    data = codec.loads(change.data or "")
    table = Sku.__table__
    with store.read() as s:
        row = s.execute(select(table).where(table.c.id == pk)).mappings().one()
    for name, value in data.items():
        assert codec.decode_value(table.c[name], value) == row[name], name


def test_node_identity_is_created_once(db_path) -> None:  # type: ignore[no-untyped-def]
    from vaultsync.store import open_store

    a = open_store(f"sqlite:///{db_path}")
    node, shop = a.node_id, a.shop_id
    a.close()
    b = open_store(f"sqlite:///{db_path}")
    assert (b.node_id, b.shop_id) == (node, shop)
    assert len(node) == 16
    b.close()


def test_empty_json_columns_are_sql_null_on_both_paths(store: Store) -> None:
    with store.uow() as uow:
        orm_sku = FACTORIES[Sku](uow.session)
        prod = orm_sku.product_id  # type: ignore[attr-defined]
        capture.bulk_insert(uow.session, Sku, [{"product_id": prod, "sku_code": "JSON-NULL"}])
    with store.read() as s:
        nulls = set(s.scalars(select(Sku.sku_code).where(Sku.sub_grades.is_(None))))
    assert nulls == {orm_sku.sku_code, "JSON-NULL"}  # type: ignore[attr-defined]


def test_observing_a_peer_clock_moves_local_hlc_past_it(store: Store) -> None:
    remote = hlc.now_floor() + hlc.encode(60_000)  # a peer one minute ahead
    with store.uow() as uow:
        capture.observe_hlc(uow.session, remote)
    with store.uow() as uow:
        FACTORIES[Game](uow.session)
    [change] = all_changes(store)
    assert change.hlc > remote
    with pytest.raises(hlc.ClockDriftError), store.uow() as uow:
        capture.observe_hlc(uow.session, hlc.now_floor() + hlc.encode(hlc.MAX_DRIFT_MS + 60_000))
    with store.read() as s:
        state = s.get(NodeState, 1)
        assert state is not None and state.last_hlc == change.hlc
