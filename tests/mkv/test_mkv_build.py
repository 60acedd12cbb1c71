"""The compiled and the pure parser: which one runs, and that both give the same results."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from conftest import MKV_DIR

import kvs_async.mkv as mkv

DIGEST = """
import hashlib, sys
from kvs_async.mkv import COMPILED, ChunkParser, MkvTruncatedError
data = open(sys.argv[1], "rb").read()
parser = ChunkParser()
out = []
for i in range(0, len(data), 4093):
    out += parser.feed_events(data[i : i + 4093])
try:
    out += parser.close()
except MkvTruncatedError as exc:
    out += exc.chunks
def frame(f):
    return (*f[:5], bytes(f.payload))
h = hashlib.sha256()
for item in out:
    if hasattr(item, "raw"):
        fields = (item.offset, item.size, item.tag_list, item.tracks, [frame(f) for f in item.frames])
        h.update(repr(fields).encode() + item.raw)
    else:
        h.update(repr((frame(item.frame), *item[1:])).encode())
print(COMPILED, parser.bytes_copied, h.hexdigest())
"""


def _digest(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", DIGEST, str(MKV_DIR / "output_get_media.mkv")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return done.stdout.strip()


def test_compiled_flag_matches_the_install() -> None:
    assert isinstance(mkv.COMPILED, bool)
    files = [m.__file__ or "" for m in (mkv.chunks, mkv.ebml, mkv.handlers, mkv.lacing)]
    assert all(f.endswith(".py") for f in files) == (not mkv.COMPILED)
    if os.environ.get("KVS_ASYNC_EXPECT_COMPILED") == "1":
        assert mkv.COMPILED, f"kvs_async.mkv was expected compiled: {files}"


def test_pure_and_installed_parsers_agree() -> None:
    """KVS_ASYNC_PURE=1 runs the source even on a compiled install; results are identical."""
    pure = _digest({"KVS_ASYNC_PURE": "1"}).split()
    installed = _digest({"KVS_ASYNC_PURE": "0"}).split()
    assert pure[0] == "False" and installed[0] == str(mkv.COMPILED)
    assert pure[1:] == installed[1:]
    assert len(hashlib.sha256().hexdigest()) == len(pure[2])
