"""Sync alerts: counted in the database, not by the length of a capped list."""

from __future__ import annotations

from tests.services.pos_fixtures import build_pos
from vaultsync.store import Store
from vaultsync.sync import alerts


def test_open_alerts_are_counted_past_the_listing_limit(store: Store) -> None:
    pos = build_pos(store)
    found = [
        alerts.NewAlert(
            alerts.OVERSELL,
            alerts.CRITICAL if i < 3 else alerts.WARNING,
            "skus",
            f"sku-{i:04d}",
            f"SKU {i} is oversold",
            {"on_hand": -1},
        )
        for i in range(600)
    ]
    with store.uow() as uow:
        assert len(alerts.record(uow.session, store.node_id, found)) == 600
    assert len(alerts.list_alerts(store)) == 500  # the screen lists the most urgent 500
    assert alerts.count_open(store) == (600, 3)
    critical = alerts.list_alerts(store, limit=1)[0]
    assert critical.severity == alerts.CRITICAL  # critical ones come first
    alerts.resolve_alert(store, critical.id, pos.manager.id, "recounted")
    assert alerts.count_open(store) == (599, 2)
