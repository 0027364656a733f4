"""Giving a terminal restored from an old backup a new identity (DESIGN.md §4, issue 4).

**The problem.** A terminal's changes are numbered ``(node id, seq)`` and peers keep, per
origin, the highest contiguous seq they hold. Restore a terminal's database from a backup
taken at seq B while its peers already hold its changes up to P > B, and the terminal
forgets B+1..P: its next writes reuse those numbers with other content. Peers skip them as
duplicates (they "have" those seqs), so sales made on the restored till would silently never
reach anyone, and the ones the restore lost never come back. Re-using the old identity is
unsafe whichever way round; the fix is a new identity.

**Detection** (:func:`detect`) compares what a peer says in its hello with this database:

* the peer's vector clock holds more of this terminal's origin than this database ever
  wrote (``clock[me] > last_seq``), read *after* the reply arrived, so a change written and
  pushed meanwhile cannot look like a lost one; or
* the peer's ``tip`` — ``[seq, hlc]`` of the newest change of this terminal's origin in the
  peer's log (sent in hello replies, :func:`tip_for`) — names a seq this database also holds
  but with another HLC: the restored till already wrote *over* numbers the peer holds (it
  sold more since the restore than it lost, so the clock alone looks fine).

Both sides of a link check: the caller on the hello reply, the answering node on the
caller's hello (which carries a tip too). A node that finds a conflict is quarantined
(:mod:`vaultsync.sync.node`): it serves no changes, pulls nothing and pushes nothing under
the old identity until it is re-identified; the register keeps selling locally.

**Recovery** (:func:`reidentify`, ``vaultsync sync reidentify``):

1. With the old certificate (still valid: the restored till *is* that terminal), ask a peer
   for digests of this origin's log entries and find the fork point F — the highest seq up
   to which both logs agree (:func:`fork_point`, a bounded multi-point search, a few round
   trips even for millions of changes).
2. In one local transaction (:func:`retire_identity`): take a fresh node id N; this
   database's own entries after F (written after the backup, unknown to any peer) are
   renumbered as N's 1..K, with their column versions; the old origin becomes a foreign
   origin held up to F. Nothing is written under the old id from here on; new sales get N.
3. Obtain a certificate for N by **pairing with a one-time code from a manager** (the normal
   :func:`vaultsync.sync.pairing.join` exchange; the pairing terminal records N's ``nodes``
   row with its certificate fingerprint). The old certificate is kept aside in
   ``sync/retired/<old id>/``, not used again.
4. Record a critical sync alert (kind ``reidentified``) for the manager and revoke the old
   node id, both replicated under N.

After that ordinary anti-entropy does the rest: peers send the old origin's changes after F
(including the ones the restore lost) as a foreign origin, and N's renumbered changes reach
every peer as new ones. Nothing is lost and nothing is applied twice.

**Why a manager's code, and not a certificate issued automatically over the authenticated
link.** All the link proves is possession of the old terminal's key — exactly what a cloned
disk image or a stolen till also has, and "my peers know more of my origin than I do" is
also what a clone that fell behind looks like. If a peer minted a new identity for anyone
who presented the old certificate, a thief could clone a till and silently turn it into a
second, fully trusted terminal (while the real one keeps running under the old id). Tying
the new certificate to a one-time pairing code means a person with manager rights sees and
approves every new identity; the alert and the revocation of the old id then make a clone
that keeps using the old certificate stand out and be shut out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from vaultsync.domain.errors import ConflictError, ReplicationError
from vaultsync.domain.ids import new_node_id
from vaultsync.store.database import Store
from vaultsync.store.models import Change, CompactionFloor, Node, NodeState, VectorClockEntry
from vaultsync.store.types import utcnow
from vaultsync.sync import alerts as alerts_mod
from vaultsync.sync import forks, pki
from vaultsync.sync.messages import (
    Call,
    Payload,
    ProtocolError,
    field_of,
    node_id_field,
    parse_clock,
)

log = logging.getLogger(__name__)

#: request kind: digests of one origin's log entries at given seqs
LOG_KIND = "reid.log"
#: seqs asked per ``reid.log`` request (and points probed per search round)
MAX_PROBES = 64
DIGEST_BYTES = 16
#: alert kind recorded when a terminal took a new identity
REIDENTIFIED = alerts_mod.REIDENTIFIED
PENDING_FILE = "reidentify.json"
RETIRED_DIR = "retired"


@dataclass(frozen=True)
class IdentityConflict:
    """A peer holds changes of this terminal's origin that this database does not have."""

    node_id: str
    local_seq: int
    peer_seq: int
    peer_node: str
    #: a seq both hold with different content (from the peer's tip), if that is how it showed
    forked_at: int | None = None
    #: the HLC of the newest change of this origin the peer holds (its ``tip``), if it sent one
    peer_tip_hlc: int | None = None

    @property
    def reason(self) -> str:
        if self.forked_at is not None:
            what = (
                f"peer {self.peer_node} holds change {self.forked_at} of this terminal ({self.node_id}) "
                "with other content than this database"
            )
        else:
            what = (
                f"peer {self.peer_node} holds this terminal's ({self.node_id}) changes up to "
                f"{self.peer_seq}, its database only up to {self.local_seq}"
            )
        return (
            f"{what}: it was restored from an older backup (or copied). It syncs nothing under this "
            "identity; re-identify it with a pairing code from a manager (`vaultsync sync reidentify`)"
        )


