"""Getting at the compiled twin of a kernel in parity tests, with CI's skip/fail rule.

Without the compiled module the compiled-vs-pure tests skip (the pure property tests
still run) — unless ``VAULTSYNC_REQUIRE_NATIVE=1``, where a missing module is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

import pytest

REQUIRE_NATIVE = os.environ.get("VAULTSYNC_REQUIRE_NATIVE", "").strip().lower() in {"1", "true", "yes", "on"}


def load(name: str) -> tuple[ModuleType | None, str]:
    """The compiled kernel ``name`` and '' , or None and why it could not be loaded."""
    try:
        from vaultsync.native import load_compiled

        return load_compiled(name), ""
    except ImportError as exc:  # not built, or VAULTSYNC_REQUIRE_NATIVE made vaultsync.native refuse
        return None, str(exc)


def requirer(name: str, module: ModuleType | None, error: str) -> Callable[[], ModuleType]:
    """A function returning the compiled module, or skipping/failing the calling test."""

    def require_compiled() -> ModuleType:
        if module is None:
            if REQUIRE_NATIVE:
                pytest.fail(f"VAULTSYNC_REQUIRE_NATIVE=1 but the compiled {name} kernel is missing: {error}")
            pytest.skip(f"compiled {name} kernel not built ({error}); the pure tests still run")
        return module

    return require_compiled
