"""The manager's pricing screens (NiceGUI ``user``): reviews, imports, rules, feeds, SKU history;
and the register's warning when a card's market spiked above its shelf price."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlalchemy import select

from tests.pricing.feed_server import Script, feed_server
from tests.ui.conftest import eventually, label_text, login_password, login_pin, services
from tests.ui.pos_helpers import register_ready, scan, texts
from tests.ui.seed import CASHIER, MANAGER, SHEOLDRED_BARCODE
from vaultsync.store.models import Sku


def table(user: User, marker: str) -> ui.table:
    [element] = list(user.find(marker=marker).elements)
    assert isinstance(element, ui.table)
    return element


def rows(user: User, marker: str) -> list[dict[str, Any]]:
    return list(table(user, marker).rows)


def sku_id(code: str) -> str:
    with services().store.read() as s:
        found = s.scalar(select(Sku.id).where(Sku.sku_code == code))
        assert found
        return found


def manager():  # type: ignore[no-untyped-def]
    return services().auth.by_username(MANAGER.username)


async def open_pricing(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/pricing")
    await user.should_see(marker="review-table", retries=40)


async def paste_and(user: User, text: str, button: str) -> None:
    user.find(marker="tab-import").click()
    box = user.find(marker="import-text")
    box.clear()
    box.type(text)
    user.find(marker=button).click()


async def test_import_preview_commit_and_accept_the_held_move(user: User) -> None:
    await open_pricing(user)
    assert "0 price move(s)" in label_text(user, "review-count")
    csv = "SKU,TCG Market Price\nMTG-DMU-107-NM,150.00\nMTG-DMU-107-LP,66.00\n"
    await paste_and(user, csv, "import-preview")
    await eventually(lambda: label_text(user, "import-summary").startswith("Preview"))
    assert "1 applied" in label_text(user, "import-summary") and "1 held" in label_text(
        user, "import-summary"
    )
    preview = {r["sku"]: r["action"] for r in rows(user, "import-preview-table")}
    assert preview == {"MTG-DMU-107-NM": "held for review", "MTG-DMU-107-LP": "applied"}
    assert services().pricing.reviews().total == 0  # a preview writes nothing
    user.find(marker="import-commit").click()
    await eventually(lambda: label_text(user, "import-summary").startswith("Imported"))
    await eventually(lambda: len(rows(user, "review-table")) == 1)
    [row] = rows(user, "review-table")
    assert row["proposed"] == "$150.00" and row["old"] == "$73.50" and row["move"] == "+104%"
    table(user, "review-table").selected = [row]  # the manager ticks the row
    user.find(marker="review-accept").click()
    await eventually(lambda: "Accepted 1" in label_text(user, "pricing-message"))
    await eventually(lambda: rows(user, "review-table") == [])
    assert services().pricing.sku_prices(sku_id("MTG-DMU-107-NM")).market_price_cents == 15000


async def test_edit_a_held_price(user: User) -> None:
    services().pricing.import_file("SKU,TCG Market Price\nMTG-DMU-107-NM,150.00\n", actor=manager())
    await open_pricing(user)
    await eventually(lambda: len(rows(user, "review-table")) == 1)
    table(user, "review-table").selected = rows(user, "review-table")
    user.find(marker="review-edit-price").type("90.00")
    user.find(marker="review-edit").click()
    await eventually(lambda: "set 1" in label_text(user, "pricing-message"))
    assert services().pricing.sku_prices(sku_id("MTG-DMU-107-NM")).market_price_cents == 9000


async def test_a_bad_file_shows_row_errors_and_imports_only_when_asked(user: User) -> None:
    await open_pricing(user)
    csv = "SKU,TCG Market Price\nMTG-DMU-107-LP,66.00\nNOT-A-SKU,1.00\nMTG-DMU-107-NM-F,-5\n"
    await paste_and(user, csv, "import-commit")
    await eventually(lambda: label_text(user, "import-summary").startswith("Not imported"))
    errors = rows(user, "import-errors")
    assert [e["line"] for e in errors] == [3, 4]
    assert "NOT-A-SKU" in errors[0]["message"]
    assert services().pricing.sku_prices(sku_id("MTG-DMU-107-LP")).market_price_cents is None
    user.find(marker="import-valid-only").click()
    user.find(marker="import-commit").click()
    await eventually(lambda: label_text(user, "import-summary").startswith("Imported"))
    assert services().pricing.sku_prices(sku_id("MTG-DMU-107-LP")).market_price_cents == 6600
    # a web page instead of a CSV is refused as a whole
    await paste_and(user, "<html><body>Sign in</body></html>", "import-preview")
    await eventually(lambda: "HTML" in label_text(user, "pricing-message"))


async def test_add_and_delete_a_rule(user: User) -> None:
    await open_pricing(user)
    user.find(marker="tab-rules").click()
    user.find(marker="rule-name").type("Everything +10%")
    markup = next(iter(user.find(marker="rule-markup").elements))
    assert isinstance(markup, ui.number)
    markup.value = 110
    user.find(marker="rule-add").click()
    await eventually(lambda: len(rows(user, "rule-table")) == 1)
    [rule] = rows(user, "rule-table")
    assert rule["markup"] == "110%" and rule["scope"] == "everything"
    user.find(marker="rule-name").type("Again")
    user.find(marker="rule-add").click()  # same scope again: refused with a reason
    await eventually(lambda: "exists already" in label_text(user, "pricing-message"))
    table(user, "rule-table").selected = [rule]
    user.find(marker="rule-delete").click()
    await eventually(lambda: rows(user, "rule-table") == [])


async def test_a_feed_that_is_down_shows_its_state_and_keeps_prices(user: User) -> None:
    script = Script([(503, "text/plain", b"maintenance", 0.0)])
    with feed_server(script) as url:
        await open_pricing(user)
        user.find(marker="tab-feeds").click()
        user.find(marker="feed-name").type("tcg")
        user.find(marker="feed-url").type(url)
        retries = next(iter(user.find(marker="feed-retries").elements))
        assert isinstance(retries, ui.number)
        retries.value = 0
        user.find(marker="feed-add").click()
        await eventually(lambda: len(rows(user, "feed-table")) == 1)
        assert rows(user, "feed-table")[0]["status"] == "never"
        table(user, "feed-table").selected = rows(user, "feed-table")
        user.find(marker="feed-fetch").click()
        await eventually(lambda: "down" in label_text(user, "pricing-message"), timeout=10)
        assert "The last prices stay" in label_text(user, "pricing-message")
        await eventually(lambda: rows(user, "feed-table")[0]["status"] == "down")
    assert "within a day" in label_text(user, "price-ages")


async def test_sku_price_history_page(user: User) -> None:
    nm = sku_id("MTG-DMU-107-NM")
    services().pricing.set_market_price(nm, 8000, actor=manager())
    await login_password(user, MANAGER, path=f"/login?redirect_to=/pricing/sku/{nm}")
    await user.should_see(marker="sku-chart", retries=40)
    assert label_text(user, "sku-name").startswith("Sheoldred, the Apocalypse")
    assert label_text(user, "sku-market") == "$80.00"
    history = rows(user, "sku-history")
    assert history[0]["change"].startswith("$73.50 → $80.00") and history[0]["source"] == "manual"
    chart = next(iter(user.find(marker="sku-chart").elements))
    assert isinstance(chart, ui.echart)
    market_series = chart.options["series"][0]["data"]
    assert [point[1] for point in market_series][:2] == [73.5, 80.0]


async def test_cashiers_cannot_open_pricing(user: User) -> None:
    await login_pin(user, CASHIER, path="/login?redirect_to=/pricing")
    await user.should_see(marker="forbidden", retries=40)


async def test_register_warns_when_the_market_spiked_above_shelf(user: User) -> None:
    nm = sku_id("MTG-DMU-107-NM")
    # the feed says $150 (held by the guard): the card is on the shelf at $74.99
    services().pricing.import_file("SKU,TCG Market Price\nMTG-DMU-107-NM,150.00\n", actor=manager())
    assert services().pricing.price_warning(nm)
    await register_ready(user)
    await scan(user, SHEOLDRED_BARCODE)
    await user.should_see(marker="line-price-warning", retries=40)
    await eventually(lambda: any("$150.00" in t and "$74.99" in t for t in texts(user, "line-price-warning")))


async def test_lock_and_unlock_a_shelf_price_on_the_sku_page(user: User) -> None:
    nm = sku_id("MTG-DMU-107-NM")
    await login_password(user, MANAGER, path=f"/login?redirect_to=/pricing/sku/{nm}")
    await user.should_see(marker="lock-toggle", retries=40)
    assert label_text(user, "sku-lock-state").startswith("Shelf price follows")
    user.find(marker="lock-reason").type("showcase copy")
    user.find(marker="lock-toggle").click()
    await user.should_see("Shelf price locked.", retries=40)
    assert label_text(user, "sku-lock-state").startswith("Shelf price locked")
    with services().store.read() as s:
        locked = s.get(Sku, nm)
        assert locked is not None and locked.price_locked
    shelf = locked.shelf_price_cents
    report = services().pricing.import_file(
        b"SKU,TCG Market Price\nMTG-DMU-107-NM,75.00\n", actor=manager(), source="tcg"
    )
    assert report.committed and report.locked == 1
    with services().store.read() as s:
        after = s.get(Sku, nm)
        assert after is not None and after.shelf_price_cents == shelf and after.market_price_cents == 7500
    user.find(marker="lock-toggle").click()
    await user.should_see("Shelf price unlocked.", retries=40)
    with services().store.read() as s:
        unlocked = s.get(Sku, nm)
        assert unlocked is not None and not unlocked.price_locked
