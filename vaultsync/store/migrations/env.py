"""Alembic environment. Run programmatically by vaultsync.store.migrate (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

import vaultsync.store.models  # noqa: F401  (fills the metadata)
from vaultsync.store.base import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("vaultsync migrations run through vaultsync.store.migrate")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
