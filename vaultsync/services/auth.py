"""Users, passwords, PINs, lockout and role checks.

Cashiers log in with a PIN on a touch screen, so PINs are short; what keeps them safe
is the lockout with backoff (per user, per terminal) and argon2id hashing. Managers and
admins use a password. Every check of "may this person do that" goes through
:func:`require_role`, in the service layer, whatever the UI shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from vaultsync.services import audit
from vaultsync.services.passwords import hash_secret, verify_secret
from vaultsync.store import Store
from vaultsync.store.models import LoginThrottle, User
from vaultsync.store.types import utcnow

PIN_RE = re.compile(r"^\d{4,8}$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
#: failures allowed before the first lockout
FREE_ATTEMPTS = 3
BASE_LOCKOUT = timedelta(seconds=30)
#: manager-override PIN guesses share one lockout per terminal: otherwise a cashier at the
#: override prompt could try PINs without end (each attempt is also audited)
OVERRIDE_BUCKET = "manager-override"
MAX_LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class UserView:
    """What the rest of the app may know about a user (never the hashes)."""

    id: str
    username: str
    display_name: str
    role: Role
    is_active: bool
    has_password: bool
    has_pin: bool

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            is_active=user.is_active,
            has_password=bool(user.password_hash),
            has_pin=bool(user.pin_hash),
        )


def require_role(user: UserView | None, role: Role) -> UserView:
    """Raise PermissionDenied unless ``user`` holds ``role`` or a higher one."""
    if user is None:
        raise AuthenticationError("please log in")
    if not user.is_active:
        raise PermissionDenied("this account is disabled")
    if not user.role.at_least(role):
        raise PermissionDenied(f"this needs a {role.value} (you are logged in as {user.role.value})")
    return user


def validate_pin(pin: str) -> str:
    if not PIN_RE.match(pin or ""):
        raise ValidationError("a PIN is 4 to 8 digits")
    return pin


def validate_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def validate_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise ValidationError("a username is 2-64 characters: lowercase letters, digits, '.', '_' or '-'")
    return name


class AuthService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ users

    def add_user(
        self,
        username: str,
        display_name: str,
        role: Role | str,
        *,
        password: str | None = None,
        pin: str | None = None,
        actor: UserView | None = None,
    ) -> UserView:
        """Create a user. ``actor`` None is the local CLI (whoever has the shell owns the shop)."""
        name = validate_username(username)
        try:
            role = Role(role)
        except ValueError as exc:
            raise ValidationError(f"unknown role {role!r}: choose admin, manager or cashier") from exc
        if actor is not None:
            require_role(actor, Role.ADMIN if role is Role.ADMIN else Role.MANAGER)
        if not (display_name or "").strip():
            raise ValidationError("a display name is required")
        if password is None and pin is None:
            raise ValidationError("give the user a password, a PIN, or both")
        if role is not Role.CASHIER and password is None:
            raise ValidationError(f"a {role.value} needs a password (managers and admins log in with one)")
        pw_hash = hash_secret(validate_password(password)) if password is not None else None
        pin_hash = hash_secret(validate_pin(pin)) if pin is not None else None
        with self.store.uow() as uow:
            if uow.session.scalar(select(User.id).where(User.username == name)):
                raise ConflictError(f"user {name!r} already exists")
            user = User(
                username=name,
                display_name=display_name.strip(),
                role=role.value,
                password_hash=pw_hash,
                pin_hash=pin_hash,
            )
            uow.add(user)
            uow.flush()
            audit.record(
                uow.session,
                "user.add",
                user_id=actor.id if actor else None,
                entity_type="user",
                entity_id=user.id,
                after={"username": name, "role": role.value},
            )
            return UserView.of(user)

    def list_users(self, *, include_inactive: bool = True) -> list[UserView]:
        with self.store.read() as s:
            q = select(User).order_by(User.role, User.username)
            if not include_inactive:
                q = q.where(User.is_active.is_(True))
            return [UserView.of(u) for u in s.scalars(q)]

    def pin_users(self) -> list[UserView]:
        """Active users who can log in with a PIN: the tiles on the cashier login screen."""
        return [u for u in self.list_users(include_inactive=False) if u.has_pin]

    def get(self, user_id: str) -> UserView:
        with self.store.read() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFoundError("no such user")
            return UserView.of(user)

    def by_username(self, username: str) -> UserView:
        with self.store.read() as s:
            user = s.scalar(select(User).where(User.username == (username or "").strip().lower()))
            if user is None:
                raise NotFoundError(f"no user {username!r}")
            return UserView.of(user)

    def set_password(self, username: str, password: str, *, actor: UserView | None = None) -> None:
        self._set_secret(username, password=password, actor=actor)

    def set_pin(self, username: str, pin: str, *, actor: UserView | None = None) -> None:
        self._set_secret(username, pin=pin, actor=actor)

    def _set_secret(
        self, username: str, *, password: str | None = None, pin: str | None = None, actor: UserView | None
    ) -> None:
        new_hash = hash_secret(validate_password(password)) if password is not None else None
        new_pin = hash_secret(validate_pin(pin)) if pin is not None else None
        with self.store.uow() as uow:
            user = uow.session.scalar(select(User).where(User.username == (username or "").strip().lower()))
            if user is None:
                raise NotFoundError(f"no user {username!r}")
            if actor is not None and actor.id != user.id:
                require_role(actor, Role.ADMIN if user.role == Role.ADMIN.value else Role.MANAGER)
            if new_hash is not None:
                user.password_hash = new_hash
            if new_pin is not None:
                user.pin_hash = new_pin
            uow.session.query(LoginThrottle).filter_by(user_id=user.id).delete()
            audit.record(
                uow.session,
                "user.password" if new_hash else "user.pin",
                user_id=actor.id if actor else None,
                entity_type="user",
                entity_id=user.id,
            )

    def set_active(self, username: str, active: bool, *, actor: UserView | None = None) -> None:
        with self.store.uow() as uow:
            user = uow.session.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFoundError(f"no user {username!r}")
            if actor is not None:
                require_role(actor, Role.ADMIN)
            if not active and user.role == Role.ADMIN.value:
                admins = uow.session.scalar(
                    select(func.count())
                    .select_from(User)
                    .where(User.role == "admin", User.is_active.is_(True))
                )
                if (admins or 0) <= 1 and user.is_active:
                    raise ConflictError("cannot disable the last active admin")
            user.is_active = active
            audit.record(
                uow.session,
                "user.enable" if active else "user.disable",
                user_id=actor.id if actor else None,
                entity_type="user",
                entity_id=user.id,
            )

    # ------------------------------------------------------------------ login

    def login_password(self, username: str, password: str) -> UserView:
        with self.store.read() as s:
            user = s.scalar(select(User).where(User.username == (username or "").strip().lower()))
            user_id = user.id if user else None
            stored = user.password_hash if user else None
            active = bool(user and user.is_active)
        if user_id is None:
            verify_secret(None, password)  # same work either way: do not reveal which usernames exist
            raise AuthenticationError("wrong username or password")
        self._check_lock(user_id)
        if not active or not verify_secret(stored, password or ""):
            self._fail(user_id)
            raise AuthenticationError("wrong username or password")
        return self._succeed(user_id, "login.password")

    def login_pin(self, user_id: str, pin: str) -> UserView:
        with self.store.read() as s:
            user = s.get(User, user_id)
            stored = user.pin_hash if user else None
            active = bool(user and user.is_active)
        if user is None:
            raise AuthenticationError("unknown user")
        self._check_lock(user_id)
        if not active or not verify_secret(stored, pin or ""):
            self._fail(user_id)
            raise AuthenticationError("wrong PIN")
        return self._succeed(user_id, "login.pin")

    def verify_manager_pin(self, pin: str) -> UserView:
        """Manager override: the PIN of any active manager or admin. Returns who approved."""
        with self.store.read() as s:
            candidates = list(
                s.scalars(
                    select(User).where(
                        User.role.in_([Role.MANAGER.value, Role.ADMIN.value]),
                        User.is_active.is_(True),
                        User.pin_hash.is_not(None),
                    )
                )
            )
        self._check_lock(OVERRIDE_BUCKET)
        for user in candidates:
            if verify_secret(user.pin_hash, pin or ""):
                self._clear(OVERRIDE_BUCKET)
                return UserView.of(user)
        self._fail(OVERRIDE_BUCKET, audit_action=None)  # approve() audits the denied override itself
        raise AuthenticationError("that is not a manager PIN")

    def lockout_remaining(self, user_id: str) -> timedelta:
        with self.store.read() as s:
            row = s.get(LoginThrottle, user_id)
            if row is None or row.locked_until is None:
                return timedelta(0)
            return max(timedelta(0), row.locked_until - utcnow())

    def _check_lock(self, user_id: str) -> None:
        remaining = self.lockout_remaining(user_id)
        if remaining > timedelta(0):
            secs = int(remaining.total_seconds()) + 1
            raise AuthenticationError(f"too many wrong attempts: try again in {secs} s")

    def _fail(self, user_id: str, *, audit_action: str | None = "login.failed") -> None:
        with self.store.uow() as uow:
            row = uow.session.get(LoginThrottle, user_id)
            if row is None:
                row = LoginThrottle(user_id=user_id, failures=0)
                uow.add(row)
            row.failures += 1
            over = row.failures - FREE_ATTEMPTS
            if over >= 0:
                row.locked_until = utcnow() + lockout_for(over)
            if audit_action:
                audit.record(
                    uow.session,
                    audit_action,
                    entity_type="user",
                    entity_id=user_id,
                    after={"failures": row.failures},
                )

    def _clear(self, key: str) -> None:
        with self.store.uow() as uow:
            row = uow.session.get(LoginThrottle, key)
            if row is not None:
                uow.session.delete(row)

    def _succeed(self, user_id: str, action: str) -> UserView:
        with self.store.uow() as uow:
            row = uow.session.get(LoginThrottle, user_id)
            if row is not None:
                uow.session.delete(row)
            user = uow.session.get(User, user_id)
            assert user is not None
            audit.record(uow.session, action, user_id=user_id, entity_type="user", entity_id=user_id)
            return UserView.of(user)


def lockout_for(over: int) -> timedelta:
    """Lockout after the ``over``-th failure past the free ones: 30 s, 60 s, 120 s… capped at 15 min."""
    return min(MAX_LOCKOUT, BASE_LOCKOUT * (2 ** min(over, 10)))


def seconds_until(when: datetime | None) -> int:
    if when is None:
        return 0
    return max(0, int((when - utcnow()).total_seconds()))
