"""The fast captured bulk paths (bulk_update, bulk_append) log exactly what the ORM path would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from tests.store.factories import FACTORIES
from vaultsync.domain.errors import ReplicationError
from vaultsync.domain.ids import new_id, new_ids
from vaultsync.store import Store, capture, codec
from vaultsync.store.models import Change, PriceReview, PriceUpdate, Sku, StockMovement
from vaultsync.store.types import utcnow


def _changes(store: Store, pk: str) -> list[Change]:
    with store.read() as s:
        return list(s.scalars(select(Change).where(Change.pk == pk).order_by(Change.seq)))


def _skus(store: Store, n: int) -> list[str]:
    with store.uow() as uow:
        return [FACTORIES[Sku](uow.session).id for _ in range(n)]  # type: ignore[attr-defined]


def test_bulk_update_matches_an_orm_update(store: Store) -> None:
    orm_id, bulk_id, other_id = _skus(store, 3)
    now = utcnow()
    with store.uow() as uow:
        sku = uow.session.get(Sku, orm_id)
        assert sku is not None
        sku.market_price_cents = 1234
        sku.price_source = "tcg é"
        sku.price_as_of = now
    with store.uow() as uow:
        n = capture.bulk_update(
            uow.session,
            Sku,
            [
                {"id": bulk_id, "market_price_cents": 1234, "price_source": "tcg é", "price_as_of": now},
                {"id": other_id, "market_price_cents": None, "price_source": "x", "price_as_of": now},
            ],
        )
    assert n == 2
    orm_change, bulk_change = _changes(store, orm_id)[-1], _changes(store, bulk_id)[-1]
    orm_data, bulk_data = codec.loads(orm_change.data or ""), codec.loads(bulk_change.data or "")
    assert (
        set(orm_data) == set(bulk_data) == {"market_price_cents", "price_source", "price_as_of", "updated_at"}
    )
    assert {k: v for k, v in bulk_data.items() if k != "updated_at"} == {
        k: v for k, v in orm_data.items() if k != "updated_at"
    }
    assert bulk_change.data == codec.dumps(bulk_data)  # byte-identical to the codec's JSON
    assert bulk_change.hlc > orm_change.hlc and bulk_change.op == "upsert"
    with store.read() as s:
        row = s.get(Sku, bulk_id)
        assert row is not None
        assert (row.market_price_cents, row.price_source, row.price_as_of) == (1234, "tcg é", now)
        assert row.updated_at > now
        other = s.get(Sku, other_id)
        assert other is not None and other.market_price_cents is None
    # the change row holds the stored values (decoded == read back)
    table = Sku.__table__
    with store.read() as s:
        stored = s.execute(select(table).where(table.c.id == bulk_id)).mappings().one()
    for name, value in bulk_data.items():
        assert codec.decode_value(table.c[name], value) == stored[name]


def test_bulk_update_refuses_ledgers_mixed_rows_and_missing_rows(store: Store) -> None:
    (sku_id,) = _skus(store, 1)
    with pytest.raises(ReplicationError, match="ledger"), store.uow() as uow:
        capture.bulk_update(uow.session, PriceUpdate, [{"id": "x", "new_cents": 1}])
    with pytest.raises(ReplicationError, match="same columns"), store.uow() as uow:
        capture.bulk_update(
            uow.session,
            Sku,
            [{"id": sku_id, "shelf_price_cents": 1}, {"id": sku_id, "market_price_cents": 2}],
        )
    before = len(_changes(store, sku_id))
    with pytest.raises(ReplicationError, match="do not exist"), store.uow() as uow:
        capture.bulk_update(
            uow.session,
            Sku,
            [{"id": sku_id, "shelf_price_cents": 5}, {"id": "missing", "shelf_price_cents": 5}],
        )
    assert len(_changes(store, sku_id)) == before  # rolled back: no change logged
    with store.read() as s:
        assert s.get(Sku, sku_id).shelf_price_cents != 5  # type: ignore[union-attr]


def test_bulk_append_matches_bulk_insert(store: Store) -> None:
    sku_a, sku_b = _skus(store, 2)
    now = utcnow()
    rows = [
        {
            "sku_id": sku_a,
            "source": "feed:x",
            "field": "market",
            "old_cents": None,
            "new_cents": 100,
            "created_at": now,
        },
        {
            "sku_id": sku_b,
            "source": "feed:x",
            "field": "market",
            "old_cents": 90,
            "new_cents": 120,
            "created_at": now,
        },
    ]
    with store.uow() as uow:
        ids = capture.bulk_append(uow.session, PriceUpdate, rows)
        capture.bulk_insert(uow.session, PriceUpdate, [dict(rows[0])])
        review_ids = capture.bulk_append(
            uow.session, PriceReview, [{"sku_id": sku_a, "source": "feed:x", "proposed_cents": 999}]
        )
    table = PriceUpdate.__table__
    with store.read() as s:
        for pk in ids:
            [change] = list(s.scalars(select(Change).where(Change.pk == pk)))
            stored = s.execute(select(table).where(table.c.id == pk)).mappings().one()
            assert change.data == codec.dumps(
                {c.name: codec.encode_value(c, stored[c.name]) for c in table.columns}
            )
            assert stored["node_id"] == store.node_id and stored["hlc"] == change.hlc
        via_insert = s.scalars(select(PriceUpdate).where(PriceUpdate.id.not_in(ids))).one()
        assert via_insert.field == "market" and via_insert.note is None
        review = s.get(PriceReview, review_ids[0])
        assert review is not None and review.status == "pending" and review.created_at is not None
    with pytest.raises(ReplicationError, match="derived cache"), store.uow() as uow:
        capture.bulk_append(uow.session, StockMovement, [{"sku_id": sku_a}])


def test_columnar_append_writes_the_bytes_codec_dumps_would(store: Store) -> None:
    """Every row's change JSON is built from a %-template: text with %, quotes, non-ASCII,
    None, shared and per-row values must still come out exactly as codec.dumps writes them."""
    skus = _skus(store, 3)
    now = utcnow()
    notes = ['up 67% "fast"', None, "Pokémon 100%s \\ end"]
    with store.uow() as uow:
        ids = capture.bulk_append_columns(
            uow.session,
            PriceUpdate,
            {"sku_id": skus, "new_cents": [1, 2**40, 0], "old_cents": [None, 5, 7], "note": notes},
            3,
            same={"source": "feed:50%", "field": "market", "created_at": now, "batch_id": "b%s"},
        )
    assert len(set(ids)) == 3 and ids == sorted(ids)
    table = PriceUpdate.__table__
    with store.read() as s:
        for pk, note in zip(ids, notes, strict=True):
            [change] = list(s.scalars(select(Change).where(Change.pk == pk)))
            stored = s.execute(select(table).where(table.c.id == pk)).mappings().one()
            assert stored["note"] == note and stored["source"] == "feed:50%" and stored["batch_id"] == "b%s"
            assert change.data == codec.dumps(
                {c.name: codec.encode_value(c, stored[c.name]) for c in table.columns}
            )
    with pytest.raises(ReplicationError, match="3 rows"), store.uow() as uow:
        capture.bulk_append_columns(uow.session, PriceUpdate, {"sku_id": skus[:2], "new_cents": [1, 2, 3]}, 3)


def test_new_ids_are_uuid7_hex_in_order() -> None:
    before = new_id()
    batch = new_ids(10_000)
    after = new_id()
    seq = [before, *batch, after]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    for value in batch[:100] + batch[-100:]:
        parsed = uuid.UUID(hex=value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and parsed.hex == value
    assert new_ids(0) == []


def test_bulk_update_same_logs_one_change_per_row(store: Store) -> None:
    a, b = _skus(store, 2)
    now = utcnow()
    with store.uow() as uow:
        assert (
            capture.bulk_update_same(uow.session, Sku, [a, b], {"price_source": "feed:x", "price_as_of": now})
            == 2
        )
    for pk in (a, b):
        change = _changes(store, pk)[-1]
        data = codec.loads(change.data or "")
        assert set(data) == {"price_source", "price_as_of", "updated_at"}
        assert change.data == codec.dumps(data)
        with store.read() as s:
            row = s.get(Sku, pk)
            assert row is not None and row.price_source == "feed:x" and row.price_as_of == now
    with pytest.raises(ReplicationError, match="do not exist"), store.uow() as uow:
        capture.bulk_update_same(uow.session, Sku, [a, "missing"], {"price_source": "y"})
    with pytest.raises(ReplicationError, match="cannot set"), store.uow() as uow:
        capture.bulk_update_same(uow.session, Sku, [a], {"id": "x"})


# --------------------------------------------------------------------------- replay converters


def _timestamp_converters() -> tuple[Any, Any]:
    """(the SQLite timestamp fast path, the general path) for ``skus.price_as_of``."""
    column = Sku.__table__.c.price_as_of  # type: ignore[attr-defined]
    dialect = sqlite.dialect()
    fast = capture._converter_for(column, dialect)
    general = capture._Converter(column, column.type._cached_bind_processor(dialect), True)
    return fast, general


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_sqlite_timestamp_fast_path_stores_what_the_general_path_stores(moment: datetime) -> None:
    fast, general = _timestamp_converters()
    assert isinstance(fast, capture._SqliteTimestamp)
    encoded = codec.encode_value(Sku.__table__.c.price_as_of, moment)  # type: ignore[attr-defined]
    assert fast(encoded) == general(encoded)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "2026-11-28T12:21:54.874220+02:00",  # another offset: converted by the general path
        "2026-11-28 12:21:54.874220+00:00",  # space separator
        "2026-11-28T12:21:54+00:00",
    ],
)
def test_sqlite_timestamp_non_canonical_values_take_the_general_path(value: Any) -> None:
    fast, general = _timestamp_converters()
    assert fast(value) == general(value)


@pytest.mark.parametrize(
    "value",
    ["2026-13-28T12:21:54.874220+00:00", "2026-11-28T25:21:54+00:00", "2026-11-28T12:21:5x.874220+00:00"],
)
def test_sqlite_timestamp_garbage_fails_like_the_general_path(value: str) -> None:
    fast, general = _timestamp_converters()
    with pytest.raises(ValueError):
        general(value)
    with pytest.raises(ValueError):
        fast(value)


def test_insert_encoded_rows_reads_back_as_the_orm_wrote_it(store: Store) -> None:
    """Replayed rows (the merge's fast path) come back identical to rows written by the ORM."""
    (sku_id,) = _skus(store, 1)
    with store.uow() as uow:
        sku = uow.session.get(Sku, sku_id)
        assert sku is not None
        sku.price_as_of = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)  # no fraction: the short form
        sku.sub_grades = {"centering": 9.5, "é": [1, None]}
        sku.serialized = True
    table = Sku.__table__
    with store.read() as s:
        original = dict(s.execute(select(table).where(table.c.id == sku_id)).mappings().one())  # type: ignore[attr-defined]
    encoded = {c.name: codec.encode_value(c, original[c.name]) for c in table.columns}  # type: ignore[attr-defined]
    encoded["id"] = "f" * 32
    encoded["sku_code"] = original["sku_code"] + "-copy"
    encoded["barcode"] = None
    with store.uow() as uow:
        capture.insert_encoded_rows(uow.session, table, [encoded])  # type: ignore[arg-type]
    with store.read() as s:
        copy = dict(s.execute(select(table).where(table.c.id == "f" * 32)).mappings().one())  # type: ignore[attr-defined]
    assert {
        **copy,
        "id": sku_id,
        "sku_code": original["sku_code"],
        "barcode": original["barcode"],
    } == original


@pytest.mark.parametrize("value", [True, False, None, 1, 0, "yes"])
def test_sqlite_boolean_fast_path_binds_what_the_general_path_binds(value: Any) -> None:
    column = Sku.__table__.c.serialized  # type: ignore[attr-defined]
    dialect = sqlite.dialect()
    fast = capture._converter_for(column, dialect)
    general = capture._Converter(column, column.type._cached_bind_processor(dialect), False)
    assert isinstance(fast, capture._SqliteBoolean)
    if value == "yes":  # not a boolean: refused by both
        with pytest.raises((TypeError, ValueError)):
            general(value)
        with pytest.raises((TypeError, ValueError)):
            fast(value)
        return
    got, want = fast(value), general(value)
    assert (got is None and want is None) or int(got) == int(want)  # sqlite3 stores True as 1
