"""SKU labels: barcode images, PNG/PDF sheets, ESC/POS bytes, and printing through the queue."""

from __future__ import annotations

import io
from pathlib import Path

import barcode
import pytest
from PIL import Image

from vaultsync.config import Config
from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ValidationError
from vaultsync.hardware.labels import (
    CODE128,
    EAN13,
    UPCA,
    LabelData,
    barcode_image,
    choose_symbology,
    render_escpos,
    render_label_image,
    render_pdf,
    render_png,
)
from vaultsync.hardware.print_queue import PrintQueue
from vaultsync.hardware.simulated import FakeNetworkPrinter, decode_escpos
from vaultsync.services.container import Services
from vaultsync.services.labels import LabelRequest
from vaultsync.store import Store
from vaultsync.store.models import Game, Location, Product, Sku, Station, StockMovement

SHEOLDRED = LabelData("MTG-DMU-107-NM", "Sheoldred, the Apocalypse", "DMU #107", "NM · Foil", "$74.99",
                      "MTG-DMU-107-NM", CODE128)  # fmt: skip
BOOSTER = LabelData("PKM-SV03-BB", "Pokémon Booster", "SV03", None, "$4.99", "4006381333931", EAN13)


def bars(image: Image.Image) -> str:
    """The module pattern ("1" black, "0" white) across the middle row of a barcode image."""
    row = [image.getpixel((x, image.height // 2)) for x in range(image.width)]
    runs: list[tuple[int, int]] = []
    for px in row:
        bit = 1 if px == 0 else 0
        if runs and runs[-1][0] == bit:
            runs[-1] = (bit, runs[-1][1] + 1)
        else:
            runs.append((bit, 1))
    inner = runs[1:-1] if runs[0][0] == 0 else runs  # drop the quiet zones
    module = min(n for _, n in inner)
    return "".join(str(bit) * round(n / module) for bit, n in inner)


@pytest.mark.parametrize(
    "value, symbology", [("MTG-DMU-107-NM", CODE128), ("4006381333931", EAN13), ("036000291452", UPCA)]
)
def test_barcode_images_carry_the_right_modules(value: str, symbology: str) -> None:
    expected = barcode.get(symbology, value).build()[0].strip("0")
    assert bars(barcode_image(value, symbology)).strip("0") == expected


def test_bad_barcodes_are_refused() -> None:
    with pytest.raises(ValidationError, match="check digit"):
        barcode_image("4006381333932", EAN13)
    with pytest.raises(ValidationError):
        barcode_image("ABC", EAN13)
    with pytest.raises(ValidationError, match="unsupported"):
        barcode_image("1", "qr")


def test_symbology_choice() -> None:
    assert choose_symbology("4006381333931", "X") == ("4006381333931", EAN13)
    assert choose_symbology("036000291452", "X") == ("036000291452", UPCA)
    assert choose_symbology("4006381333932", "X") == ("4006381333932", CODE128)  # not a valid GTIN
    assert choose_symbology(None, "MTG-1") == ("MTG-1", CODE128)
    assert choose_symbology("ünï", "MTG-1") == ("MTG-1", CODE128)


def test_label_image_has_text_and_barcode() -> None:
    image = render_label_image(SHEOLDRED)
    assert image.size == (400, 250)
    assert image.mode == "1"
    black = sum(1 for px in image.get_flattened_data() if px == 0)
    assert 0.05 < black / (400 * 250) < 0.5


def test_png_and_pdf_sheets() -> None:
    labels = [SHEOLDRED, BOOSTER] * 13  # 26 labels: two A4 pages of 24
    png = render_png(labels)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1240, 1754 * 2)
    pdf = render_pdf(labels)
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page") >= 2
    with pytest.raises(ValidationError):
        render_pdf([])


def test_escpos_labels_print_text_and_hardware_barcodes() -> None:
    decoded = decode_escpos(render_escpos([SHEOLDRED, BOOSTER]))
    assert decoded.lines[:3] == ["Sheoldred, the Apocalypse", "DMU #107 - NM - Foil", "$74.99"]
    assert "Pokemon Booster" in decoded.lines  # folded for the printer's code page
    assert decoded.barcodes == [(73, b"{BMTG-DMU-107-NM"), (2, b"400638133393")]
    assert len(decoded.cuts) == 2


def _labelled_shop(store: Store, printer_uri: str) -> tuple[str, str]:
    with store.uow() as uow:
        s = uow.session
        station = Station(name="Back office", role="manager", receipt_prefix="B1", printer_uri=printer_uri)
        game = Game(code="PKM", name="Pokémon")
        loc = Location(kind="store", name="Main")
        s.add_all([station, game, loc])
        s.flush()
        product = Product(game_id=game.id, kind="sealed", name="Booster Bundle")
        s.add(product)
        s.flush()
        sku = Sku(product_id=product.id, sku_code="PKM-BB", barcode="4006381333931", shelf_price_cents=2999)
        s.add(sku)
        s.flush()
        s.add(StockMovement(sku_id=sku.id, location_id=loc.id, delta=2, reason="receive"))
        return station.id, sku.id


def test_labels_print_through_the_station_queue(
    sqlite_store: Store, fake_printer: FakeNetworkPrinter, tmp_path: Path
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    services = Services.build(Config.resolve(data_dir=tmp_path, db=sqlite_store.url), sqlite_store)
    manager = services.auth.add_user("mo", "Mo", Role.MANAGER, password="manager pass")
    station_id, sku_id = _labelled_shop(sqlite_store, fake_printer.uri)
    try:
        job = services.labels.print([LabelRequest(sku_id, copies=2)], station_id, actor=manager)
        assert fake_printer.wait_for_jobs(1)
        decoded = fake_printer.decoded()
        assert decoded.lines.count("Booster Bundle") == 2
        assert "$29.99" in decoded.lines
        assert decoded.barcodes == [(2, b"400638133393")] * 2
        assert PrintQueue(sqlite_store).get(job).kind == "label"
        sheet = services.labels.sheet([LabelRequest(sku_id)], "pdf", actor=manager)
        assert sheet.startswith(b"%PDF-")
        with pytest.raises(ValidationError):
            services.labels.sheet([LabelRequest(sku_id, copies=0)], "png", actor=manager)
        with pytest.raises(ValidationError):
            services.labels.sheet([LabelRequest(sku_id)], "gif", actor=manager)
    finally:
        services.devices.stop()
