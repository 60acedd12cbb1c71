"""Cut an MKV byte stream, as a producer sends it with PutMedia, into one-fragment documents.

Driven by the event-level reader of :mod:`kvs_async.mkv`: the Info and Tracks in force are
remembered, and every complete Cluster comes out as a small MKV document (EBML header,
unknown-size Segment, Info, Tracks, Cluster) that :func:`kvs_async.mkv.writer.split_fragments`
turns into the stored fragment. Only the bytes of the element still open are buffered.
"""

from __future__ import annotations

from attrs import define

from ..mkv import EbmlReader, Leaf, MasterEnd, MasterStart, MkvParseError, writer
from .media import MediaFormatError

EBML_ID = 0x1A45DFA3
SEGMENT_ID = 0x18538067
INFO_ID = 0x1549A966
TRACKS_ID = 0x1654AE6B
CLUSTER_ID = 0x1F43B675


@define(frozen=True, slots=True, kw_only=True)
class IngestEvent:
    """``started``: a Cluster began (KVS acks BUFFERING); ``document``: a Cluster completed."""

    kind: str  # "started" | "document"
    document: bytes = b""


class StreamCutter:
    """Incremental: ``feed(bytes) -> events``; ``close()`` at the end of the body."""

    def __init__(self, *, max_buffer_size: int) -> None:
        self._reader = EbmlReader(max_element_size=max_buffer_size, max_buffer_size=max_buffer_size)
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._header: bytes | None = None
        self._info = b""
        self._tracks = b""
        self._open_top: int | None = None  # offset of the open level-1 element (or EBML header)
        self._consumed = 0  # stream offset up to which the reader has reported elements
        self.clusters = 0

    def _slice(self, start: int, end: int) -> bytes:
        return bytes(self._buf[start - self._base : end - self._base])

    def _handle(self, events: list[object]) -> list[IngestEvent]:
        out: list[IngestEvent] = []
        for ev in events:
            if isinstance(ev, MasterStart):
                self._consumed = max(self._consumed, ev.offset + ev.header_size)
            elif isinstance(ev, MasterEnd):
                self._consumed = max(self._consumed, ev.end)
            elif isinstance(ev, Leaf):
                self._consumed = max(self._consumed, ev.offset + ev.header_size + ev.size)
            if isinstance(ev, MasterStart):
                if ev.depth == 0 and ev.id == EBML_ID:
                    self._open_top = ev.offset
                    self._info = self._tracks = b""
                elif ev.depth == 1:
                    self._open_top = ev.offset
                    if ev.id == CLUSTER_ID:
                        if self._header is None or not self._tracks:
                            raise MediaFormatError(
                                f"malformed MKV: Cluster at byte {ev.offset} before the EBML "
                                "header and Tracks"
                            )
                        out.append(IngestEvent(kind="started"))
            elif isinstance(ev, MasterEnd):
                if ev.depth == 0 and ev.id == EBML_ID:
                    self._header = self._slice(ev.offset, ev.end)
                    self._open_top = None
                elif ev.depth == 1:
                    self._open_top = None
                    if ev.id == INFO_ID:
                        self._info = self._slice(ev.offset, ev.end)
                    elif ev.id == TRACKS_ID:
                        self._tracks = self._slice(ev.offset, ev.end)
                    elif ev.id == CLUSTER_ID:
                        assert self._header is not None
                        self.clusters += 1
                        out.append(
                            IngestEvent(
                                kind="document",
                                document=self._header
                                + writer.unknown_size(SEGMENT_ID)
                                + self._info
                                + self._tracks
                                + self._slice(ev.offset, ev.end),
                            )
                        )
        return out

    def _trim(self) -> None:
        # Keep the open top-level element, and whatever the reader has not reported yet.
        keep = self._consumed if self._open_top is None else min(self._open_top, self._consumed)
        drop = keep - self._base
        if drop > 0:
            del self._buf[:drop]
            self._base = keep

    def feed(self, data: bytes) -> list[IngestEvent]:
        self._buf += data
        try:
            events: list[object] = list(self._reader.feed(data))
        except MkvParseError as exc:
            raise MediaFormatError(f"malformed MKV: {exc}") from None
        out = self._handle(events)
        self._trim()
        return out

    def close(self) -> list[IngestEvent]:
        try:
            events: list[object] = list(self._reader.close())
        except MkvParseError as exc:
            raise MediaFormatError(f"truncated MKV: {exc}") from None
        out = self._handle(events)
        self._trim()
        return out
