"""Login, logout, sessions, the kiosk refusal and role-based navigation, through the real pages."""

from __future__ import annotations

import re

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import enter_pin, eventually, label_text, login_password, login_pin, services
from tests.ui.seed import ADMIN, CASHIER, CASHIER2, DISABLED, MANAGER, SHOP_NAME
from ui import nav
from ui.layout import GENERIC_ERROR, app_page
from ui.session import SessionUser
from vaultsync.domain.enums import Role


def pin_error(user: User) -> str:
    return label_text(user, "pin-error")


async def test_unauthenticated_visitor_is_sent_to_login_and_back_after(user: User) -> None:
    await user.open("/inventory")
    await user.should_see(marker="pin-card")
    await user.should_see(marker="password-card")
    await user.should_not_see(marker="logout")
    await user.should_see(SHOP_NAME)
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    await enter_pin(user, CASHIER.pin or "")
    # redirect_to brought the cashier to the page originally asked for
    await user.should_see(marker="results", retries=40)
    await user.should_see(marker="search")


async def test_home_is_guarded_too(user: User) -> None:
    await user.open("/")
    await user.should_see(marker="pin-card")
    await user.should_not_see("Hello")


async def test_cashier_pin_login_lands_on_the_register(user: User) -> None:
    await user.open("/login")
    # only active users with a PIN get a tile
    for who in (ADMIN, MANAGER, CASHIER, CASHIER2):
        await user.should_see(marker=f"pin-user:{who.username}")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    await user.should_see("Casey Cashier · Cashier")
    for digit in "12":
        user.find(marker=f"pin-key-{digit}").click()
    assert label_text(user, "pin-dots") == "●●○○"  # masked, never the digits
    for digit in "34":
        user.find(marker=f"pin-key-{digit}").click()
    assert label_text(user, "pin-dots") == "●●●●"
    user.find(marker="pin-enter").click()
    # a cashier logs in to sell: straight to the register (which first asks for a shift)
    await user.should_see(marker="open-shift-panel", retries=40)
    await user.should_see("Open a shift to start selling")
    assert label_text(user, "user-name") == "Casey Cashier"
    assert label_text(user, "user-role") == "Cashier"
    await user.open("/")
    await user.should_see("Hello, Casey Cashier")
    assert "manager station" in label_text(user, "station-role")
    for path in ("/inventory", "/register", "/refund", "/shift"):
        await user.should_see(marker=f"tile:{path}")
    await user.should_see(marker="shop-name")


async def test_keypad_clear_and_backspace(user: User) -> None:
    await user.open("/login")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    for digit in "129":
        user.find(marker=f"pin-key-{digit}").click()
    user.find(marker="pin-backspace").click()
    user.find(marker="pin-key-3").click()
    user.find(marker="pin-key-4").click()  # 1 2 3 4 after the backspace
    user.find(marker="pin-enter").click()
    await user.should_see(marker="open-shift-panel", retries=40)
    assert label_text(user, "user-name") == "Casey Cashier"


async def test_clear_empties_the_pin(user: User) -> None:
    await user.open("/login")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    for digit in "555":
        user.find(marker=f"pin-key-{digit}").click()
    user.find(marker="pin-clear").click()
    assert label_text(user, "pin-dots") == "○○○○"


async def test_physical_keyboard_drives_the_pin_pad(user: User) -> None:
    await user.open("/login")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    keyboard = user.find(ui.keyboard)

    def key(name: str, code: str) -> None:
        keyboard.trigger(
            "key",
            {
                "action": "keydown",
                "key": name,
                "code": code,
                "location": 0,
                "repeat": False,
                "altKey": False,
                "ctrlKey": False,
                "metaKey": False,
                "shiftKey": False,
            },
        )

    for digit in "1234":
        key(digit, f"Digit{digit}")
    await eventually(lambda: label_text(user, "pin-dots") == "●●●●")
    key("Enter", "Enter")
    await user.should_see(marker="open-shift-panel", retries=40)
    assert label_text(user, "user-name") == "Casey Cashier"


