"""Write GetMedia chunks as one playable Matroska file.

Concatenating chunks' raw bytes gives one Segment per fragment, with the
producer's cluster timecodes that repeat and go backwards between fragments:
players stop after the first fragment or seek wrongly. This writer emits one
Segment with the first chunk's Tracks and re-bases every fragment's frames on
its producer (else server) timestamp, so time runs forward through the file.
"""

from __future__ import annotations

from typing import BinaryIO

from .mkv import Chunk, Track
from .mkv import writer as mkvw

_ID_SEGMENT = 0x18538067
_MAX_REL = 0x7FFF  # a block's timecode is an int16 relative to its cluster


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


class MkvFileWriter:
    """Appends chunks to a binary file; ``close()`` flushes and closes it.

    Timecodes in the file are milliseconds from the first fragment. A chunk
    without timestamps (a plain MKV file) keeps its own frame timecodes,
    shifted to follow the previous chunk when they would run backwards.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._started = False
        self._origin: int | None = None
        self._end = 0  # one past the latest timecode written so far
        self.frames_written = 0

    def write(self, chunk: Chunk) -> None:
        if not chunk.frames:
            return
        if not self._started:
            self._file.write(
                mkvw.ebml_header()
                + mkvw.unknown_size(_ID_SEGMENT)
                + mkvw.info()
                + mkvw.tracks(*(_track_entry(t) for t in chunk.tracks))
            )
            self._started = True
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
        for frame in chunk.frames:
            tc = max(0, frame.timecode_ms + shift)
            if not blocks or not -_MAX_REL - 1 <= tc - cluster_tc <= _MAX_REL:
                if blocks:
                    self._file.write(mkvw.cluster(cluster_tc, blocks))
                blocks, cluster_tc = [], tc
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
            self._end = max(self._end, tc + 1)
            self.frames_written += 1
        if blocks:
            self._file.write(mkvw.cluster(cluster_tc, blocks))

    def close(self) -> None:
        self._file.close()
