"""``python -m codegen sync``: gzipped botocore data -> pretty JSON specs plus a manifest."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from codegen_helpers import ROOT

from codegen import SERVICES
from codegen.sync import SPEC_FILES, pretty, sync, verify_manifest


def _fake_botocore(root: Path) -> None:
    for service in SERVICES:
        folder = root / service / "2020-01-01"
        folder.mkdir(parents=True)
        for name in SPEC_FILES:
            payload = json.dumps(
                {"service": service, "file": name, "nested": {"b": 1, "a": [1, 2]}}
            )
            if name == "paginators-1.json":
                (folder / name).write_text(payload)  # botocore ships some files plain
            else:
                with gzip.open(folder / (name + ".gz"), "wt") as fh:
                    fh.write(payload)
    with gzip.open(root / "partitions.json.gz", "wt") as fh:
        fh.write('{"partitions": []}')


def test_sync_writes_pretty_json_and_manifest(tmp_path: Path) -> None:
    data = tmp_path / "botocore-data"
    _fake_botocore(data)
    specs = tmp_path / "specs"
    written = sync(specs, data)
    assert len(written) == len(SERVICES) * len(SPEC_FILES) + 1
    text = (specs / "kinesisvideo" / "service-2.json").read_text()
    assert text == pretty(
        {"service": "kinesisvideo", "file": "service-2.json", "nested": {"b": 1, "a": [1, 2]}}
    )
    assert "\n  " in text  # indented, one member per line: readable diffs
    manifest = json.loads((specs / "manifest.json").read_text())
    assert manifest["services"]["kinesisvideo"] == "2020-01-01"
    assert set(manifest["files"]) == {p.relative_to(specs).as_posix() for p in written}
    assert verify_manifest(specs) == []
    (specs / "kinesisvideo" / "service-2.json").write_text("{}\n")
    assert verify_manifest(specs) == ["kinesisvideo/service-2.json"]


def test_committed_specs_match_their_manifest() -> None:
    assert verify_manifest(ROOT / "specs") == []
    manifest = json.loads((ROOT / "specs" / "manifest.json").read_text())
    assert set(manifest["services"]) == set(SERVICES)
