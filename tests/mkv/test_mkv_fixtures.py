"""Every real fixture parses to the counts its README gives, losslessly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import MKV_DIR

from kvs_async.mkv import (
    Chunk,
    ChunkParser,
    EbmlReader,
    Leaf,
    MasterStart,
    MkvTruncatedError,
    iter_events,
)


def parse_file(path: Path, piece: int = 65536) -> tuple[list[Chunk], Chunk | None]:
    data = path.read_bytes()
    parser = ChunkParser()
    chunks: list[Chunk] = []
    for i in range(0, len(data), piece):
        chunks += parser.feed(data[i : i + piece])
    partial = None
    try:
        chunks += parser.close()
    except MkvTruncatedError as exc:
        chunks += exc.chunks
        partial = exc.partial
    raw = b"".join(c.raw for c in chunks) + (partial.raw if partial else b"")
    assert raw == data
    offset = 0
    for c in [*chunks, *([partial] if partial else [])]:
        assert c.offset == offset
        offset += len(c.raw)
    return chunks, partial


ALL = sorted(p.name for p in MKV_DIR.glob("*.mkv"))


def test_all_thirteen_fixtures_present() -> None:
    assert len(ALL) == 13


def ts(text: str) -> datetime:
    secs, millis = text.split(".")
    return datetime.fromtimestamp(int(secs), UTC).replace(microsecond=int(millis) * 1000)


def test_output_get_media() -> None:
    chunks, partial = parse_file(MKV_DIR / "output_get_media.mkv")
    assert partial is None and len(chunks) == 5
    assert [len(c.frames) for c in chunks] == [60] * 5
    first, second = chunks[0], chunks[1]
    assert first.fragment_number == "91343852333181432392682062607743920146159169392"
    assert first.server_timestamp == ts("1511852109.126")
    assert first.producer_timestamp == ts("1511852108.513")
    assert first.server_timestamp is not None and first.server_timestamp.tzinfo is UTC
    assert first.millis_behind_now == 15858
    assert first.continuation_token == first.fragment_number
    assert second.fragment_number == "91343852333181432397633822764885441725874549018"
    assert second.server_timestamp == ts("1511852110.915")
    assert second.producer_timestamp == ts("1511852110.513")
    assert second.millis_behind_now == 14155
    assert chunks[-1].fragment_number == "91343852333181432412489103236310005892133364608"
    fns = [int(c.fragment_number or 0) for c in chunks]
    assert fns == sorted(fns) and len(set(fns)) == 5
    assert all(c.continuation_token == c.fragment_number for c in chunks)
    for c in chunks:
        assert c.error_code is None and c.error_id is None
        assert c.timecode_scale == 1_000_000
        (track,) = c.tracks
        assert (track.number, track.codec_id, track.width, track.height) == (
            1,
            "V_MPEG4/ISO/AVC",
            640,
            360,
        )
        assert track.codec_private is not None and len(track.codec_private) == 54
        assert track.codec_private.startswith(bytes.fromhex("014d401e0301002727"))
    # The 7 producer tags, in order (the Java test keeps DURATION's two NULs; we strip the
    # NUL padding that Matroska allows at the end of any string).
    producer = [(k, v) for k, v in first.tag_list if not k.startswith("AWS_")]
    assert producer == [
        ("COMPATIBLE_BRANDS", "isomavc1mp42"),
        ("MAJOR_BRAND", "M4V "),
        ("MINOR_VERSION", "1"),
        ("ENCODER", "Lavf57.71.100"),
        ("HANDLER_NAME", "ETI ISO Video Media Handler"),
        ("ENCODER", "Elemental H.264"),
        ("DURATION", "00:00:10.000000000"),
    ]
    assert first.tags["ENCODER"] == "Elemental H.264"
    assert sum(len(c.tag_list) for c in chunks) == 60
    # Frame timecodes: cluster timecode + block offset; first frame of each cluster a keyframe.
    assert [c.frames[0].timecode_ms for c in chunks] == [0, 2000, 4000, 6000, 8000]
    assert all(c.frames[0].keyframe for c in chunks)
    assert [f.timecode_ms for f in first.frames[:4]] == [0, 33, 67, 100]
    assert len(first.frames[0].payload) == 111835
    data = (MKV_DIR / "output_get_media.mkv").read_bytes()
    assert bytes(first.frames[0].payload) == data[1188 : 1188 + 111835]


def test_output_get_media_element_counts_as_the_java_tests() -> None:
    counts = Counter(e.name for e in iter_events((MKV_DIR / "output_get_media.mkv").read_bytes()))
    # Each master appears twice (start, end): count starts only.
    starts = Counter(
        e.name
        for e in iter_events((MKV_DIR / "output_get_media.mkv").read_bytes())
        if isinstance(e, MasterStart | Leaf)
    )
    for name in ("EBML", "Segment", "Cluster", "Timecode", "TimecodeScale", "Tracks"):
        assert starts[name] == 5, name
    assert starts["TrackNumber"] == 5
    assert starts["SimpleBlock"] == 300
    assert starts["Tag"] == 25 and starts["TagName"] == 60
    assert starts["CRC-32"] == 26 and starts["Void"] == 5 and starts["Cues"] == 1
    assert counts["Duration"] == 5


def test_equal_timecode_truncated() -> None:
    chunks, partial = parse_file(MKV_DIR / "output-get-media-equal-timecode.mkv")
    assert len(chunks) == 1 and partial is not None
    c = chunks[0]
    assert c.fragment_number == "91343852338381417542203754135250098963782391502"
    assert c.server_timestamp == ts("1519074132.668")
    assert c.producer_timestamp == ts("1518814932.515")
    assert c.millis_behind_now == 909335 and c.continuation_token == c.fragment_number
    assert len(c.frames) == 120
    assert c.tracks[0].width == 1280 and c.tracks[0].height == 674
    assert partial.fragment_number == "91343852338381422498915671433912930725530893291"
    assert partial.server_timestamp == ts("1519074918.949")
    assert partial.millis_behind_now is None and partial.continuation_token is None
    assert len(partial.frames) == 119
    assert c.frames[0].timecode_ms == 0 and partial.frames[0].timecode_ms == 0


def test_equal_timecode_truncation_error_carries_offset_and_path() -> None:
    data = (MKV_DIR / "output-get-media-equal-timecode.mkv").read_bytes()
    parser = ChunkParser()
    assert len(parser.feed(data)) == 1
    with pytest.raises(MkvTruncatedError) as info:
        parser.close()
    assert info.value.offset == 1272988
    assert info.value.path == ("Segment", "Cluster")
    assert info.value.chunks == []


def test_non_increasing_timecode() -> None:
    chunks, partial = parse_file(MKV_DIR / "output-get-media-non-increasing-timecode.mkv")
    assert len(chunks) == 11 and partial is not None
    assert [c.frames[0].timecode_ms for c in [*chunks, partial]] == [
        10014,
        0,
        1001,
        2003,
        3004,
        4005,
        5007,
        6008,
        7010,
        8011,
        9012,
        10014,
    ]
    assert [len(c.frames) for c in chunks] == [30] * 11 and len(partial.frames) == 28
    assert sum(len(c.frames) for c in chunks) + len(partial.frames) == 358
    first = chunks[0]
    assert first.fragment_number == "91343852338381293673923423239754896920603583280"
    assert first.server_timestamp == ts("1517789296.298")
    assert first.producer_timestamp == ts("1517530105.907")
    assert first.millis_behind_now == 1483915
    assert chunks[1].fragment_number == "91343852338381298581117738967002310959581833860"
    assert chunks[1].millis_behind_now == 1468004
    assert partial.fragment_number == "91343852338381298630635340538417522006416018997"
    assert all(c.continuation_token == c.fragment_number for c in chunks)
    assert first.tracks[0].width == 960 and first.tracks[0].height == 720
    # Fragment 1 holds producer Tags with 54 SimpleTags after its Cluster.
    assert len([t for t in first.tag_list if not t[0].startswith("AWS_")]) == 54


def test_renderer_example() -> None:
    chunks, partial = parse_file(MKV_DIR / "kinesis_video_renderer_example_output.mkv")
    assert partial is None and len(chunks) == 8
    assert [len(c.frames) for c in chunks] == [59] * 7 + [31]
    assert chunks[0].frames[0].timecode_ms == 0 and chunks[-1].frames[0].timecode_ms == 13997
    assert chunks[0].fragment_number == "91343852333181432392682062609776234230823574155"
    assert chunks[0].millis_behind_now == 7336747
    assert chunks[1].producer_timestamp == ts("1519423069.996")
    assert chunks[-1].fragment_number == "91343852333181432427344383709766881962776549716"
    (track,) = chunks[0].tracks
    assert track.name == "kinesis_video" and (track.width, track.height) == (640, 480)
    assert track.codec_private == bytes.fromhex(
        "01640028ffe1000e27640028ac2b40501ed00f1226a001000428ee1f2c"
    )


def test_mixed_tags_unknown_size_clusters() -> None:
    chunks, partial = parse_file(MKV_DIR / "test_mixed_tags.mkv")
    assert partial is None and len(chunks) == 10
    assert [c.frames[0].timecode_ms for c in chunks] == list(range(0, 50000, 5000))
    assert all(len(c.frames) == 10 for c in chunks)
    for i, c in enumerate(chunks):
        user = [t for t in c.tag_list if not t[0].startswith("AWS_")]
        assert len(user) == (10 if i == 0 else 5)
        assert user == [(f"testTag_{j % 5}", f"testTag_{j % 5}_Value") for j in range(len(user))]
        assert c.continuation_token == c.fragment_number
    assert chunks[0].producer_timestamp == datetime(1970, 1, 1, tzinfo=UTC)
    assert chunks[1].producer_timestamp == datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert chunks[0].millis_behind_now == 910 and chunks[1].millis_behind_now == 723
    assert chunks[0].server_timestamp == ts("1537574915.281")
    assert chunks[-1].fragment_number == "91343852333713038953530719038075113645398559869"
    (track,) = chunks[0].tracks
    assert track.codec_id == "V_MS/VFW/FOURCC" and track.name == "test track"


def test_empty_mkv_with_tags_is_an_unfinished_fragment() -> None:
    chunks, partial = parse_file(MKV_DIR / "empty-mkv-with-tags.mkv")
    assert chunks == [] and partial is not None
    assert partial.fragment_number == "91343852338378294813695855977007281634605393997"
    assert partial.server_timestamp == ts("1516124526.822")
    assert partial.producer_timestamp == ts("1515865326.543")
    assert partial.frames == () and partial.tracks[0].codec_id == "V_MPEG4/ISO/AVC"
    assert (partial.tracks[0].width, partial.tracks[0].height) == (960, 720)


def test_sparse_and_merged() -> None:
    full, _ = parse_file(MKV_DIR / "output_get_media.mkv")
    sparse, partial = parse_file(MKV_DIR / "output_get_media_sparse_fragments.mkv")
    assert partial is None
    assert [c.fragment_number for c in sparse] == [full[i].fragment_number for i in (0, 2, 4)]
    assert [c.millis_behind_now for c in sparse] == [full[i].millis_behind_now for i in (0, 2, 4)]
    assert [c.frames[0].timecode_ms for c in sparse] == [0, 4000, 8000]
    merged, partial = parse_file(MKV_DIR / "output_get_media_sparse_fragments_merged.mkv")
    assert partial is None and len(merged) == 3
    # One Segment: later chunks begin mid-Segment, keep the Segment's tracks, own their tags.
    assert [c.fragment_number for c in merged] == [c.fragment_number for c in sparse]
    assert [c.continuation_token for c in merged] == [c.continuation_token for c in sparse]
    assert [c.frames[0].timecode_ms for c in merged] == [0, 2000, 4000]
    assert sum(len(c.frames) for c in merged) == 180
    assert all(c.tracks == merged[0].tracks and c.tracks for c in merged)
    assert merged[1].raw[:4] != b"\x1a\x45\xdf\xa3"


def test_tags_only() -> None:
    chunks, partial = parse_file(MKV_DIR / "test_tags_empty_cluster.mkv")
    assert partial is None and len(chunks) == 1
    assert chunks[0].tag_list == tuple((f"testTag_{i}", f"testTag_{i}_Value") for i in range(5))
    assert chunks[0].fragment_number is None and chunks[0].frames == ()


def test_clusters_plain_mkv() -> None:
    chunks, partial = parse_file(MKV_DIR / "clusters.mkv")
    assert partial is None and len(chunks) == 1
    assert len(chunks[0].frames) == 444 and len(chunks[0].tag_list) == 4
    assert chunks[0].fragment_number is None
    starts = Counter(
        e.name
        for e in iter_events((MKV_DIR / "clusters.mkv").read_bytes())
        if isinstance(e, MasterStart | Leaf)
    )
    assert (starts["EBML"], starts["Segment"], starts["Cluster"], starts["Timecode"]) == (
        1,
        1,
        8,
        8,
    )
    assert starts["Tag"] == 1


@pytest.mark.parametrize("name", ["vogels_480.mkv", "vogels_330.mkv"])
def test_vogels_audio_and_video(name: str) -> None:
    (chunk,), partial = parse_file(MKV_DIR / name)
    assert partial is None
    assert len(chunk.frames) == 2334
    per_track = Counter(f.track_number for f in chunk.frames)
    assert per_track == {1: 909, 2: 1425}
    video, audio = chunk.tracks
    assert video.codec_id == "V_MPEG4/ISO/AVC" and video.width == 640
    assert video.height == (480 if name == "vogels_480.mkv" else 330)
    assert audio.codec_id == "A_AAC" and audio.sampling_rate == 48000.0 and audio.channels == 2
    assert chunk.timecode_scale == 1_000_000
    timecodes = [
        e.value for e in iter_events((MKV_DIR / name).read_bytes()) if e.name == "Timecode"
    ]
    assert timecodes == [0, 2155, 7147, 9792, 14784, 17131, 22123, 25024, 28821]
    assert min(f.timecode_ms for f in chunk.frames if f.timecode_ms >= 28821) == 28821


def test_bezos_vogels_known_size_segment() -> None:
    (chunk,), partial = parse_file(MKV_DIR / "bezos_vogels.mkv")
    assert partial is None and len(chunk.frames) == 546
    assert chunk.tracks[0].width == 1280 and chunk.tracks[0].height == 720
    starts = Counter(
        e.name
        for e in iter_events((MKV_DIR / "bezos_vogels.mkv").read_bytes())
        if isinstance(e, MasterStart | Leaf)
    )
    assert starts["Cluster"] == 5 and starts["CRC-32"] == 10


@pytest.mark.parametrize("name", ALL)
def test_fast_and_generic_paths_agree(name: str) -> None:
    data = (MKV_DIR / name).read_bytes()

    def run(fast: bool) -> tuple[list[Chunk], Chunk | None]:
        parser = ChunkParser(fast=fast)
        chunks = parser.feed(data)
        try:
            chunks += parser.close()
        except MkvTruncatedError as exc:
            return chunks + exc.chunks, exc.partial
        return chunks, None

    assert run(True) == run(False)


@pytest.mark.parametrize("name", ALL)
def test_chunk_and_event_levels_read_the_same_elements(name: str) -> None:
    data = (MKV_DIR / name).read_bytes()
    counts = []
    for parser in (ChunkParser(), ChunkParser(fast=False), EbmlReader()):
        parser.feed(data)
        try:
            parser.close()
        except MkvTruncatedError:
            pass
        counts.append(parser.elements_parsed)
    events = [e for e in iter_events_lenient(data) if isinstance(e, MasterStart | Leaf)]
    assert counts == [len(events)] * 3


def iter_events_lenient(data: bytes) -> list[object]:
    reader = EbmlReader()
    out: list[object] = list(reader.feed(data))
    try:
        out += reader.close()
    except MkvTruncatedError:
        pass
    return out
