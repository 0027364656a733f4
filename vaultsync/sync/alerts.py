"""Merge alerts: what the manager's sync screen lists, and how an alert is resolved.

The merge (:mod:`vaultsync.sync.apply`) detects invariant breaks — stock below zero after
two terminals sold the same copy, store credit spent twice offline — and unique-value
collisions (two terminals created the same SKU code or certificate number offline). It
reports them and never "fixes" the data silently: both sales happened, and a manager decides.

Alerts are a replicated table (:class:`~vaultsync.store.models.SyncAlert`) whose id is a
hash of what the alert is about, so every terminal that detects the same problem writes
the same row and resolving it anywhere resolves it everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from vaultsync.store.database import Store
from vaultsync.store.models import SyncAlert, User
from vaultsync.store.types import utcnow

OVERSELL = "oversell"
NEGATIVE_CREDIT = "negative_credit"
UNIQUE_COLLISION = "unique_collision"
DUPLICATE_CERT = "duplicate_cert"
#: a terminal restored from an old backup took a new identity (vaultsync.sync.reidentify)
REIDENTIFIED = "reidentified"
#: two terminals hold different changes under the same (origin, seq) (vaultsync.sync.forks)
FORKED_ORIGIN = "forked_origin"
KINDS = (OVERSELL, NEGATIVE_CREDIT, UNIQUE_COLLISION, DUPLICATE_CERT, REIDENTIFIED, FORKED_ORIGIN)

WARNING = "warning"
CRITICAL = "critical"

MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert as the merge detects it; ``key`` distinguishes states of the same subject."""

    kind: str
    severity: str
    subject_table: str
    subject_id: str
    message: str
    details: dict[str, Any]
    key: str = ""

    @property
    def id(self) -> str:
        return alert_id(self.kind, self.subject_table, self.subject_id, self.key)


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    kind: str
    severity: str
    subject_table: str
    subject_id: str
    message: str
    details: dict[str, Any]
    detected_by: str
    detected_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None

    @classmethod
    def of(cls, row: SyncAlert) -> AlertView:
        return cls(
            row.id,
            row.kind,
            row.severity,
            row.subject_table,
            row.subject_id,
            row.message,
            dict(row.details or {}),
            row.detected_by,
            row.created_at,
            row.resolved_at,
            row.resolved_by,
            row.resolution_note,
        )


def alert_id(kind: str, subject_table: str, subject_id: str, key: str = "") -> str:
    """Deterministic: the same problem detected on two terminals is one alert."""
    text = "\x1f".join((kind, subject_table, subject_id, key))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def record(session: Session, node_id: str, alerts: Sequence[NewAlert]) -> list[str]:
    """Write the alerts not yet known, *with* change capture, inside the caller's transaction.

    The merge session runs with capture off (``replaying``); alerts are this node's own
    writes, so capture is switched on just for them and they replicate like any edit.
    Returns the ids of the alerts created.
    """
    fresh: dict[str, NewAlert] = {}
    for a in alerts:
        if a.id not in fresh and session.get(SyncAlert, a.id) is None:
            fresh[a.id] = a
    if not fresh:
        return []
    replaying = session.info.get("replaying")
    session.info["replaying"] = False
    try:
        for aid, a in fresh.items():
            session.add(
                SyncAlert(
                    id=aid,
                    kind=a.kind,
                    severity=a.severity,
                    subject_table=a.subject_table,
                    subject_id=a.subject_id,
                    message=a.message,
                    details=a.details,
                    detected_by=node_id,
                )
            )
        session.flush()
    finally:
        session.info["replaying"] = replaying
    return list(fresh)


def list_alerts(
    store: Store, *, unresolved_only: bool = True, kind: str | None = None, limit: int = 500
) -> list[AlertView]:
    """Alerts newest first (critical ones first among the unresolved)."""
    if kind is not None and kind not in KINDS:
        raise ValidationError(f"unknown alert kind {kind!r} (one of {', '.join(KINDS)})")
    if not 1 <= limit <= 10_000:
        raise ValidationError("limit must be between 1 and 10000")
    stmt = select(SyncAlert)
    if unresolved_only:
        stmt = stmt.where(SyncAlert.resolved_at.is_(None))
    if kind is not None:
        stmt = stmt.where(SyncAlert.kind == kind)
    stmt = stmt.order_by((SyncAlert.severity == CRITICAL).desc(), SyncAlert.created_at.desc(), SyncAlert.id)
    with store.read() as s:
        return [AlertView.of(r) for r in s.scalars(stmt.limit(limit))]


def count_open(store: Store) -> tuple[int, int]:
    """(open alerts, of which critical), counted in the database (a list stops at its limit)."""
    with store.read() as s:
        row = s.execute(
            select(func.count(), func.count().filter(SyncAlert.severity == CRITICAL)).where(
                SyncAlert.resolved_at.is_(None)
            )
        ).one()
    return int(row[0]), int(row[1])


def resolve_alert(store: Store, alert_id: str, user_id: str, note: str | None = None) -> AlertView:
    """Mark an alert handled by a manager (or admin); replicated like any edit.

    Raises NotFoundError (no such alert or user), PermissionDenied (not a manager),
    ConflictError (already resolved), ValidationError (note too long).
    """
    if note is not None and len(note) > MAX_NOTE:
        raise ValidationError(f"the note is limited to {MAX_NOTE} characters")
    with store.uow() as uow:
        s = uow.session
        user = s.get(User, user_id)
        if user is None or not user.is_active:
            raise NotFoundError("no such active user")
        if Role(user.role).rank < Role.MANAGER.rank:
            raise PermissionDenied("only a manager can resolve sync alerts")
        row = s.get(SyncAlert, alert_id)
        if row is None:
            raise NotFoundError(f"no sync alert {alert_id}")
        if row.resolved_at is not None:
            raise ConflictError("this alert is already resolved")
        row.resolved_at = utcnow()
        row.resolved_by = user.id
        row.resolution_note = note.strip() if note else None
        s.flush()
        return AlertView.of(row)
