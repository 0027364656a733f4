"""Audit trail writer: one hash-chained entry per sensitive action, in the caller's transaction.

Each node keeps its own chain (``node_seq`` 1, 2, 3…; ``hash`` = SHA-256 over the
previous hash and the entry's canonical JSON). Chains are per node so terminals can
audit offline without coordinating, and a deleted or edited entry breaks the chain on
every replica that holds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaultsync.store.capture import node_id_of
from vaultsync.store.models import AuditEntry
from vaultsync.store.types import utcnow

GENESIS = "0" * 64


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "node_id": entry.node_id,
        "node_seq": entry.node_seq,
        "at": entry.at.isoformat(),
        "user_id": entry.user_id,
        "approved_by": entry.approved_by,
        "station_id": entry.station_id,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(entry)).hexdigest()


def record(
    session: Session,
    action: str,
    *,
    user_id: str | None = None,
    approved_by: str | None = None,
    station_id: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append to this node's chain. Must run inside the unit of work that made the change."""
    node = node_id_of(session)
    last = session.execute(
        select(AuditEntry.node_seq, AuditEntry.hash)
        .where(AuditEntry.node_id == node)
        .order_by(AuditEntry.node_seq.desc())
        .limit(1)
    ).one_or_none()
    prev_seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    entry = AuditEntry(
        node_id=node,
        node_seq=prev_seq + 1,
        at=at or utcnow(),
        user_id=user_id,
        approved_by=approved_by,
        station_id=station_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = entry_hash(prev_hash, entry)
    session.add(entry)
    return entry


@dataclass(frozen=True)
class ChainReport:
    node_id: str
    entries: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, node_id: str) -> ChainReport:
    """Recompute a node's chain; report the first entry that does not fit."""
    prev = GENESIS
    count = 0
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.node_id == node_id).order_by(AuditEntry.node_seq)
    )
    for count, entry in enumerate(rows, start=1):
        if entry.node_seq != count:
            return ChainReport(node_id, count, False, count, f"entry {count} is missing")
        if entry.prev_hash != prev or entry_hash(prev, entry) != entry.hash:
            return ChainReport(node_id, count, False, entry.node_seq, f"entry {entry.node_seq} was altered")
        prev = entry.hash
    return ChainReport(node_id, count, True)
