"""Hypothesis: any split gives the same chunks; writer output round-trips."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from conftest import MKV_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.mkv import Chunk, ChunkParser, EbmlReader, Event, MkvTruncatedError, writer


def parse_all(pieces: list[bytes], *, fast: bool = True) -> tuple[list[Chunk], Chunk | None]:
    parser = ChunkParser(fast=fast)
    chunks: list[Chunk] = []
    for piece in pieces:
        chunks += parser.feed(piece)
    try:
        chunks += parser.close()
    except MkvTruncatedError as exc:
        return chunks + exc.chunks, exc.partial
    return chunks, None


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


SMALL = (MKV_DIR / "test_mixed_tags.mkv").read_bytes()
MEDIUM = (MKV_DIR / "output-get-media-equal-timecode.mkv").read_bytes()[:200_000]
REAL = {
    name: (MKV_DIR / name).read_bytes()
    for name in (
        "output_get_media.mkv",
        "output-get-media-non-increasing-timecode.mkv",
        "vogels_330.mkv",
        "test_mixed_tags.mkv",
        "empty-mkv-with-tags.mkv",
    )
}
WHOLE = {name: parse_all([data]) for name, data in REAL.items()}


def test_one_byte_at_a_time() -> None:
    whole = parse_all([SMALL])
    assert len(whole[0]) == 10
    assert parse_all([SMALL[i : i + 1] for i in range(len(SMALL))]) == whole
    assert parse_all([SMALL[i : i + 1] for i in range(len(SMALL))], fast=False) == whole


def test_one_byte_at_a_time_events() -> None:
    def events(pieces: list[bytes]) -> list[Event]:
        reader = EbmlReader()
        out: list[Event] = []
        for p in pieces:
            out += reader.feed(p)
        return out + reader.close()

    data = (MKV_DIR / "empty-mkv-with-tags.mkv").read_bytes()
    assert events([data[i : i + 1] for i in range(len(data))]) == events([data])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(REAL)),
    points=st.lists(st.integers(min_value=0, max_value=1 << 24), max_size=40),
    fast=st.booleans(),
)
def test_any_split_gives_identical_chunks(name: str, points: list[int], fast: bool) -> None:
    data = REAL[name]
    assert parse_all(cut(data, points), fast=fast) == WHOLE[name]


@settings(max_examples=25, deadline=None)
@given(points=st.lists(st.integers(min_value=0, max_value=len(MEDIUM)), min_size=50, max_size=400))
def test_many_small_pieces(points: list[int]) -> None:
    assert parse_all(cut(MEDIUM, points)) == parse_all([MEDIUM])


# -- writer round trip --------------------------------------------------------------------------

frame_payload = st.binary(min_size=0, max_size=300)
block = st.tuples(
    st.integers(min_value=1, max_value=200),  # track number (two-byte VINT above 126)
    st.integers(min_value=-0x8000, max_value=0x7FFF),
    st.lists(frame_payload, min_size=1, max_size=4),
    st.sampled_from(["none", "xiph", "ebml", "fixed", "group"]),
    st.booleans(),  # keyframe
    st.booleans(),  # invisible
)


def build_block(spec: tuple[int, int, list[bytes], str, bool, bool]) -> tuple[bytes, list[bytes]]:
    track, rel, frames, lacing, key, invisible = spec
    if lacing == "none":
        return writer.simple_block(
            track, rel, frames[0], keyframe=key, invisible=invisible
        ), frames[:1]
    if lacing == "group":
        return writer.block_group(track, rel, frames[0], keyframe=key), frames[:1]
    if lacing == "fixed":
        frames = [frames[0]] * len(frames)
    return writer.laced_block(track, rel, frames, lacing=lacing, keyframe=key), frames


TAG_TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
fragment = st.tuples(
    st.integers(min_value=0, max_value=(1 << 40)),  # cluster timecode
    st.lists(block, min_size=0, max_size=6),
    st.booleans(),  # unknown-size cluster
    st.integers(min_value=0, max_value=10**9),  # millis behind now
    st.integers(min_value=0, max_value=4_000_000_000_000),  # server ms
    st.lists(
        st.tuples(
            st.text(TAG_TEXT, min_size=1, max_size=20).filter(lambda s: not s.startswith("AWS_")),
            st.text(TAG_TEXT, max_size=30),
        ),
        max_size=3,
    ),
    st.booleans(),  # trailing tags
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frags=st.lists(fragment, min_size=1, max_size=4),
    points=st.lists(st.integers(0, 1 << 20)),
    fast=st.booleans(),
)
def test_writer_fragments_round_trip(
    frags: list[
        tuple[
            int,
            list[tuple[int, int, list[bytes], str, bool, bool]],
            bool,
            int,
            int,
            list[tuple[str, str]],
            bool,
        ]
    ],
    points: list[int],
    fast: bool,
) -> None:
    expected = []
    stream = b""
    trk = writer.tracks(
        writer.track_entry(number=1, codec_id="V_MPEG4/ISO/AVC", width=320, height=240),
        writer.track_entry(
            number=2, track_type=2, codec_id="A_AAC", sampling_rate=8000.0, channels=1
        ),
    )
    for i, (ctc, blocks, unknown, mbn, server_ms, extra, trailing) in enumerate(frags):
        built = [build_block(b) for b in blocks]
        clu = writer.cluster(ctc, [b for b, _ in built], unknown=unknown)
        src = writer.SourceFragment(
            info=writer.info(),
            tracks=trk,
            cluster=clu,
            timecode_ms=ctc,
            duration_ms=0,
            keyframe_start=True,
        )
        last = i == len(frags) - 1
        fn = str(writer.FIRST_FRAGMENT_NUMBER + i)
        has_trailer = trailing or not last
        stream += writer.kvs_fragment(
            src,
            fragment_number=fn,
            server_timestamp=writer.format_timestamp(server_ms),
            producer_timestamp=writer.format_timestamp(server_ms - 1500),
            millis_behind_now=mbn if has_trailer else None,
            continuation_token=fn if has_trailer else None,
            extra_tags=extra,
        )
        frames = []
        for (track, rel, _, lacing, key, invisible), (_, payloads) in zip(
            blocks, built, strict=True
        ):
            for p in payloads:
                frames.append((track, ctc + rel, key, invisible and lacing == "none", p))
        expected.append((fn, server_ms, mbn if has_trailer else None, extra, frames))
    chunks, partial = parse_all(cut(stream, points), fast=fast)
    assert (chunks, partial) == parse_all([stream], fast=not fast)
    got = chunks + ([partial] if partial is not None else [])
    assert b"".join(c.raw for c in got) == stream
    assert len(got) == len(expected)
    assert (partial is None) == (frags[-1][6])
    for c, (fn, server_ms, mbn, extra, frames) in zip(got, expected, strict=True):
        assert c.fragment_number == fn
        assert c.continuation_token == (fn if mbn is not None else None)
        assert c.millis_behind_now == mbn
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        assert c.server_timestamp == epoch + timedelta(milliseconds=server_ms)
        assert c.producer_timestamp == epoch + timedelta(milliseconds=server_ms - 1500)
        assert [t for t in c.tag_list if not t[0].startswith("AWS_")] == extra
        got_frames = [
            (f.track_number, f.timecode_ms, f.keyframe, f.invisible, bytes(f.payload))
            for f in c.frames
        ]
        assert got_frames == frames
        assert [t.number for t in c.tracks] == [1, 2]
        assert c.tracks[1].sampling_rate == 8000.0


def test_synthetic_stream_round_trip() -> None:
    stream = list(writer.synthetic_stream(4, frames_per_fragment=7, frame_size=321))
    chunks, partial = parse_all(stream)
    assert partial is None and len(chunks) == 4
    assert [c.raw for c in chunks] == stream
    assert all(len(c.frames) == 7 and c.frames[0].keyframe for c in chunks)
    assert all(len(f.payload) == 321 for c in chunks for f in c.frames)
    assert int(chunks[1].fragment_number or 0) > int(chunks[0].fragment_number or 0)
    stream = list(writer.synthetic_stream(2, continuation=False))
    chunks, partial = parse_all(stream)
    assert len(chunks) == 1 and partial is not None and partial.continuation_token is None


def test_error_fragment_completes_a_chunk() -> None:
    stream = [*writer.synthetic_stream(1), writer.kvs_error_fragment("FRAGMENT_NOT_FOUND", "4000")]
    parser = ChunkParser()
    first = parser.feed(stream[0])
    second = parser.feed(stream[1])
    assert len(first) == 1 and len(second) == 1  # the error chunk is complete at its Tags' end
    assert second[0].error_code == "FRAGMENT_NOT_FOUND" and second[0].error_id == 4000
    assert parser.close() == []