class RestoredTerminal(ProtocolError):
    """Raised instead of syncing when :func:`detect` found an :class:`IdentityConflict`."""

    def __init__(self, conflict: IdentityConflict) -> None:
        super().__init__(conflict.reason)
        self.conflict = conflict


# --------------------------------------------------------------------------- detection


def _last_seq(store: Store) -> int:
    with store.read() as s:
        state = s.get(NodeState, 1)
        if state is None:
            raise ReplicationError("this database has no node identity; run `vaultsync migrate` first")
        return int(state.last_seq)


def _hlc_at(store: Store, origin: str, seq: int) -> int | None:
    with store.read() as s:
        value = s.scalar(select(Change.hlc).where(Change.origin_node == origin, Change.seq == seq))
        return None if value is None else int(value)


def tip_for(store: Store, origin: str | None) -> list[int] | None:
    """``[seq, hlc]`` of the newest change of ``origin`` in this log (None if none / unknown)."""
    if not origin:
        return None
    with store.read() as s:
        row = s.execute(
            select(Change.seq, Change.hlc)
            .where(Change.origin_node == origin)
            .order_by(Change.seq.desc())
            .limit(1)
        ).first()
    return None if row is None else [int(row[0]), int(row[1])]


def tip_fields(store: Store, origin: str | None) -> dict[str, Any]:
    """What a hello adds about the terminal it goes to: its ``tip`` here, and ``tip_of``
    (which terminal that is), so :func:`detect` never takes another terminal's tip for its own."""
    fields: dict[str, Any] = {"tip": tip_for(store, origin)}
    if origin:
        fields["tip_of"] = origin
    return fields


def _tip_field(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise ProtocolError("hello tip must be [seq, hlc] (non-negative integers)")
    return int(value[0]), int(value[1])


def detect(store: Store, remote: Payload) -> IdentityConflict | None:
    """The conflict a peer's hello (or hello reply) reveals, or None if this identity is sound.

    Call it *after* the peer's hello arrived: this database's seq is read now, so anything
    this terminal wrote and pushed while the hello travelled counts as its own.
    """
    peer = node_id_field(field_of(remote, "node_id", str, "a node id"), "node_id")
    me = store.node_id
    clock = parse_clock(remote.get("clock") or {})
    tip = _tip_field(remote.get("tip"))
    about = remote.get("tip_of")
    if about is not None and node_id_field(about, "tip_of") != me:
        # the peer computed it for another terminal: the certificate it last saw at this
        # address (a till re-identified and restarted on the same port); not about us
        tip = None
    seen = clock.get(me, 0)
    last = _last_seq(store)
    tip_hlc = tip[1] if tip is not None else None
    if seen > last:
        return IdentityConflict(me, last, seen, peer, peer_tip_hlc=tip_hlc)
    if tip is not None and 0 < tip[0] <= last:
        mine = _hlc_at(store, me, tip[0])
        if mine is not None and mine != tip[1]:
            return IdentityConflict(me, last, max(seen, tip[0]), peer, forked_at=tip[0], peer_tip_hlc=tip_hlc)
    return None


# --------------------------------------------------------------------------- the fork point


def _digest(hlc: int, table: str, pk: str, op: str, data: str | None) -> bytes:
    text = "\x1f".join((str(hlc), table, pk, op, data if data is not None else "\x00"))
    return hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES]


