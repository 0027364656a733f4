"""SKU shelf labels: ESC/POS for the receipt/label printer, PNG/PDF sheets for office printers.

A label shows the name, the set (code, number), the condition/finish or grade, the price and a
barcode the register's scanner reads back to the same SKU: the SKU's own EAN-13/UPC-A if it
has a valid one, otherwise its SKU code as Code128.

Barcode images come from python-barcode (Code128 and EAN-13/UPC-A with correct check digits,
quiet zones and bar widths), laid out with Pillow, which also writes the multi-page PDF; the
ESC/POS variant lets the printer draw the barcode itself (sharp at any printer DPI), through
python-escpos like the receipts.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import barcode
import barcode.errors
from barcode.writer import ImageWriter
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from vaultsync.domain.errors import ValidationError
from vaultsync.hardware.receipt_render import barcode_payload

CODE128, EAN13, UPCA = "code128", "ean13", "upca"
#: label size in pixels at 203 dpi (thermal printers): 2" x 1.25" labels, roughly 50 x 32 mm
LABEL_W, LABEL_H = 400, 250
#: an A4 sheet at 150 dpi holding 3 x 8 labels (Avery L7159-like 63.5 x 33.9 mm cells)
SHEET_W, SHEET_H, SHEET_COLS, SHEET_ROWS = 1240, 1754, 3, 8
SHEET_MARGIN_X, SHEET_MARGIN_Y = 45, 76
MAX_LABELS = 2_000


@dataclass(frozen=True)
class LabelData:
    sku_code: str
    name: str
    set_text: str | None
    variant: str | None  # "NM · Foil", "PSA 10 #81234567"
    price: str
    barcode_value: str
    symbology: str  # code128, ean13 or upca


def choose_symbology(barcode_value: str | None, sku_code: str) -> tuple[str, str]:
    """(value, symbology) for a label: a valid GTIN as EAN-13/UPC-A, else the SKU code as Code128."""
    value = (barcode_value or "").strip()
    if value.isdigit() and len(value) in (12, 13) and _gtin_ok(value):
        return value, UPCA if len(value) == 12 else EAN13
    if value and all(32 <= ord(c) < 127 for c in value):
        return value, CODE128
    return sku_code, CODE128


def _gtin_ok(code: str) -> bool:
    body, check = code[:-1], int(code[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def barcode_image(value: str, symbology: str, *, module_height_mm: float = 8.0) -> Image.Image:
    """The barcode alone, as a black-and-white image (no human-readable text; the label prints it)."""
    if symbology not in (CODE128, EAN13, UPCA):
        raise ValidationError(f"unsupported barcode type {symbology!r}")
    try:
        code = barcode.get(symbology, value, writer=ImageWriter())
    except (barcode.errors.BarcodeError, ValueError) as exc:
        raise ValidationError(f"cannot make a {symbology} barcode of {value!r}: {exc}") from None
    if symbology in (EAN13, UPCA) and code.get_fullcode() != value:
        raise ValidationError(f"{value} has a wrong check digit for {symbology.upper()}")
    image = code.render(
        {
            "module_width": 0.25,
            "module_height": module_height_mm,
            "quiet_zone": 2.0,
            "write_text": False,
            "dpi": 203,
        }
    )
    assert isinstance(image, Image.Image)
    return image.convert("1")


#: a system TrueType font with accents (DejaVu ships with most Linux terminals); Pillow's own
#: default font is the fallback, with text folded to ASCII because it lacks accented letters
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


@functools.cache
def _font_path() -> str | None:
    return next((p for p in FONT_CANDIDATES if os.path.exists(p)), None)


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def _text(text: str) -> str:
    return text if _font_path() else _ascii(text)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, size: int, width: int
) -> tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    """Shrink the font (then cut the text with …) until ``text`` fits ``width`` pixels."""
    for s in range(size, 11, -2):
        font = _font(s)
        if draw.textlength(text, font=font) <= width:
            return text, font
    font = _font(12)
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…", font


def render_label_image(label: LabelData, *, width: int = LABEL_W, height: int = LABEL_H) -> Image.Image:
    """One label as a 1-bit image: name, set, variant, price, barcode with its text."""
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    pad = max(6, width // 40)
    inner = width - 2 * pad
    y = pad
    text, font = _fit(draw, _text(label.name), 26, inner)
    draw.text((pad, y), text, font=font, fill=0)
    y += 30
    info = " · ".join(p for p in (label.set_text, label.variant) if p)
    if info:
        text, font = _fit(draw, _text(info), 18, inner)
        draw.text((pad, y), text, font=font, fill=0)
        y += 22
    price_font = _font(34)
    price_w = draw.textlength(label.price, font=price_font)
    draw.text((width - pad - price_w, y), label.price, font=price_font, fill=0)
    y += 42
    code = barcode_image(label.barcode_value, label.symbology)
    room_h = height - y - 22 - pad
    if room_h > 20:
        scale = min(inner / code.width, room_h / code.height, 1.0)
        code = code.resize(
            (max(1, int(code.width * scale)), max(1, int(code.height * scale))), Image.Resampling.NEAREST
        )
        image.paste(code, ((width - code.width) // 2, y))
        y += code.height + 2
    caption, font = _fit(draw, label.barcode_value, 16, inner)
    draw.text(((width - draw.textlength(caption, font=font)) / 2, y), caption, font=font, fill=0)
    return image


def render_png(labels: Sequence[LabelData]) -> bytes:
    """All labels on sheets stacked into one tall PNG (for a quick look or a label printer driver)."""
    pages = _sheets(labels)
    out = Image.new("1", (SHEET_W, SHEET_H * len(pages)), 1)
    for i, page in enumerate(pages):
        out.paste(page, (0, i * SHEET_H))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def render_pdf(labels: Sequence[LabelData]) -> bytes:
    """A4 label sheets (3 × 8 per page) as a PDF, one page per 24 labels."""
    pages = _sheets(labels)
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=150.0)
    return buf.getvalue()


def _sheets(labels: Sequence[LabelData]) -> list[Image.Image]:
    if not labels:
        raise ValidationError("choose at least one label to print")
    if len(labels) > MAX_LABELS:
        raise ValidationError(f"at most {MAX_LABELS:,} labels at once")
    cell_w = (SHEET_W - 2 * SHEET_MARGIN_X) // SHEET_COLS
    cell_h = (SHEET_H - 2 * SHEET_MARGIN_Y) // SHEET_ROWS
    per_page = SHEET_COLS * SHEET_ROWS
    pages = []
    for start in range(0, len(labels), per_page):
        page = Image.new("1", (SHEET_W, SHEET_H), 1)
        for i, label in enumerate(labels[start : start + per_page]):
            row, col = divmod(i, SHEET_COLS)
            cell = render_label_image(label, width=cell_w - 8, height=cell_h - 8)
            page.paste(cell, (SHEET_MARGIN_X + col * cell_w + 4, SHEET_MARGIN_Y + row * cell_h + 4))
        pages.append(page)
    return pages


def render_escpos(labels: Sequence[LabelData]) -> bytes:
    """ESC/POS bytes printing each label on the thermal printer, cut between labels."""
    if not labels:
        raise ValidationError("choose at least one label to print")
    if len(labels) > MAX_LABELS:
        raise ValidationError(f"at most {MAX_LABELS:,} labels at once")
    printer = Dummy()
    printer.hw("INIT")
    for label in labels:
        printer.set(align="center", bold=True, double_height=True, normal_textsize=False)
        printer.textln(_ascii(label.name)[:32])
        printer.set(align="center", bold=False, normal_textsize=True)
        info = " - ".join(p for p in (label.set_text, label.variant) if p)
        if info:
            printer.textln(_ascii(info)[:42])
        printer.set(align="center", bold=True, double_width=True, double_height=True, normal_textsize=False)
        printer.textln(_ascii(label.price))
        printer.set(align="center", bold=False, normal_textsize=True)
        if label.symbology == CODE128:
            payload = barcode_payload(label.barcode_value)
            if payload is None:
                raise ValidationError(f"cannot print {label.barcode_value!r} as Code128")
            printer._hw_barcode(payload, "CODE128", height=60, width=2, pos="BELOW", function_type="B")
        else:
            value = label.barcode_value if label.symbology == EAN13 else "0" + label.barcode_value
            # EAN13 (function A) takes the 12 digits without the check digit; the printer adds it
            printer._hw_barcode(value[:12], "EAN13", height=60, width=2, pos="BELOW", function_type="A")
        printer.ln()
        printer.cut()
    return bytes(printer.output)


def _ascii(text: str) -> str:
    """Thermal printers' default code page: fold what it cannot show ("Pokémon" -> "Pokemon")."""
    import unicodedata

    text = text.replace("›", ">").replace("·", "-")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded
