"""``vaultsync shop init / pair / join / sync …`` in process: output, exit codes, clear errors."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import pytest

from tests.sync.net_helpers import free_port
from vaultsync.cli import EXIT_USAGE, main
from vaultsync.store import open_store
from vaultsync.store.models import Node
from vaultsync.sync import pairing, pki
from vaultsync.sync.node import SyncNode


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_shop_init_pair_and_status(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = str(tmp_path / "first")
    code, out, err = run(monkeypatch, capsys, "shop", "init", "--data-dir", data, "--name", "Card Castle")
    assert code == 0, err
    assert "shop 'Card Castle' created" in out
    assert pki.has_identity(Path(data))
    code, out, err = run(monkeypatch, capsys, "shop", "init", "--data-dir", data)
    assert code == EXIT_USAGE and "already belongs to a shop" in err

    code, out, err = run(monkeypatch, capsys, "pair", "--data-dir", data, "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert pairing.normalize_code(issued["code"]) and issued["join"].endswith(":8471")

    code, out, err = run(monkeypatch, capsys, "sync", "status", "--data-dir", data)
    assert code == 0, err
    assert "paired" in out and "no peers seen yet" in out and "terminals: 1 paired, 0 revoked" in out
    code, out, _ = run(monkeypatch, capsys, "sync", "status", "--data-dir", data, "--json")
    status = json.loads(out)
    assert status["paired"] and status["can_pair"] and not status["running"]


def test_unpaired_terminals_are_told_what_to_do(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = str(tmp_path / "lonely")
    code, _, err = run(monkeypatch, capsys, "pair", "--data-dir", data)
    assert code == EXIT_USAGE and "shop init" in err
    code, out, _ = run(monkeypatch, capsys, "sync", "status", "--data-dir", data)
    assert code == 0 and "NOT PAIRED" in out
    code, _, err = run(monkeypatch, capsys, "join", "127.0.0.1:9", "not-a-code", "--data-dir", data)
    assert code == EXIT_USAGE and "pairing code is 8 characters" in err
    code, _, err = run(monkeypatch, capsys, "join", "nohost", "ABCD-EFGH", "--data-dir", data)
    assert code == EXIT_USAGE and "host:port" in err
    port = free_port()  # nothing listens there
    code, _, err = run(monkeypatch, capsys, "join", f"127.0.0.1:{port}", "ABCD-EFGH", "--data-dir", data)
    assert code == EXIT_USAGE and "not connected" in err
    assert not pki.has_identity(Path(data))


def test_join_pairs_and_copies_the_shop_then_revoke(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    store = open_store(f"sqlite:///{first_dir / 'vaultsync.db'}")
    ident = pairing.init_shop(store, first_dir, name="Card Castle")
    node = SyncNode(store, ident, host="127.0.0.1", port=free_port(), zeroconf=False, pairing_port=None)
    node.start()
    try:
        assert node.pairing_port == node.port + 1
        issued = pairing.create_code(store)
        data = str(tmp_path / "second")
        code, out, err = run(
            monkeypatch, capsys, "join", f"127.0.0.1:{node.pairing_port}", issued.code, "--data-dir", data,
            "--name", "Register 2",
        )  # fmt: skip
        assert code == 0, err
        assert "joined shop Card Castle" in out and "copied from" in out and " rows, then " in out
        second = open_store(f"sqlite:///{Path(data) / 'vaultsync.db'}")
        try:
            assert second.shop_id == store.shop_id
            with second.read() as s:  # the shop's data came along: the first terminal's nodes row
                assert s.get(Node, store.node_id) is not None
            new_node = second.node_id
        finally:
            second.close()
        code, out, err = run(
            monkeypatch, capsys, "sync", "now", "--data-dir", data, "--peer", f"127.0.0.1:{node.port}"
        )
        assert code == 0, err
        code, out, err = run(
            monkeypatch,
            capsys,
            "sync",
            "verify",
            "--data-dir",
            data,
            "--peer",
            f"127.0.0.1:{node.port}",
            "--json",
        )
        assert code == 0, err
        assert json.loads(out)[0]["identical"] is True
        code, out, err = run(monkeypatch, capsys, "sync", "revoke", new_node, "--data-dir", str(first_dir))
        assert code == 0, err
        assert "revoked terminal Register 2" in out
        code, out, err = run(monkeypatch, capsys, "sync", "revoke", new_node, "--data-dir", str(first_dir))
        assert code == EXIT_USAGE and "already revoked" in err
        # the revoked terminal can no longer pull anything (the serving node re-reads the revoked
        # set at most once a second: a revocation made by another process takes up to that long)
        deadline = time.monotonic() + 5
        while new_node not in node.trust.revoked() and time.monotonic() < deadline:
            time.sleep(0.1)
        code, out, err = run(
            monkeypatch,
            capsys,
            "sync",
            "now",
            "--data-dir",
            data,
            "--peer",
            f"127.0.0.1:{node.port}",
            "--json",
        )
        assert code == 1
        assert "error" in json.loads(out)[0]
    finally:
        node.stop()
        store.close()
