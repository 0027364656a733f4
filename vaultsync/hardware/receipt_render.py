"""Turn a :class:`~vaultsync.domain.receipt.Receipt` into ESC/POS bytes or plain text.

One layout, two outputs: :func:`layout` produces a list of rows (text plus style), and
:func:`render_receipt` feeds those rows through python-escpos's ``Dummy`` printer so the
bytes are exactly what escpos would send to a real printer, while :func:`receipt_text`
joins them into the text shown on screen and used as the email body. Because both
come from the same rows, the printed, emailed and previewed receipts cannot disagree.

Line amounts convention (what the checkout service should put in a ``ReceiptLine``):
``unit_price_cents`` is the price of one unit before the line discount,
``discount_cents`` the line's discount as a positive number, and ``total_cents`` what
the line costs after that discount. The quantity row shows ``quantity × unit``; a
discount row shows ``-discount``; if ``total_cents`` is not ``quantity × unit −
discount`` (a convention mismatch) the line total is printed explicitly rather than
leaving a receipt whose columns do not add up.

Rendering never talks to a printer and never fails on odd text: characters the
printer's code page cannot print are transliterated ("é" stays "é" on CP437, "€"
becomes "EUR", anything else "?"), and a receipt number that cannot be a CODE128
barcode is printed as text only.
"""

from __future__ import annotations

import codecs
import re
import textwrap
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from escpos.printer import Dummy

from vaultsync.domain.enums import TransactionKind
from vaultsync.domain.errors import ValidationError
from vaultsync.domain.money import format_cents
from vaultsync.domain.receipt import Receipt, ReceiptTender

#: 42 columns: 80 mm paper with font A on most printers' default profile; 48 on wider heads
SUPPORTED_WIDTHS = (32, 42, 48, 56)

_KIND_TITLES = {
    TransactionKind.BUY.value: "BUYLIST PURCHASE",
    TransactionKind.EVENT_ENTRY.value: "EVENT ENTRY",
    TransactionKind.PAYOUT.value: "PAYOUT",
    TransactionKind.NO_SALE.value: "NO SALE",
}

#: Replacements for characters common in card names and shop texts that code pages lack.
_FALLBACKS = {
    "€": "EUR",
    "£": "GBP",
    "—": "-",
    "–": "-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "×": "x",
    "•": "*",
    "™": "TM",
    "®": "(R)",
    "\t": " ",
}

_PAN_RE = re.compile(r"\d[\d -]{11,22}\d")


@dataclass(frozen=True)
class RenderOptions:
    """How to lay out a receipt for one printer.

    ``width`` is in characters of the normal font (42 for most 80 mm printers, 48 for
    those with a denser font A, 32 for 58 mm). ``codepage`` is the printer code page
    escpos selects with ``ESC t``; CP437 is the one every ESC/POS printer has.
    ``tz`` is the zone receipt times are printed in (None: this machine's local zone).
    """

    width: int = 42
    codepage: str = "CP437"
    barcode: bool = True
    cut: bool = True
    profile: str | None = None
    tz: tzinfo | None = None

    def __post_init__(self) -> None:
        if self.width not in SUPPORTED_WIDTHS:
            raise ValidationError(
                f"receipt width must be one of {', '.join(map(str, SUPPORTED_WIDTHS))} columns"
            )


def options_for(
    shop_settings: Mapping[str, Any], station_settings: Mapping[str, Any] | None = None
) -> RenderOptions:
    """Render options for a station: its own ``receipt_width`` / ``codepage`` settings win
    over the shop's ``receipt.width``, so one narrow 58 mm printer needs no shop change.

    A bad stored value falls back to the default rather than failing a sale's receipt.
    """
    local = station_settings or {}
    try:
        width = int(local.get("receipt_width") or shop_settings.get("receipt.width") or 42)
    except (TypeError, ValueError):
        width = 42
    if width not in SUPPORTED_WIDTHS:
        width = 42
    codepage = str(local.get("codepage") or "CP437")
    if _python_codec(codepage) is None:
        codepage = "CP437"
    return RenderOptions(width=width, codepage=codepage)


@dataclass(frozen=True)
class Row:
    """One printed line (or a barcode / cut) with its style.

    ``big`` is double width and height (half as many columns), ``tall`` double height.
    """

    text: str = ""
    align: str = "left"  # left | center
    bold: bool = False
    big: bool = False
    tall: bool = False
    invert: bool = False
    kind: str = "text"  # text | barcode | cut


