"""column versions for per-column last-writer-wins merging

Revision ID: 0003_column_versions
Revises: 0002_pos
Create Date: 2026-11-28 08:25:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_column_versions'
down_revision: str | None = '0002_pos'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('column_versions',
    sa.Column('table_name', sa.String(length=48), nullable=False),
    sa.Column('pk', sa.String(length=64), nullable=False),
    sa.Column('column_name', sa.String(length=64), nullable=False),
    sa.Column('hlc', sa.BigInteger(), nullable=False),
    sa.Column('node', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('table_name', 'pk', 'column_name', name=op.f('pk_column_versions'))
    )


def downgrade() -> None:
    # VaultSync migrates forward only: restore a backup to go back.
    raise NotImplementedError("downgrades are not supported; restore a backup instead")
