"""Typed chunks: one GetMedia fragment (or one plain MKV file) parsed, with its exact bytes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from attrs import define

__all__ = ["Chunk", "Frame", "Track"]


@define(frozen=True, slots=True)
class Frame:
    """One frame. `timecode_ms` is absolute: (cluster timecode + block offset) x TimecodeScale.

    `payload` is a read-only zero-copy view into the chunk's `raw` (`bytes(frame.payload)` copies).
    Laced frames of one block share its timecode. Positional fields: built in the hot loop.
    """

    track_number: int
    timecode_ms: int
    keyframe: bool
    invisible: bool
    discardable: bool
    payload: memoryview


@define(frozen=True, slots=True, kw_only=True)
class Track:
    """A TrackEntry: what a consumer needs to set up a decoder."""

    number: int
    uid: int | None = None
    type: int | None = None  # 1 video, 2 audio, 17 subtitle, ...
    codec_id: str | None = None
    codec_private: bytes | None = None
    name: str | None = None
    width: int | None = None
    height: int | None = None
    sampling_rate: float | None = None
    channels: int | None = None
    default_duration_ns: int | None = None


@define(frozen=True, slots=True, kw_only=True)
class Chunk:
    """One fragment: KVS metadata, tags, tracks, frames and the exact bytes (`raw`).

    `tags` maps each SimpleTag name to its value (a repeated name keeps its last value);
    `tag_list` keeps every pair in stream order, repeats included.
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
    raw: bytes
    offset: int
    error_code: str | None
    error_id: int | None
    timecode_scale: int
