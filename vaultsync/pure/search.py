"""SKU search index: the pure-Python reference (compiled twin: ``_native/search.pyx``).

Both implementations expose :class:`SearchIndex` with the same API and must return identical
results for every input (``tests/native/test_search_parity.py``); this module defines the
semantics, the compiled one only makes them fast. Callers import ``vaultsync.native.search``.

Text model
----------
Every text field (name, set code, set name, collector number, SKU code, barcode, cert number)
and every query go through :func:`fold` then :func:`tokenize`:

* **folding**: ASCII text is just lower-cased (the common case, kept cheap); other text is
  NFKD-decomposed, combining marks dropped, case-folded and NFC-recomposed, so "Pokémon" and
  "POKEMON" both become ``pokemon``, "Flabébé" becomes ``flabebe`` and "ß" becomes ``ss``.
* **tokens** are the maximal runs of alphanumeric characters (``str.isalnum``), so
  "MTG-DMU-107-NM-N" is ``mtg dmu 107 nm n`` and "Yu-Gi-Oh!" is ``yu gi oh``.
* lengths and edit distances are counted in UTF-8 bytes of the folded token: identical to
  characters for the (folded) Latin text shops type, and the same in both implementations.

Matching (a document matches when *every* query word matches one of its tokens, any order)
-------------------------------------------------------------------------------------------
Per word, the best class over the document's tokens:

* ``WORD_PREFIX`` - the token starts with the word (equality included);
* ``SUBSTRING`` - the word (3+ bytes) occurs inside a non-numeric token;
* ``FUZZY`` - the word is not all digits and within the edit budget of a non-numeric token:
  optimal-string-alignment distance (Levenshtein plus adjacent transposition, so "dargon" is
  one edit from "dragon") of at most 1 for words of 4-7 bytes and 2 for 8+ bytes; words under
  4 bytes get none. Numbers (all-digit tokens: collector numbers, barcodes, certs) match by
  prefix only: a typo in a number is a different card.

A document's tier is the worst of its words' classes, improved to ``NAME_PREFIX`` when the
name's tokens start with the query's tokens (the last query word may be a prefix of the name
token), ``NAME_EXACT`` when they are equal, and ``EXACT_CODE`` when the query's tokens equal
those of the SKU code, barcode or cert number. Results sort by (tier, in stock first,
popularity descending, doc id ascending) - a total order, so results are deterministic.
A query without any token ("" or "!!!") matches every document that passes the filters.

Bad input
---------
Text is ``str`` (or UTF-8 ``bytes``); anything else is a TypeError. NUL characters, lone
surrogates / invalid UTF-8, queries over ``MAX_QUERY_CHARS`` characters or with more than
``MAX_WORDS`` words, and fields over ``MAX_FIELD_CHARS`` are a ValueError: rejected, never
silently truncated, so a scanner glitch cannot turn into a wrong item at the till.
Doc ids are ints in ``0 .. MAX_DOC_ID``; popularity ``0 .. MAX_POPULARITY``; on-hand within
``±MAX_ON_HAND`` (the compiled index stores them in fixed-width integers).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass

__all__ = [
    "EXACT_CODE",
    "FUZZY",
    "MAX_DOC_ID",
    "MAX_FIELD_CHARS",
    "MAX_FUZZY_BYTES",
    "MAX_LIMIT",
    "MAX_ON_HAND",
    "MAX_POPULARITY",
    "MAX_QUERY_CHARS",
    "MAX_WORDS",
    "MIN_SUBSTRING",
    "NAME_EXACT",
    "NAME_PREFIX",
    "SUBSTRING",
    "WORD_PREFIX",
    "SearchIndex",
    "edit_budget",
    "fold",
    "osa_distance",
    "tokenize",
]

MAX_QUERY_CHARS = 1024
MAX_WORDS = 16
MAX_FIELD_CHARS = 1024
MAX_LIMIT = 10_000
MAX_DOC_ID = (1 << 30) - 1
MAX_POPULARITY = (1 << 30) - 1
MAX_ON_HAND = (1 << 62) - 1

# tiers, best first
EXACT_CODE = 0
NAME_EXACT = 1
NAME_PREFIX = 2
WORD_PREFIX = 3
SUBSTRING = 4
FUZZY = 5

#: substring matching needs a word at least this long (bytes): shorter ones match everything
MIN_SUBSTRING = 3
#: words (and tokens) longer than this many bytes get no typo tolerance (the C kernel's DP rows)
MAX_FUZZY_BYTES = 64

_TOKEN = re.compile(r"[^\W_]+")
_FIELDS = ("name", "set_code", "set_name", "collector_number", "sku_code", "barcode", "cert_number")


def _text(value: object, what: str, limit: int) -> str:
    """Validate one piece of text: str or UTF-8 bytes, no NUL, encodable, within ``limit`` chars."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{what} is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value):,} characters; the limit is {limit:,}")
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{what} contains a lone surrogate at index {exc.start}") from None
    return value


