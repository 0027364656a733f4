"""The ``vaultsync`` command, in process (fast) and as the installed console script."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from vaultsync.cli import EXIT_PROBLEMS, EXIT_USAGE, main


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def data(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def test_migrate_creates_the_database(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(monkeypatch, capsys, "migrate", "--data-dir", data)
    assert code == 0, err
    from vaultsync.store import migrate

    assert f"at schema {migrate.head_revision()}" in out
    assert (Path(data) / "vaultsync.db").exists()


def test_doctor_json_reports_everything(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    run(monkeypatch, capsys, "migrate", "--data-dir", data)
    code, out, _ = run(monkeypatch, capsys, "doctor", "--json", "--data-dir", data)
    report = json.loads(out)
    for key in ("version", "database_url", "schema_revision", "node_id", "native", "problems"):
        assert key in report
    assert report["schema_revision"] == report["schema_head"]
    assert len(report["node_id"]) == 16
    assert report["native"] in ("compiled", "pure", "mixed")
    if os.environ.get("VAULTSYNC_REQUIRE_NATIVE") == "1":  # CI: a normal install compiles the core
        assert report["native"] == "compiled"
        assert set(report["native_kernels"].values()) == {"compiled"}
    assert code == (0 if report["ok"] else EXIT_PROBLEMS)
    # replication too: this terminal was never paired, which is a setup, not a problem
    assert report["sync"]["paired"] is False and report["sync"]["peers_known"] == 0
    assert not any(p.startswith("sync") for p in report["problems"])
    code, out, _ = run(monkeypatch, capsys, "doctor", "--data-dir", data)
    assert "not paired (selling on its own); peers online 0/0" in out


def test_doctor_reports_a_missing_database_without_creating_it(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(monkeypatch, capsys, "doctor", "--json", "--data-dir", data)
    assert code == EXIT_PROBLEMS
    assert "no database" in json.loads(out)["problems"][0]
    assert not Path(data).exists()


def test_doctor_reports_a_newer_schema(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    run(monkeypatch, capsys, "migrate", "--data-dir", data)
    db = Path(data) / "vaultsync.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999_future'")
    code, out, _ = run(monkeypatch, capsys, "doctor", "--data-dir", data)
    assert code == EXIT_PROBLEMS
    assert "newer than this VaultSync" in out


def test_users_add_list_passwd(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(
        monkeypatch,
        capsys,
        "user",
        "add",
        "boss",
        "--role",
        "admin",
        "--name",
        "The Boss",
        "--password",
        "--pin",
        "--stdin",
        "--data-dir",
        data,
        stdin="correct horse\n4321\n",
    )
    assert code == 0, err
    assert "added admin 'boss'" in out
    code, out, _ = run(
        monkeypatch,
        capsys,
        "user",
        "add",
        "sam",
        "--role",
        "cashier",
        "--stdin",
        "--data-dir",
        data,
        stdin="1234\n",
    )
    assert code == 0
    code, out, _ = run(monkeypatch, capsys, "user", "list", "--json", "--data-dir", data)
    users = {u["username"]: u for u in json.loads(out)}
    assert users["boss"]["role"] == "admin" and users["boss"]["password"] and users["boss"]["pin"]
    assert users["sam"]["pin"] and not users["sam"]["password"]
    code, out, _ = run(monkeypatch, capsys, "user", "list", "--data-dir", data)
    assert "boss" in out and "password+PIN" in out
    code, out, _ = run(
        monkeypatch, capsys, "user", "passwd", "boss", "--stdin", "--data-dir", data, stdin="battery staple\n"
    )
    assert code == 0 and "password changed" in out

    from vaultsync.services.auth import AuthService
    from vaultsync.store import open_store

    store = open_store(f"sqlite:///{data}/vaultsync.db")
    assert AuthService(store).login_password("boss", "battery staple").username == "boss"
    store.close()


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["user", "add", "x y", "--role", "cashier", "--stdin"], "1234\n", "username"),
        (["user", "add", "amy", "--role", "cashier", "--stdin"], "12\n", "4 to 8 digits"),
        (["user", "add", "amy", "--role", "manager", "--stdin"], "", "expected a password"),
        (["user", "passwd", "ghost", "--stdin"], "whatever12\n", "no user 'ghost'"),
    ],
)
def test_bad_user_commands(monkeypatch, capsys, data: str, args, stdin, message) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(monkeypatch, capsys, *args, "--data-dir", data, stdin=stdin)
    assert code == EXIT_USAGE
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_user_add_without_a_terminal_needs_stdin(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(monkeypatch, capsys, "user", "add", "amy", "--role", "cashier", "--data-dir", data)
    assert code == EXIT_USAGE and "--stdin" in err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["serve", "--port", "eighty"],
        ["serve", "--role", "pilot"],
        ["user"],
        ["user", "add", "amy"],
    ],
)
def test_bad_arguments_exit_2(monkeypatch, capsys, args) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == EXIT_USAGE
    assert "vaultsync: error:" in err


def test_port_out_of_range(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(monkeypatch, capsys, "serve", "--port", "70000", "--data-dir", data)
    assert code == EXIT_USAGE and "out of range" in err


@pytest.mark.parametrize(
    "db, message",
    [("mysql://x@y/z", "unsupported database"), ("garbage", "not a database URL")],
)
def test_wrong_db_url(monkeypatch, capsys, data: str, db: str, message: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(monkeypatch, capsys, "migrate", "--db", db, "--data-dir", data)
    assert code == EXIT_USAGE and message in err and "Traceback" not in err


def test_corrupt_database_is_not_overwritten(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    Path(data).mkdir()
    db = Path(data) / "vaultsync.db"
    db.write_bytes(b"not sqlite at all" * 64)
    code, _, err = run(monkeypatch, capsys, "migrate", "--data-dir", data)
    assert code == EXIT_USAGE and "not a VaultSync database" in err
    assert db.read_bytes() == b"not sqlite at all" * 64


def test_data_dir_that_is_a_file(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(monkeypatch, capsys, "migrate", "--data-dir", str(f))
    assert code == EXIT_USAGE and "not a directory" in err


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = shutil.which("vaultsync", path=str(Path(sys.executable).parent))
    assert exe, "the vaultsync console script is not installed next to this Python"
    proc = subprocess.run(
        [exe, "doctor", "--json", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_PROBLEMS  # no database there yet
    assert json.loads(proc.stdout)["problems"]
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("vaultsync ")


def test_station_set_printer_and_drawer(monkeypatch, capsys, data: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(
        monkeypatch,
        capsys,
        "station",
        "set",
        "--printer",
        "network://127.0.0.1:9100",
        "--no-drawer",
        "--name",
        "Front Register",
        "--data-dir",
        data,
    )
    assert code == 0, err
    assert "Front Register: printer network://127.0.0.1:9100, drawer no" in out
    code, out, _ = run(monkeypatch, capsys, "station", "list", "--data-dir", data)
    assert "Front Register" in out and "(this terminal)" in out
    code, _, err = run(monkeypatch, capsys, "station", "set", "--printer", "lpt1", "--data-dir", data)
    assert code == EXIT_USAGE and "not understood" in err
