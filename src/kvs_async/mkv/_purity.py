"""`KVS_ASYNC_PURE=1` at run time: import this package's Python source, not its compiled modules.

mypyc's extension modules sit beside the .py files they were built from and shadow them; a
path hook for this one directory that knows only source and bytecode loaders undoes that, for
tests of the pure path on a compiled install and for debugging.
"""

from __future__ import annotations

import importlib.machinery as machinery
import os
import sys
from collections.abc import Callable
from typing import Any, Final

__all__ = ["PURE_REQUESTED", "use_source_if_asked"]


def use_source_if_asked(package_dir: str) -> bool:
    """Install the source-only hook for `package_dir` when KVS_ASYNC_PURE=1; True if it did."""
    if os.environ.get("KVS_ASYNC_PURE") != "1":
        return False
    here = os.path.normcase(os.path.abspath(package_dir))
    source_only: Callable[[str], Any] = machinery.FileFinder.path_hook(
        (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )

    def hook(path: str) -> Any:
        if os.path.normcase(os.path.abspath(path)) == here:
            return source_only(path)
        raise ImportError("not the kvs_async.mkv directory")

    sys.path_hooks.insert(0, hook)
    # Importing this module already cached a finder for the directory: forget it.
    for path in list(sys.path_importer_cache):
        if os.path.normcase(os.path.abspath(path)) == here:
            del sys.path_importer_cache[path]
    return True


#: Whether KVS_ASYNC_PURE=1 made this import use the source (set when the package loads).
PURE_REQUESTED: Final = use_source_if_asked(os.path.dirname(os.path.abspath(__file__)))
