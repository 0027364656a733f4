"""Price CSV parsing: the documented column mappings, and every kind of bad input."""

from __future__ import annotations

import pytest

from vaultsync.domain.money import MoneyError
from vaultsync.pricing.csv_formats import (
    FileProblem,
    PriceFile,
    PriceFormat,
    PriceRow,
    RowError,
    Skipped,
    decode,
    parse_condition,
    parse_price,
)

TCG_HEADER = (
    "TCGplayer Id,Product Line,Set Name,Product Name,Title,Number,Rarity,Condition,"
    "TCG Market Price,TCG Direct Low,TCG Low Price,Total Quantity\n"
)


def items(text: str) -> list[PriceRow | RowError | Skipped]:
    return list(PriceFile(text))


def test_tcgplayer_rows_by_set_number_condition_and_finish() -> None:
    text = (
        TCG_HEADER
        + '123,Magic: The Gathering,Dominaria United,"Sheoldred, the Apocalypse",,107,M,'
        + "Near Mint,73.50,70,69,2\n"
        + '124,Magic: The Gathering,Dominaria United,Sheoldred,,107,M,Lightly Played Foil,"$1,234.56",,,0\n'
    )
    f = PriceFile(text)
    assert f.format is PriceFormat.TCGPLAYER
    first, second = list(f)
    assert isinstance(first, PriceRow) and isinstance(second, PriceRow)
    assert (first.line, first.market_cents, first.set_ref, first.number, first.condition, first.finish) == (
        2,
        7350,
        "Dominaria United",
        "107",
        "NM",
        "normal",
    )
    assert first.game == "Magic: The Gathering" and first.name == "Sheoldred, the Apocalypse"
    assert (second.market_cents, second.condition, second.finish) == (123456, "LP", "foil")


def test_tcgplayer_sku_column_and_cost() -> None:
    text = "SKU,TCG Market Price,Cost\nMTG-DMU-107-NM,12.00,7.50\nMTG-X,3,\n"
    a, b = items(text)
    assert a == PriceRow(2, 1200, sku_code="MTG-DMU-107-NM", cost_cents=750)
    assert b == PriceRow(3, 300, sku_code="MTG-X")


def test_bad_rows_are_reported_per_line() -> None:
    text = (
        "SKU,TCG Market Price,Cost\n"
        "A,abc,\n"  # not a price
        "B,-1.00,\n"  # negative price
        "C,99999999999999999,\n"  # overflow
        "D,1.00,-2.00\n"  # negative cost
        "E,1.00\n"  # wrong number of fields
        "F,,\n"  # no price: skipped, not an error
        "G,2.50,1.00\n"  # fine
        "H,1.999,\n"  # three decimals: not a price
    )
    out = items(text)
    errors = {e.line: e.message for e in out if isinstance(e, RowError)}
    assert set(errors) == {2, 3, 4, 5, 6, 9}
    assert "negative" in errors[3]
    assert "out of range" in errors[4]
    assert errors[5].startswith("cost:") and "negative" in errors[5]
    assert "2 fields" in errors[6]
    assert [s.line for s in out if isinstance(s, Skipped)] == [7]
    assert [r.sku_code for r in out if isinstance(r, PriceRow)] == ["G"]


def test_unknown_condition_and_missing_identity() -> None:
    text = TCG_HEADER + "1,Magic,DMU,X,,107,M,Pristine,1.00,,,\n" + "2,Magic,,X,,,M,Near Mint,1.00,,,\n"
    first, second = items(text)
    assert isinstance(first, RowError) and "unknown condition" in first.message
    assert isinstance(second, RowError) and "set" in second.message


def test_pricecharting_one_line_many_prices() -> None:
    text = (
        "id,console-name,product-name,loose-price,graded-price,box-only-price,manual-only-price,"
        "bgs-10-price,condition-17-price,condition-18-price\n"
        "6910,Pokemon Base Set,Charizard #4,$350.00,$1200.00,,$9000.00,,,\n"
        "6911,Pokemon Base Set,Blastoise #2,,,,,,,\n"
    )
    f = PriceFile(text)
    assert f.format is PriceFormat.PRICECHARTING
    out = list(f)
    rows = [r for r in out if isinstance(r, PriceRow)]
    assert [(r.market_cents, r.grader, r.grade) for r in rows] == [
        (35000, None, None),
        (120000, "*", "9"),
        (900000, "PSA", "10"),
    ]
    assert all(r.number == "4" and r.name == "Charizard" and r.set_ref == "Pokemon Base Set" for r in rows)
    assert [s.line for s in out if isinstance(s, Skipped)] == [3]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<!DOCTYPE html><html><body>Please log in</body></html>", "HTML"),
        ("   \n<html>", "HTML"),
        ("", "empty"),
        ("name,price\nx,1\n", "unknown price file"),
    ],
)
def test_whole_file_problems(body: str, message: str) -> None:
    with pytest.raises(FileProblem, match=message):
        PriceFile(body)


def test_expected_format_is_checked() -> None:
    with pytest.raises(FileProblem, match="expected a PriceCharting-style"):
        PriceFile("SKU,TCG Market Price\nA,1\n", "pricecharting")


def test_decode_rejects_binary_and_accepts_bom_and_cp1252() -> None:
    with pytest.raises(FileProblem, match="binary"):
        decode(b"PK\x03\x04\x00\x00zipfile")
    assert decode("\ufeffSKU,TCG Market Price\n".encode()) == "SKU,TCG Market Price\n"
    assert decode("Pok\xe9mon".encode("cp1252")) == "Pokémon"


def test_condition_and_price_helpers() -> None:
    assert parse_condition("Near Mint Holofoil") == ("NM", "foil")
    assert parse_condition("Heavily Played Reverse Holofoil") == ("HP", "foil")
    assert parse_condition("Damaged Etched") == ("DMG", "etched")
    assert parse_condition("lp") == ("LP", "normal")
    assert parse_condition("sort of okay") is None
    assert parse_price("") is None
    assert parse_price("12") == 1200
    assert parse_price(" $1,299.99 ") == 129999
    with pytest.raises(MoneyError):
        parse_price("12,34")
