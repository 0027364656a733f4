"""Every migration upgrades a database of the previous schema that already holds data.

For each revision R with a predecessor P: build a database at P, fill every replicated
table that exists at P through the real store (change capture included), upgrade to R,
and check nothing was lost and the upgraded database still accepts writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from tests.store.factories import FACTORIES
from vaultsync.domain.ids import new_id, new_node_id
from vaultsync.store import migrate, open_store
from vaultsync.store.engine import make_engine
from vaultsync.store.models import Change, NodeState
from vaultsync.store.session import VaultSession


def revision_pairs() -> list[tuple[str, str]]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [
        (rev.down_revision, rev.revision)
        for rev in script.walk_revisions()
        if isinstance(rev.down_revision, str)
    ]


def test_there_is_a_path_to_check() -> None:
    assert revision_pairs(), "with a second revision there must be at least one upgrade to test"


@pytest.mark.parametrize(("previous", "target"), revision_pairs())
def test_upgrade_keeps_data(tmp_path: Path, previous: str, target: str) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, previous)
    tables = set(inspect(engine).get_table_names())
    node = new_node_id()
    factory = sessionmaker(engine, class_=VaultSession, expire_on_commit=False, info={"node_id": node})
    with factory() as s, s.begin():
        s.add(NodeState(id=1, node_id=node, shop_id=new_id(), last_seq=0, last_hlc=0))
    # a model whose table gains columns in ``target`` cannot be written through the ORM at
    # ``previous``; its tables' upgrade with data is tested on its own (e.g. test_pricing_migration)
    inspector = inspect(engine)
    columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in tables}
    present = [
        m
        for m in FACTORIES
        if m.__tablename__ in tables and {c.name for c in m.__table__.columns} <= columns[m.__tablename__]
    ]
    assert present
    written = 0
    with factory() as s, s.begin():
        for model in present:
            # ...nor one whose factory makes rows of such a table (a SKU for a price entry)
            try:
                with s.begin_nested():
                    FACTORIES[model](s)
                written += 1
            except OperationalError as exc:
                if "no column named" not in str(exc) and "has no column" not in str(exc):
                    raise
    assert written
    with engine.connect() as conn:
        before = {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in sorted(tables)}
    engine.dispose()

    store = open_store(url)  # upgrades to head, as a terminal does on start
    assert store.revision() == migrate.head_revision()
    assert store.node_id == node  # the node identity survives upgrades
    with store.engine.connect() as conn:
        after = {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in before}
    before.pop("alembic_version")
    after.pop("alembic_version")
    assert after == before
    with store.uow() as uow:  # the upgraded database takes new writes of every table
        for model in FACTORIES:
            FACTORIES[model](uow.session)
    with store.read() as s:
        seqs = list(
            s.scalars(select(Change.seq).where(Change.origin_node == store.node_id).order_by(Change.seq))
        )
        assert seqs == list(range(1, len(seqs) + 1))
        assert s.scalar(select(func.count()).select_from(Change)) == len(seqs)
    store.close()
    assert target in migrate.known_revisions()
