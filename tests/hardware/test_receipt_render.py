"""Rendered receipts, asserted on the ESC/POS bytes a printer would receive."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from escpos.constants import PAPER_FULL_CUT

from vaultsync.domain.errors import ValidationError
from vaultsync.domain.receipt import Receipt, ReceiptLine, ReceiptTender
from vaultsync.hardware.drawer import kick_bytes
from vaultsync.hardware.receipt_render import RenderOptions, layout, receipt_text, render_receipt
from vaultsync.hardware.simulated import decode_escpos

CODE128 = 73  # GS k m for CODE128 (function B)


def _lines(data: bytes) -> list[str]:
    return [line.strip() for line in decode_escpos(data).lines]


def test_receipt_bytes_have_all_sections(receipt: Receipt) -> None:
    data = render_receipt(receipt)
    assert data.startswith(b"\x1b@")  # initialise: no styles leak in from the last job
    lines = _lines(data)
    for expected in [
        "Dragon's Hoard Cards",
        "12 Main St, Springfield",
        "555-0100",
        "Cashier: Alice",
        "Terminal: Register 2",
        "Customer: Bob Buyer",
        "Charizard ex - Obsidian Flames 223/197",
        "Special Illustration Rare Pokémon",
        "NM · Foil",
        "Dragon Shield Matte Sleeves (100)",
        "Thank you! Returns within 14 days with",
    ]:
        assert expected in lines, expected
    text = decode_escpos(data).text
    for pattern in [
        "Receipt T2-000123",
        "1 x $150.00",
        "3 x $10.99",
        "$32.97",
        "Discount                         -$15.00",
        "Subtotal                           $182.97",
        "Discounts                          -$15.00",
        "Tax                                 $13.60",
        "TOTAL                              $181.57",
        "Card                               $100.00",
        "Ref: A1B2C3",
        "Cash                               $100.00",
        "CHANGE                              $18.43",
    ]:
        assert pattern in text, pattern


def test_total_is_bold_and_shop_name_large(receipt: Receipt) -> None:
    data = render_receipt(receipt)
    bold_on, tall, quad = b"\x1bE\x01", b"\x1b!\x10", b"\x1b!\x30"
    assert data.index(quad) < data.index(b"Dragon's Hoard Cards")
    total_at = data.index(b"TOTAL ")
    styles_before_total = data[data.rindex(b"\n", 0, total_at) : total_at]
    assert bold_on in styles_before_total and tall in styles_before_total


def test_receipt_number_is_a_code128_barcode_and_paper_is_cut(receipt: Receipt) -> None:
    data = render_receipt(receipt)
    decoded = decode_escpos(data)
    assert decoded.barcodes == [(CODE128, b"{BT2-000123")]
    assert b"\x1dkI\x0b{BT2-000123" in data  # GS k 73 len "{B" + number
    assert decoded.cuts == [0]
    assert data.endswith(PAPER_FULL_CUT)
    assert decoded.drawer_kicks == []  # the drawer is kicked separately, never from the queue


def test_refund_and_reprint_banners(make_receipt: Callable[..., Receipt]) -> None:
    refund = make_receipt(
        kind="refund",
        number="T2-000130",
        original_number="T2-000123",
        tenders=[ReceiptTender("Cash", 3297)],
        change_cents=0,
    )
    text = decode_escpos(render_receipt(refund)).text
    assert "*** REFUND ***" in text
    assert "Original receipt: T2-000123" in text
    assert "REFUND TOTAL" in text
    assert "Refunded to Cash" in text
    assert "REPRINT" not in text
    copy = decode_escpos(render_receipt(make_receipt(reprint=True))).text
    assert "*** REPRINT ***" in copy
    assert "REFUND" not in copy


def test_tax_inclusive_shop(make_receipt: Callable[..., Receipt]) -> None:
    text = receipt_text(make_receipt(tax_inclusive=True))
    assert "Total incl. tax" in text and "Prices include tax" in text
    assert "\nTax " not in text


@pytest.mark.parametrize("width", [42, 48])
def test_width_is_respected_and_long_descriptions_wrap(
    make_receipt: Callable[..., Receipt], width: int
) -> None:
    long_name = "Black Lotus (Alpha) " * 6
    r = make_receipt(lines=[ReceiptLine(long_name, 1, 1_000_000_00, 1_000_000_00, detail="PSA 10 #12345678")])
    opts = RenderOptions(width=width)
    for row in layout(r, opts):
        limit = width // 2 if row.big else width
        assert len(row.text) <= limit, row
    text = receipt_text(r, opts)
    assert all(len(line) <= width for line in text.splitlines())
    assert "$1,000,000.00" in text
    assert sum("Black Lotus" in line for line in text.splitlines()) >= 2  # wrapped, not cut off


def test_bad_width_is_rejected() -> None:
    with pytest.raises(ValidationError, match="width"):
        RenderOptions(width=40)


def test_text_preview_matches_printed_layout(receipt: Receipt) -> None:
    printed = [line for line in _lines(render_receipt(receipt)) if line]
    preview = {line.strip() for line in receipt_text(receipt).splitlines()}
    assert all(line in preview for line in printed)
    assert "[T2-000123]" in preview  # barcode shown as its number


def test_card_data_never_printed_and_gift_cards_masked(make_receipt: Callable[..., Receipt]) -> None:
    r = make_receipt(
        tenders=[
            ReceiptTender("Card", 5000, "4111 1111 1111 1111"),  # a PAN typed where the approval goes
            ReceiptTender("Gift card", 5000, "GC-7788-9911"),
        ]
    )
    text = decode_escpos(render_receipt(r)).text
    assert "4111" not in text and "1111 1111" not in text
    assert "Ref: ********1111" in text
    assert "GC-7788" not in text and "9911" in text


def test_characters_outside_the_code_page_do_not_break_printing(make_receipt: Callable[..., Receipt]) -> None:
    r = make_receipt(
        shop_name="Café — Cards",
        lines=[ReceiptLine("ポケモン Booster “JP”", 1, 500, 500)],
        footer_lines=["Prices in €"],
    )
    data = render_receipt(r)
    decoded = decode_escpos(data)
    assert decoded.codepages == [0]  # ESC t 0: CP437 selected
    assert "Café - Cards" in decoded.text
    assert '???? Booster "JP"' in decoded.text
    assert "Prices in EUR" in decoded.text
    assert "€" in receipt_text(r)  # the screen keeps the real text


def test_receipt_number_that_cannot_be_a_barcode_is_text(make_receipt: Callable[..., Receipt]) -> None:
    decoded = decode_escpos(render_receipt(make_receipt(number="T2-ñ1")))
    assert decoded.barcodes == []
    assert "T2-ñ1" in decoded.lines


def test_drawer_kick_bytes_are_escpos_pulses() -> None:
    assert kick_bytes(2) == b"\x1bp\x00\x32\x32"
    assert kick_bytes(5) == b"\x1bp\x01\x32\x32"
    assert decode_escpos(kick_bytes(2)).drawer_kicks == [(0, 50, 50)]
    with pytest.raises(ValidationError):
        kick_bytes(3)


def test_options_from_shop_and_station_settings() -> None:
    from vaultsync.hardware.receipt_render import options_for

    assert options_for({"receipt.width": 48}) == RenderOptions(width=48)
    assert options_for({"receipt.width": 48}, {"receipt_width": 32, "codepage": "CP858"}) == RenderOptions(
        width=32, codepage="CP858"
    )
    assert options_for({"receipt.width": "junk"}, {"codepage": "nope"}) == RenderOptions()
