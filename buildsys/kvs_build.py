"""The build backend: setuptools, plus mypy (for mypyc) only when the build will compile.

A regular wheel build compiles kvs_async.mkv (see setup.py), so it asks for mypy; an editable
install stays pure Python unless KVS_ASYNC_COMPILE=1, and KVS_ASYNC_PURE=1 turns compiling off
for both, so neither pays for installing mypy into the isolated build environment.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - the rest of the PEP 517/660 hooks, unchanged

#: mypyc, and attrs for the attrs-defined types the compiled modules use (mypy reads them).
COMPILE_REQUIRES = ["mypy==2.4.1", "attrs>=23.1"]


def _pure() -> bool:
    return os.environ.get("KVS_ASYNC_PURE") == "1"


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    requires = list(_setuptools.get_requires_for_build_wheel(config_settings))
    return requires if _pure() else [*requires, *COMPILE_REQUIRES]


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    requires = list(_setuptools.get_requires_for_build_editable(config_settings))
    compile_ = os.environ.get("KVS_ASYNC_COMPILE") == "1" and not _pure()
    return [*requires, *COMPILE_REQUIRES] if compile_ else requires