@dataclass
class _Builder:
    width: int
    rows: list[Row] = field(default_factory=list)

    def add(self, text: str = "", **style: Any) -> None:
        self.rows.append(Row(text=text, **style))

    def wrapped(self, text: str, *, indent: str = "", width: int | None = None, **style: Any) -> None:
        cols = width or self.width
        for line in _wrap(text, cols, indent=indent):
            self.add(line, **style)

    def rule(self, char: str = "-") -> None:
        self.add(char * self.width)

    def pair(self, left: str, right: str, *, indent: str = "", **style: Any) -> None:
        """``left`` wrapped on the left, ``right`` right-aligned on its last line."""
        room = self.width - len(right) - 1
        if room < 8:  # absurdly long amount: give it its own line
            self.wrapped(left, indent=indent, **style)
            self.add(right.rjust(self.width), **style)
            return
        lines = _wrap(left, room, indent=indent)
        for line in lines[:-1]:
            self.add(line, **style)
        last = lines[-1]
        self.add(last + " " * (self.width - len(last) - len(right)) + right, **style)


def _wrap(text: str, width: int, *, indent: str = "") -> list[str]:
    text = " ".join(text.split())
    if not text:
        return [indent.rstrip()] if indent else [""]
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=True,
    ) or [indent]


def _money(cents: int, receipt: Receipt) -> str:
    return format_cents(cents, receipt.currency_symbol)


def _mask(reference: str, keep: int = 4) -> str:
    ref = reference.strip()
    if len(ref) <= keep:
        return ref
    return "*" * min(len(ref) - keep, 8) + ref[-keep:]


def _tender_reference(tender: ReceiptTender) -> str | None:
    """What of a tender's reference may appear on paper.

    Card approval codes are printed as given — but if what was recorded looks like a
    card number (12+ digits) only its last four are shown: a receipt must never carry
    card data, whoever made the mistake upstream. Gift card codes are bearer secrets
    and are masked the same way.
    """
    ref = (tender.reference or "").strip()
    if not ref:
        return None
    if "gift" in tender.label.lower() or _PAN_RE.fullmatch(ref):
        return _mask(ref.replace(" ", "").replace("-", ""))
    return ref


def _local_time(at: datetime, tz: tzinfo | None) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(tz) if tz is not None else at.astimezone()
    return at.strftime("%Y-%m-%d %H:%M")


def layout(receipt: Receipt, options: RenderOptions | None = None) -> list[Row]:
    """The receipt as styled rows; shared by the printer, the screen and email."""
    opts = options or RenderOptions()
    b = _Builder(opts.width)
    half = opts.width // 2
    is_refund = receipt.kind == TransactionKind.REFUND.value

    # header
    b.wrapped(receipt.shop_name, width=half, align="center", bold=True, big=True)
    for line in receipt.header_lines:
        b.wrapped(line, align="center")
    b.add()

    if receipt.reprint:
        b.add("*** REPRINT ***".center(half), align="center", bold=True, big=True, invert=True)
        b.add("Copy - not a new sale", align="center")
        b.add()
    if is_refund:
        b.add("*** REFUND ***".center(half), align="center", bold=True, big=True, invert=True)
        if receipt.original_number:
            b.add(f"Original receipt: {receipt.original_number}", align="center", bold=True)
        b.add()
    elif receipt.kind in _KIND_TITLES:
        b.add(_KIND_TITLES[receipt.kind], align="center", bold=True, tall=True)
        b.add()

    b.pair(f"Receipt {receipt.number}", _local_time(receipt.at, opts.tz), bold=True)
    b.wrapped(f"Cashier: {receipt.cashier}")
    b.wrapped(f"Terminal: {receipt.station}")
    if receipt.customer:
        b.wrapped(f"Customer: {receipt.customer}")
    b.rule()

    # lines
    for item in receipt.lines:
        b.wrapped(item.description, bold=True)
        if item.detail:
            b.wrapped(item.detail, indent="  ")
        gross = item.quantity * item.unit_price_cents
        unit = _money(item.unit_price_cents, receipt)
        b.pair(f"{item.quantity} x {unit}", _money(gross, receipt), indent="  ")
        if item.discount_cents:
            b.pair("Discount", _money(-item.discount_cents, receipt), indent="  ")
        if item.total_cents != gross - item.discount_cents:
            b.pair("Line total", _money(item.total_cents, receipt), indent="  ")
    b.rule()

    # totals
    b.pair("Subtotal", _money(receipt.subtotal_cents, receipt))
    if receipt.discount_cents:
        b.pair("Discounts", _money(-abs(receipt.discount_cents), receipt))
    if receipt.tax_inclusive:
        b.pair("Total incl. tax", _money(receipt.tax_cents, receipt))
    else:
        b.pair("Tax", _money(receipt.tax_cents, receipt))
    total_label = "REFUND TOTAL" if is_refund else "TOTAL"
    total = _money(receipt.total_cents, receipt)
    # double height keeps the column count, so the total stays aligned with the rows above
    b.pair(total_label, total, bold=True, tall=True)
    if receipt.tax_inclusive:
        b.add("Prices include tax", align="center")
    b.rule()

    # tenders
    for tender in receipt.tenders:
        label = f"Refunded to {tender.label}" if is_refund else tender.label
        b.pair(label, _money(tender.amount_cents, receipt))
        ref = _tender_reference(tender)
        if ref:
            b.wrapped(f"Ref: {ref}", indent="  ")
    if receipt.change_cents:
        b.pair("CHANGE", _money(receipt.change_cents, receipt), bold=True, tall=True)
    b.add()

    if opts.barcode:
        b.add(receipt.number, align="center", kind="barcode")
        b.add()
    for line in receipt.footer_lines:
        b.wrapped(line, align="center")
    if opts.cut:
        b.add(kind="cut")
    return b.rows


