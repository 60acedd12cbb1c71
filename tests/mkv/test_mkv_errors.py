"""Bad input fails with MkvParseError (offset + element path), never another type, never hangs."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import MKV_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.mkv import (
    ChunkParser,
    EbmlReader,
    MkvFormatError,
    MkvLimitError,
    MkvParseError,
    MkvTruncatedError,
    writer,
)

SEGMENT = writer.unknown_size(0x18538067)


def feed_close(data: bytes, **limits: int) -> None:
    parser = ChunkParser(**limits)
    parser.feed(data)
    parser.close()


PURITY_CHECK = """
import importlib.util, sys, types
# Load kvs_async.mkv on its own: the parent package's __init__ (client side) is not ours to judge.
spec = importlib.util.find_spec("kvs_async")
parent = types.ModuleType("kvs_async")
parent.__path__ = list(spec.submodule_search_locations)
sys.modules["kvs_async"] = parent
import kvs_async.mkv, kvs_async.mkv.writer, kvs_async.mkv.chunks, kvs_async.mkv.lacing
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "aiohttp", "_asyncio"))
print(bad)
sys.exit(1 if bad else 0)
"""


def test_pure_no_asyncio_or_aiohttp() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PURITY_CHECK], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_id_longer_than_four_bytes() -> None:
    with pytest.raises(MkvFormatError, match="ID longer than 4 bytes") as info:
        feed_close(writer.ebml_header() + SEGMENT + b"\x08\x00\x00\x00\x00\x81\x00")
    assert info.value.offset == 59 and info.value.path == ("Segment",)


def test_size_longer_than_eight_bytes() -> None:
    with pytest.raises(MkvFormatError, match="longer than 8 bytes") as info:
        feed_close(writer.ebml_header() + SEGMENT + b"\xec\x00\x01")
    assert info.value.offset == 59


def test_child_larger_than_parent() -> None:
    tags = writer.element(0x1254C367, writer.element(0x7373, b"\xec\x85\x00"))
    with pytest.raises(MkvFormatError, match="beyond its parent") as info:
        feed_close(writer.ebml_header() + SEGMENT + tags)
    assert info.value.path == ("Segment", "Tags", "Tag")


def test_unknown_size_leaf() -> None:
    with pytest.raises(MkvFormatError, match="unknown size"):
        feed_close(b"\xec\xff")


def test_bad_lacing_and_short_block() -> None:
    bad = writer.cluster(0, [writer.element(0xA3, b"\x81\x00\x00\x06\x05\x81")])  # EBML lace cut
    with pytest.raises(MkvFormatError) as info:
        feed_close(writer.ebml_header() + SEGMENT + bad)
    assert info.value.path == ("Segment", "Cluster")
    short = writer.cluster(0, [writer.element(0xA3, b"\x81\x00")])
    with pytest.raises(MkvFormatError, match="shorter than its header"):
        feed_close(writer.ebml_header() + SEGMENT + short)


def test_element_size_limit_before_buffering() -> None:
    parser = ChunkParser(max_element_size=1000)
    head = (
        writer.ebml_header() + SEGMENT + writer.unknown_size(0x1F43B675) + b"\xa3\x11\x00\x00\x00"
    )
    with pytest.raises(MkvLimitError, match="max_element_size") as info:
        parser.feed(head)  # raised from the header alone, nothing waits for 16 MiB
    assert info.value.path == ("Segment", "Cluster")
    with pytest.raises(MkvLimitError):  # the parser stays failed
        parser.feed(b"")


def test_buffer_limit() -> None:
    stream = b"".join(writer.synthetic_stream(2, frames_per_fragment=30, frame_size=2000))
    with pytest.raises(MkvLimitError, match="max_buffer_size"):
        feed_close(stream, max_buffer_size=10_000)
    feed_close(stream, max_buffer_size=70_000)  # a fragment is ~61 kB


def test_chunk_element_limit() -> None:
    stream = b"".join(writer.synthetic_stream(1, frames_per_fragment=200, frame_size=10))
    with pytest.raises(MkvLimitError, match="max_chunk_elements"):
        feed_close(stream, max_chunk_elements=100)
    feed_close(stream, max_chunk_elements=300)


def test_feeding_after_close() -> None:
    parser = ChunkParser()
    parser.close()
    with pytest.raises(MkvParseError):
        parser.feed(b"\x1a")


def test_truncated_inside_known_size_master() -> None:
    data = writer.ebml_header() + SEGMENT + writer.tracks(writer.track_entry(number=1))
    with pytest.raises(MkvTruncatedError) as info:
        feed_close(data[:-3])
    assert info.value.partial is not None and info.value.partial.raw == data[:-3]
    reader = EbmlReader()
    reader.feed(data[:-3])
    with pytest.raises(MkvTruncatedError):
        reader.close()


FIXTURES = {
    name: (MKV_DIR / name).read_bytes()
    for name in ("test_mixed_tags.mkv", "empty-mkv-with-tags.mkv", "test_tags_empty_cluster.mkv")
}
PREFIX = (MKV_DIR / "output_get_media.mkv").read_bytes()[:60_000]


def check_only_parse_errors(data: bytes, pieces: int = 3) -> None:
    start = time.monotonic()
    for cls in (ChunkParser, EbmlReader):
        parser = cls(max_element_size=1 << 20, max_buffer_size=1 << 22)
        step = max(1, len(data) // pieces)
        try:
            for i in range(0, len(data), step):
                parser.feed(data[i : i + step])
            parser.close()
        except MkvParseError:
            pass
    assert time.monotonic() - start < 20  # generous: a hang, not a timing goal


mutation = st.tuples(
    st.integers(min_value=0, max_value=1 << 30),
    st.sampled_from(["set", "insert", "delete", "truncate"]),
    st.binary(min_size=1, max_size=8),
)


def mutate(data: bytes, muts: list[tuple[int, str, bytes]]) -> bytes:
    buf = bytearray(data)
    for where, how, what in muts:
        i = where % (len(buf) + 1)
        if how == "set":
            buf[i : i + len(what)] = what
        elif how == "insert":
            buf[i:i] = what
        elif how == "delete":
            del buf[i : i + len(what)]
        else:
            del buf[i:]
    return bytes(buf)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([*sorted(FIXTURES), "prefix"]),
    muts=st.lists(mutation, min_size=1, max_size=4),
    pieces=st.integers(min_value=1, max_value=7),
)
def test_mutations_raise_only_parse_errors(
    name: str, muts: list[tuple[int, str, bytes]], pieces: int
) -> None:
    data = PREFIX if name == "prefix" else FIXTURES[name]
    check_only_parse_errors(mutate(data, muts), pieces)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    """The CI fuzz target: arbitrary bytes, with and without a valid prefix."""
    check_only_parse_errors(data)
    check_only_parse_errors(writer.ebml_header() + SEGMENT + data)
    check_only_parse_errors(writer.ebml_header() + SEGMENT + writer.unknown_size(0x1F43B675) + data)


def test_every_truncation_of_a_small_fixture() -> None:
    data = FIXTURES["empty-mkv-with-tags.mkv"]
    for n in range(len(data) + 1):
        parser = ChunkParser()
        chunks = parser.feed(data[:n])
        try:
            chunks += parser.close()
            partial = None
        except MkvTruncatedError as exc:
            chunks += exc.chunks
            partial = exc.partial
        assert b"".join(c.raw for c in chunks) + (partial.raw if partial else b"") == data[:n]


def outcome(data: bytes, pieces: int, fast: bool) -> tuple[object, ...]:
    parser = ChunkParser(fast=fast, max_element_size=1 << 20, max_buffer_size=1 << 22)
    chunks = []
    step = max(1, len(data) // pieces)
    try:
        for i in range(0, len(data), step):
            chunks += parser.feed(data[i : i + step])
        chunks += parser.close()
    except MkvTruncatedError as exc:
        return (chunks, exc.chunks, exc.partial, exc.offset, exc.path)
    except MkvParseError as exc:
        return (chunks, type(exc), exc.offset, exc.path)
    return (chunks,)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([*sorted(FIXTURES), "prefix"]),
    muts=st.lists(mutation, min_size=1, max_size=3),
    pieces=st.integers(min_value=1, max_value=5),
)
def test_fast_and_reference_paths_agree_on_damaged_input(
    name: str, muts: list[tuple[int, str, bytes]], pieces: int
) -> None:
    data = mutate(PREFIX if name == "prefix" else FIXTURES[name], muts)
    assert outcome(data, pieces, True) == outcome(data, pieces, False)
