"""Feed request headers (API keys) against real servers on loopback that require them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.pricing.feed_server import Script, csv_answer, feed_server
from vaultsync.pricing.feed_client import FeedClient, FeedError, FeedSettings, header_problems

CSV = "SKU,TCG Market Price\nA,1.00\n"
KEY = ("X-Api-Key", "k-123456")


def fetch(url: str, headers: tuple[tuple[str, str], ...] = (), retries: int = 2) -> FeedClient:
    return FeedClient(
        FeedSettings(url=url, timeout_s=2.0, retries=retries, backoff_s=0.0, headers=headers),
        sleep=lambda _s: None,
    )


def test_a_feed_that_requires_a_key_gets_it() -> None:
    script = Script([csv_answer(CSV)], require_header=KEY)
    with feed_server(script) as url:
        response = fetch(url, (KEY,)).fetch()
    assert response.body.decode() == CSV and response.attempts == 1
    assert script.seen_headers[0]["x-api-key"] == "k-123456"


def test_without_the_key_the_feed_is_refused_once_with_a_hint() -> None:
    script = Script([csv_answer(CSV)], require_header=KEY)
    with feed_server(script) as url:
        with pytest.raises(FeedError) as err:
            fetch(url).fetch()
        assert err.value.status == "refused" and err.value.attempts == 1  # a 401 is not retried
        assert "HTTP 401" in str(err.value) and "needs an API key" in str(err.value)
        with pytest.raises(FeedError) as err:
            fetch(url, (("X-Api-Key", "wrong"),)).fetch()
        assert "check the feed's API key" in str(err.value)
        assert "wrong" not in str(err.value)
    assert script.hits == 0 and len(script.seen_headers) == 2


def test_bearer_authorization_header() -> None:
    bearer = ("Authorization", "Bearer tok.en-123")
    script = Script([csv_answer(CSV)], require_header=bearer)
    with feed_server(script) as url:
        assert fetch(url, (bearer,)).fetch().status == 200
    assert script.seen_headers[0]["authorization"] == "Bearer tok.en-123"


@contextmanager
def redirector(target: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server that answers every GET with a 302 to ``target`` and records the headers it got."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prices.csv", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_key_never_follows_a_redirect_to_another_host() -> None:
    script = Script([csv_answer(CSV)], require_header=KEY)
    with feed_server(script) as elsewhere, redirector(elsewhere) as (url, seen):
        with pytest.raises(FeedError) as err:
            fetch(url, (KEY,)).fetch()
        assert err.value.status == "refused"
    assert seen[0]["x-api-key"] == "k-123456"  # the configured host got it
    assert "x-api-key" not in script.seen_headers[0]  # the other port (another origin) did not


def test_the_key_follows_a_redirect_on_the_same_server() -> None:
    """A feed that moves its file on the same host keeps working."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            got = self.headers.get(KEY[0])
            seen.append(got)
            if self.path == "/old.csv":
                self.send_response(301)
                self.send_header("Location", "/new.csv")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = CSV.encode() if got == KEY[1] else b"no key"
            self.send_response(200 if got == KEY[1] else 401)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = fetch(f"http://127.0.0.1:{server.server_address[1]}/old.csv", (KEY,)).fetch()
    finally:
        server.shutdown()
        server.server_close()
    assert response.body.decode() == CSV
    assert seen == [KEY[1], KEY[1]]  # /old.csv, then /new.csv on the same host and port


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ((("X-Api-Key", "abc\r\nX-Evil: 1"),), "printable ASCII"),
        ((("X-Api-Key", "abc\n"),), "printable ASCII"),
        ((("X-Api-Key", "clé"),), "printable ASCII"),
        ((("X-Api-Key", "   "),), "is empty"),
        ((("X-Api-Key", "a" * 5000),), "longer than 4096"),
        ((("Bad Name", "v"),), "is not valid"),
        ((("X-Key\r\n", "v"),), "is not valid"),
        ((("", "v"),), "is not valid"),
        ((("Host", "evil.example"),), "set by VaultSync"),
        ((("x-api-key", "a"), ("X-API-KEY", "b")), "given twice"),
        (tuple((f"X-H{i}", "v") for i in range(9)), "at most 8"),
    ],
)
def test_bad_headers_are_refused_without_echoing_the_value(
    headers: tuple[tuple[str, str], ...], message: str
) -> None:
    problems = header_problems(headers)
    assert any(message in p for p in problems), problems
    with pytest.raises(ValueError, match=message):
        fetch("https://prices.example.com/x.csv", headers)
    for p in problems:
        assert "abc" not in p and "evil" not in p and "clé" not in p


def test_a_key_goes_over_https_or_stays_in_the_shop() -> None:
    key = (KEY,)
    assert FeedSettings(url="https://api.example.com/p.csv", headers=key).problems() == []
    for local in (
        "http://127.0.0.1:8000/p",
        "http://localhost/p",
        "http://192.168.1.20/p",
        "http://nas.local/p",
    ):
        assert FeedSettings(url=local, headers=key).problems() == [], local
    problems = FeedSettings(url="http://api.example.com/p.csv", headers=key).problems()
    assert problems and "https://" in problems[0]
    assert FeedSettings(url="http://api.example.com/p.csv").problems() == []  # no key: plain http is fine
