"""``vaultsync sync reidentify`` in process against a real serving terminal: refusal, resume, success."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.services.pos_fixtures import build_pos
from tests.sync.net_helpers import free_port
from tests.sync.test_apply import second_register, sell
from tests.sync.test_pairing_cli import run
from tests.sync.test_reidentify import backup, register_on, requests_held, restore
from tests.sync.test_transport_node import wait_for
from vaultsync.cli import EXIT_USAGE
from vaultsync.store import open_store
from vaultsync.store.models import SyncAlert
from vaultsync.sync import pairing, pki, reidentify
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.node import SyncNode


def test_reidentify_command_resumes_after_a_wrong_code_and_recovers_lost_sales(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    store = open_store(f"sqlite:///{first_dir / 'vaultsync.db'}")
    node = SyncNode(
        store, pairing.init_shop(store, first_dir, name="Card Castle"), host="127.0.0.1", port=free_port(),
        zeroconf=False, interval=0.3,
    )  # fmt: skip
    node.start()
    till = None
    try:
        pos = build_pos(store)
        data = tmp_path / "second"
        code, _, err = run(
            monkeypatch, capsys, "join", f"127.0.0.1:{node.pairing_port}", pairing.create_code(store).code,
            "--data-dir", str(data), "--name", "Register 2",
        )  # fmt: skip
        assert code == 0, err
        second = open_store(f"sqlite:///{data / 'vaultsync.db'}")
        old_id = second.node_id
        register, station = second_register(pos, second, "T2")
        till = SyncNode(
            second, pki.load_identity(data, node_id=old_id), host="127.0.0.1", port=free_port(),
            static_peers=[f"127.0.0.1:{node.port}"], zeroconf=False, interval=0.3,
        )  # fmt: skip
        till.start()

        def first_has_all() -> bool:
            return vector_clock(store).get(old_id, 0) >= vector_clock(second)[old_id]

        sell(register, pos, station, pos.bulk_id, "before-1")
        assert wait_for(first_has_all)
        backup(second, tmp_path / "backup.db")
        sell(register, pos, station, pos.bulk_id, "lost-1")
        sell(register, pos, station, pos.bulk_id, "lost-2")
        assert wait_for(first_has_all)
        till.stop()
        till = None
        second.close()
        second = restore(data / "vaultsync.db", tmp_path / "backup.db")
        sell(register_on(second), pos, station, pos.bulk_id, "after-1")
        second.close()

        peer = f"127.0.0.1:{node.port}"
        code, out, err = run(
            monkeypatch, capsys, "sync", "now", "--data-dir", str(data), "--peer", peer, "--json"
        )
        assert code == 1 and "restored from an older backup" in json.loads(out)[0]["error"]

        # a mistyped code: the identity is already switched, the certificate not there yet
        code, _, err = run(
            monkeypatch, capsys, "sync", "reidentify", peer, "ABCD-EFGH", "--data-dir", str(data)
        )
        assert code != 0 and "pairing code" in err
        pending = reidentify.pending(data)
        assert pending is not None and pending.old_node == old_id
        assert not pki.has_identity(data)

        code, out, err = run(
            monkeypatch, capsys, "sync", "reidentify", peer, pairing.create_code(store).code,
            "--data-dir", str(data),
        )  # fmt: skip
        assert code == 0, err
        assert f"terminal {old_id} is now terminal {pending.new_node}" in out
        assert "changes recovered" in out
        assert reidentify.pending(data) is None

        second = open_store(f"sqlite:///{data / 'vaultsync.db'}")
        try:
            assert second.node_id == pending.new_node
            held = requests_held(second)
            assert all(held[r] == 1 for r in ("before-1", "lost-1", "lost-2", "after-1")), held
            with second.read() as s:
                assert s.get(SyncAlert, reidentify.REIDENTIFIED) is None  # ids are hashes, not kinds
                assert [a.subject_id for a in s.query(SyncAlert).filter_by(kind="reidentified")] == [old_id]
        finally:
            second.close()

        code, _, err = run(
            monkeypatch, capsys, "sync", "reidentify", peer, pairing.create_code(store).code,
            "--data-dir", str(data),
        )  # fmt: skip
        assert code == EXIT_USAGE and "nothing to re-identify" in err
    finally:
        if till is not None:
            till.stop()
        node.stop()
        store.close()
