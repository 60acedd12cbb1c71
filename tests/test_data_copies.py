"""The data copied into tests/data must stay byte-identical to ../shared when it is present."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAIRS = [
    (SHARED / "fixtures" / "kvs-mkv", DATA / "kvs-mkv"),
    (SHARED / "conformance", DATA / "conformance"),
]


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=["kvs-mkv", "conformance"])
def test_copies_match_shared(src: Path, dst: Path) -> None:
    if not src.is_dir():
        pytest.skip("../shared is not beside this checkout")
    src_files = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    dst_files = {p.relative_to(dst) for p in dst.rglob("*") if p.is_file()}
    assert src_files == dst_files
    for rel in sorted(src_files):
        assert (src / rel).read_bytes() == (dst / rel).read_bytes(), rel


def test_licenses_beside_data() -> None:
    assert (DATA / "kvs-mkv" / "LICENSE-amazon-kinesis-video-streams-parser-library.txt").is_file()
    assert (DATA / "kvs-mkv" / "NOTICE-amazon-kinesis-video-streams-parser-library.txt").is_file()
    assert (DATA / "conformance" / "LICENSE-botocore.txt").is_file()
    assert (DATA / "conformance" / "NOTICE-botocore.txt").is_file()
