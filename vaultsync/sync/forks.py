"""Dropping the copies of a restored terminal's forked branch that other terminals took under its old id.

A terminal restored from an old backup reuses its old id's sequence numbers for the sales it
makes after the restore (:mod:`vaultsync.sync.reidentify`). Nothing can tell a *third*
terminal that anything is wrong if it holds no more of that origin than the restored one
does: it pulls the restored till's new sales as ``(old id, B+1..)``, the same numbers under
which another terminal holds the sales the restore lost. The two never exchange those
numbers again (each "has" them), so the lost sales would never reach the third terminal.

Re-identification renumbers the restored till's branch as the new id's ``1..K`` and records
a replicated ``reidentified`` alert with ``old_node``, ``new_node``, ``kept_seq`` (the fork
point F) and ``rehomed`` (K). With that, any terminal can recognise its copies of the branch:
an entry ``(old, s)`` with ``F < s <= F + K`` whose HLC, table and row equal those of
``(new, s - F)`` is the same change under its old number. :func:`repair` deletes those
copies (the rows they wrote stay: the new id's entries carry the same writes), moves the
column versions they own to the new id, and lowers the clock of the old origin to below the
first copy, so the next anti-entropy round fetches the lost sales from whoever holds them.
Seqs already held above the lowered clock are skipped, not re-applied, by the merge.

**Stopping the spread.** A third terminal that holds the lost changes would otherwise take
the branch too, relayed by one that already has it, wherever the branch runs past the end of
the lost numbers. Every ``changes`` reply starts each origin's run with the entry at the
caller's clock (:func:`vaultsync.sync.protocol.changes_for`); the merge compares it with its
own entry at that seq (:func:`forked`) and, if they differ, refuses that origin's changes
from that batch and raises a critical ``forked_origin`` alert. The terminal keeps its own
copy, which is what makes the restored till's hello show the conflict when it gets there.

The repair runs inside the merge's transaction (:func:`vaultsync.sync.apply.apply_batch`), only for
batches that carry alerts or changes of an origin named in a retirement; the retirements are
read once per store and again when a batch carries alerts.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from vaultsync.store import capture
from vaultsync.store.database import Store
from vaultsync.store.models import Change, ColumnVersion, SyncAlert, VectorClockEntry
from vaultsync.sync import alerts as alerts_mod
from vaultsync.sync.alerts import REIDENTIFIED

if TYPE_CHECKING:  # apply imports this module
    from vaultsync.sync.apply import RemoteChange

log = logging.getLogger(__name__)

ALERTS_TABLE = SyncAlert.__tablename__


@dataclass(frozen=True)
class Retired:
    """One re-identification as its replicated alert states it."""

    old_node: str
    new_node: str
    kept_seq: int
    rehomed: int


#: per database (its engine: a Store is a value, not hashable)
_known: weakref.WeakKeyDictionary[Any, tuple[Retired, ...]] = weakref.WeakKeyDictionary()


def forget(store: Store) -> None:
    """Re-read the retirements at the next merge (a local one was just recorded)."""
    _known.pop(store.engine, None)


def _parse(details: Any) -> Retired | None:
    """A retirement from an alert's details, or None for details that do not make one."""
    if not isinstance(details, dict):
        return None
    old, new, kept, rehomed = (details.get(k) for k in ("old_node", "new_node", "kept_seq", "rehomed"))
    if not (isinstance(old, str) and isinstance(new, str) and old != new):
        return None
    if not (isinstance(kept, int) and isinstance(rehomed, int) and kept >= 0 and rehomed > 0):
        return None
    if isinstance(kept, bool) or isinstance(rehomed, bool):
        return None
    return Retired(old, new, kept, rehomed)


def retirements(session: Session, store: Store, *, reread: bool = False) -> tuple[Retired, ...]:
    known = None if reread else _known.get(store.engine)
    if known is None:
        details = session.scalars(select(SyncAlert.details).where(SyncAlert.kind == REIDENTIFIED))
        known = tuple(r for r in map(_parse, details) if r is not None)
        _known[store.engine] = known
    # a terminal never drops its own origin's entries (a clone still running as a retired id
    # is refused by its revocation, not repaired)
    return tuple(r for r in known if r.old_node != store.node_id)


def repair(session: Session, store: Store, origins: Iterable[str], *, alerts_changed: bool) -> dict[str, int]:
    """Drop copies of forked branches after a merge; the old origins' lowered clocks."""
    known = retirements(session, store, reread=alerts_changed)
    if not known:
        return {}
    touched = set(origins)
    lowered: dict[str, int] = {}
    for r in known:
        if alerts_changed or r.old_node in touched or r.new_node in touched:
            first = _drop_copies(session, r)
            if first is not None:
                lowered[r.old_node] = min(first - 1, lowered.get(r.old_node, first - 1))
    for origin, seq in lowered.items():
        entry = session.get(VectorClockEntry, origin)
        if entry is not None and entry.seq > seq:
            entry.seq = seq
    return lowered


