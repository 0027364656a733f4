"""How old a SKU's market price is: its own ``price_as_of``, or a newer confirmation covering it.

A price import that finds a price unchanged does not rewrite the SKU (a million SKU
updates and change-log rows for a re-import of an unchanged file); it records ONE
:class:`~vaultsync.store.models.PriceConfirmation` saying which SKUs it confirmed, as of
when. Every reader of price age goes through this module, so the manager still sees the
age of each price, and stale prices still flag buylist offers, exactly as if each SKU's
``price_as_of`` had been refreshed:

    age of a SKU's price = max(sku.price_as_of, as_of of the newest confirmation covering it)

and the price's source is the source of whichever of the two is newer.

Confirmations are insert-only (a replicated ledger), so their decoded SKU sets are cached
per process by id; a reader only looks at confirmations newer than the SKU's own price.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from vaultsync.store.member_sets import is_sqlite, member_of, member_values
from vaultsync.store.models import PriceConfirmation, Sku

ONLY = "only"
EXCEPT = "except"
#: decoded confirmations kept per process (each a set of SKU ids)
CACHE_SIZE = 32


def encode_skus(ids: Iterable[str]) -> bytes:
    """The compact form of a set of SKU ids: sorted, newline-separated, zlib-compressed."""
    return zlib.compress("\n".join(sorted(ids)).encode("ascii"), 3)


def decode_skus(blob: bytes) -> frozenset[str]:
    text = zlib.decompress(blob).decode("ascii")
    return frozenset(text.split("\n")) if text else frozenset()


@dataclass(frozen=True, slots=True)
class PriceAge:
    """When a SKU's market price was last set or confirmed, and by what source."""

    as_of: datetime | None
    source: str | None


@dataclass(frozen=True, slots=True)
class _Header:
    id: str
    as_of: datetime
    source: str
    mode: str
    scope_until: datetime | None


_cache: OrderedDict[str, frozenset[str]] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(conf_id: str) -> frozenset[str] | None:
    with _cache_lock:
        found = _cache.get(conf_id)
        if found is not None:
            _cache.move_to_end(conf_id)
        return found


def _remember(conf_id: str, skus: frozenset[str]) -> None:
    with _cache_lock:
        _cache[conf_id] = skus
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


class AgeResolver:
    """Resolves price ages against the confirmations newer than ``since`` (all when None;
    ``inclusive`` also takes those exactly at ``since``, as a bucket bound does).

    Build one per request and reuse it for every SKU of a page: the confirmation headers
    are read once, their SKU sets lazily (and cached across requests).
    """

    def __init__(self, session: Session, since: datetime | None = None, *, inclusive: bool = False) -> None:
        self.session = session
        stmt = select(
            PriceConfirmation.id,
            PriceConfirmation.as_of,
            PriceConfirmation.source,
            PriceConfirmation.mode,
            PriceConfirmation.scope_until,
        ).order_by(PriceConfirmation.as_of.desc(), PriceConfirmation.hlc.desc(), PriceConfirmation.id)
        if since is not None:
            newer = PriceConfirmation.as_of >= since if inclusive else PriceConfirmation.as_of > since
            stmt = stmt.where(newer)
        self.headers = [_Header(*row) for row in session.execute(stmt)]
        self._sets: dict[str, frozenset[str]] = {}

    def skus_of(self, header: _Header) -> frozenset[str]:
        found = self._sets.get(header.id) or _cached(header.id)
        if found is None:
            blob = self.session.scalar(
                select(PriceConfirmation.skus).where(PriceConfirmation.id == header.id)
            )
            found = decode_skus(blob or b"")
            _remember(header.id, found)
        self._sets[header.id] = found
        return found

    def covers(self, header: _Header, sku_id: str, created_at: datetime | None) -> bool:
        if header.mode == ONLY:
            return sku_id in self.skus_of(header)
        in_scope = header.scope_until is None or created_at is None or created_at <= header.scope_until
        return in_scope and sku_id not in self.skus_of(header)

    def age(
        self, sku_id: str, created_at: datetime | None, own_as_of: datetime | None, own_source: str | None
    ) -> PriceAge:
        for header in self.headers:  # newest first
            if own_as_of is not None and header.as_of <= own_as_of:
                break
            if self.covers(header, sku_id, created_at):
                return PriceAge(header.as_of, header.source)
        return PriceAge(own_as_of, own_source)

    def of(self, sku: Sku) -> PriceAge:
        return self.age(sku.id, sku.created_at, sku.price_as_of, sku.price_source)