def log_digests(store: Store, origin: str, seqs: Sequence[int]) -> list[bytes | None]:
    """Digest of each of ``origin``'s log entries at ``seqs`` (None where this log has none)."""
    if not seqs:
        return []
    with store.read() as s:
        rows = s.execute(
            select(Change.seq, Change.hlc, Change.table_name, Change.pk, Change.op, Change.data).where(
                Change.origin_node == origin, Change.seq.in_(list(seqs))
            )
        ).all()
    found = {int(r[0]): _digest(int(r[1]), str(r[2]), str(r[3]), str(r[4]), r[5]) for r in rows}
    return [found.get(int(q)) for q in seqs]


def _handle_log(store: Store, payload: Payload, peer_node: str | None) -> Payload:
    origin = node_id_field(field_of(payload, "origin", str, "a node id"), "origin")
    seqs = field_of(payload, "seqs", list, "a list of seqs")
    if len(seqs) > MAX_PROBES:
        raise ProtocolError(f"{LOG_KIND}: at most {MAX_PROBES} seqs per request")
    if not all(isinstance(q, int) and not isinstance(q, bool) and q > 0 for q in seqs):
        raise ProtocolError(f"{LOG_KIND}: seqs must be positive integers")
    return {"digests": log_digests(store, origin, seqs)}


HANDLERS = {LOG_KIND: _handle_log}