def move_versions(session: Session, table: str, pk: str, hlc: int, old: str, new: str) -> None:
    """The column versions a change renumbered from ``old`` to ``new`` owns follow it (same HLC)."""
    session.execute(
        update(ColumnVersion)
        .where(
            ColumnVersion.table_name == table,
            ColumnVersion.pk == pk,
            ColumnVersion.hlc == hlc,
            ColumnVersion.node == old,
        )
        .values(node=new)
    )


def _drop_copies(session: Session, r: Retired) -> int | None:
    """Delete the entries of ``r.old_node`` that are ``r.new_node``'s under their old seq; the lowest."""
    top = r.kept_seq + r.rehomed
    held = session.execute(
        select(Change.seq, Change.hlc, Change.table_name, Change.pk).where(
            Change.origin_node == r.old_node, Change.seq > r.kept_seq, Change.seq <= top
        )
    ).all()
    if not held:
        return None
    renumbered = {
        int(seq) + r.kept_seq: (int(hlc), table, pk)
        for seq, hlc, table, pk in session.execute(
            select(Change.seq, Change.hlc, Change.table_name, Change.pk).where(
                Change.origin_node == r.new_node, Change.seq <= r.rehomed
            )
        )
    }
    copies = [
        (int(seq), int(hlc), table, pk)
        for seq, hlc, table, pk in held
        if renumbered.get(int(seq)) == (int(hlc), table, pk)
    ]
    if not copies:
        return None
    for seq, hlc, table, pk in copies:
        session.execute(delete(Change).where(Change.origin_node == r.old_node, Change.seq == seq))
        move_versions(session, table, pk, hlc, r.old_node, r.new_node)
    log.warning(
        "sync: dropped %d change(s) of retired terminal %s that are %s's under their old numbers; "
        "fetching the changes its restore lost from the other terminals",
        len(copies),
        r.old_node,
        r.new_node,
    )
    return min(seq for seq, *_ in copies)


@dataclass(frozen=True)
class Fork:
    """A peer's change under a number this terminal holds with another change."""

    origin: str
    seq: int
    ours: tuple[int, str, str]
    theirs: tuple[int, str, str]

    @property
    def reason(self) -> str:
        return (
            f"terminal {self.origin}'s change #{self.seq} is not the one this terminal holds under that "
            "number: its history forked (restored from an older backup, or a copied disk). Its later "
            "changes from this peer were refused; re-identify that terminal (`vaultsync sync reidentify`)"
        )

    def alert(self) -> alerts_mod.NewAlert:
        return alerts_mod.NewAlert(
            kind=alerts_mod.FORKED_ORIGIN,
            severity=alerts_mod.CRITICAL,
            subject_table="nodes",
            subject_id=self.origin,
            message=self.reason,
            details={"seq": self.seq, "ours_hlc": self.ours[0], "theirs_hlc": self.theirs[0]},
            key=str(self.seq),
        )


def refuse_forks(
    session: Session, store: Store, held: Iterable[RemoteChange]
) -> tuple[set[str], list[alerts_mod.NewAlert]]:
    """The origins whose changes in a batch must be refused, and the alerts to raise.

    No alert for the old id of a terminal already re-identified: the ``reidentified`` alert
    says it all, and the copies of its branch still out there are being dropped (:func:`repair`).
    None for this terminal's own origin either: then *it* is the restored one, which its
    hello check reports, and an alert written now would be one more change under the old id.
    """
    found = forked(session, held)
    if not found:
        return set(), []
    quiet = {r.old_node for r in retirements(session, store)} | {store.node_id}
    return {f.origin for f in found}, [f.alert() for f in found if f.origin not in quiet]


def _entry_query() -> Any:
    return select(Change.hlc, Change.table_name, Change.pk).where(
        Change.origin_node == bindparam("origin"), Change.seq == bindparam("seq")
    )


def forked(session: Session, held: Iterable[RemoteChange]) -> list[Fork]:
    """The entries (one per origin, seqs this terminal has) that differ from its own."""
    out: list[Fork] = []
    # one lookup per origin of every pull batch: compiled once, not built per origin
    stmt = capture.statement(session, ("forks", "entry"), _entry_query, ("origin", "seq"))
    for c in held:
        rows = stmt.fetch((c.origin_node, c.seq))
        if not rows:  # compacted here: nothing to compare with
            continue
        ours = rows[0]
        mine = (int(ours[0]), str(ours[1]), str(ours[2]))
        theirs = (int(c.hlc), c.table_name, c.pk)
        if mine != theirs:
            out.append(Fork(c.origin_node, c.seq, mine, theirs))
    return out
