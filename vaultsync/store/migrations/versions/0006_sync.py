"""sync engine: alerts, collision policy, compaction bookkeeping (issue 4)

Revision ID: 0006_sync
Revises: 0005_inventory
Create Date: 2026-11-28 09:10:00.000000

The revision ids of the three parallel work streams are fixed up front so their schema
changes chain without branches; this one gets its tables when its work lands.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_sync'
down_revision: str | None = '0005_inventory'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_alerts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('subject_table', sa.String(length=48), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('detected_by', sa.String(length=16), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=32), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_alerts'))
    )
    with op.batch_alter_table('sync_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_alerts_kind'), ['kind'], unique=False)

    op.create_table('compaction_floor',
    sa.Column('origin_node', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('origin_node', name=op.f('pk_compaction_floor'))
    )
    with op.batch_alter_table('column_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('value', sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("VaultSync migrations are forward-only")
