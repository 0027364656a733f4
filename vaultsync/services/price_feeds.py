"""HTTP price feeds: configuration (replicated), fetching (never blocks the shop), state and price age.

A fetch runs the HTTP client (timeout, retries, backoff) and then the same import as an
uploaded file. Whatever goes wrong — the feed is down, slow, sends a web page or rows of
garbage — the catalog keeps its last prices, and this terminal's
:class:`~vaultsync.store.models.PriceFeedState` records what happened for the manager's
feed page. A fetch never raises for a feed problem; it reports it.

Fetching is meant to run off the register's request path: :class:`FeedScheduler` is a
daemon thread that fetches due feeds; the manager page's "Fetch now" runs one fetch in
a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ConflictError, NotFoundError, ValidationError
from vaultsync.pricing.csv_formats import FileProblem, decode
from vaultsync.pricing.feed_client import FeedClient, FeedError, FeedSettings
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.price_age import age_buckets
from vaultsync.services.price_import import ImportReport, ImportRequest, import_prices
from vaultsync.store import Store
from vaultsync.store.models import PriceFeed, PriceFeedState
from vaultsync.store.types import utcnow

log = logging.getLogger(__name__)

FORMATS = ("auto", "tcgplayer", "pricecharting")


@dataclass(frozen=True)
class FeedInput:
    name: str
    url: str
    format: str = "auto"
    timeout_seconds: int = 15
    retries: int = 2
    backoff_ms: int = 1_000
    interval_minutes: int = 360
    valid_rows_only: bool = False
    is_active: bool = True
    #: request header changes (API keys): name -> new value, or None to remove that header;
    #: None leaves the stored headers as they are (they are never sent back to be re-saved)
    headers: Mapping[str, str | None] | None = None
    #: remove every stored header first (then ``headers`` may add new ones)
    clear_headers: bool = False


@dataclass(frozen=True)
class FeedView:
    id: str
    name: str
    url: str
    format: str
    timeout_seconds: int
    retries: int
    backoff_ms: int
    interval_minutes: int
    valid_rows_only: bool
    is_active: bool
    status: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    last_rows: int
    last_applied: int
    last_held: int
    last_errors: int
    #: hours since the last successful fetch (None: never)
    age_hours: float | None
    #: names of the request headers that are set (their values are write-only: never shown)
    header_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriceAges:
    """How old the catalog's market prices are (counts of SKUs)."""

    day: int  # confirmed within 24 hours
    week: int
    month: int
    older: int
    never: int  # no market price at all


def _source(name: str) -> str:
    return f"feed:{name}"[:32]