def _probe_points(lo: int, hi: int) -> list[int]:
    """Up to MAX_PROBES seqs in (lo, hi], evenly spread, always including hi."""
    span = hi - lo
    if span <= MAX_PROBES:
        return list(range(lo + 1, hi + 1))
    return sorted({lo + (span * k) // MAX_PROBES for k in range(1, MAX_PROBES + 1)})


def fork_point(
    store: Store,
    call: Call,
    *,
    origin: str | None = None,
    upto: int | None = None,
    tip_hlc: int | None = None,
) -> int:
    """The highest seq up to which this log and the peer's agree on ``origin``'s entries.

    ``upto`` defaults to this database's own last seq. The logs agree on a prefix (the part
    the backup holds) and differ after it, so each round probes up to :data:`MAX_PROBES`
    points of the remaining interval and keeps the one between the last agreeing and the
    first differing point. An entry missing on either side counts as agreeing, so where the
    peer has already compacted the fork region (a till restored from a week-old backup: the
    peers compact hourly) the digests cannot see the fork. ``tip_hlc`` — the HLC of the
    newest entry of this origin the peer holds, written before the terminal was lost —
    bounds it: an own entry with a later HLC was written after the restore, so the fork is
    at most the last own entry at or before it (see :func:`seq_at_or_before`).
    """
    origin = origin or store.node_id
    lo, hi = 0, _last_seq(store) if upto is None else upto
    if tip_hlc is not None:
        hi = min(hi, seq_at_or_before(store, origin, tip_hlc))
    while lo < hi:
        points = _probe_points(lo, hi)
        reply = call(LOG_KIND, {"origin": origin, "seqs": points})
        theirs = field_of(reply, "digests", list, "a list")
        if len(theirs) != len(points):
            raise ProtocolError(f"{LOG_KIND}: the peer answered {len(theirs)} digests for {len(points)} seqs")
        mine = log_digests(store, origin, points)
        first_diff = next(
            (k for k, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a and b and a != b), None
        )
        if first_diff is None:
            return hi
        # they agree at the probe before the first difference and differ from that one on
        lo = points[first_diff - 1] if first_diff > 0 else lo
        hi = points[first_diff] - 1
    return lo


def seq_at_or_before(store: Store, origin: str, hlc: int) -> int:
    """The highest seq of ``origin``'s entries in this log with an HLC at or before ``hlc``.

    A terminal's own HLCs grow with its seqs, so every own entry up to that seq was written
    no later than ``hlc``. Entries this log compacted away (below its floor) were all
    acknowledged by every peer before the backup was taken: they count as at or before.
    """
    with store.read() as s:
        found = s.scalar(
            select(func.max(Change.seq)).where(Change.origin_node == origin, Change.hlc <= hlc)
        )
        floor = s.scalar(select(CompactionFloor.seq).where(CompactionFloor.origin_node == origin))
    return max(int(found or 0), int(floor or 0))


# --------------------------------------------------------------------------- the switch


@dataclass(frozen=True)
class Retirement:
    """What :func:`retire_identity` did."""

    old_node: str
    new_node: str
    #: the old origin is held up to here (the seq both logs agreed on)
    kept_seq: int
    #: this database's own entries after ``kept_seq``, renumbered as the new node's 1..rehomed
    rehomed: int
    #: what this database had written under the old id
    old_last_seq: int


def retire_identity(store: Store, fork_seq: int, *, new_node: str | None = None) -> Retirement:
    """Stop being the old node: take a new node id, keep the old origin up to ``fork_seq``.

    One transaction: this database's own log entries after ``fork_seq`` — written after the
    backup, held by no peer — become the new node's 1..K (same HLC, table, row and data;
    the column versions they set move with them); the old id becomes a foreign origin held
    up to ``fork_seq``, so anti-entropy fetches everything after it from peers. Only local
    bookkeeping tables are touched; no replicated row changes.
    """
    new_node = new_node or new_node_id()
    pki._check_id(new_node, "node id")
    with store.uow() as uow:
        s = uow.session
        s.info["replaying"] = True  # nothing here is a replicated write
        state = s.get(NodeState, 1)
        if state is None:
            raise ReplicationError("this database has no node identity; run `vaultsync migrate` first")
        old = state.node_id
        if new_node == old:
            raise ConflictError("the new node id must differ from the old one")
        last = int(state.last_seq)
        if not 0 <= fork_seq <= last:
            raise ConflictError(f"fork point {fork_seq} is outside this terminal's changes 1..{last}")
        moved = s.execute(
            select(Change.seq, Change.table_name, Change.pk, Change.hlc)
            .where(Change.origin_node == old, Change.seq > fork_seq)
            .order_by(Change.seq)
        ).all()
        for k, (seq, table, pk, hlc) in enumerate(moved, start=1):
            s.execute(
                update(Change)
                .where(Change.origin_node == old, Change.seq == seq)
                .values(origin_node=new_node, seq=k)
            )
            forks.move_versions(s, table, pk, hlc, old, new_node)
        entry = s.get(VectorClockEntry, old)
        if entry is None:
            s.add(VectorClockEntry(origin_node=old, seq=fork_seq))
        else:
            entry.seq = fork_seq
        state.node_id = new_node
        state.last_seq = len(moved)
    _adopt_node_id(store, new_node)
    log.warning(
        "sync: terminal %s retired its identity at seq %d (had %d); it is now %s (%d change(s) renumbered)",
        old,
        fork_seq,
        last,
        new_node,
        len(moved),
    )
    return Retirement(old, new_node, fork_seq, len(moved), last)


def _adopt_node_id(store: Store, node_id: str) -> None:
    """Make the open store (and every session it opens from now on) write as ``node_id``."""
    store.node_id = node_id
    store.factory.kw.setdefault("info", {})["node_id"] = node_id


def record_reidentified(
    store: Store, retirement: Retirement, *, reason: str, revoke_old: bool = True
) -> str | None:
    """The manager's alert, and the old id revoked — both replicated, written as the new node.

    Returns the alert id (None if it was recorded before).
    """
    old, new = retirement.old_node, retirement.new_node
    alert = alerts_mod.NewAlert(
        kind=REIDENTIFIED,
        severity=alerts_mod.CRITICAL,
        subject_table="nodes",
        subject_id=old,
        message=(
            f"Terminal {old} was restored from an older backup and now syncs as {new}. Its changes "
            f"after #{retirement.kept_seq} came back from the other terminals; {retirement.rehomed} "
            "change(s) made after the restore were kept under the new id. The old id is revoked: "
            "if a terminal still presents it, that is a copy - find it."
        ),
        details={**asdict(retirement), "reason": reason[:400]},
        key=new,
    )
    with store.uow() as uow:
        s = uow.session
        created = alerts_mod.record(s, new, [alert])
        row = s.get(Node, old)
        if revoke_old and row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
    forks.forget(store)  # this terminal drops copies of its own branch that come back, too
    return created[0] if created else None


# --------------------------------------------------------------------------- the whole recovery


@dataclass(frozen=True)
class Pending:
    """A retirement whose new certificate is not there yet (kept in the sync directory)."""

    old_node: str
    new_node: str
    kept_seq: int
    rehomed: int
    old_last_seq: int
    reason: str

    def retirement(self) -> Retirement:
        return Retirement(self.old_node, self.new_node, self.kept_seq, self.rehomed, self.old_last_seq)


def pending(data_dir: Path) -> Pending | None:
    """The re-identification this terminal started but did not finish (no new certificate yet)."""
    path = pki.sync_dir(data_dir) / PENDING_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return Pending(**{k: raw[k] for k in Pending.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise pki.PkiError(f"{path} is unreadable ({exc}); restore it or ask for help") from exc


def _save_pending(data_dir: Path, p: Pending) -> None:
    path = pki.sync_dir(data_dir) / PENDING_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(p), indent=1))
    os.replace(tmp, path)


def _retire_files(data_dir: Path, old: str) -> Path:
    """Move the old terminal certificate and key aside (the CA files stay)."""
    d = pki.sync_dir(data_dir)
    dest = d / RETIRED_DIR / old
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (pki.NODE_CERT, pki.NODE_KEY):
        if (d / name).exists():
            shutil.move(str(d / name), str(dest / name))
    return dest


@dataclass(frozen=True)
class ReidentifyResult:
    old_node: str
    new_node: str
    kept_seq: int
    rehomed: int
    reason: str
    alert_id: str | None
    identity: pki.Identity


def examine(
    store: Store, identity: pki.Identity, host: str, port: int, *, timeout_ms: int = 15_000
) -> tuple[IdentityConflict | None, int]:
    """Say hello to the peer at ``host:port`` with this terminal's certificate; return the
    conflict (if any) and the fork point of this terminal's origin."""
    from vaultsync.sync import greeting, protocol, transport
    from vaultsync.sync.peers import Trust

    trust = Trust(store)
    trust.refresh()
    tls = transport.client_tls(identity)
    client = greeting.dial(tls, host, port, trust=trust, timeout_ms=timeout_ms, proto=protocol)
    try:
        client.wait_connected(timeout_ms / 1000)
        reply = greeting.hello(store, client, protocol)
        conflict = detect(store, reply)
        if conflict is None:
            return None, _last_seq(store)
        upto = min(_last_seq(store), conflict.peer_seq)
        return conflict, fork_point(store, client.call, upto=upto, tip_hlc=conflict.peer_tip_hlc)
    finally:
        client.close()


def reidentify(
    store: Store,
    data_dir: Path,
    peer: tuple[str, int],
    code: str,
    *,
    pairing_port: int | None = None,
    name: str | None = None,
    timeout_ms: int = 15_000,
) -> ReidentifyResult:
    """Recover a restored terminal: detect, retire the old id, pair the new one, alert.

    ``peer`` is a peer's sync address; its pairing port (default sync port + 1) must be the
    terminal that holds the shop CA and showed ``code``. Re-running after a failed pairing
    (wrong or expired code) resumes with the identity already chosen.
    """
    from vaultsync.sync import pairing

    host, port = peer
    todo = pending(data_dir)
    if todo is None:
        identity = pki.load_identity(data_dir, node_id=store.node_id)
        conflict, fork = examine(store, identity, host, port, timeout_ms=timeout_ms)
        if conflict is None:
            raise ConflictError(
                f"the peer at {host}:{port} holds nothing of terminal {store.node_id} that its database "
                "lacks: its identity is sound, there is nothing to re-identify"
            )
        retirement = retire_identity(store, fork)
        todo = Pending(
            retirement.old_node,
            retirement.new_node,
            retirement.kept_seq,
            retirement.rehomed,
            retirement.old_last_seq,
            conflict.reason,
        )
        _retire_files(data_dir, retirement.old_node)
        _save_pending(data_dir, todo)
    elif store.node_id != todo.new_node:
        raise pki.PkiError(
            f"{pki.sync_dir(data_dir) / PENDING_FILE} is for terminal {todo.new_node}, this database is "
            f"{store.node_id}"
        )
    if not name:  # keep the name the manager knows this till by
        with store.read() as s:
            row = s.get(Node, todo.old_node)
            name = row.name if row is not None else todo.new_node
    joined = pairing.join(
        store,
        data_dir,
        host,
        pairing_port if pairing_port is not None else port + 1,
        code,
        name=name,
        timeout_ms=timeout_ms,
    )
    alert_id = record_reidentified(store, todo.retirement(), reason=todo.reason)
    done = pki.sync_dir(data_dir) / RETIRED_DIR / todo.old_node / PENDING_FILE
    os.replace(pki.sync_dir(data_dir) / PENDING_FILE, done)
    return ReidentifyResult(
        todo.old_node, todo.new_node, todo.kept_seq, todo.rehomed, todo.reason, alert_id, joined.identity
    )
