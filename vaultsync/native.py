"""The one place that chooses between the compiled native core and the pure-Python references.

Every hot-path kernel exists twice with an identical API: compiled from ``_native/<name>.pyx`` into
``vaultsync._compiled.<name>`` (optional at install time, see setup.py), and as the reference
``vaultsync.pure.<name>``. Code elsewhere never imports either directly; it does::

    from vaultsync.native import vclock

and gets the compiled module when it was built, else the reference. The choice is made once, at
import, from the environment:

``VAULTSYNC_PURE=1``
    Use the pure-Python references even if the compiled modules exist (debugging, parity runs).
``VAULTSYNC_REQUIRE_NATIVE=1``
    A kernel whose compiled module is missing or broken is an error (:class:`NativeCoreError`,
    an ``ImportError``) instead of a silent fallback: CI and production builds set this so a
    failed compile cannot ship unnoticed.

Setting both is contradictory and raises :class:`NativeCoreError` on import.

:func:`status` and :func:`core_mode` report what was loaded (``/health/detailed``, ``vaultsync
doctor``); :func:`load_pure` and :func:`load_compiled` give parity tests explicit access to both.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    # Static typing sees the reference; at run time the name is bound to the chosen module, which
    # has the same API. One line per kernel here gives callers precise types.
    from vaultsync.pure import diff, merge, search, vclock

__all__ = [
    "KERNELS",
    "NATIVE_REQUIRED",
    "PURE_FORCED",
    "NativeCoreError",
    "core_mode",
    "diff",
    "is_compiled",
    "load",
    "load_compiled",
    "load_pure",
    "merge",
    "search",
    "status",
    "vclock",
]

logger = logging.getLogger(__name__)

#: Kernel names. Adding a kernel is one entry here (plus its ``_native/<name>.pyx`` and
#: ``vaultsync/pure/<name>.py``); it is then importable as ``vaultsync.native.<name>``.
KERNELS: Final[tuple[str, ...]] = ("vclock", "diff", "merge", "search")

_COMPILED_PACKAGE: Final = "vaultsync._compiled"
_PURE_PACKAGE: Final = "vaultsync.pure"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


class NativeCoreError(ImportError):
    """The native core cannot be provided as the environment demands."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


#: ``VAULTSYNC_PURE`` as read at import.
PURE_FORCED: Final = _env_flag("VAULTSYNC_PURE")
#: ``VAULTSYNC_REQUIRE_NATIVE`` as read at import.
NATIVE_REQUIRED: Final = _env_flag("VAULTSYNC_REQUIRE_NATIVE")

if PURE_FORCED and NATIVE_REQUIRED:
    raise NativeCoreError(
        "VAULTSYNC_PURE=1 (use the pure-Python core) and VAULTSYNC_REQUIRE_NATIVE=1 (insist on the "
        "compiled core) are both set and contradict each other: unset one of them"
    )

_chosen: dict[str, ModuleType] = {}


def _check_name(name: str) -> None:
    if name not in KERNELS:
        raise ValueError(f"unknown native kernel {name!r}; known kernels: {', '.join(KERNELS)}")


def load_pure(name: str) -> ModuleType:
    """The pure-Python reference ``vaultsync.pure.<name>``, regardless of the environment."""
    _check_name(name)
    return importlib.import_module(f"{_PURE_PACKAGE}.{name}")


def load_compiled(name: str) -> ModuleType:
    """The compiled ``vaultsync._compiled.<name>``, regardless of the environment.

    Raises :class:`NativeCoreError` (an ``ImportError``) if it was not built or cannot be loaded.
    """
    _check_name(name)
    module_name = f"{_COMPILED_PACKAGE}.{name}"
    hint = "reinstall with a C compiler"
    if NATIVE_REQUIRED:
        hint += ", or unset VAULTSYNC_REQUIRE_NATIVE"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise NativeCoreError(f"compiled module {module_name} failed to import: {exc}") from exc
        raise NativeCoreError(f"compiled module {module_name} not built: {hint}") from exc
    except ImportError as exc:  # built, but for another interpreter/ABI, or a broken build
        raise NativeCoreError(f"compiled module {module_name} failed to import ({exc}): {hint}") from exc


def load(name: str) -> ModuleType:
    """The implementation of kernel ``name`` this process uses (chosen once, then cached)."""
    module = _chosen.get(name)
    if module is not None:
        return module
    if PURE_FORCED:
        module = load_pure(name)
    else:
        try:
            module = load_compiled(name)
        except NativeCoreError as exc:
            if NATIVE_REQUIRED:
                raise
            if isinstance(exc.__cause__, ModuleNotFoundError):
                logger.info("native kernel %s not built; using the pure-Python reference", name)
            else:
                logger.warning("native kernel %s unusable, using the pure-Python reference: %s", name, exc)
            module = load_pure(name)
    _chosen[name] = module
    return module


def is_compiled(name: str) -> bool:
    """True if kernel ``name`` runs on its compiled module in this process."""
    return load(name).__name__.startswith(f"{_COMPILED_PACKAGE}.")


def status() -> dict[str, str]:
    """``{kernel: "compiled" | "pure"}`` for every kernel, in ``KERNELS`` order."""
    return {name: "compiled" if is_compiled(name) else "pure" for name in KERNELS}


def core_mode() -> Literal["compiled", "pure", "mixed"]:
    """``"compiled"`` if every kernel is compiled, ``"pure"`` if none is, else ``"mixed"``."""
    modes = set(status().values())
    if modes == {"compiled"}:
        return "compiled"
    if modes == {"pure"}:
        return "pure"
    return "mixed"


# Choose every kernel now, so VAULTSYNC_REQUIRE_NATIVE fails at import rather than mid-sale, and
# bind each as a module attribute (``from vaultsync.native import vclock``).
for _name in KERNELS:
    globals()[_name] = load(_name)
del _name