async def test_short_pin_is_refused_without_costing_an_attempt(user: User) -> None:
    await user.open("/login")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    await enter_pin(user, "12")
    await user.should_see("Enter your PIN (4 to 8 digits)")
    user_id = services().auth.by_username(CASHIER.username).id
    assert services().auth.lockout_remaining(user_id).total_seconds() == 0
    await user.should_not_see(marker="logout")


async def test_wrong_pin_then_lockout_with_countdown(user: User) -> None:
    await user.open("/login")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    await enter_pin(user, "0000")
    await eventually(lambda: pin_error(user) == "Wrong PIN")
    assert label_text(user, "pin-dots") == "○○○○"  # the wrong PIN is not left on the pad
    await enter_pin(user, "0001")
    await eventually(
        lambda: (
            pin_error(user) == "Wrong PIN"
            and services()
            .auth.lockout_remaining(services().auth.by_username(CASHIER.username).id)
            .total_seconds()
            == 0
        )
    )
    await enter_pin(user, "0002")  # third failure locks the account
    await eventually(lambda: pin_error(user).startswith("Too many wrong attempts: try again in"))
    match = re.fullmatch(r"Too many wrong attempts: try again in (\d+) s", pin_error(user))
    assert match is not None, pin_error(user)
    seconds = int(match.group(1))
    assert 25 <= seconds <= 31
    # even the right PIN is refused while locked
    await enter_pin(user, CASHIER.pin or "")
    await eventually(lambda: pin_error(user).startswith("Too many wrong attempts"))
    await user.should_not_see(marker="logout")


async def test_change_user_goes_back_to_the_tiles(user: User) -> None:
    await user.open("/login")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    await user.should_see(marker="pin-enter")
    user.find(marker="pin-change-user").click()
    await user.should_not_see(marker="pin-enter")
    user.find(marker=f"pin-user:{CASHIER2.username}").click()
    await enter_pin(user, CASHIER2.pin or "")
    await user.should_see(marker="open-shift-panel", retries=40)
    assert label_text(user, "user-name") == "Carl Counter"


async def test_manager_password_login(user: User) -> None:
    await login_password(user, MANAGER)
    await user.should_see("Hello, Max Manager")
    assert label_text(user, "user-role") == "Manager"


async def test_password_login_by_enter_key(user: User) -> None:
    await user.open("/login")
    user.find(marker="login-username").type(ADMIN.username)
    user.find(marker="login-password").type(ADMIN.password or "").trigger("keydown.enter")
    await user.should_see("Hello, Ada Admin", retries=40)
    assert label_text(user, "user-role") == "Admin"


async def test_wrong_password_is_shown_inline(user: User) -> None:
    await user.open("/login")
    user.find(marker="login-username").type(MANAGER.username)
    user.find(marker="login-password").type("not-the-password")
    user.find(marker="login-submit").click()
    await eventually(lambda: label_text(user, "password-error") == "Wrong username or password")
    await user.should_not_see(marker="logout")
    # an unknown username gets exactly the same answer
    user.find(marker="login-username").clear()
    user.find(marker="login-username").type("nobody")
    user.find(marker="login-password").type("whatever-1")
    user.find(marker="login-submit").click()
    await eventually(lambda: label_text(user, "password-error") == "Wrong username or password")


async def test_empty_password_form_is_refused_locally(user: User) -> None:
    await user.open("/login")
    user.find(marker="login-submit").click()
    await eventually(lambda: label_text(user, "password-error") == "Enter your username and password")


async def test_disabled_user_is_refused(user: User) -> None:
    await user.open("/login")
    await user.should_not_see(marker=f"pin-user:{DISABLED.username}")
    await user.should_not_see(DISABLED.display_name)
    user.find(marker="login-username").type(DISABLED.username)
    user.find(marker="login-password").type(DISABLED.password or "")
    user.find(marker="login-submit").click()
    await eventually(lambda: label_text(user, "password-error") == "Wrong username or password")
    await user.should_not_see(marker="logout")


async def test_user_disabled_during_a_session_is_logged_out_at_the_next_page(user: User) -> None:
    await login_pin(user, CASHIER2)
    services().auth.set_active(CASHIER2.username, False)
    await user.open("/inventory")
    await user.should_see(marker="pin-card")
    await user.should_see("This account is disabled. Please ask a manager.")
    await user.should_not_see(marker=f"pin-user:{CASHIER2.username}")


