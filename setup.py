"""Build: compile kvs_async.mkv's parser with mypyc where a C compiler is available.

The typed pure-Python source is always installed; the compiled modules shadow it. Compilation
is skipped (pure install) when `KVS_ASYNC_PURE=1`, when mypyc cannot be imported, for editable
installs (`pip install -e .`: so that edits to the .py files take effect; `KVS_ASYNC_COMPILE=1`
compiles them anyway), and - with a warning - when the C compiler fails.
`kvs_async.mkv.COMPILED` says which one is running.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: The parser modules mypyc compiles (model.py, errors.py, events.py, writer.py stay Python).
COMPILED = [
    "src/kvs_async/mkv/elements.py",
    "src/kvs_async/mkv/lacing.py",
    "src/kvs_async/mkv/tracks.py",
    "src/kvs_async/mkv/ebml.py",
    "src/kvs_async/mkv/handlers.py",
    "src/kvs_async/mkv/chunks.py",
]


class OptionalBuildExt(build_ext):
    """A failed compilation leaves the pure-Python install in place instead of failing it.

    All or nothing: the compiled modules share one library, so on any failure every built
    module is removed and the .py files are what gets installed.
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # any compiler failure means "install pure"
            for path in self.get_outputs():
                if os.path.exists(path):
                    os.remove(path)
            self.extensions = []
            warnings.warn(
                f"kvs_async: compiling the mkv parser failed ({exc}); pure Python", stacklevel=2
            )


def _editable() -> bool:
    return any(arg in ("editable_wheel", "develop") for arg in sys.argv)


def ext_modules() -> list[Any]:
    if os.environ.get("KVS_ASYNC_PURE") == "1":
        return []
    if _editable() and os.environ.get("KVS_ASYNC_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        warnings.warn(
            "kvs_async: mypyc is not available; installing the pure-Python parser", stacklevel=2
        )
        return []
    try:
        return list(
            mypycify(
                # Only the compiled modules are checked: the rest of the package (and its
                # dependencies, absent from the build environment) is read silently.
                [*COMPILED, "--follow-imports=silent"],
                opt_level="3",
                group_name="kvs_async.mkv._native",
            )
        )
    except Exception as exc:  # mypyc refusing means "install pure"
        warnings.warn(
            f"kvs_async: mypyc failed ({exc}); installing the pure-Python parser", stacklevel=2
        )
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
