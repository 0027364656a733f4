"""Build VaultSync's optional native core: each ``_native/<stem>.pyx`` -> ``vaultsync._compiled.<stem>``.

All metadata lives in pyproject.toml; this file only adds ``ext_modules`` and the ``build_ext``
command. The build is optional, in the manner of msgpack-python and yarl: when Cython is missing,
there is no C compiler, or compiling fails, the install carries on without the extensions (with a
warning) and ``vaultsync.native`` falls back to the pure-Python references in ``vaultsync.pure``.
``vaultsync.native.status()`` says which implementation each kernel uses.

Environment variables read at build time:

``VAULTSYNC_NO_EXTENSIONS=1``
    Do not build the extensions at all. Stale builds of them in ``build/`` and, for editable
    installs, next to the sources are removed so the pure fallback really is what gets used.
``VAULTSYNC_REQUIRE_NATIVE=1``
    Any failure to build an extension is an error instead of a warning (release wheels, CI). The
    same variable makes ``vaultsync.native`` refuse to fall back at run time.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

ROOT = Path(__file__).resolve().parent
NATIVE_DIR = "_native"  # relative to ROOT: setuptools wants relative source paths
PACKAGE = "vaultsync._compiled"

#: Applied to every module. The bounds/wraparound checks are off because every loop's range comes
#: from shapes validated before the loop; the only division is by a constant.
CYTHON_DIRECTIVES: dict[str, object] = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
}

#: Errors that mean "this machine cannot build the extension" rather than "setup.py is broken".
BUILD_ERRORS = (CCompilerError, ExecError, PlatformError, ValueError, OSError)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _numpy_include() -> list[str]:
    """numpy's C headers, for kernels that ``cimport numpy`` (its C API allocates result arrays
    and reads array headers without Python calls). numpy is a build requirement (pyproject.toml);
    when it is missing anyway, those kernels fail to compile and fall back like any other."""
    try:
        import numpy
    except ImportError:
        return []
    return [numpy.get_include()]


def native_extensions() -> list[Extension]:
    """One extension per ``_native/*.pyx``; the shared ``.pxd``/``.h`` files there are dependencies."""
    native = ROOT / NATIVE_DIR
    depends = sorted(f"{NATIVE_DIR}/{p.name}" for pattern in ("*.pxd", "*.h") for p in native.glob(pattern))
    return [
        Extension(
            f"{PACKAGE}.{pyx.stem}",
            sources=[f"{NATIVE_DIR}/{pyx.name}"],
            depends=depends,  # rebuild triggers, and shipped in the sdist
            include_dirs=[NATIVE_DIR, *_numpy_include()],
            # the numpy 1.x API that is current in numpy 2 (no deprecated macros)
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            optional=True,
        )
        for pyx in sorted(native.glob("*.pyx"))
    ]


def _warn(message: str, remedy: str = "Install Cython and a C compiler, then reinstall.") -> None:
    bar = "*" * 78
    print(
        f"\n{bar}\nWARNING: {message}\n"
        "VaultSync is installed WITHOUT its compiled native core and will use the pure-Python\n"
        f"fallback: correct, but slower. {remedy}\n{bar}\n",
        file=sys.stderr,
        flush=True,
    )


class OptionalBuildExt(build_ext):
    """``build_ext`` that cythonizes lazily and treats build failures as warnings."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self._keep_inplace = False

    def run(self) -> None:
        self._keep_inplace = bool(self.inplace or self.editable_mode)
        required = _env_flag("VAULTSYNC_REQUIRE_NATIVE")
        if _env_flag("VAULTSYNC_NO_EXTENSIONS"):
            if required:
                raise PlatformError(
                    "VAULTSYNC_NO_EXTENSIONS and VAULTSYNC_REQUIRE_NATIVE are both set: unset one"
                )
            self._skip_all(
                "VAULTSYNC_NO_EXTENSIONS is set: not building the native core.",
                remedy="Unset VAULTSYNC_NO_EXTENSIONS and reinstall to build it.",
            )
            return
        if not self.extensions:
            return
        for ext in self.extensions:
            ext.optional = not required  # distutils swallows compile errors of optional extensions
        try:
            from Cython import __version__ as cython_version
            from Cython.Build import cythonize
        except ImportError:
            if required:
                raise
            self._skip_all("Cython is not installed: cannot build the native core.")
            return
        # Generated C is cached under build/ in a directory keyed by the Cython version and the
        # directives, so changing either regenerates it (cythonize only compares timestamps).
        key = hashlib.sha256(repr((cython_version, sorted(CYTHON_DIRECTIVES.items()))).encode())
        # One kernel at a time: a translation error in one .pyx must not take the others down.
        kept = []
        for ext in self.extensions:
            try:
                [translated] = cythonize(
                    [ext],
                    compiler_directives=CYTHON_DIRECTIVES,
                    include_path=[NATIVE_DIR],
                    build_dir=os.path.join("build", f"cython-{key.hexdigest()[:12]}"),
                    force=self.force,
                    quiet=True,
                )
            except Exception as exc:  # Cython reports the details itself; its CompileError is generic
                if required:
                    raise
                self._discard(ext)
                _warn(f"Cython could not translate {ext.name}: {exc!r}")
                continue
            # Point the original extension at the C file: it carries state that setuptools set up
            # in finalize_options, which the new Extension object cythonize() returns lacks.
            ext.sources = translated.sources
            kept.append(ext)
        self.extensions = kept
        if not kept:
            return
        try:
            super().run()
        except BUILD_ERRORS as exc:
            if required:
                raise
            self._skip_all(f"cannot build the native core: {exc}")

    def build_extensions(self) -> None:
        compiler_type = getattr(self.compiler, "compiler_type", "")
        opt = ["/O2"] if compiler_type == "msvc" else ["-O3"]
        for ext in self.extensions:
            ext.extra_compile_args = [*opt, *ext.extra_compile_args]
        super().build_extensions()

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except BUILD_ERRORS as exc:
            if _env_flag("VAULTSYNC_REQUIRE_NATIVE"):
                raise
            self._discard(ext)
            _warn(f"building {ext.name} failed: {exc}")

    def _skip_all(self, reason: str, **kwargs: str) -> None:
        for ext in self.extensions:
            self._discard(ext)
        _warn(reason, **kwargs)

    def _discard(self, ext: Extension) -> None:
        """Remove earlier builds of ``ext`` so a skipped build cannot ship a stale module."""
        fullname = self.get_ext_fullname(ext.name)
        filename = self.get_ext_filename(fullname)
        stale = [os.path.join(self.build_lib, filename)]
        if self._keep_inplace:
            package, _, _ = fullname.rpartition(".")
            build_py = self.get_finalized_command("build_py")
            stale.append(os.path.join(build_py.get_package_dir(package), os.path.basename(filename)))
        for path in stale:
            if os.path.exists(path):
                os.remove(path)
                print(f"removed stale build {path}", file=sys.stderr)


setup(ext_modules=native_extensions(), cmdclass={"build_ext": OptionalBuildExt})