@dataclass
class PriceFeedService:
    store: Store
    sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------ configuration

    def feeds(self) -> list[FeedView]:
        with self.store.read() as s:
            feeds = list(s.scalars(select(PriceFeed).order_by(PriceFeed.name)))
            states = {st.feed_id: st for st in s.scalars(select(PriceFeedState))}
        return [self._view(f, states.get(f.id)) for f in feeds]

    def feed(self, feed_id: str) -> FeedView:
        with self.store.read() as s:
            feed = s.get(PriceFeed, feed_id)
            if feed is None:
                raise NotFoundError("no such price feed")
            return self._view(feed, s.get(PriceFeedState, feed_id))

    @staticmethod
    def _view(f: PriceFeed, st: PriceFeedState | None) -> FeedView:
        now = utcnow()
        success = st.last_success_at if st else None
        return FeedView(
            id=f.id,
            name=f.name,
            url=f.url,
            format=f.format,
            timeout_seconds=f.timeout_seconds,
            retries=f.retries,
            backoff_ms=f.backoff_ms,
            interval_minutes=f.interval_minutes,
            valid_rows_only=f.valid_rows_only,
            is_active=f.is_active,
            status=st.status if st else "never",
            last_attempt_at=st.last_attempt_at if st else None,
            last_success_at=success,
            last_error=st.last_error if st else None,
            consecutive_failures=st.consecutive_failures if st else 0,
            last_rows=st.last_rows if st else 0,
            last_applied=st.last_applied if st else 0,
            last_held=st.last_held if st else 0,
            last_errors=st.last_errors if st else 0,
            age_hours=(now - success).total_seconds() / 3600 if success else None,
            header_names=tuple(sorted(f.request_headers or {})),
        )

    @staticmethod
    def _validate(data: FeedInput) -> None:
        name = (data.name or "").strip()
        if not name or len(name) > 26:  # "feed:" + name must fit a 32-character source
            raise ValidationError("a feed needs a name of 1-26 characters")
        if data.format not in FORMATS:
            raise ValidationError(f"format must be one of {', '.join(FORMATS)}")
        if len(data.url or "") > 500:
            raise ValidationError("the URL is longer than 500 characters")
        settings = FeedSettings(
            url=(data.url or "").strip(),
            timeout_s=data.timeout_seconds,
            retries=data.retries,
            backoff_s=data.backoff_ms / 1000,
        )
        problems = settings.problems()
        if not 5 <= data.interval_minutes <= 7 * 24 * 60:
            problems.append("fetch interval must be between 5 minutes and 7 days")
        if problems:
            raise ValidationError("; ".join(problems))

    def save_feed(self, data: FeedInput, *, actor: UserView, feed_id: str | None = None) -> FeedView:
        require_role(actor, Role.MANAGER)
        self._validate(data)
        values = {
            "name": data.name.strip(),
            "url": data.url.strip(),
            "format": data.format,
            "timeout_seconds": data.timeout_seconds,
            "retries": data.retries,
            "backoff_ms": data.backoff_ms,
            "interval_minutes": data.interval_minutes,
            "valid_rows_only": data.valid_rows_only,
            "is_active": data.is_active,
        }
        with self.store.uow() as uow:
            s = uow.session
            clash = s.scalar(
                select(PriceFeed.id).where(PriceFeed.name == values["name"], PriceFeed.id != (feed_id or ""))
            )
            if clash:
                raise ConflictError(f"a feed named {values['name']!r} exists already")
            if feed_id is None:
                feed = PriceFeed(**values)
                s.add(feed)
            else:
                found = s.get(PriceFeed, feed_id)
                if found is None:
                    raise NotFoundError("no such price feed")
                feed = found
                for k, v in values.items():
                    setattr(feed, k, v)
            headers_changed = _apply_headers(feed, data)
            s.flush()
            audit.record(
                s,
                "pricing.feed.save",
                user_id=actor.id,
                entity_type="price_feed",
                entity_id=feed.id,
                after={**values, **_headers_audit(feed, headers_changed)},
            )
            return self._view(feed, s.get(PriceFeedState, feed.id))

    def delete_feed(self, feed_id: str, *, actor: UserView) -> None:
        require_role(actor, Role.MANAGER)
        with self.store.uow() as uow:
            feed = uow.session.get(PriceFeed, feed_id)
            if feed is None:
                raise NotFoundError("no such price feed")
            audit.record(
                uow.session,
                "pricing.feed.delete",
                user_id=actor.id,
                entity_type="price_feed",
                entity_id=feed_id,
                before={"name": feed.name, "url": feed.url},
            )
            uow.session.delete(feed)
            state = uow.session.get(PriceFeedState, feed_id)
            if state is not None:
                uow.session.delete(state)

    # ------------------------------------------------------------------ fetching

    def fetch(self, feed_id: str, *, actor: UserView | None = None) -> tuple[FeedView, ImportReport | None]:
        """Fetch one feed now and import it; the feed's state says how it went (never raises
        for a feed problem). ``actor`` None: the scheduler."""
        if actor is not None:
            require_role(actor, Role.MANAGER)
        with self.store.read() as s:
            feed = s.get(PriceFeed, feed_id)
            if feed is None:
                raise NotFoundError("no such price feed")
            name, fmt, valid_only = feed.name, feed.format, feed.valid_rows_only
            settings = FeedSettings(
                url=feed.url,
                timeout_s=feed.timeout_seconds,
                retries=feed.retries,
                backoff_s=feed.backoff_ms / 1000,
                headers=FeedSettings.header_tuple(feed.request_headers),
            )
        started = time.monotonic()
        attempt_at = utcnow()
        report: ImportReport | None = None
        status, error = "ok", None
        try:
            response = FeedClient(settings, sleep=self.sleep).fetch()
            text = decode(response.body)
            report = import_prices(
                self.store,
                text.splitlines(keepends=True),
                ImportRequest(
                    source=_source(name),
                    user_id=actor.id if actor else None,
                    valid_only=valid_only,
                    expected_format=None if fmt == "auto" else fmt,
                ),
            )
            if report.refused:
                status, error = "garbage", report.refused
        except FeedError as exc:
            status, error = exc.status, f"{exc} (after {exc.attempts} attempt(s))"
        except FileProblem as exc:
            status, error = "garbage", str(exc)
        except ValueError as exc:  # a configuration the client refuses (edited on another terminal)
            status, error = "refused", str(exc)
        self._record(feed_id, status, error, attempt_at, report, int((time.monotonic() - started) * 1000))
        if status != "ok":
            log.warning("price feed %s: %s: %s", name, status, error)
        return self.feed(feed_id), report

    def _record(
        self,
        feed_id: str,
        status: str,
        error: str | None,
        at: datetime,
        report: ImportReport | None,
        duration_ms: int,
    ) -> None:
        with self.store.uow() as uow:
            st = uow.session.get(PriceFeedState, feed_id)
            if st is None:
                st = PriceFeedState(feed_id=feed_id, consecutive_failures=0)
                uow.add(st)
            st.status = status
            st.last_attempt_at = at
            st.last_error = error[:2000] if error else None
            st.last_duration_ms = duration_ms
            if status == "ok":
                st.last_success_at = at
                st.consecutive_failures = 0
            else:
                st.consecutive_failures = (st.consecutive_failures or 0) + 1
            if report is not None:
                st.last_rows = report.lines
                st.last_applied = report.applied
                st.last_held = report.held
                st.last_errors = report.error_count

    def due(self, now: datetime | None = None) -> list[str]:
        """Active feeds whose interval has passed since their last attempt (or never tried)."""
        now = now or utcnow()
        out = []
        for f in self.feeds():
            if not f.is_active:
                continue
            if f.last_attempt_at is None or now - f.last_attempt_at >= timedelta(minutes=f.interval_minutes):
                out.append(f.id)
        return out

    def run_due(self) -> int:
        """Fetch every due feed, one after another; returns how many were fetched."""
        ids = self.due()
        for feed_id in ids:
            try:
                self.fetch(feed_id)
            except NotFoundError:  # deleted meanwhile (another terminal)
                continue
        return len(ids)

    # ------------------------------------------------------------------ price ages

    def price_ages(self) -> PriceAges:
        now = utcnow()
        day, week, month = (now - timedelta(days=d) for d in (1, 7, 30))
        with self.store.read() as s:
            # each SKU's own price time, or a newer confirmation by an import (see price_age)
            counts = age_buckets(s, [("day", day), ("week", week), ("month", month)])
        return PriceAges(
            day=int(counts.get("day", 0)),
            week=int(counts.get("week", 0)),
            month=int(counts.get("month", 0)),
            older=int(counts.get("older", 0)),
            never=int(counts.get("never", 0)),
        )


