from __future__ import annotations

import sqlite3

from vaultsync.services import audit
from vaultsync.store import Store


def test_chain_verifies_and_detects_tampering(sqlite_store: Store, db_path) -> None:  # type: ignore[no-untyped-def]
    with sqlite_store.uow() as uow:
        for i in range(5):
            audit.record(
                uow.session,
                "price.override",
                user_id="u1",
                entity_type="sku",
                entity_id=f"s{i}",
                before={"price": 100 + i},
                after={"price": 50},
            )
    with sqlite_store.read() as s:
        report = audit.verify_chain(s, sqlite_store.node_id)
    assert report.ok and report.entries == 5
    with sqlite3.connect(db_path) as conn:  # someone edits the file behind the app's back
        conn.execute("UPDATE audit_entries SET after = '{\"price\": 1}' WHERE node_seq = 3")
    with sqlite_store.read() as s:
        report = audit.verify_chain(s, sqlite_store.node_id)
    assert not report.ok and report.first_bad_seq == 3


def test_deleted_entry_breaks_the_chain(sqlite_store: Store, db_path) -> None:  # type: ignore[no-untyped-def]
    with sqlite_store.uow() as uow:
        for _ in range(4):
            audit.record(uow.session, "drawer.no_sale", user_id="u1")
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM audit_entries WHERE node_seq = 2")
    with sqlite_store.read() as s:
        report = audit.verify_chain(s, sqlite_store.node_id)
    assert not report.ok and report.first_bad_seq == 2
