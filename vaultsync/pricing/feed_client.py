"""HTTP price-feed client: fetch a CSV export with a timeout, retries and exponential backoff.

Standard library only (``urllib``): a feed is one GET of one file, and a terminal that
sells offline should not need more moving parts for it. Every way a feed can fail ends
in a :class:`FeedError` whose ``status`` the manager's feed page shows:

* ``down``: connection refused, DNS failure, HTTP 5xx/429 after the retries;
* ``slow``: no complete answer within the timeout (each attempt);
* ``refused``: HTTP 4xx other than 429 (a wrong URL or key: retrying will not help);
* ``garbage``: an answer that is not a price export (HTML, binary, too large).

The caller (the feed service) keeps the last good prices whatever happens here.

A feed may need request headers (an API key: ``Authorization: Bearer ...``,
``X-Api-Key``). They are checked by :func:`header_problems` (no CR/LF header injection,
sane lengths), only sent over https:// or to this machine / a private LAN address (an
API key in clear text across the internet is a leaked key), and never follow a redirect
to another host.
"""

from __future__ import annotations

import ipaddress
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from vaultsync import __version__

#: a price export for a large shop is tens of MB; anything far larger is not one
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_RETRIES = 10
MAX_TIMEOUT_S = 600
USER_AGENT = f"VaultSync/{__version__} (price feed)"
MAX_HEADERS = 8
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 4096
#: an HTTP header name is an RFC 9110 token
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: printable ASCII and tab: what API keys are, and what no header can smuggle a line break in
HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e]*")
#: headers the client sets itself or that describe the connection, not the request
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "user-agent", "accept", "te", "upgrade"}
)


def header_problems(headers: Iterable[tuple[str, str]]) -> list[str]:
    """What is wrong with a feed's request headers (empty: fine). Messages never quote a value."""
    out: list[str] = []
    seen: set[str] = set()
    items = list(headers)
    if len(items) > MAX_HEADERS:
        out.append(f"a feed takes at most {MAX_HEADERS} request headers")
    for name, value in items:
        shown = name if len(name) <= MAX_HEADER_NAME and HEADER_NAME_RE.fullmatch(name) else "header"
        if not name or len(name) > MAX_HEADER_NAME or not HEADER_NAME_RE.fullmatch(name):
            out.append(
                f"header name {name[:MAX_HEADER_NAME]!r} is not valid: 1-{MAX_HEADER_NAME} letters, "
                "digits or - (e.g. Authorization, X-Api-Key)"
            )
        elif name.lower() in RESERVED_HEADERS:
            out.append(f"the {name} header is set by VaultSync itself")
        elif name.lower() in seen:
            out.append(f"header {name} is given twice")
        seen.add(name.lower())
        if not value.strip():
            out.append(f"the value of {shown} is empty")
        elif len(value) > MAX_HEADER_VALUE:
            out.append(f"the value of {shown} is longer than {MAX_HEADER_VALUE} characters")
        elif not HEADER_VALUE_RE.fullmatch(value):
            out.append(f"the value of {shown} may only hold printable ASCII (no line breaks)")
    return out


def _local_host(host: str) -> bool:
    """This machine or a private LAN address: where a key over plain http stays in the shop."""
    if host == "localhost" or host.endswith(".local"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects, re-attaching the feed's headers only when the redirect stays on the
    same scheme, host and port: a key must not be handed to whatever host a feed points at."""

    def __init__(self, headers: tuple[tuple[str, str], ...]) -> None:
        self.headers = headers

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) == _origin(req.full_url):
            for name, value in self.headers:
                new.add_unredirected_header(name, value)
        return new


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
    #: extra request headers (name, value), e.g. an API key
    headers: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def header_tuple(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((headers or {}).items()))

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
        if self.headers:
            out.extend(header_problems(self.headers))
            if parts.scheme == "http" and not _local_host(parts.hostname or ""):
                out.append(
                    "request headers (an API key) are only sent over https:// "
                    "(or plain http to this machine or the shop's LAN)"
                )
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
        for name, value in s.headers:
            # unredirected: urllib would otherwise copy them onto a redirect to any host
            request.add_unredirected_header(name, value)
        opener = urllib.request.build_opener(_SameOriginRedirects(s.headers))
        try:
            with opener.open(request, timeout=s.timeout_s) as response:
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
            if exc.code in (401, 403):
                hint = "check the feed's API key header" if s.headers else "the feed needs an API key header"
                raise FeedError(
                    "refused", f"the feed server refused the request: HTTP {exc.code} ({hint})"
                ) from exc
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
