"""Schema migrations with Alembic, run programmatically on start-up.

Forward only: a terminal upgrades its own database when it starts. A database written
by a *newer* VaultSync is refused untouched, with a message, rather than opened by
code that does not understand it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from vaultsync.domain.errors import StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StoreError("no migrations found in this installation")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def check_not_newer(engine: Engine) -> str | None:
    """Return the current revision; raise StoreError if it is from a newer VaultSync."""
    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"database schema {current} is newer than this VaultSync (knows up to {head_revision()}); "
            "upgrade VaultSync on this terminal before opening it"
        )
    return current


def upgrade(engine: Engine) -> str:
    """Bring the schema to head. Returns the new revision."""
    check_not_newer(engine)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()


def needs_upgrade(engine: Engine) -> bool:
    return check_not_newer(engine) != head_revision()
