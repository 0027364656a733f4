"""A terminal restored from an older backup: detected, refused, re-identified, nothing lost.

The backup is a real copy of the terminal's SQLite file (SQLite's online backup API) taken
after the terminal made sales and pushed them; it is put back over the database file, as an
operator restoring a backup would. In process (direct links) for the engine's parts; over
real mutual-TLS sockets with SyncNodes, pairing and a manager's code for the whole recovery.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.services.pos_fixtures import Pos, build_pos
from tests.sync.links import direct
from tests.sync.test_apply import on_hand, second_register, sell, snapshot
from tests.sync.test_transport_node import Mesh, wait_for
from vaultsync.domain.errors import ConflictError
from vaultsync.services.auth import AuthService
from vaultsync.services.checkout import CheckoutService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store, open_store
from vaultsync.store.models import Change, Node, NodeState, SyncAlert, Transaction
from vaultsync.sync import alerts as alerts_mod
from vaultsync.sync import pairing, pki, reidentify
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.compaction import compact
from vaultsync.sync.node import SyncNode
from vaultsync.sync.protocol import ProtocolError, handle, hello_payload, pull, reconcile


def db_path(store: Store) -> Path:
    assert store.engine.url.database
    return Path(store.engine.url.database)


def backup(store: Store, dest: Path) -> None:
    """An online backup of a live terminal's database file (what the backup schedule does)."""
    src = sqlite3.connect(db_path(store))
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def restore(path: Path, copy: Path) -> Store:
    """Put the backup back over a (closed) terminal's database file and open it."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(copy.read_bytes())
    return open_store(f"sqlite:///{path}")


def register_on(store: Store) -> CheckoutService:
    return CheckoutService(store, AuthService(store), ShopService(store))


def requests_held(store: Store) -> Counter[str]:
    """client request id -> how many completed transactions carry it."""
    with store.read() as s:
        ids = s.scalars(select(Transaction.client_request_id)).all()
    return Counter(i for i in ids if i)


def last_seq(store: Store) -> int:
    with store.read() as s:
        state = s.get(NodeState, 1)
        assert state is not None
        return state.last_seq


def settle(*stores: Store) -> None:
    for _ in range(6):
        moved = 0
        for x in stores:
            for y in stores:
                if x is not y:
                    moved += pull(x, direct(x, y)).applied
        if not moved:
            return
    raise AssertionError("did not settle")


class Restored:
    """Terminals a (first) and b; b makes sales, is backed up, sells more, is restored."""

    def __init__(self, tmp: Path, *, after_restore: int, third: bool = False) -> None:
        self.a = open_store(f"sqlite:///{tmp / 'a.db'}")
        self.b = open_store(f"sqlite:///{tmp / 'b.db'}")
        pairing.adopt_shop(self.b, self.a.shop_id)
        self.pos: Pos = build_pos(self.a)
        pull(self.b, direct(self.b, self.a))
        register, self.station = second_register(self.pos, self.b, "T2")
        pull(self.a, direct(self.a, self.b))
        self.initial = on_hand(self.a, self.pos.bulk_id)
        self.sold: list[str] = []
        for i in range(2):
            self._sell(register, f"before-{i}")
        pull(self.a, direct(self.a, self.b))
        self.old_id = self.b.node_id
        self.backup_seq = last_seq(self.b)
        backup(self.b, tmp / "b.backup.db")
        if third:  # c: a terminal that is up to date as of the backup, then goes quiet
            self.c = open_store(f"sqlite:///{tmp / 'c.db'}")
            pairing.adopt_shop(self.c, self.a.shop_id)
            pull(self.c, direct(self.c, self.a))
        for i in range(3):
            self._sell(register, f"lost-{i}")
        pull(self.a, direct(self.a, self.b))  # the peer holds them; then the disk dies
        self.peer_seq = vector_clock(self.a)[self.old_id]
        self.b.close()
        self.b = restore(tmp / "b.db", tmp / "b.backup.db")
        assert self.b.node_id == self.old_id and last_seq(self.b) == self.backup_seq
        register = register_on(self.b)
        for i in range(after_restore):  # the cashier sells before the till reaches a peer
            self._sell(register, f"after-{i}")

    def _sell(self, register: CheckoutService, request: str) -> None:
        sell(register, self.pos, self.station, self.pos.bulk_id, request)
        self.sold.append(request)

    def hello_from_a(self) -> dict[str, object]:
        """What a says to b's hello (with the tip of b's origin it adds)."""
        return handle(self.a, "hello", hello_payload(self.b), peer_node=self.b.node_id)

    def close(self) -> None:
        self.a.close()
        self.b.close()
        if hasattr(self, "c"):
            self.c.close()


@pytest.mark.parametrize("after_restore", [0, 1, 6])
def test_a_restored_terminal_is_detected_renumbered_and_loses_nothing(
    tmp_path: Path, after_restore: int
) -> None:
    r = Restored(tmp_path, after_restore=after_restore)
    try:
        local = last_seq(r.b)
        conflict = reidentify.detect(r.b, r.hello_from_a())
        assert conflict is not None and conflict.node_id == r.old_id
        if local < r.peer_seq:
            assert conflict.forked_at is None and conflict.peer_seq == r.peer_seq
        else:  # sold more since the restore than it lost: only the tip shows it
            assert conflict.forked_at == r.peer_seq
        assert "restored from an older backup" in conflict.reason
        # the peer already refuses to serve a terminal that forgot its own changes
        if local < r.peer_seq:
            with pytest.raises(ProtocolError, match="forgotten changes"):
                handle(r.a, "changes", {"clock": vector_clock(r.b)}, peer_node=r.old_id)

        fork = reidentify.fork_point(r.b, direct(r.b, r.a), upto=min(local, r.peer_seq))
        assert fork == r.backup_seq
        done = reidentify.retire_identity(r.b, fork)
        assert done.old_node == r.old_id and r.b.node_id == done.new_node != r.old_id
        assert done.rehomed == local - r.backup_seq and last_seq(r.b) == done.rehomed
        with r.b.read() as s:  # nothing after the fork is left under the old id
            assert not s.scalars(
                select(Change.seq).where(Change.origin_node == r.old_id, Change.seq > fork)
            ).all()
        assert reidentify.detect(r.b, r.hello_from_a()) is None

        settle(r.a, r.b)
        assert snapshot(r.a) == snapshot(r.b)
        for store in (r.a, r.b):
            held = requests_held(store)
            assert all(held[req] == 1 for req in r.sold), held
            assert on_hand(store, r.pos.bulk_id) == r.initial - len(r.sold)
        clock = vector_clock(r.a)
        assert clock[r.old_id] == r.peer_seq and clock.get(done.new_node, 0) == done.rehomed

        # the manager is told, on every terminal
        reidentify.record_reidentified(r.b, done, reason=conflict.reason)
        settle(r.a, r.b)
        with r.a.read() as s:
            alerts = s.scalars(select(SyncAlert).where(SyncAlert.kind == reidentify.REIDENTIFIED)).all()
        assert len(alerts) == 1 and alerts[0].subject_id == r.old_id
        assert alerts[0].details["rehomed"] == done.rehomed
        listed = alerts_mod.list_alerts(r.a, kind=reidentify.REIDENTIFIED)  # the manager's filter knows it
        assert [a.subject_id for a in listed] == [r.old_id]
    finally:
        r.close()


@pytest.mark.parametrize("after_restore", [1, 6])
def test_a_fork_in_a_region_the_peer_compacted_is_found_by_the_tip(
    tmp_path: Path, after_restore: int
) -> None:
    """A till restored from an old backup whose peers have since compacted its changes: the
    digests cannot see the fork (the peer's entries are gone), the peer's tip bounds it."""
    r = Restored(tmp_path, after_restore=after_restore)
    try:
        # every terminal had acknowledged the lost till's changes before its disk died
        acked = {r.old_id: dict(vector_clock(r.a))}
        assert compact(r.a, acked).floors.get(r.old_id) == r.peer_seq - 1  # all but the tip
        conflict = reidentify.detect(r.b, r.hello_from_a())
        assert conflict is not None and conflict.peer_tip_hlc is not None
        local = last_seq(r.b)
        upto = min(local, r.peer_seq)
        # without the tip the compacted region looks like agreement, past the real fork
        assert reidentify.fork_point(r.b, direct(r.b, r.a), upto=upto) > r.backup_seq
        fork = reidentify.fork_point(r.b, direct(r.b, r.a), upto=upto, tip_hlc=conflict.peer_tip_hlc)
        assert fork == r.backup_seq
        done = reidentify.retire_identity(r.b, fork)
        assert done.rehomed == local - r.backup_seq

        for _ in range(3):  # anti-entropy; the peer's floor sends b to reconcile for the rest
            for x, y in ((r.a, r.b), (r.b, r.a)):
                if pull(x, direct(x, y)).needs_reconcile:
                    reconcile(x, direct(x, y))
        assert snapshot(r.a) == snapshot(r.b)
        for store in (r.a, r.b):
            held = requests_held(store)
            assert all(held[req] == 1 for req in r.sold), held
            assert on_hand(store, r.pos.bulk_id) == r.initial - len(r.sold)
    finally:
        r.close()


@pytest.mark.parametrize(("after_restore", "relayed"), [(2, False), (6, False), (2, True), (6, True)])
def test_a_third_terminal_that_took_the_restored_tills_new_sales_under_the_old_id_repairs_itself(
    tmp_path: Path, after_restore: int, relayed: bool
) -> None:
    """c was up to date as of the backup and missed the sales the restore lost; it then pulls
    from the restored till before anyone noticed (nothing looks wrong from c's side: c holds
    no more of b's origin than b does), so it takes b's new sales under the old, reused seqs.
    Once b is re-identified, c must drop that copy and fetch the lost sales from a: otherwise
    c and a hold different changes under the same numbers and never exchange them.

    ``relayed``: before b reaches a, a pulls from c. Where b's new branch runs past the end
    of the numbers a holds, c would relay its tail to a under the old id, and then neither
    a's clock nor its tip would show b's hello anything wrong; a must see the fork and refuse.
    """
    r = Restored(tmp_path, after_restore=after_restore, third=True)
    try:
        assert reidentify.detect(r.b, handle(r.c, "hello", hello_payload(r.b), peer_node=r.b.node_id)) is None
        got = pull(r.c, direct(r.c, r.b))
        assert got.applied > 0  # the forked branch, under the old id
        branch_end = vector_clock(r.c)[r.old_id]
        if relayed:
            pull(r.a, direct(r.a, r.c))
            assert vector_clock(r.a)[r.old_id] == r.peer_seq  # nothing of the branch taken
            with r.a.read() as s:
                forks = s.scalars(select(SyncAlert).where(SyncAlert.kind == alerts_mod.FORKED_ORIGIN)).all()
            if branch_end > r.peer_seq:  # c had more of the old origin than a: it was offered, and refused
                assert [(f.subject_id, f.severity) for f in forks] == [(r.old_id, alerts_mod.CRITICAL)]
                assert forks[0].details["seq"] == r.peer_seq
            else:
                assert not forks
        conflict = reidentify.detect(r.b, r.hello_from_a())
        assert conflict is not None
        fork = reidentify.fork_point(
            r.b, direct(r.b, r.a), upto=min(last_seq(r.b), conflict.peer_seq), tip_hlc=conflict.peer_tip_hlc
        )
        assert fork == r.backup_seq
        done = reidentify.retire_identity(r.b, fork)
        reidentify.record_reidentified(r.b, done, reason=conflict.reason)

        settle(r.a, r.b, r.c)
        assert snapshot(r.a) == snapshot(r.b) == snapshot(r.c)
        for store in (r.a, r.b, r.c):
            held = requests_held(store)
            assert all(held[req] == 1 for req in r.sold), (store.node_id, held)
            assert on_hand(store, r.pos.bulk_id) == r.initial - len(r.sold)
            with store.read() as s:  # one copy of each change: the new sales only under the new id
                logged = s.execute(
                    select(Change.origin_node, Change.seq, Change.hlc).where(
                        Change.origin_node.in_([r.old_id, done.new_node])
                    )
                ).all()
            assert len({hlc for _, _, hlc in logged}) == len(logged)
            assert vector_clock(store)[r.old_id] == r.peer_seq
            assert vector_clock(store)[done.new_node] >= done.rehomed
    finally:
        r.close()


def test_a_sound_terminal_is_not_flagged(tmp_path: Path) -> None:
    a = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    b = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        pairing.adopt_shop(b, a.shop_id)
        pos = build_pos(a)
        pull(b, direct(b, a))
        register, station = second_register(pos, b, "T2")
        reply = handle(a, "hello", hello_payload(b), peer_node=b.node_id)
        sell(register, pos, station, pos.bulk_id, "x-1")  # written after a answered
        settle(a, b)
        assert reidentify.detect(b, reply) is None
        assert reidentify.detect(b, handle(a, "hello", hello_payload(b), peer_node=b.node_id)) is None
        assert reidentify.detect(a, handle(b, "hello", hello_payload(a), peer_node=a.node_id)) is None
        assert reidentify.fork_point(b, direct(b, a)) == last_seq(b)
    finally:
        a.close()
        b.close()


def test_the_fork_point_search_takes_few_bounded_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probes are spread over the interval: a few requests of at most MAX_PROBES seqs each."""
    monkeypatch.setattr(reidentify, "MAX_PROBES", 4)
    r = Restored(tmp_path, after_restore=2)
    try:
        sizes: list[int] = []
        inner = direct(r.b, r.a)

        def counting(kind: str, payload: dict[str, object]) -> dict[str, object]:
            seqs = payload["seqs"]
            assert isinstance(seqs, list)
            sizes.append(len(seqs))
            return inner(kind, payload)

        assert reidentify.fork_point(r.b, counting, upto=min(last_seq(r.b), r.peer_seq)) == r.backup_seq
        assert sizes and max(sizes) <= 4
        assert len(sizes) <= 8, sizes
    finally:
        r.close()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"seqs": [1]}, "origin"),
        ({"origin": "ab12", "seqs": "1,2"}, "seqs"),
        ({"origin": "ab12", "seqs": [0]}, "positive"),
        ({"origin": "ab12", "seqs": [True]}, "positive"),
        ({"origin": "ab12", "seqs": list(range(1, 100))}, "at most"),
    ],
)
def test_bad_log_requests_are_refused(tmp_path: Path, payload: dict[str, object], reason: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(ProtocolError, match=reason):
            handle(store, reidentify.LOG_KIND, payload, peer_node="cd34")
    finally:
        store.close()


def test_a_malformed_tip_is_a_protocol_error(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        hello = {"node_id": "ab12", "clock": {}, "tip": ["x", 1]}
        with pytest.raises(ProtocolError, match="tip"):
            reidentify.detect(store, hello)
    finally:
        store.close()


def test_retiring_refuses_a_fork_point_outside_its_changes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(ConflictError, match="outside"):
            reidentify.retire_identity(store, last_seq(store) + 1)
    finally:
        store.close()


# --------------------------------------------------------------------------- over real sockets


def test_restored_terminal_is_refused_reidentified_by_a_manager_code_and_converges(tmp_path: Path) -> None:
    mesh = Mesh(tmp_path)
    try:
        a = mesh.terminal("a", [])
        b = mesh.terminal("b", [mesh.ports[0]])
        c = mesh.terminal("c", [mesh.ports[0], mesh.ports[1]])
        pos = build_pos(a.store)
        # b is used next (its register references a's users): wait for it too, not only c
        assert wait_for(
            lambda: all(vector_clock(t.store).get(a.store.node_id) == last_seq(a.store) for t in (b, c))
        )
        register, station = second_register(pos, b.store, "T2")
        initial = on_hand(a.store, pos.bulk_id)
        sold: list[str] = []

        def sell_on(reg: CheckoutService, request: str) -> None:
            sell(reg, pos, station, pos.bulk_id, request)
            sold.append(request)

        def everyone_has(store: Store) -> bool:
            seq = last_seq(store)
            return all(
                vector_clock(n.store).get(store.node_id, 0) >= seq for n in mesh.nodes if n.store is not store
            )

        for i in range(2):
            sell_on(register, f"before-{i}")
        assert wait_for(lambda: everyone_has(b.store))
        old_id = b.store.node_id
        backup(b.store, tmp_path / "b.backup.db")
        for i in range(3):
            sell_on(register, f"lost-{i}")
        assert wait_for(lambda: everyone_has(b.store))
        peer_seq = vector_clock(a.store)[old_id]

        # the till's disk is replaced and last night's backup restored; it sells before syncing
        b.stop()
        b.store.close()
        b_dir = tmp_path / "b"
        store = restore(b_dir / "vaultsync.db", tmp_path / "b.backup.db")
        mesh.stores.append(store)
        register = register_on(store)
        for i in range(6):
            sell_on(register, f"after-{i}")
        assert last_seq(store) > peer_seq  # numbers the peers already hold, with other sales

        def till(identity: pki.Identity) -> SyncNode:
            """The till's node on its old port, dialling the two others."""
            node = SyncNode(
                store,
                identity,
                host="127.0.0.1",
                port=mesh.ports[1],
                static_peers=[f"127.0.0.1:{mesh.ports[0]}", f"127.0.0.1:{mesh.ports[2]}"],
                zeroconf=False,
                interval=0.3,
            )
            mesh.nodes[1] = node
            node.start()
            return node

        restored = till(pki.load_identity(b_dir, node_id=old_id))
        assert wait_for(lambda: restored.identity_conflict is not None, timeout=15)
        assert "re-identify" in (restored.status()["identity_conflict"] or "")
        restored.sync_now()
        for peer in (a, c):  # refused: nothing of the restored till's new sales reached anyone
            assert vector_clock(peer.store)[old_id] == peer_seq
            assert not any(r.startswith("after-") for r in requests_held(peer.store))
        restored.stop()

        # a manager shows a pairing code on the first terminal; the till takes a new identity
        code = pairing.create_code(a.store)
        assert a.pairing_port is not None
        result = reidentify.reidentify(
            store, b_dir, ("127.0.0.1", mesh.ports[0]), code.code, pairing_port=a.pairing_port
        )
        assert result.old_node == old_id and result.new_node == store.node_id != old_id
        assert result.identity.node_id == result.new_node
        assert (pki.sync_dir(b_dir) / "retired" / old_id / "node.pem").is_file()
        with pytest.raises(ConflictError):  # the code is spent / the identity is sound now
            reidentify.reidentify(store, b_dir, ("127.0.0.1", mesh.ports[0]), code.code)

        renewed = till(result.identity)
        stores = [a.store, store, c.store]

        def converged() -> bool:
            first = snapshot(stores[0])
            return all(snapshot(s) == first for s in stores[1:])

        assert wait_for(converged, timeout=60)
        for s in stores:
            held = requests_held(s)
            assert all(held[req] == 1 for req in sold), held
            assert on_hand(s, pos.bulk_id) == initial - len(sold)
            clock = vector_clock(s)
            assert clock[old_id] == peer_seq and clock.get(result.new_node, 0) >= result.rehomed
            with s.read() as q:
                old_row = q.get(Node, old_id)
                assert old_row is not None and old_row.revoked_at is not None
                new_row = q.get(Node, result.new_node)
                assert new_row is not None and new_row.cert_fingerprint == result.identity.fingerprint
                assert new_row.name == "b"  # the name the manager knows the till by
                alerts = q.scalars(select(SyncAlert).where(SyncAlert.kind == reidentify.REIDENTIFIED)).all()
                assert [al.subject_id for al in alerts] == [old_id]
        assert renewed.identity_conflict is None
    finally:
        mesh.close()


def test_a_tip_the_peer_computed_for_another_terminal_is_not_taken_for_this_ones(tmp_path: Path) -> None:
    """A peer that still holds the certificate it last saw at an address (a till re-identified
    and restarted on the same port) sends the tip of that other terminal: ignored, not a fork."""
    r = Restored(tmp_path, after_restore=6)
    try:
        with r.b.read() as s:
            first = s.scalar(select(Change.hlc).where(Change.origin_node == r.b.node_id, Change.seq == 1))
        assert first is not None
        hello = dict(r.hello_from_a())
        hello["tip"] = [1, int(first) + 1]  # our number 1 with other content
        hello["clock"] = {}
        hello["tip_of"] = r.a.node_id
        assert reidentify.detect(r.b, hello) is None
        hello["tip_of"] = r.b.node_id
        conflict = reidentify.detect(r.b, hello)
        assert conflict is not None and conflict.forked_at == 1
        del hello["tip_of"]  # a peer from before tip_of: the tip is taken as ours, as it was
        assert reidentify.detect(r.b, hello) is not None
    finally:
        r.close()
