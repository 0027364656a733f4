from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import (
    AuthenticationError,
    ConflictError,
    PermissionDenied,
    ValidationError,
)
from vaultsync.services import audit
from vaultsync.services.auth import FREE_ATTEMPTS, AuthService, UserView, lockout_for, require_role
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, LoginThrottle, User


@pytest.fixture
def auth(sqlite_store: Store) -> AuthService:
    svc = AuthService(sqlite_store)
    svc.add_user("boss", "The Boss", Role.ADMIN, password="correct horse", pin="9999")
    svc.add_user("mia", "Mia", Role.MANAGER, password="manager pass", pin="2468")
    svc.add_user("sam", "Sam", Role.CASHIER, pin="1234")
    return svc


def test_hashes_are_argon2id_never_plaintext(auth: AuthService, sqlite_store: Store) -> None:
    with sqlite_store.read() as s:
        user = s.scalar(select(User).where(User.username == "boss"))
    assert user is not None
    assert user.password_hash and user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert user.pin_hash and user.pin_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"username": "x", "role": "cashier", "pin": "1234"}, "username"),
        ({"username": "Bad Name", "role": "cashier", "pin": "1234"}, "username"),
        ({"username": "newbie", "role": "wizard", "pin": "1234"}, "unknown role"),
        ({"username": "newbie", "role": "cashier", "pin": "12"}, "4 to 8 digits"),
        ({"username": "newbie", "role": "cashier", "pin": "12ab"}, "4 to 8 digits"),
        ({"username": "newbie", "role": "manager", "pin": "1234"}, "needs a password"),
        ({"username": "newbie", "role": "manager", "password": "short"}, "at least 8"),
        ({"username": "newbie", "role": "cashier"}, "password, a PIN"),
    ],
)
def test_bad_user_input_is_refused_and_changes_nothing(auth: AuthService, kwargs: dict, message: str) -> None:
    before = auth.list_users()
    with pytest.raises(ValidationError, match=message):
        auth.add_user(display_name="Someone", **kwargs)
    assert auth.list_users() == before


def test_duplicate_username(auth: AuthService) -> None:
    with pytest.raises(ConflictError):
        auth.add_user("SAM", "Sam again", "cashier", pin="4321")


def test_password_login(auth: AuthService) -> None:
    user = auth.login_password("Boss", "correct horse")
    assert user.role is Role.ADMIN and user.display_name == "The Boss"
    with pytest.raises(AuthenticationError, match="wrong username or password"):
        auth.login_password("boss", "wrong horse")
    with pytest.raises(AuthenticationError, match="wrong username or password"):
        auth.login_password("ghost", "whatever1")


def test_pin_login_and_lockout_with_backoff(auth: AuthService, sqlite_store: Store) -> None:
    sam = auth.by_username("sam")
    assert auth.login_pin(sam.id, "1234").username == "sam"
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(AuthenticationError, match="wrong PIN"):
            auth.login_pin(sam.id, "0000")
    # now locked: even the right PIN is refused with a countdown
    with pytest.raises(AuthenticationError, match=r"try again in \d+ s"):
        auth.login_pin(sam.id, "1234")
    remaining = auth.lockout_remaining(sam.id)
    assert timedelta(seconds=25) < remaining <= lockout_for(0)
    # expire the lock by hand; the next failure locks for twice as long
    with sqlite_store.uow() as uow:
        row = uow.session.get(LoginThrottle, sam.id)
        assert row is not None
        row.locked_until = None
    with pytest.raises(AuthenticationError, match="wrong PIN"):
        auth.login_pin(sam.id, "0000")
    assert auth.lockout_remaining(sam.id) > timedelta(seconds=55)
    with sqlite_store.uow() as uow:
        uow.session.get(LoginThrottle, sam.id).locked_until = None  # type: ignore[union-attr]
    assert auth.login_pin(sam.id, "1234").username == "sam"
    assert auth.lockout_remaining(sam.id) == timedelta(0)


def test_lockout_is_capped() -> None:
    assert lockout_for(0) == timedelta(seconds=30)
    assert lockout_for(1) == timedelta(seconds=60)
    assert lockout_for(50) == timedelta(minutes=15)


def test_disabled_user_cannot_log_in(auth: AuthService) -> None:
    auth.set_active("sam", False)
    sam = auth.by_username("sam")
    with pytest.raises(AuthenticationError):
        auth.login_pin(sam.id, "1234")
    assert sam.id not in {u.id for u in auth.pin_users()}


def test_last_admin_cannot_be_disabled(auth: AuthService) -> None:
    with pytest.raises(ConflictError, match="last active admin"):
        auth.set_active("boss", False)


def test_manager_pin_override(auth: AuthService) -> None:
    assert auth.verify_manager_pin("2468").username == "mia"
    with pytest.raises(AuthenticationError):
        auth.verify_manager_pin("1234")  # a cashier's PIN is not an override


def test_role_checks() -> None:
    cashier = UserView("1", "sam", "Sam", Role.CASHIER, True, False, True)
    manager = UserView("2", "mia", "Mia", Role.MANAGER, True, True, True)
    assert require_role(manager, Role.CASHIER) is manager
    with pytest.raises(PermissionDenied, match="needs a manager"):
        require_role(cashier, Role.MANAGER)
    with pytest.raises(AuthenticationError):
        require_role(None, Role.CASHIER)


def test_cashier_cannot_create_a_manager(auth: AuthService) -> None:
    sam = auth.by_username("sam")
    with pytest.raises(PermissionDenied):
        auth.add_user("evil", "Evil", "manager", password="12345678", actor=sam)


def test_password_change_clears_lockout_and_is_audited(auth: AuthService, sqlite_store: Store) -> None:
    for _ in range(FREE_ATTEMPTS + 1):
        with pytest.raises(AuthenticationError):
            auth.login_password("mia", "nope nope")
    auth.set_password("mia", "a new password")
    assert auth.login_password("mia", "a new password").username == "mia"
    with sqlite_store.read() as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.node_seq)))
        report = audit.verify_chain(s, sqlite_store.node_id)
    assert "user.password" in actions and "login.failed" in actions
    assert report.ok and report.entries == len(actions)


def test_manager_override_pin_guessing_is_locked_out(auth: AuthService) -> None:
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(AuthenticationError, match="not a manager PIN"):
            auth.verify_manager_pin("0000")
    with pytest.raises(AuthenticationError, match="try again in"):
        auth.verify_manager_pin("2468")  # even the right PIN waits out the lockout
    from vaultsync.services.auth import OVERRIDE_BUCKET

    assert auth.lockout_remaining(OVERRIDE_BUCKET) > timedelta(0)
