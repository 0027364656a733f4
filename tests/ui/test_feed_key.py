"""A feed's API key on the manager's Feeds tab (NiceGUI ``user``): set, used, never shown back, cleared."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User

from tests.pricing.feed_server import Script, csv_answer, feed_server
from tests.ui.conftest import eventually, label_text, login_password, services
from tests.ui.seed import MANAGER
from vaultsync.store.models import PriceFeed

SECRET = "sk-live-feedkey-0123456789"
CSV = "SKU,TCG Market Price\nMTG-DMU-107-NM,74.00\n"


def feed_table(user: User) -> ui.table:
    [element] = list(user.find(marker="feed-table").elements)
    assert isinstance(element, ui.table)
    return element


def feed_rows(user: User) -> list[dict[str, Any]]:
    return list(feed_table(user).rows)


def set_input(user: User, marker: str, value: Any) -> None:
    [element] = list(user.find(marker=marker).elements)
    assert isinstance(element, (ui.input, ui.number))
    element.value = value


def stored_headers() -> dict[str, str] | None:
    with services().store.read() as s:
        feed = s.query(PriceFeed).one()
        return feed.request_headers


async def test_feed_key_set_on_add_used_replaced_and_cleared(user: User) -> None:
    script = Script([csv_answer(CSV)], require_header=("X-Api-Key", SECRET))
    with feed_server(script) as url:
        await login_password(user, MANAGER, path="/login?redirect_to=/pricing")
        await user.should_see(marker="review-table", retries=40)
        user.find(marker="tab-feeds").click()
        user.find(marker="feed-name").type("tcg")
        user.find(marker="feed-url").type(url)
        set_input(user, "feed-retries", 0)
        set_input(user, "feed-key-name", "X-Api-Key")
        set_input(user, "feed-key-value", SECRET)
        user.find(marker="feed-add").click()
        await eventually(lambda: len(feed_rows(user)) == 1)
        assert feed_rows(user)[0]["key"] == "set (X-Api-Key)"
        assert stored_headers() == {"X-Api-Key": SECRET}
        await eventually(lambda: next(iter(user.find(marker="feed-key-value").elements)).value == "")
        assert SECRET not in str(feed_rows(user))

        feed_table(user).selected = feed_rows(user)
        user.find(marker="feed-fetch").click()
        await eventually(lambda: "1 applied" in label_text(user, "pricing-message"), timeout=10)

        # a wrong key replaces the stored one: the feed answers 401, shown as "refused"
        set_input(user, "selected-feed-key-name", "X-Api-Key")
        set_input(user, "selected-feed-key-value", "wrong-key")
        user.find(marker="feed-key-set").click()
        await eventually(lambda: "API key saved" in label_text(user, "pricing-message"))
        assert stored_headers() == {"X-Api-Key": "wrong-key"}
        user.find(marker="feed-fetch").click()
        await eventually(lambda: "refused" in label_text(user, "pricing-message"), timeout=10)
        assert "HTTP 401" in label_text(user, "pricing-message")

        # "Set key" with nothing typed changes nothing; a CR/LF value is refused
        user.find(marker="feed-key-set").click()
        await eventually(lambda: "Type the API key first" in label_text(user, "pricing-message"))
        set_input(user, "selected-feed-key-value", "abc\r\nX-Evil: 1")
        user.find(marker="feed-key-set").click()
        await eventually(lambda: "line breaks" in label_text(user, "pricing-message"))
        assert stored_headers() == {"X-Api-Key": "wrong-key"}

        feed_table(user).selected = feed_rows(user)
        user.find(marker="feed-key-clear").click()
        await eventually(lambda: "API key cleared" in label_text(user, "pricing-message"))
        await eventually(lambda: feed_rows(user)[0]["key"] == "not set")
        assert stored_headers() is None


async def test_set_key_needs_a_selected_feed(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/pricing")
    await user.should_see(marker="review-table", retries=40)
    user.find(marker="tab-feeds").click()
    set_input(user, "selected-feed-key-value", SECRET)
    user.find(marker="feed-key-set").click()
    await eventually(lambda: "Select a feed first" in label_text(user, "pricing-message"))
