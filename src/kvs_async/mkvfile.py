"""Write GetMedia chunks as one playable Matroska file.

Concatenating chunks' raw bytes gives one Segment per fragment, with the
producer's cluster timecodes that repeat and go backwards between fragments:
players stop after the first fragment or seek wrongly. This writer emits one
Segment with the first chunk's Tracks and re-bases every fragment's frames on
its producer (else server) timestamp, so time runs forward through the file.

On a seekable file, ``close()`` finishes it the way players want: the Info's
Duration, the Segment's size, Cues (one per cluster that starts at a keyframe)
and a SeekHead pointing at them. A pipe gets a live-style file (unknown size,
no Duration): valid, playable, not seekable.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from .mkv import Chunk, Track
from .mkv import writer as mkvw

_ID_SEGMENT = 0x18538067
_ID_SEEKHEAD = 0x114D9B74
_ID_SEEK = 0x4DBB
_ID_SEEKID = 0x53AB
_ID_SEEKPOSITION = 0x53AC
_ID_INFO = 0x1549A966
_ID_TRACKS = 0x1654AE6B
_ID_CUES = 0x1C53BB6B
_ID_CUEPOINT = 0xBB
_ID_CUETIME = 0xB3
_ID_CUETRACKPOSITIONS = 0xB7
_ID_CUETRACK = 0xF7
_ID_CUECLUSTERPOSITION = 0xF1
_ID_VOID = 0xEC
_ID_DURATION = 0x4489
_MAX_REL = 0x7FFF  # a block's timecode is an int16 relative to its cluster
_SEEKHEAD_ROOM = 96  # bytes kept (as a Void) after the Segment header for the SeekHead


def _track_entry(track: Track) -> bytes:
    return mkvw.track_entry(
        number=track.number,
        uid=track.uid,
        track_type=track.type if track.type is not None else 1,
        codec_id=track.codec_id or "V_MPEG4/ISO/AVC",
        codec_private=track.codec_private,
        name=track.name,
        width=track.width,
        height=track.height,
        sampling_rate=track.sampling_rate,
        channels=track.channels,
        default_duration_ns=track.default_duration_ns,
    )


def _chunk_start_ms(chunk: Chunk) -> int | None:
    stamp = chunk.producer_timestamp or chunk.server_timestamp
    if stamp is None:
        return None
    return round(stamp.timestamp() * 1000)


def _void(total: int) -> bytes:
    """A Void element of exactly ``total`` bytes (>= 9: ID + 8-byte size)."""
    return mkvw.element(_ID_VOID, b"\x00" * (total - 9), size_length=8)


def _seek(element_id: int, position: int) -> bytes:
    return mkvw.element(
        _ID_SEEK,
        mkvw.element(_ID_SEEKID, mkvw.encode_id(element_id))
        + mkvw.uint_element(_ID_SEEKPOSITION, position),
    )


class MkvFileWriter:
    """Appends chunks to a binary file; ``close()`` finishes and closes it.

    Timecodes in the file are milliseconds from the first fragment. A chunk
    without timestamps (a plain MKV file) keeps its own frame timecodes,
    shifted to follow the previous chunk when they would run backwards.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        try:
            self._seekable = file.seekable()
        except (AttributeError, OSError, ValueError):
            self._seekable = False
        self._started = False
        self._closed = False
        self._origin: int | None = None
        self._end = 0  # one past the latest timecode written so far
        self._last_tc: int | None = None
        self._interval = 0  # the latest gap between frames: the last frame's duration
        self._pos = 0  # bytes written
        self._segment_data = 0  # file offset where the Segment's payload starts
        self._duration_at: int | None = None  # file offset of the Duration float
        self._info_at = self._tracks_at = 0  # Segment-relative positions
        self._cues: list[bytes] = []
        self.frames_written = 0

    def _emit(self, data: bytes) -> None:
        self._file.write(data)
        self._pos += len(data)

    def _start(self, chunk: Chunk) -> None:
        self._emit(mkvw.ebml_header() + mkvw.unknown_size(_ID_SEGMENT))
        self._segment_data = self._pos
        if self._seekable:
            self._emit(_void(_SEEKHEAD_ROOM))
        self._info_at = self._pos - self._segment_data
        info = mkvw.info(duration=0.0 if self._seekable else None)
        if self._seekable:
            # The Duration float is the Info's last 8 bytes.
            self._duration_at = self._pos + len(info) - 8
        self._emit(info)
        self._tracks_at = self._pos - self._segment_data
        self._emit(mkvw.tracks(*(_track_entry(t) for t in chunk.tracks)))
        self._started = True

    def write(self, chunk: Chunk) -> None:
        if not chunk.frames:
            return
        if not self._started:
            self._start(chunk)
        first = min(f.timecode_ms for f in chunk.frames)
        start = _chunk_start_ms(chunk)
        if start is not None:
            if self._origin is None:
                self._origin = start
            base = max(start - self._origin, self._end)
        else:
            base = max(first, self._end)
        self._write_frames(chunk, base - first)

    def _write_frames(self, chunk: Chunk, shift: int) -> None:
        blocks: list[bytes] = []
        cluster_tc = 0
        cue: tuple[int, int] | None = None
        for frame in chunk.frames:
            tc = max(0, frame.timecode_ms + shift)
            if not blocks or not -_MAX_REL - 1 <= tc - cluster_tc <= _MAX_REL:
                if blocks:
                    self._flush_cluster(cluster_tc, blocks, cue)
                blocks, cluster_tc = [], tc
                cue = None
                if frame.keyframe:
                    cue = (tc, frame.track_number)
            blocks.append(
                mkvw.simple_block(
                    frame.track_number,
                    tc - cluster_tc,
                    bytes(frame.payload),
                    keyframe=frame.keyframe,
                    invisible=frame.invisible,
                    discardable=frame.discardable,
                )
            )
            if self._last_tc is not None and tc > self._last_tc:
                self._interval = tc - self._last_tc
            self._last_tc = tc
            self._end = max(self._end, tc + 1)
            self.frames_written += 1
        if blocks:
            self._flush_cluster(cluster_tc, blocks, cue)

    def _flush_cluster(self, tc: int, blocks: list[bytes], cue: tuple[int, int] | None) -> None:
        if cue is not None and self._seekable:
            # CuePoint = CueTime + CueTrackPositions(CueTrack, CueClusterPosition).
            cue_time, track = cue
            positions = mkvw.uint_element(_ID_CUETRACK, track) + mkvw.uint_element(
                _ID_CUECLUSTERPOSITION, self._pos - self._segment_data
            )
            self._cues.append(
                mkvw.element(
                    _ID_CUEPOINT,
                    mkvw.uint_element(_ID_CUETIME, cue_time)
                    + mkvw.element(_ID_CUETRACKPOSITIONS, positions),
                )
            )
        self._emit(mkvw.cluster(tc, blocks))

    @property
    def duration_ms(self) -> int:
        """Milliseconds from the first frame to the end of the last one."""
        return 0 if self._last_tc is None else self._end - 1 + max(self._interval, 1)

    def close(self) -> None:
        """Finish the file (Duration, Cues, sizes when seekable) and close it; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._started and self._seekable:
                self._finish()
        finally:
            self._file.close()

    def _finish(self) -> None:
        file = self._file
        cues_at = self._pos - self._segment_data
        if self._cues:
            self._emit(mkvw.element(_ID_CUES, b"".join(self._cues)))
        end = self._pos
        seeks = _seek(_ID_INFO, self._info_at) + _seek(_ID_TRACKS, self._tracks_at)
        if self._cues:
            seeks += _seek(_ID_CUES, cues_at)
        head = mkvw.element(_ID_SEEKHEAD, seeks)
        if len(head) <= _SEEKHEAD_ROOM - 9:
            file.seek(self._segment_data)
            file.write(head + _void(_SEEKHEAD_ROOM - len(head)))
        assert self._duration_at is not None
        file.seek(self._duration_at)
        file.write(struct.pack(">d", float(self.duration_ms)))
        # The Segment's size: 8 bytes, replacing the "unknown" marker.
        file.seek(self._segment_data - 8)
        file.write(b"\x01" + (end - self._segment_data).to_bytes(7, "big"))
        file.seek(end)
        file.flush()
