"""Who is logged in on this browser: kept in NiceGUI's server-side ``app.storage.user``.

The browser only holds a signed session cookie with a random id; the user record lives
on the terminal, so a person cannot promote themselves by editing a cookie. The stored
copy is still re-checked against the users table on every page load
(:func:`revalidate`): an account disabled or demoted on the manager desk stops working
at the next page the cashier opens, not at the next login.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from nicegui import app

from ui.context import get_services, off_loop
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import NotFoundError
from vaultsync.services.auth import UserView

log = logging.getLogger(__name__)

USER_KEY = "user"
FLASH_KEY = "flash"
#: a login older than this is asked again: a shared register must not stay logged in for days
MAX_SESSION_SECONDS = 12 * 60 * 60


@dataclass(frozen=True)
class SessionUser:
    """The logged-in person as the pages see it (no hashes, nothing secret)."""

    id: str
    username: str
    display_name: str
    role: Role
    login_at: float

    def to_storage(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "login_at": self.login_at,
        }

    @classmethod
    def from_storage(cls, data: Any) -> SessionUser | None:
        """Read back what :meth:`to_storage` wrote; None for anything malformed."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                id=str(data["id"]),
                username=str(data["username"]),
                display_name=str(data["display_name"]),
                role=Role(data["role"]),
                login_at=float(data["login_at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def from_view(cls, view: UserView, *, login_at: float | None = None) -> SessionUser:
        return cls(
            id=view.id,
            username=view.username,
            display_name=view.display_name,
            role=view.role,
            login_at=time.time() if login_at is None else login_at,
        )


def current_user() -> SessionUser | None:
    """The user stored for this browser (as last validated), or None."""
    return SessionUser.from_storage(app.storage.user.get(USER_KEY))


def remember_login(view: UserView) -> SessionUser:
    """Store a successful login for this browser."""
    user = SessionUser.from_view(view)
    app.storage.user[USER_KEY] = user.to_storage()
    app.storage.user.pop(FLASH_KEY, None)
    return user


def forget_login(flash: str | None = None) -> None:
    """Log this browser out; ``flash`` is shown once on the login page (why you were logged out)."""
    app.storage.user.pop(USER_KEY, None)
    if flash:
        app.storage.user[FLASH_KEY] = flash
    else:
        app.storage.user.pop(FLASH_KEY, None)


def take_flash() -> str | None:
    """The one-time message for the login page, removed once read."""
    value = app.storage.user.pop(FLASH_KEY, None)
    return str(value) if value else None


async def revalidate() -> SessionUser | None:
    """Check the stored login against the users table; log out if it no longer holds.

    Returns the up-to-date user (role and name as they are now), or None after logging
    the browser out with a reason for the login page.
    """
    user = current_user()
    if user is None:
        if app.storage.user.get(USER_KEY) is not None:
            forget_login()  # unreadable leftovers from another version: start clean
        return None
    if time.time() - user.login_at > MAX_SESSION_SECONDS:
        forget_login("Your session has expired. Please log in again.")
        return None
    try:
        view = await off_loop(get_services().auth.get, user.id)
    except NotFoundError:
        forget_login("Your account no longer exists. Please ask a manager.")
        return None
    if not view.is_active:
        forget_login("This account is disabled. Please ask a manager.")
        return None
    fresh = SessionUser.from_view(view, login_at=user.login_at)
    if fresh != user:
        app.storage.user[USER_KEY] = fresh.to_storage()
    return fresh
