"""Pricing migrations that add columns to tables with rows: the rows survive.

0004_pricing adds columns to price_updates and price_reviews; 0008_price_confirm adds
``skus.price_locked`` (unlocked for every existing SKU).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Connection, text

from vaultsync.store import migrate, open_store
from vaultsync.store.engine import make_engine
from vaultsync.store.models import PriceReview, PriceUpdate, Sku


def _one_sku(conn: Connection) -> None:
    """A game, a product and SKU 's' (shelf $5.00), written as an older schema stores them."""
    conn.execute(
        text(
            "INSERT INTO games (id, code, name, tax_category, sort_order, is_active, created_at, "
            "updated_at) VALUES ('g', 'mtg', 'Magic', 'standard', 0, 1, '2026-01-01', '2026-01-01')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO products (id, game_id, kind, name, language, attributes, is_active, created_at, "
            "updated_at) VALUES ('p', 'g', 'single', 'Card', 'EN', '{}', 1, '2026-01-01', '2026-01-01')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO skus (id, product_id, sku_code, finish, language, serialized, unit_size, "
            "shelf_price_cents, popularity, is_active, created_at, updated_at) VALUES ('s', 'p', 'S-1', "
            "'normal', 'EN', 0, 1, 500, 0, 1, '2026-01-01', '2026-01-01')"
        )
    )


def test_price_rows_survive_the_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003_column_versions")
        _one_sku(conn)
        conn.execute(
            text(
                "INSERT INTO price_updates (id, sku_id, source, field, old_cents, new_cents, node_id, hlc, "
                "created_at) VALUES ('u', 's', 'manual', 'shelf', 400, 500, 'n', 1, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO price_reviews (id, sku_id, source, old_cents, proposed_cents, status, "
                "created_at, updated_at) VALUES ('r', 's', 'feed', 400, 900, 'pending', '2026-01-01', "
                "'2026-01-01')"
            )
        )
    engine.dispose()
    store = open_store(url)
    with store.read() as s:
        update = s.get(PriceUpdate, "u")
        review = s.get(PriceReview, "r")
    store.close()
    assert update is not None and (update.old_cents, update.new_cents, update.batch_id) == (400, 500, None)
    assert update.shelf_old_cents is None and update.note is None
    assert review is not None and (review.proposed_cents, review.status, review.batch_id) == (
        900,
        "pending",
        None,
    )


def test_existing_skus_are_unlocked_after_0008(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007_sync_net")
        _one_sku(conn)
    engine.dispose()
    store = open_store(url)
    try:
        with store.uow() as uow:
            sku = uow.session.get(Sku, "s")
            assert sku is not None and sku.price_locked is False and sku.shelf_price_cents == 500
            sku.price_locked = True  # and the new column takes writes
        with store.read() as s:
            again = s.get(Sku, "s")
            assert again is not None and again.price_locked is True
    finally:
        store.close()
