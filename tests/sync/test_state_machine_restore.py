"""The replication state machine with terminals restored from backups (DESIGN.md §4, issue 4).

On top of :class:`tests.sync.test_state_machine.ReplicationChecked` (sales, receipts, price
and customer edits, partitions, lost / duplicated / reordered messages), a terminal's
database can be backed up (a real copy of its SQLite file) and, later, put back over the
live file — after it made more changes, at least one other terminal already holds all of
them (a disk that died after its sales had replicated; a restore that also loses unreplicated
sales loses them for real, which no engine can undo).

A restored terminal keeps selling. Every link it uses is first checked the way the node's
hello does (:func:`vaultsync.sync.reidentify.detect`, both directions): a peer that shows the
conflict quarantines it; a peer that cannot (it holds no more of that origin than the restored
till) syncs with it normally and so takes its new changes under the old, reused numbers —
the case :mod:`vaultsync.sync.forks` exists for. A "manager" rule re-identifies a quarantined
terminal through a peer that shows the conflict. The final heal re-identifies whatever is
still restored, then the usual checks apply: identical replicas, no sale or receipt lost or
doubled, last writer wins.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import hypothesis.strategies as st
from hypothesis.stateful import initialize, precondition, rule
from sqlalchemy import select

from tests.sync.links import direct
from tests.sync.test_reidentify import backup, db_path, last_seq, register_on, restore
from tests.sync.test_state_machine import EXAMPLES, ReplicationChecked, machine_settings
from vaultsync.store import Store
from vaultsync.store.models import Change
from vaultsync.sync import pairing, reidentify
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.protocol import handle, hello_payload, pull


class ReplicationWithRestores(ReplicationChecked):
    def __init__(self) -> None:
        super().__init__()
        #: node index -> (backup file, node id, its last seq at the backup)
        self.backups: dict[int, tuple[Path, str, int]] = {}
        #: restored and not re-identified yet
        self.restored: set[int] = set()
        #: restored, and a peer's hello showed it: quarantined until re-identified
        self.flagged: set[int] = set()
        self.restores = self.reidentified = 0

    @initialize(n=st.integers(min_value=3, max_value=4), rng=st.randoms(use_true_random=False))
    def start(self, n: int, rng: random.Random) -> None:
        super().start(n, rng)
        for node in self.nodes[1:]:  # one shop: the hello checks below compare shop ids too
            pairing.adopt_shop(node, self.nodes[0].shop_id)

    # ------------------------------------------------------------------ links

    def conflict_seen(self, r: int, p: int) -> reidentify.IdentityConflict | None:
        """What the hello between restored terminal r and peer p shows r (either side asks)."""
        node, peer = self.nodes[r], self.nodes[p]
        return reidentify.detect(node, handle(peer, "hello", hello_payload(node), peer_node=node.node_id))

    def up(self, i: int, j: int) -> bool:
        if not super().up(i, j) or i in self.flagged or j in self.flagged:
            return False
        for r, p in ((i, j), (j, i)):
            if r in self.restored and self.conflict_seen(r, p) is not None:
                self.flagged.add(r)  # quarantined: refuses every request, pulls and pushes nothing
                return False
        return True

    # ------------------------------------------------------------------ backups

    def _other(self, i: int) -> int | None:
        """Node 1.. (node 0 holds the shop's fixtures); None when there is only node 0."""
        return None if len(self.nodes) < 2 else 1 + i % (len(self.nodes) - 1)

    @rule(i=st.integers(0, 3))
    def take_backup(self, i: int) -> None:
        k = self._other(i)
        if k is not None and k not in self.restored:
            self._backup(k)

    def _backup(self, k: int) -> None:
        node = self.nodes[k]
        path = Path(self.tmp) / f"node{k}.backup.db"
        backup(node, path)
        self.backups[k] = (path, node.node_id, last_seq(node))

    @rule(i=st.integers(0, 3))
    def restore_backup(self, i: int) -> None:
        k = self._other(i)
        if k is None or k in self.restored:
            return
        if k not in self.backups:  # the nightly backup (hypothesis rarely picks the rule above first)
            self._backup(k)
            return
        path, node_id, at_backup = self.backups[k]
        node = self.nodes[k]
        mine = last_seq(node)
        if node.node_id != node_id or mine <= at_backup:
            return  # nothing to lose
        others = [j for j in range(len(self.nodes)) if j != k]
        if max(vector_clock(self.nodes[j]).get(node_id, 0) for j in others) < mine:
            # its last changes had replicated before the disk died: a peer it can reach pulls them
            reachable = [j for j in others if self.up(k, j)]
            if not reachable:
                return  # it would lose what only this disk had
            peer = self.nodes[reachable[i % len(reachable)]]
            pull(peer, direct(peer, node))
        assert max(vector_clock(self.nodes[j]).get(node_id, 0) for j in others) >= mine
        db = db_path(node)
        node.close()
        self.faulty.held = [h for h in self.faulty.held if h[0] is not node and h[1] is not node]
        fresh = restore(db, path)
        assert fresh.node_id == node_id and last_seq(fresh) == at_backup
        self.nodes[k] = fresh
        self.registers[k] = (register_on(fresh), self.registers[k][1])
        self.pushed[k] = at_backup
        self.restored.add(k)
        self.restores += 1

    @precondition(lambda self: bool(self.flagged))
    @rule(j=st.integers(0, 4))
    def manager_reidentifies(self, j: int) -> None:
        k = sorted(self.flagged)[0]
        p = j % len(self.nodes)
        if p != k and p not in self.restored:
            self._reidentify(k, p)

    def _reidentify(self, k: int, p: int) -> bool:
        """Re-identify restored terminal k through peer p, if p shows the conflict."""
        conflict = self.conflict_seen(k, p)
        if conflict is None:
            return False
        node, peer = self.nodes[k], self.nodes[p]
        upto = min(last_seq(node), conflict.peer_seq)
        fork = reidentify.fork_point(node, direct(node, peer), upto=upto, tip_hlc=conflict.peer_tip_hlc)
        done = reidentify.retire_identity(node, fork)
        reidentify.record_reidentified(node, done, reason=conflict.reason)
        self._rehome_expectations(node, done.old_node, done.new_node)
        self.restored.discard(k)
        self.flagged.discard(k)
        self.backups.pop(k, None)
        self.pushed[k] = 0
        self.reidentified += 1
        return True

    def _rehome_expectations(self, node: Store, old: str, new: str) -> None:
        """The writes renumbered under the new id keep their HLC; their version's node changes."""
        with node.read() as s:
            moved = {int(h) for h in s.scalars(select(Change.hlc).where(Change.origin_node == new))}

        def fix(version: tuple[int, str]) -> tuple[int, str]:
            return (version[0], new) if version[1] == old and version[0] in moved else version

        self.prices = {sku: (fix(v), price) for sku, (v, price) in self.prices.items()}
        self.customer_writes = {
            cid: [(fix(v), op, phone) for v, op, phone in writes]
            for cid, writes in self.customer_writes.items()
        }

    # ------------------------------------------------------------------ the end

    def teardown_checks(self) -> None:
        for k in sorted(self.restored):
            peers = [p for p in range(len(self.nodes)) if p != k and p not in self.restored]
            assert any(self._reidentify(k, p) for p in peers), (
                f"no terminal can tell that node {k} was restored from a backup"
            )
        super().teardown_checks()
        if os.environ.get("VAULTSYNC_SM_TRACE"):
            print("restores:", self.restores, "re-identified:", self.reidentified, self.faulty.stats)


ReplicationWithRestores.TestCase.settings = machine_settings(EXAMPLES, 40)
test_replication_converges_with_restored_terminals = ReplicationWithRestores.TestCase
