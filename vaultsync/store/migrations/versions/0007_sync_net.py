"""peer-to-peer network: pairing codes and peer bookkeeping (issue 4)

Revision ID: 0007_sync_net
Revises: 0006_sync
Create Date: 2026-11-28 09:12:00.000000

The revision ids of the parallel work streams are fixed up front so their schema
changes chain without branches; this one gets its tables when its work lands.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = '0007_sync_net'
down_revision: str | None = '0006_sync'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("VaultSync migrations are forward-only")
