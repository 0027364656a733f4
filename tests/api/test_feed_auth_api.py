"""Feed API keys over HTTP: write-only (never in a response), validated, sent to the feed."""

from __future__ import annotations

from tests.api.test_pricing_api import app, login, shop  # noqa: F401  (fixtures)
from tests.pricing.feed_server import Script, csv_answer, feed_server
from tests.services.pricing_fixtures import Shop

SECRET = "Bearer sk-live-abcdef0123456789"


def test_feed_key_is_write_only_over_http(app, shop: Shop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    api = login(app, shop)
    script = Script(
        [csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\n")], require_header=("Authorization", SECRET)
    )
    with feed_server(script) as url:
        r = api.post(
            "/api/v1/pricing/feeds",
            json={"name": "tcg", "url": url, "retries": 0, "headers": {"Authorization": SECRET}},
        )
        assert r.status_code == 201, r.text
        assert SECRET not in r.text and r.json()["header_names"] == ["Authorization"]
        feed_id = r.json()["id"]
        r = api.post(f"/api/v1/pricing/feeds/{feed_id}/fetch")
        assert r.status_code == 200 and r.json()["feed"]["status"] == "ok", r.text
        assert SECRET not in r.text
        listing = api.get("/api/v1/pricing/feeds")
        assert SECRET not in listing.text and listing.json()["feeds"][0]["header_names"] == ["Authorization"]

        # an edit without "headers" keeps the key; clear_headers removes it
        r = api.put(f"/api/v1/pricing/feeds/{feed_id}", json={"name": "tcg", "url": url, "retries": 0})
        assert r.status_code == 200 and r.json()["header_names"] == ["Authorization"]
        r = api.put(
            f"/api/v1/pricing/feeds/{feed_id}",
            json={"name": "tcg", "url": url, "retries": 0, "clear_headers": True},
        )
        assert r.status_code == 200 and r.json()["header_names"] == []
        r = api.post(f"/api/v1/pricing/feeds/{feed_id}/fetch")
        assert r.json()["feed"]["status"] == "refused" and "HTTP 401" in r.json()["feed"]["last_error"]
        # replacing one header by name (null would remove it)
        r = api.put(
            f"/api/v1/pricing/feeds/{feed_id}",
            json={
                "name": "tcg",
                "url": url,
                "retries": 0,
                "headers": {"authorization": SECRET, "X-Gone": None},
            },
        )
        assert r.json()["header_names"] == ["authorization"]
        assert api.post(f"/api/v1/pricing/feeds/{feed_id}/fetch").json()["feed"]["status"] == "ok"


def test_bad_feed_headers_are_refused_over_http(app, shop: Shop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    api = login(app, shop)
    base = {"name": "x", "url": "https://h.example/x.csv"}
    r = api.post("/api/v1/pricing/feeds", json={**base, "headers": {"X-Api-Key": "a\r\nX-Evil: 1"}})
    assert r.status_code == 422 and "line breaks" in r.text and "X-Evil" not in r.text
    r = api.post("/api/v1/pricing/feeds", json={**base, "headers": {"X-Api-Key": "k" * 5000}})
    assert r.status_code == 422
    r = api.post("/api/v1/pricing/feeds", json={**base, "headers": {f"X-{i}": "v" for i in range(9)}})
    assert r.status_code == 422
    r = api.post(
        "/api/v1/pricing/feeds", json={**base, "url": "http://h.example/x.csv", "headers": {"X-Api-Key": "k"}}
    )
    assert r.status_code == 422 and "https://" in r.text
    assert api.get("/api/v1/pricing/feeds").json()["feeds"] == []
