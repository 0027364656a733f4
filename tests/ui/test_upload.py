"""File uploads on the price-import and catalog-import pages (NiceGUI ``user``).

The file goes through NiceGUI's real upload route (a multipart POST to the widget's URL,
as the browser's QUploader sends it), so what is tested is the page's handler fed by
NiceGUI's own parsing, not a hand-built event.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlalchemy import select

from tests.ui.conftest import eventually, label_text, login_password, services
from tests.ui.seed import MANAGER
from vaultsync.services.catalog_import import TEMPLATE_HEADER
from vaultsync.store.models import Sku


def element(user: User, marker: str) -> Any:
    [found] = list(user.find(marker=marker).elements)
    return found


async def upload(user: User, marker: str, name: str, data: bytes, content_type: str = "text/csv") -> None:
    """Send ``data`` as the browser does when a file is picked in the ``ui.upload`` marked ``marker``."""
    widget = element(user, marker)
    assert isinstance(widget, ui.upload)
    response = await user.http_client.post(widget.props["url"], files={"file": (name, data, content_type)})
    assert response.status_code == 200, response.text


def market(code: str) -> int | None:
    with services().store.read() as s:
        return s.scalar(select(Sku.market_price_cents).where(Sku.sku_code == code))


def table_rows(user: User, marker: str) -> list[dict[str, Any]]:
    table = element(user, marker)
    assert isinstance(table, ui.table)
    return list(table.rows)


# ---------------------------------------------------------------------- price import (/pricing)


async def open_price_import(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/pricing")
    await user.should_see(marker="review-table", retries=40)
    user.find(marker="tab-import").click()


PRICE_FILE = (
    "SKU,TCG Market Price\n"
    "MTG-DMU-107-NM,76.00\n"  # a small move: applied
    "NOPE-404,1.00\n"  # unknown SKU: a row error
    "MTG-DMU-107-LP,abc\n"  # not a price: a row error
)


async def test_price_file_upload_preview_errors_and_valid_only_import(user: User) -> None:
    await open_price_import(user)
    before = market("MTG-DMU-107-NM")
    await upload(user, "import-upload", "tcg-export.csv", PRICE_FILE.encode())
    await eventually(lambda: "Loaded tcg-export.csv" in label_text(user, "pricing-message"))
    # the file stays on the server: a price export of tens of MB is not pushed into the browser
    assert element(user, "import-text").value == ""

    user.find(marker="import-preview").click()
    await eventually(lambda: label_text(user, "import-summary").startswith("Preview"))
    summary = label_text(user, "import-summary")
    assert "1 applied" in summary and "2 with errors" in summary
    errors = table_rows(user, "import-errors")
    assert [e["line"] for e in errors] == [3, 4]
    assert "unknown SKU code 'NOPE-404'" in errors[0]["message"]
    assert [(r["sku"], r["action"]) for r in table_rows(user, "import-preview-table")] == [
        ("MTG-DMU-107-NM", "applied")
    ]
    assert market("MTG-DMU-107-NM") == before  # a preview writes nothing

    user.find(marker="import-commit").click()  # all-or-nothing: refused
    await eventually(lambda: label_text(user, "import-summary").startswith("Not imported"))
    assert market("MTG-DMU-107-NM") == before

    element(user, "import-valid-only").value = True
    user.find(marker="import-commit").click()
    await eventually(lambda: label_text(user, "import-summary").startswith("Imported"))
    assert "Prices imported" in label_text(user, "pricing-message")
    assert market("MTG-DMU-107-NM") == 7600


async def test_windows_excel_export_uploads(user: User) -> None:
    """Spreadsheet programs on Windows save CSV as Windows-1252: the upload takes it like the API does."""
    await open_price_import(user)
    data = "SKU,TCG Market Price,Product Name\nMTG-DMU-107-NM,76.00,Pokémon café\n".encode("cp1252")
    await upload(user, "import-upload", "excel.csv", data)
    await eventually(lambda: "Loaded excel.csv" in label_text(user, "pricing-message"))
    user.find(marker="import-commit").click()
    await eventually(lambda: label_text(user, "import-summary").startswith("Imported"))
    assert market("MTG-DMU-107-NM") == 7600


async def test_pasted_text_wins_over_an_earlier_upload(user: User) -> None:
    await open_price_import(user)
    await upload(user, "import-upload", "a.csv", b"SKU,TCG Market Price\nMTG-DMU-107-NM,76.00\n")
    await eventually(lambda: "Loaded a.csv" in label_text(user, "pricing-message"))
    user.find(marker="import-text").type("SKU,TCG Market Price\nMTG-DMU-107-NM,77.00\n")
    user.find(marker="import-commit").click()
    await eventually(lambda: label_text(user, "import-summary").startswith("Imported"))
    assert market("MTG-DMU-107-NM") == 7700


async def test_html_and_binary_uploads_are_refused_whole(user: User) -> None:
    await open_price_import(user)
    before = market("MTG-DMU-107-NM")
    await upload(user, "import-upload", "login.html", b"<!DOCTYPE html><html>Sign in</html>", "text/html")
    await eventually(lambda: "Loaded login.html" in label_text(user, "pricing-message"))
    user.find(marker="import-preview").click()
    await eventually(lambda: "HTML" in label_text(user, "pricing-message"))
    await upload(user, "import-upload", "prices.xlsx", b"PK\x03\x04\x00\x00binary", "application/zip")
    await eventually(lambda: "Loaded prices.xlsx" in label_text(user, "pricing-message"))
    user.find(marker="import-commit").click()
    await eventually(lambda: "binary" in label_text(user, "pricing-message"))
    assert market("MTG-DMU-107-NM") == before


# ---------------------------------------------------------------------- catalog import (/inventory/import)


async def test_catalog_file_upload_checks_reports_rows_and_imports_the_good_ones(user: User) -> None:
    from tests.ui.seed import ROW_B

    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/import")
    await user.should_see(marker="import-upload", retries=40)
    data = (
        f"{TEMPLATE_HEADER}\n"
        f"MTG,Llanowar Elves,single,DMU,168,common,EN,NM,normal,,,,,,,0.25,0.05,40,{ROW_B}\n"
        "MTG,Bad Set Card,single,NOPE,1,,EN,NM,,,,,,,,1,,,\n"
        "MTG,Costly,single,DMU,2,,EN,NM,,,,,,,,1,-3,,\n"
    ).encode()
    await upload(user, "import-upload", "stock.csv", data)
    await eventually(lambda: "3 rows: 1 good, 2 with problems" in label_text(user, "import-summary"))
    assert "Would create 1 products and 1 items" in label_text(user, "import-summary")
    errors = table_rows(user, "import-errors")
    assert [(e["row"], e["column"]) for e in errors] == [(3, "set_code"), (4, "cost")]
    await user.should_not_see(marker="import-all")
    user.find(marker="import-valid").click()
    await eventually(lambda: "Imported 1 rows" in label_text(user, "import-result"))
    with services().store.read() as s:
        assert s.scalar(select(Sku.id).where(Sku.sku_code == "MTG-DMU-168-NM")) is not None



async def test_catalog_upload_of_a_web_page_or_a_spreadsheet_changes_nothing(user: User) -> None:
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/import")
    await user.should_see(marker="import-upload", retries=40)
    await upload(user, "import-upload", "export.csv", b"<!DOCTYPE html><html><body>Sign in</body></html>")
    await eventually(lambda: "web page (HTML)" in label_text(user, "import-error"))
    await upload(user, "import-upload", "stock.xlsx", b"PK\x03\x04\x00\x00\x00binary", "application/zip")
    await eventually(lambda: "not a CSV file" in label_text(user, "import-error"))
    assert label_text(user, "import-summary") == ""
    await user.should_not_see(marker="import-all")
    await user.should_not_see(marker="import-valid")


async def test_a_file_the_browser_rejects_as_too_large_is_explained(user: User) -> None:
    """QUploader refuses a file over max_file_size in the browser and fires ``rejected``."""
    await login_password(user, MANAGER, path="/login?redirect_to=/inventory/import")
    await user.should_see(marker="import-upload", retries=40)
    user.find(marker="import-upload").trigger("rejected")
    await eventually(lambda: "larger than 50 MB" in label_text(user, "import-error"))
    await user.open("/pricing")
    await user.should_see(marker="review-table", retries=40)
    user.find(marker="tab-import").click()
    user.find(marker="import-upload").trigger("rejected")
    await eventually(lambda: "larger than 512 MB" in label_text(user, "pricing-message"))
