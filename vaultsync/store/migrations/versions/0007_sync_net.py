"""peer-to-peer network: pairing codes and peer bookkeeping (issue 4)

Revision ID: 0007_sync_net
Revises: 0006_sync
Create Date: 2026-11-28 09:12:00.000000

The revision ids of the parallel work streams are fixed up front so their schema
changes chain without branches; this one creates the local table of one-time pairing codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_sync_net'
down_revision: str | None = '0006_sync'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pairing_codes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_node', sa.String(length=16), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_codes'))
    )


def downgrade() -> None:
    raise NotImplementedError("VaultSync migrations are forward-only")
