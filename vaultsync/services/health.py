"""Health facts about this terminal: database, disk, WAL, peers, native core, sync.

Shared by ``/health/detailed`` and ``vaultsync doctor`` so both say the same thing. The
sync part (:func:`sync_health`) is built from :meth:`SyncService.status`, the same
status the manager's ``/sync`` page shows, so the two never disagree.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from vaultsync import __version__, native
from vaultsync.store import Store, migrate
from vaultsync.store.models import Change, PeerLink
from vaultsync.store.types import utcnow

if TYPE_CHECKING:
    from vaultsync.services.sync import SyncService

#: below this much free disk the terminal warns: a full disk stops sales
MIN_FREE_BYTES = 500 * 1024 * 1024
#: a WAL this large means checkpoints are not keeping up
MAX_WAL_BYTES = 256 * 1024 * 1024


@dataclass
class HealthReport:
    version: str
    database_url: str
    database_ok: bool
    schema_revision: str | None
    schema_head: str
    node_id: str
    native: str
    native_kernels: dict[str, str]
    disk_free_bytes: int | None = None
    wal_bytes: int | None = None
    changes_logged: int | None = None
    peers_known: int | None = None
    peers_seen_recently: int | None = None
    last_backup_age_s: int | None = None
    printer: str = "not configured"
    #: replication (see :func:`sync_health`); None where no sync service is given (``doctor``)
    sync: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


def sqlite_file(store: Store) -> Path | None:
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database or "")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def sync_health(sync: SyncService, *, with_peers: bool) -> tuple[dict[str, Any], str | None]:
    """This terminal's replication for a health report, and a problem (or None).

    Counts always; the per-peer list (names, addresses, last errors) only ``with_peers``:
    the sync API shows terminals to managers only, and ``/health/detailed`` is open. A
    terminal that is not paired runs on its own — a setup, not a problem; a paired one
    whose certificate cannot be loaded is a problem.
    """
    st = sync.status()
    port = int(st.listening.rpartition(":")[2]) if st.listening else None
    peers = st.peers
    out: dict[str, Any] = {
        "node_id": st.node_id,
        "paired": st.paired,
        "enabled": st.running,
        "listening": st.listening,
        "port": port,
        "discovery": st.discovery,
        "peers_known": len(peers),
        "peers_online": sum(1 for p in peers if p.online),
        # changes one side has that the other lacks, summed over peers ("lag in changes")
        "changes_peers_lack": sum(p.peer_lacks for p in peers),
        "changes_we_lack": sum(p.we_lack for p in peers),
        "alerts_open": st.alerts_open,
        "alerts_critical": st.alerts_critical,
        "rejected_messages": st.rejected_messages,
        "refused_connections": st.refused_connections,
        # a restored terminal that must be re-identified before it syncs again (it still sells)
        "identity_conflict": st.identity_conflict,
    }
    if with_peers:
        out["peers"] = [
            {
                "node_id": p.node_id,
                "name": p.name,
                "address": p.address,
                "source": p.source,
                "online": p.online,
                "last_seen": _iso(p.last_seen),
                "peer_lacks": p.peer_lacks,
                "we_lack": p.we_lack,
                "last_error": p.last_error,
            }
            for p in peers
        ]
    problem = f"sync: {st.problem}" if st.paired and st.problem else None
    return out, problem


def check(store: Store, *, sync: SyncService | None = None, with_peers: bool = False) -> HealthReport:
    """The report; with ``sync`` it includes :func:`sync_health` (``with_peers``: the peer list)."""
    report = HealthReport(
        version=__version__,
        database_url=store.engine.url.render_as_string(hide_password=True),
        database_ok=False,
        schema_revision=None,
        schema_head=migrate.head_revision(),
        node_id=store.node_id,
        native=native.core_mode(),
        native_kernels=native.status(),
    )
    try:
        with store.read() as s:
            s.execute(text("SELECT 1"))
            report.changes_logged = s.scalar(select(func.count()).select_from(Change))
            report.peers_known = s.scalar(select(func.count()).select_from(PeerLink))
            recent = utcnow().timestamp() - 60
            report.peers_seen_recently = sum(
                1 for seen in s.scalars(select(PeerLink.last_seen_at)) if seen and seen.timestamp() >= recent
            )
        report.schema_revision = store.revision()
        report.database_ok = True
    except Exception as exc:  # health must report, not raise
        report.problems.append(f"database: {exc}")
    if report.schema_revision != report.schema_head and report.database_ok:
        report.problems.append(f"schema {report.schema_revision} is not at head {report.schema_head}")
    path = sqlite_file(store)
    if path is not None:
        try:
            report.disk_free_bytes = shutil.disk_usage(path.parent).free
        except OSError as exc:
            report.problems.append(f"disk: {exc}")
        wal = path.with_name(path.name + "-wal")
        report.wal_bytes = wal.stat().st_size if wal.exists() else 0
    if report.disk_free_bytes is not None and report.disk_free_bytes < MIN_FREE_BYTES:
        report.problems.append(f"low disk space: {report.disk_free_bytes // (1024 * 1024)} MiB free")
    if report.wal_bytes is not None and report.wal_bytes > MAX_WAL_BYTES:
        report.problems.append(f"write-ahead log is {report.wal_bytes // (1024 * 1024)} MiB: checkpoints lag")
    if report.native != "compiled" and os.environ.get("VAULTSYNC_PURE") != "1":
        report.problems.append(f"native core is {report.native}: running on the slower pure-Python reference")
    if sync is not None and report.database_ok and report.schema_revision == report.schema_head:
        try:
            report.sync, problem = sync_health(sync, with_peers=with_peers)
        except Exception as exc:  # health must report, not raise
            problem = f"sync: {exc}"
        if problem:
            report.problems.append(problem)
    return report
