"""pricing rules, price feeds and the volatility guard (issue 6)

Revision ID: 0004_pricing
Revises: 0003_column_versions
Create Date: 2026-11-28 09:10:00.000000

Pricing rules and HTTP price feeds (replicated, last writer wins), this terminal's feed
fetch state (local), and the batch/note columns that tie a price change to the import or
feed fetch that made it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_pricing"
down_revision: str | None = "0003_column_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_feed_state",
        sa.Column("feed_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_rows", sa.Integer(), nullable=False),
        sa.Column("last_applied", sa.Integer(), nullable=False),
        sa.Column("last_held", sa.Integer(), nullable=False),
        sa.Column("last_errors", sa.Integer(), nullable=False),
        sa.Column("last_duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("feed_id", name=op.f("pk_price_feed_state")),
    )
    op.create_table(
        "price_feeds",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("backoff_ms", sa.Integer(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("valid_rows_only", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_feeds")),
        sa.UniqueConstraint("name", name=op.f("uq_price_feeds_name")),
    )
    op.create_table(
        "price_rules",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("game_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("condition", sa.String(length=8), nullable=True),
        sa.Column("finish", sa.String(length=16), nullable=True),
        sa.Column("markup_bps", sa.Integer(), nullable=False),
        sa.Column("condition_bps", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("rounding", sa.String(length=16), nullable=False),
        sa.Column("min_price_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("guard_pct_bps", sa.Integer(), nullable=False),
        sa.Column("guard_abs_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reprice_shelf", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["game_id"], ["games.id"], name=op.f("fk_price_rules_game_id_games")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_rules")),
    )
    with op.batch_alter_table("price_reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("price_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("shelf_old_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("shelf_new_cents", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )


def downgrade() -> None:
    raise NotImplementedError("VaultSync migrations are forward-only")
