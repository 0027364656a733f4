"""The HTTP feed client against a real server on loopback: retries, backoff, timeouts, garbage."""

from __future__ import annotations

import socket

import pytest

from tests.pricing.feed_server import Script, csv_answer, feed_server
from vaultsync.pricing.feed_client import FeedClient, FeedError, FeedSettings

CSV = "SKU,TCG Market Price\nA,1.00\n"


def client(url: str, sleeps: list[float], **kw: float) -> FeedClient:
    settings = FeedSettings(
        url=url, timeout_s=kw.get("timeout_s", 2.0), retries=int(kw.get("retries", 2)), backoff_s=0.5
    )
    return FeedClient(settings, sleep=sleeps.append)


def test_good_feed_is_fetched_once() -> None:
    script = Script([csv_answer(CSV)])
    sleeps: list[float] = []
    with feed_server(script) as url:
        response = client(url, sleeps).fetch()
    assert response.body.decode() == CSV
    assert response.attempts == 1 and script.hits == 1 and sleeps == []


def test_server_errors_are_retried_with_exponential_backoff() -> None:
    script = Script([(503, "text/plain", b"busy", 0), (500, "text/plain", b"oops", 0), csv_answer(CSV)])
    sleeps: list[float] = []
    with feed_server(script) as url:
        response = client(url, sleeps).fetch()
    assert response.attempts == 3 and script.hits == 3
    assert sleeps == [0.5, 1.0]


def test_a_feed_that_stays_down_fails_as_down_after_the_retries() -> None:
    script = Script([(502, "text/plain", b"bad gateway", 0)])
    sleeps: list[float] = []
    with feed_server(script) as url, pytest.raises(FeedError) as err:
        client(url, sleeps, retries=3).fetch()
    assert err.value.status == "down" and err.value.attempts == 4 and script.hits == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_slow_feed_times_out_as_slow() -> None:
    script = Script([csv_answer(CSV, delay=1.5)])
    sleeps: list[float] = []
    with feed_server(script) as url, pytest.raises(FeedError) as err:
        client(url, sleeps, timeout_s=0.3, retries=1).fetch()
    assert err.value.status == "slow" and err.value.attempts == 2


def test_html_instead_of_csv_is_garbage_and_not_retried() -> None:
    script = Script([(200, "text/html; charset=utf-8", b"<html><body>Log in</body></html>", 0)])
    sleeps: list[float] = []
    with feed_server(script) as url, pytest.raises(FeedError) as err:
        client(url, sleeps).fetch()
    assert err.value.status == "garbage" and script.hits == 1


def test_client_errors_are_refused_and_not_retried() -> None:
    script = Script([(404, "text/plain", b"no such export", 0)])
    with feed_server(script) as url, pytest.raises(FeedError) as err:
        client(url, []).fetch()
    assert err.value.status == "refused" and script.hits == 1


def test_nobody_listening_is_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    sleeps: list[float] = []
    with pytest.raises(FeedError) as err:
        client(f"http://127.0.0.1:{port}/x.csv", sleeps, retries=1).fetch()
    assert err.value.status == "down" and sleeps == [0.5]


def test_oversized_and_empty_answers_are_garbage() -> None:
    script = Script([csv_answer("x" * 5000)])
    with feed_server(script) as url, pytest.raises(FeedError, match="more than"):
        FeedClient(FeedSettings(url=url, max_bytes=1000), sleep=lambda _s: None).fetch()
    script = Script([csv_answer("")])
    with feed_server(script) as url, pytest.raises(FeedError, match="empty"):
        FeedClient(FeedSettings(url=url), sleep=lambda _s: None).fetch()


@pytest.mark.parametrize(
    "settings",
    [
        FeedSettings(url="ftp://example.com/x"),
        FeedSettings(url="file:///etc/passwd"),
        FeedSettings(url="http://x/", timeout_s=0),
        FeedSettings(url="http://x/", retries=99),
    ],
)
def test_bad_settings_are_refused(settings: FeedSettings) -> None:
    with pytest.raises(ValueError):
        FeedClient(settings)
