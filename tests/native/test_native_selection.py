"""vaultsync.native picks the compiled core or the pure references as the environment says.

The choice is made once at import, so each environment is tried in a fresh interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

REQUIRE_NATIVE = os.environ.get("VAULTSYNC_REQUIRE_NATIVE", "").strip().lower() in {"1", "true", "yes", "on"}

try:
    from vaultsync import native as _native
except ImportError as exc:  # VAULTSYNC_REQUIRE_NATIVE=1 with nothing built: every test here must fail
    _NATIVE: ModuleType | None = None
    _NATIVE_ERROR = str(exc)
else:
    _NATIVE = _native
    _NATIVE_ERROR = ""

COMPILED_BUILT = _NATIVE is not None and all(
    importlib.util.find_spec(f"vaultsync._compiled.{k}") is not None for k in _NATIVE.KERNELS
)

REPORT = """
import json, sys
{prelude}
import vaultsync.native as n
print(json.dumps({{
    "kernels": list(n.KERNELS),
    "status": n.status(),
    "mode": n.core_mode(),
    "modules": {{k: n.load(k).__name__ for k in n.KERNELS}},
    "attrs": {{k: getattr(n, k).__name__ for k in n.KERNELS}},
}}))
"""

# Makes every compiled module unimportable, as if the build had been skipped.
BLOCK_COMPILED = """
class _NoCompiled:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("vaultsync._compiled."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoCompiled())
"""


@pytest.fixture
def native() -> ModuleType:
    if _NATIVE is None:
        pytest.fail(f"vaultsync.native cannot be imported: {_NATIVE_ERROR}")
    return _NATIVE


def run(env: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSYNC_")}
    return subprocess.run(
        [sys.executable, "-c", REPORT.format(prelude=prelude)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def report(env: dict[str, str], prelude: str = "") -> dict[str, Any]:
    proc = run(env, prelude)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_pure_env_forces_pure() -> None:
    data = report({"VAULTSYNC_PURE": "1"})
    assert data["status"] == dict.fromkeys(data["kernels"], "pure")
    assert data["mode"] == "pure"
    assert data["modules"] == {k: f"vaultsync.pure.{k}" for k in data["kernels"]}
    assert data["attrs"] == data["modules"]


def test_require_native_reports_all_compiled() -> None:
    if not COMPILED_BUILT:
        if REQUIRE_NATIVE:
            pytest.fail("VAULTSYNC_REQUIRE_NATIVE=1 but the compiled kernels are not built")
        pytest.skip("compiled kernels not built")
    data = report({"VAULTSYNC_REQUIRE_NATIVE": "1"})
    assert data["status"] == dict.fromkeys(data["kernels"], "compiled")
    assert data["mode"] == "compiled"
    assert data["modules"] == {k: f"vaultsync._compiled.{k}" for k in data["kernels"]}
    assert data["attrs"] == data["modules"]


def test_require_native_without_the_build_fails_clearly() -> None:
    proc = run({"VAULTSYNC_REQUIRE_NATIVE": "1"}, prelude=BLOCK_COMPILED)
    assert proc.returncode != 0
    assert "NativeCoreError" in proc.stderr
    assert (
        "compiled module vaultsync._compiled.vclock not built: reinstall with a C compiler, "
        "or unset VAULTSYNC_REQUIRE_NATIVE"
    ) in proc.stderr


def test_missing_build_falls_back_to_pure() -> None:
    data = report({}, prelude=BLOCK_COMPILED)
    assert data["status"] == dict.fromkeys(data["kernels"], "pure")
    assert data["mode"] == "pure"


def test_default_uses_whatever_was_built() -> None:
    data = report({})
    expected = "compiled" if COMPILED_BUILT else "pure"
    assert data["status"] == dict.fromkeys(data["kernels"], expected)
    assert data["mode"] == expected


@pytest.mark.parametrize("value", ["0", "", "no", "false"])
def test_falsy_values_do_not_force_pure(value: str) -> None:
    data = report({"VAULTSYNC_PURE": value})
    assert data["mode"] == ("compiled" if COMPILED_BUILT else "pure")


def test_conflicting_env_is_an_error() -> None:
    proc = run({"VAULTSYNC_PURE": "1", "VAULTSYNC_REQUIRE_NATIVE": "1"})
    assert proc.returncode != 0
    assert "NativeCoreError" in proc.stderr
    assert "VAULTSYNC_PURE" in proc.stderr
    assert "VAULTSYNC_REQUIRE_NATIVE" in proc.stderr


# ---------------------------------------------------------------------------------------------
# in this process, whatever the environment chose


def test_status_and_core_mode_are_consistent(native: ModuleType) -> None:
    status = native.status()
    assert tuple(status) == native.KERNELS
    assert set(status.values()) <= {"compiled", "pure"}
    for name, mode in status.items():
        assert native.is_compiled(name) == (mode == "compiled")
        assert native.load(name) is getattr(native, name)
        assert native.load(name) is native.load(name)
    modes = set(status.values())
    assert native.core_mode() == (modes.pop() if len(modes) == 1 else "mixed")
    if native.PURE_FORCED:
        assert native.core_mode() == "pure"
    if native.NATIVE_REQUIRED:
        assert native.core_mode() == "compiled"


def test_core_mode_mixed(native: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "status", lambda: {"vclock": "compiled", "diff": "pure"})
    assert native.core_mode() == "mixed"
    monkeypatch.setattr(native, "status", lambda: {"vclock": "pure", "diff": "pure"})
    assert native.core_mode() == "pure"


def test_explicit_loaders(native: ModuleType) -> None:
    assert native.load_pure("vclock").__name__ == "vaultsync.pure.vclock"
    if COMPILED_BUILT:
        assert native.load_compiled("vclock").__name__ == "vaultsync._compiled.vclock"
    else:
        with pytest.raises(ImportError, match="not built"):
            native.load_compiled("vclock")
    for loader in (native.load, native.load_pure, native.load_compiled, native.is_compiled):
        with pytest.raises(ValueError, match="unknown native kernel"):
            loader("nope")
