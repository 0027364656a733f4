"""price confirmations and per-SKU shelf price locks (issue 6)

Revision ID: 0008_price_confirm
Revises: 0007_sync_net
Create Date: 2026-11-28 12:40:00.000000

``price_confirmations`` (a replicated ledger) records, once per import or feed fetch,
which SKUs' prices it confirmed unchanged: a re-import no longer rewrites every
unchanged SKU just to refresh its price age. ``skus.price_locked`` lets a manager fix a
SKU's shelf price by hand so imports, feeds and pricing rules leave it alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_price_confirm'
down_revision: str | None = '0007_sync_net'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('price_confirmations',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('scope_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('listed', sa.Integer(), nullable=False),
    sa.Column('skus', sa.LargeBinary(), nullable=False),
    sa.Column('batch_id', sa.String(length=32), nullable=True),
    sa.Column('node_id', sa.String(length=16), nullable=False),
    sa.Column('hlc', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_confirmations'))
    )
    with op.batch_alter_table('price_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_confirmations_as_of'), ['as_of'], unique=False)
    # a plain ADD COLUMN (no table rebuild: skus has a million rows and children on both backends)
    op.add_column('skus', sa.Column('price_locked', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # VaultSync migrates forward only: restore a backup to go back.
    raise NotImplementedError("downgrades are not supported; restore a backup instead")
