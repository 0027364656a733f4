"""change log: the (table, pk) index also holds the HLC (issue 4)

Revision ID: 0010_changes_pk_hlc
Revises: 0009_feed_auth
Create Date: 2026-11-28 16:45:00.000000

Merging an update of an existing row reads that row's newest few log entries (newest HLC
first). With an index on (table_name, pk) alone SQLite had to visit every entry of the row
to sort them — a popular SKU updated by every sale has tens of thousands — so a live push
cost grew with the row's history. With the HLC in the index the newest entries are read
straight from it. Every query that used the old index still has its prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0010_changes_pk_hlc'
down_revision: str | None = '0009_feed_auth'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_changes_table_pk'))
        batch_op.create_index(batch_op.f('ix_changes_table_pk_hlc'), ['table_name', 'pk', 'hlc'], unique=False)


def downgrade() -> None:
    # VaultSync migrates forward only: restore a backup to go back.
    raise NotImplementedError("downgrades are not supported; restore a backup instead")