def price_age(session: Session, sku: Sku) -> PriceAge:
    """One SKU's price age (only the confirmations newer than its own price are read)."""
    return AgeResolver(session, since=sku.price_as_of).of(sku)


def price_ages(session: Session, skus: Sequence[Sku]) -> dict[str, PriceAge]:
    """Price ages of several SKUs (a page of reviews, a search result), by SKU id."""
    if not skus:
        return {}
    owns = [s.price_as_of for s in skus]
    since = None if any(o is None for o in owns) else min(o for o in owns if o is not None)
    resolver = AgeResolver(session, since=since)
    return {s.id: resolver.of(s) for s in skus}


def age_buckets(session: Session, bounds: Sequence[tuple[str, datetime]]) -> dict[str, int]:
    """How many SKUs' prices fall in each age bucket, over the whole catalog.

    ``bounds``: (name, oldest time) from the freshest bucket to the oldest, e.g.
    ``[("day", now - 1d), ("week", now - 7d), ("month", now - 30d)]``; a price older than
    the last bound counts as ``"older"``, a SKU without a market price as ``"never"``.
    One grouped query: the database buckets each SKU's own price age, and only the
    confirmations newer than the oldest bound (each SKU set bound as one value, see
    :mod:`vaultsync.store.member_sets`) can move a SKU to a fresher bucket.
    """
    names = [name for name, _ in bounds]
    own = case(
        (Sku.market_price_cents.is_(None), -2),
        (Sku.price_as_of.is_(None), len(bounds)),
        *((Sku.price_as_of >= at, i) for i, (_name, at) in enumerate(bounds)),
        else_=len(bounds),
    )
    resolver = AgeResolver(session, since=bounds[-1][1], inclusive=True)  # a bucket holds its bound
    bucket: Any = own
    params: dict[str, Any] = {}
    if resolver.headers:
        # a confirmation newer than a SKU's own price moves it to the confirmation's bucket;
        # newest first, and the first that covers the SKU decides (a later one is older)
        sqlite = is_sqlite(session.get_bind())
        own_q = select(Sku.id.label("id"), Sku.created_at.label("created_at"), own.label("own")).subquery()
        whens = []
        for k, h in enumerate(resolver.headers):
            conf_bucket = next((i for i, (_n, at) in enumerate(bounds) if h.as_of >= at), len(bounds))
            name = f"confirmed_{k}"
            params[name] = member_values(resolver.skus_of(h), sqlite=sqlite)
            listed = member_of(own_q.c.id, name, sqlite=sqlite)
            if h.mode == ONLY:
                covered = listed
            else:
                covered = ~listed
                if h.scope_until is not None:
                    covered = and_(own_q.c.created_at <= h.scope_until, covered)
            whens.append((and_(own_q.c.own > conf_bucket, covered), conf_bucket))
        bucket = case((own_q.c.own == -2, -2), *whens, else_=own_q.c.own)
        stmt = select(bucket, func.count()).select_from(own_q).group_by(bucket)
    else:
        stmt = select(own, func.count()).group_by(own)
    counts = [0] * (len(bounds) + 1)
    never = 0
    for b, n in session.execute(stmt, params):
        if b == -2:
            never += int(n)
        else:
            counts[int(b)] += int(n)
    return _named(names, counts, never)


def _named(names: list[str], counts: list[int], never: int) -> dict[str, int]:
    out = {name: counts[i] for i, name in enumerate(names)}
    out["older"] = counts[len(names)]
    out["never"] = never
    return out
