"""sync engine: alerts, collision policy, compaction bookkeeping (issue 4)

Revision ID: 0006_sync
Revises: 0005_inventory
Create Date: 2026-11-28 09:10:00.000000

The revision ids of the three parallel work streams are fixed up front so their schema
changes chain without branches; this one gets its tables when its work lands.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = '0006_sync'
down_revision: str | None = '0005_inventory'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("VaultSync migrations are forward-only")
