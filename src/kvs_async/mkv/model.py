"""What the chunk parser hands out: frames, frame events, tracks and chunks (one per fragment)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from attrs import define, field

__all__ = ["Chunk", "Frame", "FrameEvent", "Track", "parse_timestamp"]


class Frame(NamedTuple):
    """One frame. `timecode_ms` is absolute: (cluster timecode + block offset) x TimecodeScale.

    `payload` is a read-only zero-copy view of the frame's bytes as they were fed (or, for a block
    that straddled two fed pieces, of the one copy made to join it): `bytes(frame.payload)` copies.
    Laced frames of one block share its timecode. A tuple subclass: immutable and cheap to build.
    """

    track_number: int
    timecode_ms: int
    keyframe: bool
    invisible: bool
    discardable: bool
    payload: memoryview


class FrameEvent(NamedTuple):
    """A frame handed out as soon as its SimpleBlock (or BlockGroup) is complete.

    `frame_index` is its position in its fragment's `Chunk.frames` (the same `Frame` object);
    the fragment number and timestamps come from the KVS tags that precede the Cluster
    (None for plain MKV), `cluster_timecode_ms` from the Cluster's Timecode, `track` is the
    TrackEntry in force for `frame.track_number` (None if there is none), `chunk_offset` the
    stream offset where the fragment begins (its `Chunk.offset`).
    """

    frame: Frame
    frame_index: int
    fragment_number: str | None
    server_timestamp: datetime | None
    producer_timestamp: datetime | None
    cluster_timecode_ms: int
    track: Track | None
    chunk_offset: int


@define(frozen=True, slots=True, kw_only=True)
class Track:
    """A TrackEntry: what a consumer needs to set up a decoder.

    Fields the file omits take the Matroska spec's defaults: an audio track has 1 channel at
    8000.0 Hz, OutputSamplingFrequency defaults to the sampling rate, DisplayWidth/Height to the
    pixel size, Language to "eng", FlagEnabled/FlagDefault to True, FlagForced to False,
    CodecDelay and SeekPreRoll to 0.
    """

    number: int
    uid: int | None = None
    type: int | None = None  # 1 video, 2 audio, 17 subtitle, ...
    codec_id: str | None = None
    codec_private: bytes | None = None
    name: str | None = None
    language: str = "eng"
    flag_enabled: bool = True
    flag_default: bool = True
    flag_forced: bool = False
    codec_delay_ns: int = 0
    seek_pre_roll_ns: int = 0
    width: int | None = None
    height: int | None = None
    display_width: int | None = None
    display_height: int | None = None
    sampling_rate: float | None = None
    output_sampling_rate: float | None = None
    channels: int | None = None
    bit_depth: int | None = None
    default_duration_ns: int | None = None


@define(frozen=True, slots=True, kw_only=True, eq=False)
class Chunk:
    """One fragment: KVS metadata, tags, tracks, frames and the exact bytes (`raw`).

    `tags` maps each SimpleTag name to its value (a repeated name keeps its last value);
    `tag_list` keeps every pair in stream order, repeats included. `raw` is the chunk's exact
    bytes, joined from the pieces fed only when first asked for (`size` is its length without
    building it); `b"".join(c.raw for c in chunks)` is the input.
    """

    fragment_number: str | None
    server_timestamp: datetime | None
    producer_timestamp: datetime | None
    millis_behind_now: int | None
    continuation_token: str | None
    tags: Mapping[str, str]
    tag_list: tuple[tuple[str, str], ...]
    tracks: tuple[Track, ...]
    frames: tuple[Frame, ...]
    offset: int
    size: int
    error_code: str | None
    error_id: int | None
    timecode_scale: int
    _pieces: Sequence[bytes | memoryview] = field(eq=False, repr=False, alias="pieces")
    _joined: list[bytes] = field(factory=list, init=False, eq=False, repr=False)

    @property
    def raw(self) -> bytes:
        """The chunk's exact bytes (joined once, on first use, from the pieces that were fed)."""
        if not self._joined:
            pieces = self._pieces
            self._joined.append(
                pieces[0] if len(pieces) == 1 and type(pieces[0]) is bytes else b"".join(pieces)
            )
        return self._joined[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chunk):
            return NotImplemented
        return (
            self.offset == other.offset
            and self.size == other.size
            and self.fragment_number == other.fragment_number
            and self.server_timestamp == other.server_timestamp
            and self.producer_timestamp == other.producer_timestamp
            and self.millis_behind_now == other.millis_behind_now
            and self.continuation_token == other.continuation_token
            and self.tag_list == other.tag_list
            and self.tracks == other.tracks
            and self.frames == other.frames
            and self.error_code == other.error_code
            and self.error_id == other.error_id
            and self.timecode_scale == other.timecode_scale
            and self.raw == other.raw
        )

    __hash__ = None  # type: ignore[assignment]


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"(-?)([0-9]{1,12})(?:\.([0-9]{1,9}))?")


def parse_timestamp(text: str) -> datetime | None:
    """KVS epoch seconds (`1511852109.126`) as an aware UTC datetime, exact to the microsecond."""
    m = _TIMESTAMP.fullmatch(text.strip())
    if m is None:
        return None
    micros = int(m[2]) * 1_000_000 + int((m[3] or "").ljust(6, "0")[:6])
    try:
        return _EPOCH + timedelta(microseconds=-micros if m[1] else micros)
    except OverflowError:
        return None