# ---------------------------------------------------------------------------- request headers


def merge_headers(
    stored: Mapping[str, str] | None, changes: Mapping[str, str | None] | None, *, clear: bool = False
) -> dict[str, str]:
    """The headers after a save: ``changes`` set (or with None remove) headers by name, case-
    insensitively ("x-api-key" replaces "X-Api-Key"); ``clear`` starts from none."""
    out = {} if clear else dict(stored or {})
    for raw, value in (changes or {}).items():
        name = (raw or "").strip()
        for old in [k for k in out if k.lower() == name.lower()]:
            del out[old]
        if value is not None:
            out[name] = value.strip(" \t")  # a CR/LF stays, to be refused by the validation
    return out


def _apply_headers(feed: PriceFeed, data: FeedInput) -> bool:
    """Store the feed's new request headers (validated against its URL); whether they changed."""
    before = dict(feed.request_headers or {})
    if data.headers is None and not data.clear_headers:
        after = before
    else:
        after = merge_headers(before, data.headers, clear=data.clear_headers)
    problems = FeedSettings(url=feed.url, headers=FeedSettings.header_tuple(after)).problems()
    if problems:
        raise ValidationError("; ".join(problems))
    if after == before:
        return False
    feed.request_headers = after or None
    return True


def _headers_audit(feed: PriceFeed, changed: bool) -> dict[str, object]:
    """What the audit log keeps of the headers: their names and whether they changed, never a value."""
    return {"request_headers": sorted(feed.request_headers or {}), "request_headers_changed": changed}


class FeedScheduler:
    """Fetches due feeds every ``period`` seconds in a daemon thread, until :meth:`stop`.

    A feed that hangs only holds this thread (its client has a timeout); the register,
    the UI and sync never wait for it.
    """

    def __init__(self, service: PriceFeedService, *, period: float = 60.0) -> None:
        self.service = service
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="price-feeds", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.service.run_due()
            except Exception:  # a bug here must not kill the thread for good
                log.exception("price feed scheduler round failed")
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
