"""The station launcher files are configuration people deploy: keep them valid."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from vaultsync.config import Config

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.mark.parametrize("role", ["cashier", "kiosk", "manager"])
def test_station_env_files_resolve_to_a_valid_config(role: str) -> None:
    env = read_env(KIOSK / "stations" / f"{role}.env")
    config = Config.resolve(
        data_dir=env["VAULTSYNC_DATA_DIR"],
        station_role=env["VAULTSYNC_STATION_ROLE"],
        host=env["VAULTSYNC_HOST"],
        port=int(env["VAULTSYNC_PORT"]),
        db="sqlite:////nonexistent/x.db",
    )
    assert config.station_role.value == role
    assert env["VAULTSYNC_KIOSK_URL"].startswith(f"http://127.0.0.1:{config.port}/")


def test_chromium_policy_is_valid_json_and_locks_the_browser_down() -> None:
    policy = json.loads((KIOSK / "chromium" / "vaultsync-policy.json").read_text())
    assert policy["URLBlocklist"] == ["*"]
    assert policy["DeveloperToolsAvailability"] == 2
    assert all(u.startswith(("http://127.0.0.1", "http://localhost")) for u in policy["URLAllowlist"])


def test_launcher_is_valid_bash_and_rejects_unknown_roles() -> None:
    bash = shutil.which("bash")
    assert bash
    script = KIOSK / "launch-station.sh"
    assert subprocess.run([bash, "-n", str(script)], capture_output=True).returncode == 0
    proc = subprocess.run([bash, str(script), "pilot"], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_systemd_units_name_real_commands() -> None:
    for unit in (KIOSK / "systemd").glob("*.service"):
        text = unit.read_text()
        assert "[Service]" in text and "ExecStart=" in text and "[Install]" in text
    assert "vaultsync serve" in (KIOSK / "systemd" / "vaultsync.service").read_text()