def receipt_text(receipt: Receipt, options: RenderOptions | None = None) -> str:
    """Plain-text receipt with the printed layout: for the screen preview and email body."""
    opts = options or RenderOptions()
    out: list[str] = []
    for row in layout(receipt, opts):
        if row.kind == "cut":
            continue
        if row.kind == "barcode":
            out.append(f"[{row.text}]".center(opts.width).rstrip())
            continue
        text = row.text
        if row.big:
            # on paper a big row is double width; on screen spread it over the same space
            text = text.strip()
            out.append(text.center(opts.width).rstrip())
        elif row.align == "center":
            out.append(text.center(opts.width).rstrip())
        else:
            out.append(text.rstrip())
    return "\n".join(out) + "\n"


def _printable(text: str, encoding: str | None) -> str:
    """Replace what the printer's code page cannot print with something readable."""
    if encoding is None:
        return text
    out: list[str] = []
    for ch in text:
        try:
            ch.encode(encoding)
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        if ch in _FALLBACKS:
            out.append(_FALLBACKS[ch])
            continue
        stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        try:
            stripped.encode(encoding)
            out.append(stripped or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def _python_codec(codepage: str) -> str | None:
    try:
        return codecs.lookup(codepage.lower().replace("_", "-")).name
    except LookupError:
        return None


def barcode_payload(number: str) -> str | None:
    """The CODE128 data escpos needs for ``number`` (code set B), or None if impossible.

    escpos 3 requires CODE128 data to start with a code set selector (``{B``); set B
    covers printable ASCII, which every receipt number is made of.
    """
    if not number or len(number) > 250 or not all(32 <= ord(c) < 127 for c in number):
        return None
    return "{B" + number.replace("{", "{{")


def render_receipt(receipt: Receipt, options: RenderOptions | None = None) -> bytes:
    """ESC/POS bytes for ``receipt``, built with escpos's Dummy printer.

    Starts with ``ESC @`` (initialise) so styles left over from a previous job on the
    same printer cannot leak into this one, and ends with a feed and full cut.
    """
    opts = options or RenderOptions()
    printer = Dummy(profile=opts.profile) if opts.profile else Dummy()
    encoding = _python_codec(opts.codepage)
    printer.hw("INIT")
    printer.charcode(opts.codepage)
    style = _Style(printer)
    for row in layout(receipt, opts):
        if row.kind == "cut":
            style.apply(Row())
            printer.cut()
            continue
        if row.kind == "barcode":
            payload = barcode_payload(row.text)
            if payload is not None:
                style.apply(Row(align="center"))
                # _hw_barcode is what Escpos.barcode() calls for hardware barcodes; calling it
                # directly skips barcode()'s print() to stdout on every receipt.
                printer._hw_barcode(payload, "CODE128", height=64, width=2, pos="BELOW", function_type="B")
                printer.ln()
            else:
                style.apply(Row(align="center", bold=True))
                printer.textln(_printable(row.text, encoding))
            continue
        style.apply(row)
        printer.textln(_printable(row.text.rstrip() if row.align == "left" else row.text.strip(), encoding))
    return printer.output


class _Style:
    """Sends only the style changes between rows (after ``ESC @`` everything is default).

    Re-sending every attribute on every row would triple the size of a receipt, which is
    slower on serial printers and bloats the print queue table.
    """

    def __init__(self, printer: Dummy) -> None:
        self.printer = printer
        self.align, self.bold, self.invert, self.size = "left", False, False, "normal"

    def apply(self, row: Row) -> None:
        size = "big" if row.big else "tall" if row.tall else "normal"
        if size != self.size:
            self.printer.set(
                normal_textsize=size == "normal", double_width=row.big, double_height=size != "normal"
            )
            self.size = size
        if row.bold != self.bold:
            self.printer.set(bold=row.bold)
            self.bold = row.bold
        if row.invert != self.invert:
            self.printer.set(invert=row.invert)
            self.invert = row.invert
        if row.align != self.align:
            self.printer.set(align=row.align)
            self.align = row.align
