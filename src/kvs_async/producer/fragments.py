"""Fragments as the producer sends them: checked when put, or muxed from frames.

A PutMedia fragment is a small MKV document: EBML header, Segment, Info, Tracks and one Cluster
that starts with a keyframe (what :mod:`kvs_async.mkv.writer` builds). :func:`inspect_fragment`
checks one handed to ``put_fragment``; :class:`FrameMuxer` builds them from frames, cutting at
keyframes. Both are pure (no I/O).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from attrs import define

from ..mkv import ChunkParser, EbmlReader, Leaf, MkvParseError, Track, writer
from .errors import FragmentRejectedError
from .limits import PutMediaLimits

__all__ = ["Fragment", "FrameMuxer", "inspect_fragment", "tracks_element"]

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_CLUSTER_MAGIC = b"\x1f\x43\xb6\x75"
_SEGMENT_ID = 0x18538067


@define(frozen=True, slots=True, kw_only=True)
class Fragment:
    """One fragment ready to send: its bytes and what acks are matched against."""

    index: int
    data: bytes
    timecode_ms: int
    duration_ms: int

    @property
    def size(self) -> int:
        return len(self.data)


def inspect_fragment(
    data: bytes,
    *,
    index: int,
    limits: PutMediaLimits,
    previous_timecode_ms: int | None,
) -> Fragment:
    """Check ``data`` is one KVS-ready fragment and obey ``limits``; raise FragmentRejectedError."""
    data = bytes(data)
    if len(data) > limits.max_fragment_size:
        raise FragmentRejectedError(
            f"{len(data)} bytes, more than the maximum fragment size of {limits.max_fragment_size}",
            fragment=index,
            rule="max-fragment-size",
        )
    if not data.startswith(_EBML_MAGIC):
        raise FragmentRejectedError(
            "not MKV: a fragment starts with an EBML header (1A 45 DF A3)",
            fragment=index,
            rule="mkv",
        )
    limit = max(len(data), 1 << 16)
    parser = ChunkParser(trailing_tags=False, max_element_size=limit, max_buffer_size=2 * limit)
    try:
        chunks = parser.feed(data) + parser.close()
    except MkvParseError as exc:
        raise FragmentRejectedError(f"not valid MKV: {exc}", fragment=index, rule="mkv") from None
    timecode, clusters = _walk(data, chunks[0].timecode_scale if chunks else 1_000_000)
    if clusters is None and data.count(_CLUSTER_MAGIC) > 1:
        clusters = _clusters(data, index)
    if len(chunks) != 1 or (clusters is not None and clusters != 1):
        raise FragmentRejectedError(
            "more than one Cluster (or EBML document): a fragment holds exactly one Cluster",
            fragment=index,
            rule="one-cluster",
        )
    chunk = chunks[0]
    if not chunk.tracks:
        raise FragmentRejectedError(
            "no Tracks element before the Cluster", fragment=index, rule="tracks"
        )
    if len(chunk.tracks) > limits.max_tracks:
        raise FragmentRejectedError(
            f"{len(chunk.tracks)} tracks, more than the limit of {limits.max_tracks}",
            fragment=index,
            rule="max-tracks",
        )
    if not chunk.frames:
        raise FragmentRejectedError("a Cluster without frames", fragment=index, rule="frames")
    if not chunk.frames[0].keyframe:
        raise FragmentRejectedError(
            "the Cluster does not start with a keyframe",
            fragment=index,
            rule="starts-with-keyframe",
        )
    if timecode is None:
        timecode = _cluster_timecode_events(data, chunk.timecode_scale)
    stamps = sorted({f.timecode_ms for f in chunk.frames})
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    duration = stamps[-1] - timecode + (min(gaps) if gaps else 0)
    check_timing(timecode, duration, index, limits, previous_timecode_ms)
    return Fragment(index=index, data=data, timecode_ms=timecode, duration_ms=duration)


def _clusters(data: bytes, index: int) -> int:
    try:
        return len(writer.split_fragments(data))
    except MkvParseError as exc:
        raise FragmentRejectedError(f"not valid MKV: {exc}", fragment=index, rule="mkv") from None


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """(value, next position) of the EBML VINT at ``pos``; ValueError if there is none."""
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or pos + length > len(data):
        raise ValueError("bad VINT")
    value = int.from_bytes(data[pos : pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = -1  # unknown size
    return value, pos + length


def _walk(data: bytes, scale: int) -> tuple[int | None, int | None]:
    """(first Cluster's Timecode in ms, number of Clusters) by a walk over the top-level
    elements (the parser has validated them); None where the walk cannot tell (an
    unknown-size Cluster cannot be skipped)."""
    timecode: int | None = None
    clusters = 0
    try:
        pos = 0
        while pos < len(data):
            eid, pos = _vint(data, pos, keep_marker=True)
            size, pos = _vint(data, pos, keep_marker=False)
            if eid == 0x18538067:  # Segment: step inside
                continue
            if eid == 0x1F43B675:
                clusters += 1
                if timecode is None:
                    child, at = _vint(data, pos, keep_marker=True)
                    length, at = _vint(data, at, keep_marker=False)
                    if child == 0xE7 and 0 < length <= 8:
                        raw = int.from_bytes(data[at : at + length], "big")
                        timecode = raw * scale // 1_000_000
            if size < 0:
                return timecode, None
            pos += size
    except (ValueError, IndexError):
        return timecode, None
    return timecode, clusters


def _cluster_timecode_events(data: bytes, scale: int) -> int:
    """The same through the event reader, for layouts the walk does not expect."""
    reader = EbmlReader(max_element_size=max(len(data), 1), max_buffer_size=2 * len(data) + 1)
    view = memoryview(data)
    for pos in range(0, len(data), 4096):
        for ev in reader.feed(view[pos : pos + 4096]):
            if isinstance(ev, Leaf) and ev.id == 0xE7 and ev.depth == 2:
                value = ev.value
                return value * scale // 1_000_000 if isinstance(value, int) else 0
    return 0


def check_timing(
    timecode_ms: int,
    duration_ms: int,
    index: int,
    limits: PutMediaLimits,
    previous_timecode_ms: int | None,
) -> None:
    if previous_timecode_ms is not None and timecode_ms <= previous_timecode_ms:
        raise FragmentRejectedError(
            f"timecode {timecode_ms} ms is not after the previous fragment's "
            f"({previous_timecode_ms} ms): timecodes only move forward",
            fragment=index,
            rule="forward-timecodes",
        )
    if duration_ms > limits.max_fragment_duration_ms:
        raise FragmentRejectedError(
            f"{duration_ms} ms long, more than the maximum fragment duration of "
            f"{limits.max_fragment_duration_ms} ms",
            fragment=index,
            rule="max-fragment-duration",
        )


def tracks_element(tracks: Sequence[Track]) -> bytes:
    """The Tracks element for ``tracks`` (Track objects as the parser returns them)."""
    if not tracks:
        raise ValueError("set_tracks needs at least one Track")
    numbers = [t.number for t in tracks]
    if len(set(numbers)) != len(numbers) or min(numbers) < 1:
        raise ValueError(f"track numbers must be distinct and positive, got {numbers}")
    return writer.tracks(
        *(
            writer.track_entry(
                number=t.number,
                uid=t.uid,
                track_type=t.type if t.type is not None else 1,
                codec_id=t.codec_id or "V_MPEG4/ISO/AVC",
                codec_private=t.codec_private,
                name=t.name,
                width=t.width,
                height=t.height,
                sampling_rate=t.sampling_rate,
                channels=t.channels,
                default_duration_ns=t.default_duration_ns,
            )
            for t in tracks
        )
    )


class FrameMuxer:
    """Frames in, fragments out: a new fragment at each keyframe of the cut track.

    The cut track is the first video track (type 1), else the first track. The first fragment
    may begin with a keyframe of another track (audio ahead of the first video keyframe, as
    ffmpeg writes it); later ones begin at a cut-track keyframe. A keyframe starts a
    new fragment once the current one is at least ``min_fragment_duration_ms`` long; a frame
    that would make a fragment longer than ``max_fragment_duration_ms`` (no keyframe came in
    time) is refused, as are timecodes before the fragment's start by more than a block can
    express (32.767 s) and fragments whose timecode does not move forward.
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        *,
        limits: PutMediaLimits,
        min_fragment_duration_ms: int = 0,
        max_fragment_duration_ms: int | None = None,
    ) -> None:
        self._head = writer.ebml_header() + writer.unknown_size(_SEGMENT_ID) + writer.info()
        self._head += tracks_element(tracks)
        if len(tracks) > limits.max_tracks:
            raise ValueError(f"{len(tracks)} tracks, more than the limit of {limits.max_tracks}")
        self._numbers = {t.number for t in tracks}
        video = [t.number for t in tracks if t.type == 1]
        self.cut_track = video[0] if video else tracks[0].number
        self._limits = limits
        self._min = max(0, min_fragment_duration_ms)
        cap = limits.max_fragment_duration_ms
        self._max = min(cap, max_fragment_duration_ms) if max_fragment_duration_ms else cap
        self._blocks: list[bytes] = []
        self._size = 0
        self._start: int | None = None
        self._has_cut_key = False
        self._last_tc = 0
        self._previous: int | None = None

    @property
    def pending_frames(self) -> int:
        return len(self._blocks)

    def add(
        self, track: int, timecode_ms: int, payload: bytes, *, keyframe: bool, index: int
    ) -> Fragment | None:
        """Add one frame; return the fragment it closed (the frames before it), if any.

        ``index`` is the index the *returned* fragment gets (errors name it too).
        """
        if track not in self._numbers:
            raise FragmentRejectedError(
                f"frame for track {track}, which set_tracks did not declare "
                f"({sorted(self._numbers)})",
                fragment=index,
                rule="track-number",
            )
        out: Fragment | None = None
        if self._start is None:
            if not keyframe:
                raise FragmentRejectedError(
                    f"the first frame of a fragment must be a keyframe (track {track} frame "
                    f"at {timecode_ms} ms is not)",
                    fragment=index,
                    rule="starts-with-keyframe",
                )
        elif (
            keyframe
            and track == self.cut_track
            and self._has_cut_key
            and timecode_ms - self._start >= self._min
        ):
            out = self.flush(index=index, next_timecode_ms=timecode_ms)
        if self._start is None:
            if self._previous is not None and timecode_ms <= self._previous:
                raise FragmentRejectedError(
                    f"timecode {timecode_ms} ms is not after the previous fragment's "
                    f"({self._previous} ms): timecodes only move forward",
                    fragment=index + (out is not None),
                    rule="forward-timecodes",
                )
            self._start = timecode_ms
        rel = timecode_ms - self._start
        current = index + (out is not None)
        if rel > self._max:
            raise FragmentRejectedError(
                f"no keyframe on track {self.cut_track} within {self._max} ms "
                f"(frame at {timecode_ms} ms): the fragment would be longer than the maximum",
                fragment=current,
                rule="max-fragment-duration",
            )
        if not -0x8000 <= rel <= 0x7FFF:
            raise FragmentRejectedError(
                f"frame timecode {timecode_ms} ms is {rel} ms from the fragment start; "
                "a block holds -32768..32767",
                fragment=current,
                rule="block-timecode",
            )
        block = writer.simple_block(track, rel, payload, keyframe=keyframe)
        if self._size + len(block) + len(self._head) + 16 > self._limits.max_fragment_size:
            raise FragmentRejectedError(
                f"the fragment would exceed the maximum fragment size of "
                f"{self._limits.max_fragment_size} bytes",
                fragment=current,
                rule="max-fragment-size",
            )
        self._blocks.append(block)
        self._has_cut_key = self._has_cut_key or (keyframe and track == self.cut_track)
        self._size += len(block)
        self._last_tc = max(self._last_tc, timecode_ms)
        return out

    def flush(self, *, index: int, next_timecode_ms: int | None = None) -> Fragment | None:
        """Close the current fragment (at the end of input, or before a cut)."""
        if self._start is None:
            return None
        start = self._start
        end = next_timecode_ms if next_timecode_ms is not None else self._last_tc
        data = self._head + writer.cluster(start, self._blocks)
        self._blocks = []
        self._size = 0
        self._start = None
        self._has_cut_key = False
        self._previous = start
        return Fragment(index=index, data=data, timecode_ms=start, duration_ms=max(0, end - start))
