"""Price CSV exports: TCGplayer-style and PriceCharting-style, streamed row by row.

Supported column mappings (header names are matched case-insensitively, surrounding
spaces ignored; columns not listed are ignored):

**TCGplayer-style** (recognised by a ``TCG Market Price`` column), as the TCGplayer
seller pricing export writes it:

=====================  ==========================================================
column                 used as
=====================  ==========================================================
``SKU``                optional: the shop's own SKU code (wins over the columns below)
``Product Line``       game, by name or code ("Magic: The Gathering", "Pokemon", "MTG")
``Set Name``/``Set Code``  the set, by name or code
``Number``             collector number
``Product Name``       the card's name (for messages only)
``Condition``          "Near Mint", "Lightly Played", "Moderately Played", "Heavily
                       Played", "Damaged" (or NM/LP/MP/HP/DMG), optionally followed by
                       "Foil", "Holofoil", "Reverse Holofoil" (finish foil) or "Etched"
``TCG Market Price``   the market price of that exact condition and finish
``Cost``/``Cost Basis``  optional: the shop's cost per copy (sets the SKU's cost basis)
=====================  ==========================================================

**PriceCharting-style** (recognised by a ``loose-price`` column). PriceCharting prices
a card once per grade, not per condition, so one line yields several prices:

=======================  ========================================================
column                   used as
=======================  ========================================================
``sku``                  optional: the shop's own SKU code (then only loose-price is used)
``console-name``         the set: "Pokemon Base Set", "Base Set" or the set code
``product-name``         "Charizard #4": name, and the collector number after ``#``
``loose-price``          ungraded near-mint price; other conditions get it × their
                         condition multiplier (see :mod:`vaultsync.domain.price_rules`)
``graded-price``         grade 9 slabs (any grader)
``box-only-price``       grade 9.5 slabs (any grader)
``manual-only-price``    PSA 10
``bgs-10-price``         BGS 10
``condition-17-price``   CGC 10
``condition-18-price``   SGC 10
=======================  ========================================================

Prices may be written ``12.34``, ``$12.34`` or ``$1,234.56``. An empty price is skipped
(exports leave cards without sales blank), never an error and never zero. Anything else
that is not a price, a negative or absurd amount, a row with the wrong number of
fields, an unknown condition: a :class:`RowError` for that line. A file that is HTML
(a login page or an error page instead of the export), not text, or has no header this
module knows, raises :class:`FileProblem`: nothing of it can be trusted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from vaultsync.domain.enums import Condition, Finish, Grader
from vaultsync.domain.money import MAX_CENTS, MoneyError, parse_cents


class PriceFormat(StrEnum):
    TCGPLAYER = "tcgplayer"
    PRICECHARTING = "pricecharting"

    @property
    def label(self) -> str:
        return "TCGplayer-style" if self is PriceFormat.TCGPLAYER else "PriceCharting-style"


class FileProblem(ValueError):
    """The whole file is unusable (HTML, binary, unknown header): nothing is imported."""


class PriceRow(NamedTuple):
    """One price from a file. ``condition`` None with no grader: a product-level NM price."""

    line: int
    market_cents: int
    sku_code: str | None = None
    game: str | None = None
    set_ref: str | None = None
    number: str | None = None
    name: str | None = None
    condition: str | None = None
    finish: str | None = None
    grader: str | None = None  # "*" any grader
    grade: str | None = None
    cost_cents: int | None = None

    def describe(self) -> str:
        if self.sku_code:
            return self.sku_code
        parts = [p for p in (self.name, self.set_ref, f"#{self.number}" if self.number else None) if p]
        grade = (
            f"{'' if self.grader in (None, '*') else self.grader + ' '}{self.grade}" if self.grade else None
        )
        return " ".join(parts + [p for p in (self.condition, self.finish, grade) if p]) or f"line {self.line}"


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str
    text: str = ""  # the offending row, shortened, for the report


@dataclass(frozen=True, slots=True)
class Skipped:
    line: int
    reason: str


ParseItem = PriceRow | RowError | Skipped

_CONDITIONS: dict[str, str] = {
    "near mint": Condition.NM,
    "nm": Condition.NM,
    "mint": Condition.NM,
    "lightly played": Condition.LP,
    "lp": Condition.LP,
    "excellent": Condition.LP,
    "moderately played": Condition.MP,
    "mp": Condition.MP,
    "played": Condition.MP,
    "heavily played": Condition.HP,
    "hp": Condition.HP,
    "damaged": Condition.DMG,
    "dmg": Condition.DMG,
    "poor": Condition.DMG,
}
_FINISH_SUFFIXES: tuple[tuple[str, str], ...] = (
    (" reverse holofoil", Finish.FOIL),
    (" holofoil", Finish.FOIL),
    (" foil", Finish.FOIL),
    (" etched", Finish.ETCHED),
    (" unlimited", Finish.NORMAL),
    (" 1st edition", Finish.NORMAL),
)
_NUMBER_RE = re.compile(r"#\s*([0-9A-Za-z][0-9A-Za-z/\-]*)")
_PRICE_FAST = re.compile(r"^\d{1,9}(?:\.\d\d)?$")

#: PriceCharting grade columns: (column, grader or "*", grade)
PRICECHARTING_GRADES: tuple[tuple[str, str, str], ...] = (
    ("graded-price", "*", "9"),
    ("box-only-price", "*", "9.5"),
    ("manual-only-price", Grader.PSA, "10"),
    ("bgs-10-price", Grader.BGS, "10"),
    ("condition-17-price", Grader.CGC, "10"),
    ("condition-18-price", Grader.SGC, "10"),
)


def parse_condition(text: str) -> tuple[str, str] | None:
    """("Near Mint Foil") -> ("NM", "foil"); None when the condition is not one we know."""
    value = " ".join(text.strip().lower().split())
    finish: str = Finish.NORMAL
    for suffix, fin in _FINISH_SUFFIXES:
        if value.endswith(suffix):
            value = value[: -len(suffix)].strip()
            finish = fin
            break
    if value.endswith(" foil"):
        value, finish = value[:-5].strip(), Finish.FOIL
    cond = _CONDITIONS.get(value)
    return (str(cond), str(finish)) if cond else None


def parse_price(text: str) -> int | None:
    """Cents from a price cell; None for an empty cell; MoneyError for anything else."""
    text = text.strip()
    if not text:
        return None
    if _PRICE_FAST.match(text):  # the common case: 12.34 or 12
        cents = int(text.replace(".", "")) if "." in text else int(text) * 100
    else:
        cents = parse_cents(text)
    if cents < 0:
        raise MoneyError(f"negative price {text!r}")
    if cents > MAX_CENTS:
        raise MoneyError(f"price out of range: {text!r}")
    return cents


def decode(data: bytes) -> str:
    """Bytes of an export as text (UTF-8, with or without BOM); FileProblem when it is not text."""
    if b"\x00" in data[:4096]:
        raise FileProblem("the file is binary, not a CSV text export")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")  # spreadsheet programs on Windows
        except UnicodeDecodeError as exc:
            raise FileProblem("the file is not text (neither UTF-8 nor Windows-1252)") from exc


def looks_like_html(head: str) -> bool:
    start = head.lstrip()[:512].lower()
    return start.startswith("<") or "<html" in start or "<!doctype" in start


def detect(header: list[str]) -> PriceFormat | None:
    names = {h.strip().lower() for h in header}
    if "tcg market price" in names:
        return PriceFormat.TCGPLAYER
    if "loose-price" in names:
        return PriceFormat.PRICECHARTING
    return None


def _short(fields: list[str]) -> str:
    text = ",".join(fields)
    return text if len(text) <= 160 else text[:157] + "..."


class PriceFile:
    """A price export being read: ``format`` from the header, rows from :meth:`__iter__`.

    Raises :class:`FileProblem` at construction for HTML, binary, empty or unknown files,
    or when ``expected`` is given and the header says otherwise.
    """

    def __init__(self, stream: Iterable[str] | str, expected: PriceFormat | str | None = None) -> None:
        if isinstance(stream, str):
            stream = io.StringIO(stream)
        lines = iter(stream)
        first = ""
        for first in lines:
            if first.strip():
                break
        else:
            raise FileProblem("the file is empty")
        if looks_like_html(first):
            raise FileProblem("the file is an HTML page, not a CSV price export (a login or error page?)")
        self._lines = _chain(first, lines)
        self._reader = csv.reader(self._lines)
        try:
            header = next(self._reader)
        except csv.Error as exc:
            raise FileProblem(f"the header is not CSV: {exc}") from exc
        fmt = detect(header)
        if fmt is None:
            raise FileProblem(
                "unknown price file: expected a TCGplayer-style export (with a 'TCG Market Price' "
                "column) or a PriceCharting-style export (with a 'loose-price' column)"
            )
        if expected not in (None, "", "auto") and PriceFormat(expected) is not fmt:
            raise FileProblem(f"expected a {PriceFormat(expected).label} file, got a {fmt.label} one")
        self.format = fmt
        self.header = [h.strip() for h in header]
        self._index = {h.lower(): i for i, h in enumerate(self.header)}

    def _col(self, *names: str) -> int | None:
        for name in names:
            if name in self._index:
                return self._index[name]
        return None

    def __iter__(self) -> Iterator[ParseItem]:
        if self.format is PriceFormat.TCGPLAYER:
            return self._tcgplayer()
        return self._pricecharting()

    def _rows(self) -> Iterator[tuple[int, list[str] | RowError]]:
        width = len(self.header)
        line = 1
        reader = self._reader
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = reader.line_num
                yield line, RowError(line, f"not valid CSV: {exc}")
                continue
            line = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != width:
                yield (
                    line,
                    RowError(line, f"has {len(fields)} fields, the header has {width}", _short(fields)),
                )
                continue
            yield line, fields

    def _tcgplayer(self) -> Iterator[ParseItem]:
        c_sku = self._col("sku", "sku code", "sku_code")
        c_game = self._col("product line", "game")
        c_set = self._col("set code", "set name", "set")
        c_num = self._col("number", "collector number")
        c_name = self._col("product name", "name")
        c_cond = self._col("condition")
        c_cost = self._col("cost", "cost basis")
        c_price = self._index["tcg market price"]
        for line, fields in self._rows():
            if isinstance(fields, RowError):
                yield fields
                continue
            try:
                market = parse_price(fields[c_price])
            except MoneyError as exc:
                yield RowError(line, str(exc), _short(fields))
                continue
            try:
                cost = parse_price(fields[c_cost]) if c_cost is not None else None
            except MoneyError as exc:
                yield RowError(line, f"cost: {exc}", _short(fields))
                continue
            if market is None:
                yield Skipped(line, "no market price")
                continue
            sku = fields[c_sku].strip() if c_sku is not None else ""
            if sku:
                yield PriceRow(line, market, sku_code=sku, cost_cents=cost)
                continue
            condition, finish = None, None
            if c_cond is not None and fields[c_cond].strip():
                parsed = parse_condition(fields[c_cond])
                if parsed is None:
                    yield RowError(line, f"unknown condition {fields[c_cond].strip()!r}", _short(fields))
                    continue
                condition, finish = parsed
            set_ref = fields[c_set].strip() if c_set is not None else ""
            number = fields[c_num].strip() if c_num is not None else ""
            if not set_ref or not number:
                yield RowError(line, "needs a SKU, or a set and a collector number", _short(fields))
                continue
            yield PriceRow(
                line,
                market,
                game=fields[c_game].strip() or None if c_game is not None else None,
                set_ref=set_ref,
                number=number,
                name=fields[c_name].strip() or None if c_name is not None else None,
                condition=condition or Condition.NM.value,
                finish=finish or Finish.NORMAL.value,
                cost_cents=cost,
            )

    def _pricecharting(self) -> Iterator[ParseItem]:
        c_sku = self._col("sku", "sku code", "sku_code")
        c_set = self._col("console-name")
        c_name = self._col("product-name")
        c_loose = self._index["loose-price"]
        grades = [
            (self._index[col], grader, grade)
            for col, grader, grade in PRICECHARTING_GRADES
            if col in self._index
        ]
        for line, fields in self._rows():
            if isinstance(fields, RowError):
                yield fields
                continue
            try:
                loose = parse_price(fields[c_loose])
                graded = [(parse_price(fields[i]), grader, grade) for i, grader, grade in grades]
            except MoneyError as exc:
                yield RowError(line, str(exc), _short(fields))
                continue
            sku = fields[c_sku].strip() if c_sku is not None else ""
            if sku:
                if loose is None:
                    yield Skipped(line, "no loose price")
                else:
                    yield PriceRow(line, loose, sku_code=sku)
                continue
            name = fields[c_name].strip() if c_name is not None else ""
            set_ref = fields[c_set].strip() if c_set is not None else ""
            match = _NUMBER_RE.search(name)
            if not set_ref or not match:
                yield RowError(line, "needs console-name and a product-name with '#number'", _short(fields))
                continue
            number = match.group(1)
            card = name[: match.start()].strip() or None
            any_price = False
            if loose is not None:
                any_price = True
                yield PriceRow(line, loose, set_ref=set_ref, number=number, name=card)
            for cents, grader, grade in graded:
                if cents is not None:
                    any_price = True
                    yield PriceRow(
                        line, cents, set_ref=set_ref, number=number, name=card, grader=grader, grade=grade
                    )
            if not any_price:
                yield Skipped(line, "no prices")


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
