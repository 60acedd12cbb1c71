"""Frames out of any MKV byte stream (a file, a pipe from ffmpeg), for re-fragmenting.

Producers' cluster layouts differ: ffmpeg cuts Clusters by size or time, mkvmerge by keyframe,
GStreamer and the C SDK write unknown-size Clusters. KVS wants a fragment per keyframe, so the
input is read Cluster by Cluster (:class:`~kvs_async.producer.cutter.FragmentCutter`, memory
bounded by one Cluster), each parsed into frames with :class:`kvs_async.mkv.ChunkParser`, and the
frames handed to ``MediaProducer.put_frame``, whose muxer cuts at keyframes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from attrs import define

from ..mkv import ChunkParser, Frame, MkvParseError, Track
from .cutter import CutError, CutFragment, FragmentCutter

__all__ = ["ClusterFrames", "MkvFrameSource"]


@define(frozen=True, slots=True, kw_only=True)
class ClusterFrames:
    """The frames of one input Cluster with the tracks in force for it."""

    tracks: tuple[Track, ...]
    frames: tuple[Frame, ...]


class MkvFrameSource:
    """Sans-I/O: ``feed(bytes) -> [ClusterFrames]``, ``close()``; CutError on bad input."""

    def __init__(self, *, max_cluster_size: int = 50_000_000) -> None:
        self._cutter = FragmentCutter(max_fragment_size=max_cluster_size)
        self.offset = 0

    def feed(self, data: bytes) -> list[ClusterFrames]:
        self.offset += len(data)
        return list(self._frames(self._cutter.feed(data)))

    def close(self) -> list[ClusterFrames]:
        return list(self._frames(self._cutter.close()))

    def _frames(self, events: Sequence[object]) -> Iterator[ClusterFrames]:
        for event in events:
            if not isinstance(event, CutFragment):
                continue
            parser = ChunkParser(
                trailing_tags=False,
                max_element_size=max(len(event.document), 1),
                max_buffer_size=max(2 * len(event.document), 1),
            )
            try:
                chunks = parser.feed(event.document) + parser.close()
            except MkvParseError as exc:
                raise CutError(f"not valid MKV: {exc}", rule="mkv", offset=self.offset) from None
            for chunk in chunks:
                if chunk.frames:
                    yield ClusterFrames(tracks=chunk.tracks, frames=chunk.frames)


async def iter_cluster_frames(
    pieces: AsyncIterator[bytes], *, max_cluster_size: int = 50_000_000
) -> AsyncIterator[ClusterFrames]:
    """:class:`MkvFrameSource` over an async byte source."""
    source = MkvFrameSource(max_cluster_size=max_cluster_size)
    async for data in pieces:
        for item in source.feed(data):
            yield item
    for item in source.close():
        yield item
