"""Hostile input stays bounded; errors lose nothing and do not depend on the split; plain files."""

from __future__ import annotations

import itertools
import time
import tracemalloc

import pytest
from conftest import MKV_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.mkv import (
    Chunk,
    ChunkParser,
    EbmlReader,
    MkvLimitError,
    MkvParseError,
    MkvTruncatedError,
    writer,
)

HEAD = writer.ebml_header() + writer.unknown_size(0x18538067)
CLUSTER = writer.unknown_size(0x1F43B675) + writer.uint_element(0xE7, 0)
LACED_EMPTY = bytes.fromhex("a3858100008 4ff".replace(" ", ""))  # 256 empty frames, 7 bytes
EMPTY_BLOCK = bytes.fromhex("a38481000080")  # one empty frame, 6 bytes
EMPTY_TAG = bytes.fromhex("67c883 45a380".replace(" ", ""))  # a SimpleTag named ""


def hostile(kind: str, count: int) -> bytes:
    if kind == "laced":
        return HEAD + CLUSTER + LACED_EMPTY * count
    if kind == "padded_laced":  # real bytes first, so that the per-KiB allowance has grown
        return HEAD + CLUSTER + writer.simple_block(1, 0, b"\x55" * 4 * count) + LACED_EMPTY * count
    if kind == "padded_empty":
        return HEAD + CLUSTER + writer.simple_block(1, 0, b"\x55" * 4 * count) + EMPTY_BLOCK * count
    if kind == "empty_blocks":
        return HEAD + CLUSTER + EMPTY_BLOCK * count
    if kind == "tags":
        return (
            HEAD + writer.unknown_size(0x1254C367) + writer.unknown_size(0x7373) + EMPTY_TAG * count
        )
    if kind == "huge_master":
        return HEAD + bytes.fromhex("1f43b675 01fffffffffffffe".replace(" ", "")) + b"\0" * count
    if kind == "deep":
        # SimpleTags may nest: each one opens inside the previous (unknown-size masters are
        # not allowed for SimpleTag, so known sizes that all end at the same place).
        inner = b""
        for _ in range(count // 8):
            inner = writer.element(0x67C8, inner)
        return HEAD + writer.element(0x1254C367, writer.element(0x7373, inner))
    raise AssertionError(kind)


KINDS = ["laced", "padded_laced", "padded_empty", "empty_blocks", "tags", "huge_master", "deep"]


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def outcome(pieces: list[bytes], **limits: int | bool) -> tuple[object, ...]:
    """Every chunk delivered (returned or carried by the error) and the error, if any."""
    parser = ChunkParser(**limits)  # type: ignore[arg-type]
    chunks: list[Chunk] = []
    try:
        for piece in pieces:
            chunks += parser.feed(piece)
        chunks += parser.close()
    except MkvTruncatedError as exc:
        return (chunks + exc.chunks, "truncated", exc.message, exc.offset, exc.path, exc.partial)
    except MkvParseError as exc:
        return (chunks + exc.chunks, type(exc).__name__, exc.message, exc.offset, exc.path)
    return (chunks,)


LIMITS = {"max_objects_per_kib": 8, "max_buffer_size": 1 << 20, "max_element_size": 1 << 20}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    count=st.integers(min_value=2_000, max_value=40_000),
    pieces=st.integers(min_value=1, max_value=64),
)
def test_hostile_input_stays_within_memory(kind: str, count: int, pieces: int) -> None:
    """tracemalloc peak at most 8x the bytes fed, and the parser refuses early, with a limit."""
    data = hostile(kind, count)
    step = max(1, len(data) // pieces)
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    tracemalloc.start()
    try:
        start = time.monotonic()
        result = outcome(chunks, **LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 30  # a hang guard, not a timing goal
    assert peak <= 8 * len(data) + 64 * 1024, (kind, peak, len(data))
    assert result[1] in ("MkvLimitError", "truncated"), result[1:]
    if result[1] != "truncated":
        assert isinstance(result[3], int) and result[3] < len(data)


def test_laced_block_of_256_empty_frames_is_refused() -> None:
    parser = ChunkParser()
    with pytest.raises(MkvLimitError, match="max_objects_per_kib") as info:
        parser.feed(hostile("laced", 10_000))
    assert info.value.offset < 100  # within the first blocks, not after 2.5 million frames
    assert info.value.path == ("Segment", "Cluster")


def test_frames_per_chunk_limit() -> None:
    stream = b"".join(writer.synthetic_stream(1, frames_per_fragment=300, frame_size=50))
    with pytest.raises(MkvLimitError, match="max_chunk_frames"):
        outcome_raise(stream, max_chunk_frames=100)
    assert len(outcome([stream], max_chunk_frames=300)[0]) == 1  # type: ignore[arg-type]


def outcome_raise(data: bytes, **limits: int) -> None:
    parser = ChunkParser(**limits)
    parser.feed(data)
    parser.close()


def test_huge_master_refused_at_its_header() -> None:
    data = hostile("huge_master", 0)
    for parser in (ChunkParser(), ChunkParser(fast=False)):
        with pytest.raises(MkvLimitError, match="max_buffer_size") as info:
            parser.feed(data)  # nothing after the header: refused before any body arrives
        assert info.value.offset == len(HEAD)


def test_deep_nesting_refused() -> None:
    with pytest.raises(MkvLimitError, match="max_depth"):
        outcome_raise(hostile("deep", 8 * 100))
    with pytest.raises(MkvLimitError, match="max_depth"):
        reader = EbmlReader(max_depth=10)
        reader.feed(hostile("deep", 8 * 20))
    assert outcome([hostile("deep", 8 * 20)])[0] != []


# -- errors never lose chunks, and do not depend on the split -----------------------------------

GOOD = b"".join(writer.synthetic_stream(3, frames_per_fragment=5, frame_size=300))
BAD_TAILS = [
    b"\x08\x00\x00",  # an ID longer than 4 bytes
    b"\x1f\x43\xb6\x75\x00",  # a size longer than 8 bytes
    LACED_EMPTY * 50,  # outside a cluster: ignored; then truncated
    CLUSTER + LACED_EMPTY * 400,  # a limit
    CLUSTER + bytes.fromhex("a3 9f 81".replace(" ", "")),  # truncated inside a block
    writer.unknown_size(0x1F43B675) + writer.element(0xA3, b"\x81\x00"),  # too short a block
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tail=st.sampled_from(range(len(BAD_TAILS))),
    points=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30),
    fast=st.booleans(),
)
def test_errors_same_chunks_and_error_whatever_the_split(
    tail: int, points: list[int], fast: bool
) -> None:
    data = GOOD + HEAD + BAD_TAILS[tail]
    whole = outcome([data], max_objects_per_kib=8)
    split = outcome(cut(data, points), max_objects_per_kib=8, fast=fast)
    assert split == whole
    assert len(whole[0]) >= 3  # type: ignore[arg-type]  # the good fragments are never lost


def test_feed_error_carries_the_chunks_it_completed() -> None:
    parser = ChunkParser()
    with pytest.raises(MkvParseError) as info:
        parser.feed(GOOD + HEAD + BAD_TAILS[0])
    assert len(info.value.chunks) == 3
    assert b"".join(c.raw for c in info.value.chunks) == GOOD
    with pytest.raises(MkvParseError) as again:
        parser.close()
    assert again.value.chunks == [] and again.value.message == info.value.message


# -- plain MKV files ----------------------------------------------------------------------------


def test_plain_file_cluster_by_cluster_in_bounded_memory() -> None:
    data = (MKV_DIR / "clusters.mkv").read_bytes()
    whole = outcome([data])
    assert len(whole) == 1 and len(whole[0]) == 1  # type: ignore[arg-type]
    by_cluster = outcome(cut(data, list(range(0, len(data), 777))), cluster_chunks=True)
    chunks: list[Chunk] = by_cluster[0]  # type: ignore[assignment]
    assert len(by_cluster) == 1 and len(chunks) > 2
    assert b"".join(c.raw for c in chunks) == data
    frames = [f for c in chunks for f in c.frames]
    assert frames == list(whole[0][0].frames)  # type: ignore[index]
    largest = max(c.size for c in chunks)
    small = largest + 1024
    assert small < len(data)
    assert outcome([data], cluster_chunks=True, max_buffer_size=small)[0] == chunks
    refused = outcome([data], max_buffer_size=small)
    assert refused[1] == "MkvLimitError" and "cluster_chunks=True" in str(refused[2])


def test_plain_file_with_kvs_tag_names_completes() -> None:
    """Its own Tags, after the Cluster, use a KVS name: a plain file, not a cut KVS fragment."""
    audio = writer.track_entry(number=1, track_type=2, codec_id="A_OPUS")
    body = (
        writer.info()
        + writer.tracks(audio)
        + writer.cluster(0, [writer.simple_block(1, 0, b"opus")])
        + writer.kvs_tags([("AWS_KINESISVIDEO_FRAGMENT_NUMBER", "1234")])
    )
    data = writer.ebml_header() + writer.element(0x18538067, body)
    parser = ChunkParser()
    chunks = parser.feed(data) + parser.close()
    assert len(chunks) == 1 and chunks[0].fragment_number == "1234"
    track = chunks[0].tracks[0]
    assert (track.channels, track.sampling_rate, track.output_sampling_rate) == (1, 8000.0, 8000.0)
    assert (track.language, track.flag_default, track.flag_forced) == ("eng", True, False)


# -- storage: the chunk's bytes are held about once ---------------------------------------------


def test_pieces_inside_a_joined_frame_are_released() -> None:
    """Frames larger than the pieces are joined once; the pieces they cover are let go."""
    import sys

    stream = b"".join(writer.synthetic_stream(1, frames_per_fragment=6, frame_size=40_000))
    pieces = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    baseline = sys.getrefcount(pieces[-1])  # held by the list (and the call) only
    parser = ChunkParser()
    got: list[Chunk] = []
    for i in range(len(pieces) - 1):
        got += parser.feed(pieces[i])
    held = [sys.getrefcount(pieces[i]) > baseline for i in range(len(pieces) - 1)]
    assert sum(held) < len(held) // 4  # most pieces sit wholly inside a frame: not kept
    got += parser.feed(pieces[-1]) + parser.close()
    assert len(got) == 1 and got[0].raw == stream
    assert parser.bytes_copied >= 6 * 40_000 and parser.bytes_copied < 1.2 * len(stream)
    assert [len(f.payload) for f in got[0].frames] == [40_000] * 6
