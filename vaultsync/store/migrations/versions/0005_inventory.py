"""inventory operations: counts, transfers, reorder points, labels (issue 6)

Revision ID: 0005_inventory
Revises: 0004_pricing
Create Date: 2026-11-28 09:10:00.000000

The revision ids of the three parallel work streams are fixed up front so their schema
changes chain without branches; this one adds stock counts (a mutable header and an insert-only ledger
of counted entries) and reorder points.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_inventory'
down_revision: str | None = '0004_pricing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stock_counts',
    sa.Column('location_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=32), nullable=True),
    sa.Column('closed_by', sa.String(length=32), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_stock_counts_location_id_locations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_counts'))
    )
    with op.batch_alter_table('stock_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_counts_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_counts_status'), ['status'], unique=False)

    op.create_table('reorder_points',
    sa.Column('sku_id', sa.String(length=32), nullable=False),
    sa.Column('min_on_hand', sa.Integer(), nullable=False),
    sa.Column('reorder_qty', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_reorder_points_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reorder_points')),
    sa.UniqueConstraint('sku_id', name=op.f('uq_reorder_points_sku_id'))
    )
    op.create_table('stock_count_entries',
    sa.Column('count_id', sa.String(length=32), nullable=False),
    sa.Column('sku_id', sa.String(length=32), nullable=False),
    sa.Column('location_id', sa.String(length=32), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.Column('seen_on_hand', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('node_id', sa.String(length=16), nullable=False),
    sa.Column('hlc', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['count_id'], ['stock_counts.id'], name=op.f('fk_stock_count_entries_count_id_stock_counts')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_stock_count_entries_location_id_locations')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_stock_count_entries_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_count_entries'))
    )
    with op.batch_alter_table('stock_count_entries', schema=None) as batch_op:
        batch_op.create_index('ix_stock_count_entries_count_sku', ['count_id', 'sku_id', 'location_id'], unique=False)


def downgrade() -> None:
    raise NotImplementedError("VaultSync migrations are forward-only")
