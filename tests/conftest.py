from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
MKV_DIR = DATA / "kvs-mkv"
CONFORMANCE_DIR = DATA / "conformance"


@pytest.fixture
def mkv_dir() -> Path:
    return MKV_DIR


@pytest.fixture
def conformance_dir() -> Path:
    return CONFORMANCE_DIR
