"""Frame events: each frame as soon as its block completes, equal to the chunks' frames."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from conftest import MKV_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.mkv import (
    Chunk,
    ChunkParser,
    FrameEvent,
    MkvParseError,
    MkvTruncatedError,
    writer,
)

REAL = {
    name: (MKV_DIR / name).read_bytes()
    for name in (
        "output_get_media.mkv",
        "vogels_330.mkv",
        "test_mixed_tags.mkv",
        "clusters.mkv",
        "empty-mkv-with-tags.mkv",
    )
}


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def run_events(
    pieces: list[bytes], **options: bool
) -> tuple[list[Chunk | FrameEvent], Chunk | None]:
    parser = ChunkParser(**options)  # type: ignore[arg-type]
    out: list[Chunk | FrameEvent] = []
    for piece in pieces:
        out += parser.feed_events(piece)
    try:
        out += parser.close()
    except MkvTruncatedError as exc:
        return out + list(exc.chunks), exc.partial
    return out, None


def check_events(out: list[Chunk | FrameEvent], partial: Chunk | None) -> list[Chunk]:
    """Events come before their chunk, equal its frames in order, once each."""
    chunks: list[Chunk] = []
    pending: list[FrameEvent] = []
    for item in out:
        if isinstance(item, Chunk):
            assert [e.frame for e in pending] == list(item.frames)
            assert all(e.frame is f for e, f in zip(pending, item.frames, strict=True))
            assert [e.frame_index for e in pending] == list(range(len(item.frames)))
            assert all(e.chunk_offset == item.offset for e in pending)
            assert all(e.fragment_number == item.fragment_number for e in pending)
            assert all(e.server_timestamp == item.server_timestamp for e in pending)
            assert all(e.producer_timestamp == item.producer_timestamp for e in pending)
            numbers = {t.number: t for t in item.tracks}
            assert all(e.track == numbers.get(e.frame.track_number) for e in pending)
            chunks.append(item)
            pending = []
        else:
            assert isinstance(item, FrameEvent)
            pending.append(item)
    if partial is not None:
        assert [e.frame for e in pending] == list(partial.frames[: len(pending)])
    else:
        assert pending == []
    return chunks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(REAL)),
    points=st.lists(st.integers(min_value=0, max_value=1 << 24), max_size=40),
    fast=st.booleans(),
)
def test_events_equal_the_chunks_frames_whatever_the_split(
    name: str, points: list[int], fast: bool
) -> None:
    data = REAL[name]
    out, partial = run_events(cut(data, points), fast=fast)
    chunks = check_events(out, partial)
    whole = ChunkParser()
    expected = whole.feed(data)
    try:
        expected += whole.close()
    except MkvTruncatedError as exc:
        expected += exc.chunks
    assert chunks == expected


def test_events_arrive_before_the_fragment_ends() -> None:
    """A KVS fragment's frames are handed out block by block, with the tags sent before them."""
    stream = b"".join(writer.synthetic_stream(2, frames_per_fragment=10, frame_size=500))
    parser = ChunkParser()
    first_frame_end = None
    got: list[Chunk | FrameEvent] = []
    for i in range(0, len(stream), 100):
        out = parser.feed_events(stream[i : i + 100])
        if first_frame_end is None and any(isinstance(e, FrameEvent) for e in out):
            first_frame_end = i + 100
        got += out
    got += parser.close()
    chunks = [c for c in got if isinstance(c, Chunk)]
    assert first_frame_end is not None and first_frame_end < len(chunks[0].raw) // 2
    events = [e for e in got if isinstance(e, FrameEvent)]
    assert len(events) == 20
    first = events[0]
    assert first.fragment_number == chunks[0].fragment_number is not None
    assert first.server_timestamp == chunks[0].server_timestamp
    assert isinstance(first.server_timestamp, datetime)
    assert first.server_timestamp.tzinfo is UTC
    assert first.track is not None and first.track.number == first.frame.track_number
    assert events[10].frame_index == 0 and events[10].chunk_offset == chunks[1].offset
    assert first.cluster_timecode_ms == chunks[0].frames[0].timecode_ms  # first block at rel 0


def test_plain_feed_makes_no_events() -> None:
    stream = b"".join(writer.synthetic_stream(1))
    parser = ChunkParser()
    half = len(stream) // 2
    assert all(isinstance(c, Chunk) for c in parser.feed(stream[:half]))
    rest = parser.feed_events(stream[half:])
    chunk = rest[-1]
    assert isinstance(chunk, Chunk)
    events = [e for e in rest if isinstance(e, FrameEvent)]
    # only frames completed during feed_events() are handed out as events
    assert [e.frame for e in events] == list(chunk.frames[len(chunk.frames) - len(events) :])


def test_frames_and_events_are_frozen() -> None:
    out, _ = run_events([b"".join(writer.synthetic_stream(1))])
    event = out[0]
    assert isinstance(event, FrameEvent)
    with pytest.raises(AttributeError):
        event.frame.timecode_ms = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.fragment_number = "x"  # type: ignore[misc]
    assert event.frame.payload.readonly


def test_error_carries_events_completed_before_it() -> None:
    stream = b"".join(writer.synthetic_stream(2, frames_per_fragment=4))
    bad = stream + b"\x08\x00"  # an ID longer than four bytes after two good fragments
    parser = ChunkParser()
    with pytest.raises(MkvParseError) as info:
        parser.feed_events(bad)
    chunks = [c for c in info.value.events if isinstance(c, Chunk)]
    assert len(chunks) == 2 and info.value.chunks == chunks
    assert sum(isinstance(e, FrameEvent) for e in info.value.events) == 8
    with pytest.raises(MkvParseError) as again:  # raised again, carrying nothing twice
        parser.feed_events(b"")
    assert again.value.events == [] and again.value.offset == info.value.offset
