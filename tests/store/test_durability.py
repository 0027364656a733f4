"""Which write transactions wait for the disk: ``Store.uow(durable=...)`` on both backends.

A register's own writes commit durably (SQLite ``synchronous=FULL``, PostgreSQL
``synchronous_commit`` on); only a transaction opened with ``durable=False`` (merging
peers' changes) skips the flush, and the pooled connection it ran on is durable again
for whatever uses it next.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from vaultsync.store import Store
from vaultsync.store.models import Location


def level(session: Session) -> str:
    """The flush level the current transaction will commit with, as the database reports it."""
    if session.get_bind().dialect.name == "sqlite":
        return {0: "off", 1: "relaxed", 2: "durable", 3: "durable"}[
            int(session.execute(text("PRAGMA synchronous")).scalar_one())
        ]
    return {"off": "relaxed", "on": "durable"}[
        str(session.execute(text("SHOW synchronous_commit")).scalar_one())
    ]


def test_only_a_relaxed_transaction_skips_the_flush_and_the_next_one_is_durable(store: Store) -> None:
    order = [True, False, True, False, False, True]
    seen = []
    for k, durable in enumerate(order):
        with store.uow(durable=durable) as uow:
            during = level(uow.session)
            uow.add(Location(kind="case", name=f"Case {k}"))
        with store.read() as s:  # the same pooled connection, reading next
            seen.append((during, level(s)))
    assert seen == [("durable" if durable else "relaxed", "durable") for durable in order]
    with store.read() as s:  # every one of them committed
        assert sorted(s.scalars(select(Location.name))) == [f"Case {k}" for k in range(6)]


def test_a_relaxed_transaction_that_fails_leaves_nothing_and_no_relaxed_connection(store: Store) -> None:
    try:
        with store.uow(durable=False) as uow:
            uow.add(Location(kind="case", name="never"))
            uow.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.uow() as uow:
        assert level(uow.session) == "durable"
        assert uow.session.scalars(select(Location.name)).all() == []
