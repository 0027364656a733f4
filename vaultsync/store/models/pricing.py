"""Pricing: price history (ledger), the volatility guard's review queue, pricing rules and feeds.

What replicates and why:

* ``price_updates`` is a ledger: every change of a SKU's market or shelf price, from any
  terminal, is kept (union merge) so the history of a card is complete everywhere.
* ``price_confirmations`` is a ledger too: one row per import or feed fetch saying which
  SKUs' prices it confirmed unchanged, so a re-import of a million unchanged prices is one
  row, not a million SKU updates (see :mod:`vaultsync.services.price_age`).
* ``price_reviews``, ``price_rules`` and ``price_feeds`` are mutable shop data (last
  writer wins per column): a manager deciding a review or editing a rule on the desk is
  seen at every register.
* ``price_feed_state`` is local: when this terminal last fetched a feed, and what went
  wrong. The prices a fetch produced replicate through ``skus`` and ``price_updates``;
  the fetch bookkeeping belongs to the terminal that fetched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, CentsType, UTCDateTime, utcnow


class PriceUpdate(IdMixin, Base):
    """Every change of a SKU's market or shelf price: source, old, new, who, when."""

    __tablename__ = "price_updates"
    __replication__ = "ledger"

    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # "tcgplayer-csv", "manual", "feed:<name>"...
    field: Mapped[str] = mapped_column(String(16), default="shelf")  # "shelf" | "market"
    old_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    new_cents: Mapped[int] = mapped_column(CentsType)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    review_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: the import or feed fetch that made the change (one id per file/fetch), None for manual edits
    batch_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    #: why, for people: "review accepted", "below cost approved by Mia", "rule repricing"...
    note: Mapped[str | None] = mapped_column(String(200), default=None)
    #: a market change that also moved the shelf price under the pricing rules records
    #: that shelf move here, in the same entry (one event, one row)
    shelf_old_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    shelf_new_cents: Mapped[int | None] = mapped_column(CentsType, default=None)


class PriceConfirmation(IdMixin, Base):
    """An import or feed fetch that confirmed SKUs' market prices unchanged, as of a time.

    A SKU's price age is the newer of its own ``price_as_of`` (set when its price changes)
    and the ``as_of`` of the latest confirmation covering it. Which SKUs a row covers is
    stored compactly, whichever way is smaller:

    * ``mode = "only"``: exactly the SKUs listed in ``skus``;
    * ``mode = "except"``: every SKU created at or before ``scope_until`` (the catalog the
      import read) except those listed — a full-catalog file lists only the few it did
      not confirm (held for review, bad rows, SKUs not in the file).

    ``skus`` is the sorted, newline-separated SKU ids, zlib-compressed. Insert-only:
    a confirmation is never edited, so readers cache its decoded set by id.
    """

    __tablename__ = "price_confirmations"
    __replication__ = "ledger"

    source: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    mode: Mapped[str] = mapped_column(String(8))  # "only" | "except"
    scope_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: how many SKUs are listed in ``skus`` (for people and sanity checks)
    listed: Mapped[int] = mapped_column(Integer, default=0)
    skus: Mapped[bytes] = mapped_column(LargeBinary)
    batch_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)


class PriceReview(IdMixin, TimestampMixin, Base):
    """A market move the volatility guard held back for a manager to accept, reject or edit.

    One pending review per SKU: a newer held move for the same SKU updates the pending one
    (the queue shows the latest proposal against the price that is actually applied).
    """

    __tablename__ = "price_reviews"
    __replication__ = "lww"

    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    old_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    proposed_cents: Mapped[int] = mapped_column(CentsType)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # PriceReviewStatus
    final_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    batch_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)


class PriceRule(IdMixin, TimestampMixin, Base):
    """How a shelf price follows the market, and how far the market may move unreviewed.

    A rule's scope is any combination of game, category (product kind), condition and
    finish; empty means "any". The most specific active rule wins (see
    :mod:`vaultsync.domain.price_rules`).
    """

    __tablename__ = "price_rules"
    __replication__ = "lww"

    name: Mapped[str] = mapped_column(String(80))
    game_id: Mapped[str | None] = mapped_column(ForeignKey("games.id"), default=None)
    kind: Mapped[str | None] = mapped_column(String(16), default=None)  # ProductKind
    condition: Mapped[str | None] = mapped_column(String(8), default=None)  # Condition
    finish: Mapped[str | None] = mapped_column(String(16), default=None)  # Finish
    #: shelf = market × markup_bps / 10,000 (11,000 = market + 10 %)
    markup_bps: Mapped[int] = mapped_column(Integer, default=10_000)
    #: condition → basis points of the near-mint price, for feeds that price a card once
    #: (not per condition); None: the shop-wide defaults
    condition_bps: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    rounding: Mapped[str] = mapped_column(String(16), default="none")  # price_rules.Rounding
    #: never below this shelf price (cents)
    min_price_cents: Mapped[int] = mapped_column(CentsType, default=0)
    #: volatility guard: a market move is held for review when it is at least this many
    #: basis points of the old price AND at least this many cents
    guard_pct_bps: Mapped[int] = mapped_column(Integer, default=2_500)
    guard_abs_cents: Mapped[int] = mapped_column(CentsType, default=200)
    #: False: the market price follows the feed, the shelf price stays where a person put it
    reprice_shelf: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class PriceFeed(IdMixin, TimestampMixin, Base):
    """An HTTP price feed (a CSV export at a URL) and how to fetch it."""

    __tablename__ = "price_feeds"
    __replication__ = "lww"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    #: "tcgplayer" | "pricecharting" | "auto" (decided from the header)
    format: Mapped[str] = mapped_column(String(16), default="auto")
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=15)
    retries: Mapped[int] = mapped_column(Integer, default=2)
    backoff_ms: Mapped[int] = mapped_column(Integer, default=1_000)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=360)
    #: a fetch with bad rows applies the valid ones (True) or nothing at all (False)
    valid_rows_only: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: extra request headers, e.g. {"Authorization": "Bearer ..."}: secrets, never shown back
    #: (see vaultsync.services.price_feeds); replicated so every manager station can fetch
    request_headers: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True), default=None)


class PriceFeedState(Base):
    """This terminal's last fetch of a feed: what the manager's feed page shows."""

    __tablename__ = "price_feed_state"
    __replication__ = "local"

    feed_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    #: "never" | "ok" | "down" | "slow" | "garbage" | "refused"
    status: Mapped[str] = mapped_column(String(16), default="never")
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_rows: Mapped[int] = mapped_column(Integer, default=0)
    last_applied: Mapped[int] = mapped_column(Integer, default=0)
    last_held: Mapped[int] = mapped_column(Integer, default=0)
    last_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_duration_ms: Mapped[int] = mapped_column(Integer, default=0)
