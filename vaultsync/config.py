"""Run-time configuration of one terminal: where its data lives, what station it is.

Precedence: command-line option > environment variable > default. The database URL
defaults to ``<data dir>/vaultsync.db``; ``VAULTSYNC_DATABASE_URL`` or ``--db`` point
elsewhere (e.g. PostgreSQL for an HQ node).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from vaultsync.domain.enums import StationRole
from vaultsync.domain.errors import StoreError, ValidationError
from vaultsync.store.engine import sqlite_url

DB_FILENAME = "vaultsync.db"
SECRET_FILENAME = "secret.key"


def default_data_dir() -> Path:
    env = os.environ.get("VAULTSYNC_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "vaultsync"


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    station_role: StationRole = StationRole.MANAGER
    host: str = "127.0.0.1"
    port: int = 8080

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | Path | None = None,
        db: str | None = None,
        station_role: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> Config:
        directory = Path(data_dir).expanduser() if data_dir else default_data_dir()
        url = db or os.environ.get("VAULTSYNC_DATABASE_URL") or sqlite_url(directory / DB_FILENAME)
        role_text = station_role or os.environ.get("VAULTSYNC_STATION_ROLE") or StationRole.MANAGER.value
        try:
            role = StationRole(role_text)
        except ValueError as exc:
            choices = ", ".join(r.value for r in StationRole)
            raise ValidationError(f"unknown station role {role_text!r} (choose {choices})") from exc
        port = port if port is not None else int(os.environ.get("VAULTSYNC_PORT", "8080"))
        if not 1 <= port <= 65535:
            raise ValidationError(f"port {port} is out of range 1-65535")
        return cls(
            data_dir=directory,
            database_url=url,
            station_role=role,
            host=host or os.environ.get("VAULTSYNC_HOST", "127.0.0.1"),
            port=port,
        )

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed; a clear StoreError if that is impossible."""
        d = self.data_dir
        if d.exists() and not d.is_dir():
            raise StoreError(f"data directory {d} exists but is not a directory")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create data directory {d}: {exc.strerror or exc}") from exc
        if not os.access(d, os.W_OK | os.X_OK):
            raise StoreError(f"data directory {d} is not writable")
        return d

    def secret(self) -> str:
        """This terminal's signing secret (sessions, JWTs), created once in the data directory."""
        path = self.ensure_data_dir() / SECRET_FILENAME
        if path.exists():
            value = path.read_text().strip()
            if len(value) >= 32:
                return value
        value = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        return value
