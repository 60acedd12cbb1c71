"""The package surface: lazy top-level names, a pure parser import, the shipped typing marker."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import pytest

import kvs_async


@pytest.mark.parametrize("name", kvs_async.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(kvs_async, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        kvs_async.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_parser_import_pulls_in_no_event_loop() -> None:
    code = (
        "import sys, kvs_async.mkv, kvs_async.mkv.writer; "
        "bad = sorted(m for m in ('asyncio', 'aiohttp') if m in sys.modules); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    "module", ["kvs_async.kinesisvideo", "kvs_async.kinesis_video_media", "kvs_async.getmedia"]
)
def test_client_import_defers_transport_converters_and_emulator(module: str) -> None:
    # Issue 10: importing bindings pays for aiohttp, cattrs and the emulator only when used.
    heavy = ("aiohttp", "cattrs", "kvs_async.emulator", "kvs_async.transport", "botocore")
    code = (
        f"import sys, {module}; print(','.join(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_py_typed_and_rule_sets_ship_with_the_package() -> None:
    root = resources.files("kvs_async")
    assert root.joinpath("py.typed").is_file()
    assert root.joinpath("_data", "partitions.json").is_file()
    assert root.joinpath("_data", "kinesisvideo", "endpoint-rule-set-1.json").is_file()
