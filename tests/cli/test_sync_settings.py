"""The sync options of ``serve``: environment values are validated before anything starts."""

from __future__ import annotations

import argparse
import re

import pytest

from vaultsync.cli_sync import sync_settings
from vaultsync.domain.errors import ValidationError


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULTSYNC_PEERS", "10.0.0.2:8470, 10.0.0.3:8470")
    monkeypatch.setenv("VAULTSYNC_COMPACT_INTERVAL", "0")
    s = sync_settings(argparse.Namespace())
    assert s["static_peers"] == ["10.0.0.2:8470", "10.0.0.3:8470"]
    assert s["compact_interval"] == 0
    assert s["interval"] == 5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VAULTSYNC_SYNC_PORT", "eighty", "is not a number"),
        ("VAULTSYNC_SYNC_INTERVAL", "soon", "is not a number"),
        ("VAULTSYNC_COMPACT_INTERVAL", "hourly", "is not a number"),
        ("VAULTSYNC_COMPACT_INTERVAL", "5", "0 (off) or 60 s"),
        ("VAULTSYNC_PEERS", "till-2", "host:port"),
    ],
)
def test_bad_environment_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=re.escape(message)):
        sync_settings(argparse.Namespace())