async def test_role_change_is_picked_up_at_the_next_page(user: User) -> None:
    await login_pin(user, CASHIER2)
    assert label_text(user, "user-role") == "Cashier"
    with services().store.uow() as uow:  # tests may edit the store directly; the UI may not
        from vaultsync.store.models import User as UserRow

        row = uow.session.get(UserRow, services().auth.by_username(CASHIER2.username).id)
        assert row is not None
        row.role = Role.MANAGER.value
    await user.open("/")
    assert label_text(user, "user-role") == "Manager"


async def test_logout(user: User) -> None:
    await login_pin(user, CASHIER)
    user.find(marker="logout").click()
    await user.should_see(marker="pin-card", retries=40)
    await user.open("/inventory")
    await user.should_see(marker="pin-card")
    await user.should_not_see(marker="logout")


async def test_login_page_sends_a_logged_in_user_on(user: User) -> None:
    await login_pin(user, CASHIER)
    await user.open("/login")
    await user.should_see(marker="open-shift-panel")
    await user.should_not_see(marker="pin-card")


async def test_redirect_to_cannot_leave_the_site(user: User) -> None:
    await user.open("/login?redirect_to=//evil.example/phish")
    user.find(marker=f"pin-user:{CASHIER.username}").click()
    await enter_pin(user, CASHIER.pin or "")
    await user.should_see(marker="open-shift-panel", retries=40)


async def test_unexpected_error_shows_a_generic_message(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("database exploded: secret internals")

    await user.open("/login")
    monkeypatch.setattr(services().auth, "login_password", broken)
    user.find(marker="login-username").type(MANAGER.username)
    user.find(marker="login-password").type(MANAGER.password or "")
    user.find(marker="login-submit").click()
    await eventually(lambda: label_text(user, "password-error") == GENERIC_ERROR)
    await user.should_not_see("secret internals")
    assert any("secret internals" in str(r.exc_info) for r in caplog.records if r.exc_info)
    caplog.clear()  # the ERROR log was the point of this test


async def test_navigation_lists_pages_the_role_may_use(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nav, "NAV", list(nav.NAV))
    nav.register(nav.NavItem("/test-manager-only", "Manager thing", "insights", Role.MANAGER, "for managers"))

    @app_page("/test-manager-only", title="Manager thing", min_role=Role.MANAGER)
    def manager_thing(_: SessionUser) -> None:
        ui.label("manager-only content")

    await login_pin(user, CASHIER)
    await user.should_see(marker="nav:/")
    await user.should_see(marker="nav:/inventory")
    await user.should_not_see(marker="nav:/test-manager-only")
    await user.should_not_see(marker="tile:/test-manager-only")
    await user.open("/test-manager-only")
    await user.should_see("Not allowed (403)")
    await user.should_see(
        "This page needs a manager or higher; you are logged in as Casey Cashier (cashier)."
    )
    await user.should_not_see("manager-only content")

    user.find(marker="logout").click()
    await user.should_see(marker="pin-card", retries=40)
    await login_password(user, MANAGER)
    await user.should_see(marker="nav:/test-manager-only")
    await user.should_see(marker="tile:/test-manager-only")
    user.find(marker="tile:/test-manager-only").click()
    await user.should_see("manager-only content", retries=40)


async def test_nav_link_opens_inventory(user: User) -> None:
    await login_pin(user, CASHIER)
    user.find(marker="nav:/inventory").click()
    await user.should_see(marker="results", retries=40)


async def test_kiosk_station_offers_no_login(kiosk_user: User) -> None:
    for path in ("/", "/inventory", "/login", "/login?redirect_to=/inventory"):
        await kiosk_user.open(path)
        await kiosk_user.should_see("This is a price-check station")
        await kiosk_user.should_not_see(marker="pin-card")
        await kiosk_user.should_not_see(marker="password-card")
        await kiosk_user.should_not_see(marker="results")


async def test_api_router_is_mounted_and_not_behind_the_page_login(user: User) -> None:
    response = await user.http_client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    page = await user.http_client.get("/inventory", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?redirect_to=%2Finventory"
