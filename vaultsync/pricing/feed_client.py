"""HTTP price-feed client: fetch a CSV export with a timeout, retries and exponential backoff.

Standard library only (``urllib``): a feed is one GET of one file, and a terminal that
sells offline should not need more moving parts for it. Every way a feed can fail ends
in a :class:`FeedError` whose ``status`` the manager's feed page shows:

* ``down``: connection refused, DNS failure, HTTP 5xx/429 after the retries;
* ``slow``: no complete answer within the timeout (each attempt);
* ``refused``: HTTP 4xx other than 429 (a wrong URL or key: retrying will not help);
* ``garbage``: an answer that is not a price export (HTML, binary, too large).

The caller (the feed service) keeps the last good prices whatever happens here.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from vaultsync import __version__

#: a price export for a large shop is tens of MB; anything far larger is not one
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_RETRIES = 10
MAX_TIMEOUT_S = 600
USER_AGENT = f"VaultSync/{__version__} (price feed)"


class FeedError(Exception):
    """A fetch that produced no usable file. ``status``: down | slow | refused | garbage."""

    def __init__(self, status: str, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class FeedResponse:
    body: bytes
    content_type: str
    status: int
    attempts: int
    seconds: float


@dataclass(frozen=True)
class FeedSettings:
    url: str
    timeout_s: float = 15.0
    retries: int = 2
    backoff_s: float = 1.0
    max_bytes: int = DEFAULT_MAX_BYTES

    def problems(self) -> list[str]:
        out = []
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            out.append("the feed URL must start with http:// or https:// and name a host")
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            out.append(f"timeout must be between 1 and {MAX_TIMEOUT_S} seconds")
        if not 0 <= self.retries <= MAX_RETRIES:
            out.append(f"retries must be between 0 and {MAX_RETRIES}")
        if not 0 <= self.backoff_s <= 300:
            out.append("backoff must be between 0 and 300 seconds")
        return out


class FeedClient:
    """``FeedClient(settings).fetch()``: the body of the feed, or FeedError.

    Attempt n (0-based) that fails with a retryable error waits ``backoff_s × 2**n``
    before the next; ``retries`` is the number of extra attempts. ``sleep`` is injectable
    so tests do not wait for real.
    """

    def __init__(self, settings: FeedSettings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        problems = settings.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.settings = settings
        self._sleep = sleep

    def fetch(self) -> FeedResponse:
        started = time.monotonic()
        last: FeedError | None = None
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.settings.backoff_s * (2 ** (attempt - 1)))
            try:
                status, ctype, body = self._once()
            except FeedError as exc:
                exc.attempts = attempt + 1
                if exc.status in ("refused", "garbage"):
                    raise
                last = exc
                continue
            return FeedResponse(body, ctype, status, attempt + 1, time.monotonic() - started)
        assert last is not None
        raise last

    def _once(self) -> tuple[int, str, bytes]:
        s = self.settings
        request = urllib.request.Request(
            s.url, headers={"User-Agent": USER_AGENT, "Accept": "text/csv, text/plain;q=0.9, */*;q=0.1"}
        )
        try:
            with urllib.request.urlopen(request, timeout=s.timeout_s) as response:
                ctype = str(response.headers.get("Content-Type") or "")
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > s.max_bytes:
                    raise FeedError(
                        "garbage", f"the feed is {int(length):,} bytes, more than {s.max_bytes:,}"
                    )
                deadline = time.monotonic() + s.timeout_s * 4
                chunks: list[bytes] = []
                size = 0
                while True:
                    chunk = response.read(1024 * 1024)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > s.max_bytes:
                        raise FeedError("garbage", f"the feed is more than {s.max_bytes:,} bytes")
                    if time.monotonic() > deadline:
                        raise FeedError("slow", "the feed trickled in too slowly (gave up)")
                    chunks.append(chunk)
                body = b"".join(chunks)
                status = int(response.status)
        except FeedError:
            raise
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise FeedError("down", f"the feed server answered HTTP {exc.code}") from exc
            raise FeedError("refused", f"the feed server refused the request: HTTP {exc.code}") from exc
        except TimeoutError as exc:
            raise FeedError("slow", f"no answer within {s.timeout_s:g} s") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise FeedError("slow", f"no answer within {s.timeout_s:g} s") from exc
            raise FeedError("down", f"cannot reach the feed: {reason}") from exc
        except (ConnectionError, OSError) as exc:
            raise FeedError("down", f"the connection to the feed failed: {exc}") from exc
        if "html" in ctype.lower():
            raise FeedError("garbage", f"the feed sent a web page ({ctype}), not a CSV export")
        if not body.strip():
            raise FeedError("garbage", "the feed sent an empty file")
        return status, ctype, body
