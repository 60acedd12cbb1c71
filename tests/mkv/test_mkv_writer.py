"""The writer reproduces KVS's byte layout and cuts real files into fragments."""

from __future__ import annotations

import pytest
from conftest import MKV_DIR

from kvs_async.mkv import Leaf, MasterStart, iter_events, writer

FN1 = "91343852333181432392682062607743920146159169392"


def test_element_and_sizes() -> None:
    assert writer.element(0xEC, b"\x00\x00") == b"\xec\x82\x00\x00"
    assert writer.element(0x4487, b"ab", size_length=4) == b"\x44\x87\x10\x00\x00\x02ab"
    assert writer.unknown_size(0x18538067) == bytes.fromhex("1853806701ffffffffffffff")
    assert writer.encode_size(126) == b"\xfe"
    assert writer.encode_size(127) == b"\x40\x7f"  # 0xFF would mean unknown size
    with pytest.raises(ValueError):
        writer.encode_size(127, length=1)
    with pytest.raises(ValueError):
        writer.encode_id(0x1FFFFFFFF)


def test_kvs_layout_matches_real_getmedia_output() -> None:
    data = (MKV_DIR / "output_get_media.mkv").read_bytes()
    assert data.startswith(writer.ebml_header() + writer.unknown_size(0x18538067))
    leading = writer.kvs_tags(
        [
            ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", FN1),
            ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", "1511852109.126"),
            ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", "1511852108.513"),
        ]
    )
    trailing = writer.kvs_tags(
        [
            ("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "15858"),
            ("AWS_KINESISVIDEO_CONTINUATION_TOKEN", FN1),
        ]
    )
    assert data.find(leading) == 916
    assert data.find(trailing) == 547754
    frags = writer.split_fragments(data)
    assert [f.timecode_ms for f in frags] == [0, 2000, 4000, 6000, 8000]
    assert all(f.duration_ms == 2000 and f.keyframe_start for f in frags)
    # Same layout as KVS for Info, Tracks, KVS Tags, Cluster, trailing Tags.
    out = writer.kvs_fragment(
        frags[0],
        fragment_number=FN1,
        server_timestamp="1511852109.126",
        producer_timestamp="1511852108.513",
        millis_behind_now=15858,
        continuation_token=FN1,
    )
    assert out.endswith(data[1159 : 547754 + len(trailing)])
    assert leading in out
    assert frags[0].cluster == data[1159 : 1159 + len(frags[0].cluster)]


def test_split_unknown_size_clusters_get_known_size() -> None:
    data = (MKV_DIR / "test_mixed_tags.mkv").read_bytes()
    frags = writer.split_fragments(data)
    assert len(frags) == 10
    assert [f.timecode_ms for f in frags] == list(range(0, 50000, 5000))
    for f in frags:
        first = next(iter_events(f.cluster))
        assert isinstance(first, MasterStart) and first.size == len(f.cluster) - 12
        blocks = [e for e in iter_events(f.cluster) if isinstance(e, Leaf) and e.id == 0xA3]
        assert len(blocks) == 10


def test_split_plain_files_with_audio_and_known_segment() -> None:
    frags = writer.split_fragments((MKV_DIR / "vogels_480.mkv").read_bytes())
    assert [f.timecode_ms for f in frags] == [
        0,
        2155,
        7147,
        9792,
        14784,
        17131,
        22123,
        25024,
        28821,
    ]
    assert all(f.tracks == frags[0].tracks for f in frags)


def test_error_fragment_and_synthetic() -> None:
    err = writer.kvs_error_fragment("FRAGMENT_NOT_FOUND", "4000")
    values = [e.value for e in iter_events(err) if isinstance(e, Leaf) and e.id == 0x4487]
    assert values == ["FRAGMENT_NOT_FOUND", "4000"]
    frags = list(writer.synthetic_stream(3, frames_per_fragment=5, frame_size=100))
    assert len(frags) == 3
    blocks = [e for e in iter_events(b"".join(frags)) if isinstance(e, Leaf) and e.id == 0xA3]
    assert len(blocks) == 15
    mkv = writer.synthetic_mkv(4, frames_per_fragment=3)
    split = writer.split_fragments(mkv)
    assert [f.timecode_ms for f in split] == [0, 99, 198, 297]
    assert [f.duration_ms for f in split] == [99, 99, 99, 99]
