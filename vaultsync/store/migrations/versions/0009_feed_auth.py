"""price feeds: optional request headers (API keys) per feed (issue 6)

Revision ID: 0009_feed_auth
Revises: 0008_price_confirm
Create Date: 2026-11-28 12:40:00.000000

Real price feeds want an API key (``Authorization: Bearer ...``, ``X-Api-Key``). The
headers live on the replicated feed row so every manager station that fetches the feed
has them; the service and the API never show a stored value back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_feed_auth'
down_revision: str | None = '0008_price_confirm'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('price_feeds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_headers', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    # VaultSync migrates forward only: restore a backup to go back.
    raise NotImplementedError("downgrades are not supported; restore a backup instead")