def fold(text: str) -> str:
    """Accent- and case-folded form of already validated text (see the module docstring)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def tokenize(text: str) -> list[str]:
    """The tokens of folded ``text``: maximal alphanumeric runs."""
    return _TOKEN.findall(fold(text))


def edit_budget(nbytes: int) -> int:
    """Edits a word of ``nbytes`` UTF-8 bytes may differ by: 0 under 4, 1 up to 7, else 2."""
    return 0 if nbytes < 4 else 1 if nbytes < 8 else 2


def osa_distance(a: bytes, b: bytes) -> int:
    """Optimal-string-alignment distance (Levenshtein + adjacent transposition), full DP."""
    la, lb = len(a), len(b)
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ai = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ai == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        prev2, prev = prev, cur
    return prev[lb]


def _numeric(token: str) -> bool:
    return token.isascii() and token.isdigit()


def _check_doc_id(doc_id: object) -> int:
    if isinstance(doc_id, bool) or not isinstance(doc_id, int):
        raise TypeError(f"doc_id must be int, not {type(doc_id).__name__}")
    if not 0 <= doc_id <= MAX_DOC_ID:
        raise ValueError(f"doc_id {doc_id} is outside 0..{MAX_DOC_ID}")
    return doc_id


def _check_int(value: object, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{what} {value} is outside {lo}..{hi}")
    return value


def _check_attr(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{what} must be str or None, not {type(value).__name__}")


def _field_tokens(value: object, what: str) -> list[str]:
    if value is None:
        return []
    return tokenize(_text(value, what, MAX_FIELD_CHARS))


def query_words(text: object) -> list[str]:
    """Validate a query and return its tokens (shared by both implementations)."""
    words = tokenize(_text(text, "query", MAX_QUERY_CHARS))
    if len(words) > MAX_WORDS:
        raise ValueError(f"query has {len(words)} words; the limit is {MAX_WORDS}")
    return words


@dataclass(slots=True)
class _Doc:
    tokens: frozenset[str]
    name: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]
    game: str | None
    condition: str | None
    finish: str | None
    on_hand: int
    popularity: int


class SearchIndex:
    """In-memory ranked index over SKUs (see the module docstring for the semantics).

    Not thread-safe by itself: :class:`vaultsync.search.SkuIndex` serialises access.
    """

    def __init__(self) -> None:
        self._docs: dict[int, _Doc] = {}
        self._postings: dict[str, set[int]] = {}
        self._sorted: list[str] = []  # every token ever seen, in UTF-8 byte order
        self._keys: list[bytes] = []  # the same, encoded
        self._unsorted: set[str] = set()

    # ------------------------------------------------------------------ writes

    def add(
        self,
        doc_id: int,
        name: str | bytes | None = None,
        set_code: str | bytes | None = None,
        set_name: str | bytes | None = None,
        collector_number: str | bytes | None = None,
        sku_code: str | bytes | None = None,
        barcode: str | bytes | None = None,
        cert_number: str | bytes | None = None,
        *,
        game: str | None = None,
        condition: str | None = None,
        finish: str | None = None,
        on_hand: int = 0,
        popularity: int = 0,
    ) -> None:
        """Insert or replace document ``doc_id`` (an upsert: replacing is an incremental update)."""
        doc_id = _check_doc_id(doc_id)
        values = (name, set_code, set_name, collector_number, sku_code, barcode, cert_number)
        fields = [_field_tokens(v, what) for v, what in zip(values, _FIELDS, strict=True)]
        doc = _Doc(
            tokens=frozenset(t for f in fields for t in f),
            name=tuple(fields[0]),
            codes=tuple(tuple(f) for f in fields[4:] if f),
            game=_check_attr(game, "game"),
            condition=_check_attr(condition, "condition"),
            finish=_check_attr(finish, "finish"),
            on_hand=_check_int(on_hand, "on_hand", -MAX_ON_HAND, MAX_ON_HAND),
            popularity=_check_int(popularity, "popularity", 0, MAX_POPULARITY),
        )
        self._unlink(doc_id)
        self._docs[doc_id] = doc
        for token in doc.tokens:
            posting = self._postings.get(token)
            if posting is None:
                posting = self._postings[token] = set()
                self._unsorted.add(token)
            posting.add(doc_id)

    def update(self, doc_id: int, *args: str | bytes | None, **kwargs: object) -> None:
        """Replace an existing document (KeyError if absent); same arguments as :meth:`add`."""
        if _check_doc_id(doc_id) not in self._docs:
            raise KeyError(doc_id)
        self.add(doc_id, *args, **kwargs)  # type: ignore[arg-type]

    def remove(self, doc_id: int) -> bool:
        """Drop a document; False if it was not there (so replaying a delete is harmless)."""
        return self._unlink(_check_doc_id(doc_id))

    def set_stock(self, doc_id: int, on_hand: int) -> None:
        """Change a document's on-hand (KeyError if absent); text and postings are untouched."""
        on_hand = _check_int(on_hand, "on_hand", -MAX_ON_HAND, MAX_ON_HAND)
        self._doc(doc_id).on_hand = on_hand

    def set_popularity(self, doc_id: int, popularity: int) -> None:
        """Change a document's popularity (KeyError if absent)."""
        popularity = _check_int(popularity, "popularity", 0, MAX_POPULARITY)
        self._doc(doc_id).popularity = popularity

    def _doc(self, doc_id: int) -> _Doc:
        doc = self._docs.get(_check_doc_id(doc_id))
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def _unlink(self, doc_id: int) -> bool:
        old = self._docs.pop(doc_id, None)
        if old is None:
            return False
        for token in old.tokens:
            self._postings[token].discard(doc_id)
        return True

    # ------------------------------------------------------------------ reads

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return type(doc_id) is not bool and isinstance(doc_id, int) and doc_id in self._docs

    def query(
        self,
        text: str | bytes,
        *,
        game: str | None = None,
        condition: str | None = None,
        finish: str | None = None,
        in_stock: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[int]]:
        """``(number of matches, doc ids of matches[offset:offset + limit])`` in rank order."""
        words = query_words(text)
        game = _check_attr(game, "game")
        condition = _check_attr(condition, "condition")
        finish = _check_attr(finish, "finish")
        limit = _check_int(limit, "limit", 1, MAX_LIMIT)
        offset = _check_int(offset, "offset", 0, MAX_DOC_ID)
        in_stock = bool(in_stock)

        def passes(doc: _Doc) -> bool:
            return (
                (game is None or doc.game == game)
                and (condition is None or doc.condition == condition)
                and (finish is None or doc.finish == finish)
                and (not in_stock or doc.on_hand > 0)
            )

        tiers: dict[int, int] = {}
        if not words:
            tiers = {d: WORD_PREFIX for d, doc in self._docs.items() if passes(doc)}
        else:
            for i, word in enumerate(words):
                best = self._word_classes(word)
                if i == 0:
                    tiers = {d: c for d, c in best.items() if passes(self._docs[d])}
                else:
                    tiers = {d: max(c, best[d]) for d, c in tiers.items() if d in best}
                if not tiers:
                    break
            key = tuple(words)
            for d in tiers:
                doc = self._docs[d]
                if key in doc.codes:
                    tiers[d] = EXACT_CODE
                elif doc.name == key:
                    tiers[d] = NAME_EXACT
                elif _name_prefix(doc.name, key):
                    tiers[d] = NAME_PREFIX
        docs = self._docs
        ranked = sorted(
            tiers,
            key=lambda d: (tiers[d], docs[d].on_hand <= 0, -docs[d].popularity, d),
        )
        return len(ranked), ranked[offset : offset + limit]

    def _vocabulary(self) -> tuple[list[str], list[bytes]]:
        if self._unsorted:
            self._sorted = sorted({*self._sorted, *self._unsorted}, key=lambda t: t.encode())
            self._keys = [t.encode() for t in self._sorted]
            self._unsorted.clear()
        return self._sorted, self._keys

    def _word_classes(self, word: str) -> dict[int, int]:
        """doc id -> best class of ``word`` over the doc's tokens."""
        classes: dict[str, int] = {}
        wb = word.encode()
        vocab, keys = self._vocabulary()
        for i in range(bisect_left(keys, wb), len(keys)):
            if not keys[i].startswith(wb):
                break
            classes[vocab[i]] = WORD_PREFIX
        budget = 0 if _numeric(word) else edit_budget(len(wb))
        for token, tb in zip(vocab, keys, strict=True):
            if token in classes or _numeric(token):
                continue
            if len(wb) >= MIN_SUBSTRING and wb in tb:
                classes[token] = SUBSTRING
            elif (
                budget
                and abs(len(tb) - len(wb)) <= budget
                and len(wb) <= MAX_FUZZY_BYTES
                and len(tb) <= MAX_FUZZY_BYTES
                and osa_distance(wb, tb) <= budget
            ):
                classes[token] = FUZZY
        best: dict[int, int] = {}
        for token, cls in classes.items():
            for d in self._postings[token]:
                if best.get(d, FUZZY + 1) > cls:
                    best[d] = cls
        return best


def _name_prefix(name: tuple[str, ...], key: tuple[str, ...]) -> bool:
    n = len(key)
    if n > len(name):
        return False
    return name[: n - 1] == key[:-1] and name[n - 1].encode().startswith(key[-1].encode())
