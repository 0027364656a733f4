"""``vaultsync serve`` and ``vaultsync demo`` as real processes on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

EXE = shutil.which("vaultsync", path=str(Path(sys.executable).parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextmanager
def running(
    args: list[str], port: int, *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``vaultsync ARGS`` until the block ends; its output goes to a file (a pipe nobody
    reads would block the server once it fills) and is shown if the server dies."""
    assert EXE, "vaultsync console script not installed"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below, after the server
    proc = subprocess.Popen(
        [EXE, *args, "--port", str(port), "--host", "127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        # a child of a test run must not look like one (NiceGUI would ignore --port)
        env={k: v for k, v in {**os.environ, **(env or {})}.items() if k != "PYTEST_CURRENT_TEST"},
        start_new_session=True,
    )

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")[-5000:]

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{output()}")
            try:
                if get(f"http://127.0.0.1:{port}/health", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"server did not answer /health within 90 s:\n{output()}")
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_serve_answers_health_and_pages(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    with running(["serve", "--data-dir", str(data)], port):
        status, body = get(f"http://127.0.0.1:{port}/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = get(f"http://127.0.0.1:{port}/health/detailed")
        detail = json.loads(body)
        assert status == 200 and detail["database_ok"] and detail["schema_revision"] == detail["schema_head"]
        status, body = get(f"http://127.0.0.1:{port}/login")
        assert status == 200 and "<html" in body.lower()
        status, body = get(f"http://127.0.0.1:{port}/openapi.json")
        assert status == 200 and "/api/v1/skus" in json.loads(body)["paths"]
        status, _ = get(f"http://127.0.0.1:{port}/api/v1/skus")
        assert status == 401
    assert (data / "vaultsync.db").exists()


def test_demo_creates_once_then_reuses(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    assert EXE
    proc = subprocess.run(
        [EXE, "demo", "--no-serve", "--skus", "400", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Demo logins:" in proc.stdout
    assert "admin" in proc.stdout and "cashier" in proc.stdout and "PIN 1234" in proc.stdout
    again = subprocess.run(
        [EXE, "demo", "--no-serve", "--data-dir", str(data)], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "existing demo shop" in again.stdout
    # --fresh regenerates a demo database...
    fresh = subprocess.run(
        [EXE, "demo", "--no-serve", "--fresh", "--skus", "300", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert "Creating a demo shop with 300 SKUs" in fresh.stdout


def test_demo_never_deletes_a_real_shop(tmp_path: Path) -> None:
    data = tmp_path / "shop"
    assert EXE
    subprocess.run([EXE, "migrate", "--data-dir", str(data)], check=True, capture_output=True, timeout=120)
    proc = subprocess.run(
        [EXE, "demo", "--no-serve", "--fresh", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "not a demo database" in proc.stderr
    assert (data / "vaultsync.db").exists()
