"""The chunk layer's state and element handlers, under ChunkParser's public API and fast loop.

Storage of the fed pieces (a chunk's `raw`), the limits, what each element the chunk layer
cares about does (tags, tracks, blocks), frame events and chunk building.
"""

from __future__ import annotations

import re
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from .ebml import DEFAULT_MAX_DEPTH, SMALL_PIECE, _Core
from .elements import (
    DEFAULT_MAX_BUFFER_SIZE,
    DEFAULT_MAX_ELEMENT_SIZE,
    ID_CLUSTER,
    ID_EBML,
    ID_SEGMENT,
    ID_SIMPLEBLOCK,
    StackEntry,
    decode_float,
    element_name,
)
from .errors import MkvFormatError
from .lacing import parse_block
from .model import Chunk, Frame, FrameEvent, Track, parse_timestamp
from .tracks import ID_AUDIO, ID_CODEC_PRIVATE, TRACK_FLOATS, TRACK_IDS, TRACK_STRINGS, TRACK_UINTS
from .tracks import make_track as _make_track

__all__ = ["DEFAULT_MAX_CHUNK_ELEMENTS", "DEFAULT_MAX_CHUNK_FRAMES", "DEFAULT_MAX_OBJECTS_PER_KIB"]

TAG_FRAGMENT_NUMBER: Final = "AWS_KINESISVIDEO_FRAGMENT_NUMBER"
TAG_SERVER_TIMESTAMP: Final = "AWS_KINESISVIDEO_SERVER_TIMESTAMP"
TAG_PRODUCER_TIMESTAMP: Final = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"
TAG_MILLIS_BEHIND_NOW: Final = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"
TAG_CONTINUATION_TOKEN: Final = "AWS_KINESISVIDEO_CONTINUATION_TOKEN"
TAG_ERROR_CODE: Final = "AWS_KINESISVIDEO_ERROR_CODE"
TAG_ERROR_ID: Final = "AWS_KINESISVIDEO_ERROR_ID"
#: A Tags element holding one of these ends the fragment (GetMedia's last word on it).
FINAL_TAGS: Final = frozenset({TAG_CONTINUATION_TOKEN, TAG_ERROR_CODE, TAG_ERROR_ID})

#: Elements one chunk may hold: a 10 s 4K fragment at 60 fps with audio has about 1,200.
DEFAULT_MAX_CHUNK_ELEMENTS: Final = 1_000_000
#: Frames one chunk may hold (laced frames each count).
DEFAULT_MAX_CHUNK_FRAMES: Final = 200_000
#: Objects (frames, tags, tracks) a chunk may hold per KiB of its bytes, beyond the first 64:
#: one per 16 bytes, so a hostile stream of empty or laced frames costs at most ~30x its size.
DEFAULT_MAX_OBJECTS_PER_KIB: Final = 64
_OBJECT_ALLOWANCE: Final = 64
_ACC_FLUSH: Final = 64 * 1024

_INTEGER = re.compile(r"-?[0-9]{1,18}")

ID_TRACKS: Final = 0x1654AE6B
ID_TRACKENTRY: Final = 0xAE
ID_TAGS: Final = 0x1254C367
ID_SIMPLETAG: Final = 0x67C8
ID_BLOCKGROUP: Final = 0xA0
ID_BLOCK: Final = 0xA1
ID_REFERENCEBLOCK: Final = 0xFB
ID_TIMECODE: Final = 0xE7
ID_TIMECODESCALE: Final = 0x2AD7B1
ID_TAGNAME: Final = 0x45A3
ID_TAGSTRING: Final = 0x4487

_LEAF_IDS: Final = frozenset(
    {
        ID_SIMPLEBLOCK,
        ID_TIMECODE,
        ID_TAGNAME,
        ID_TAGSTRING,
        ID_BLOCK,
        ID_REFERENCEBLOCK,
        ID_TIMECODESCALE,
        *TRACK_IDS,
    }
)
_START_IDS: Final = frozenset(
    {
        ID_CLUSTER,
        ID_SIMPLETAG,
        ID_BLOCKGROUP,
        ID_TRACKENTRY,
        ID_TAGS,
        ID_EBML,
        ID_SEGMENT,
        ID_TRACKS,
        ID_AUDIO,
    }
)
_END_IDS: Final = frozenset(
    {ID_SIMPLETAG, ID_BLOCKGROUP, ID_TAGS, ID_TRACKENTRY, ID_TRACKS, ID_CLUSTER}
)

_KEY: Final = tuple(bool(f & 0x80) for f in range(256))
_INVISIBLE: Final = tuple(bool(f & 0x08) for f in range(256))
_DISCARDABLE: Final = tuple(bool(f & 0x01) for f in range(256))

_new = tuple.__new__

Output = list[Chunk | FrameEvent]


def _parse_int(text: str | None) -> int | None:
    if text is None or _INTEGER.fullmatch(text.strip()) is None:
        return None
    return int(text)


class _ChunkCore(_Core):
    """State of the chunk being parsed; `ChunkParser` adds the public API and the stepping."""

    def __init__(
        self,
        *,
        max_element_size: int = DEFAULT_MAX_ELEMENT_SIZE,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
        max_chunk_frames: int = DEFAULT_MAX_CHUNK_FRAMES,
        max_objects_per_kib: int = DEFAULT_MAX_OBJECTS_PER_KIB,
        max_depth: int = DEFAULT_MAX_DEPTH,
        fast: bool = True,
        trailing_tags: bool = True,
        cluster_chunks: bool = False,
    ) -> None:
        super().__init__(
            max_element_size=max_element_size, max_buffer_size=max_buffer_size, max_depth=max_depth
        )
        if max_chunk_elements < 1 or max_chunk_frames < 1 or max_objects_per_kib < 1:
            raise ValueError("limits must be positive")
        self.max_chunk_elements = max_chunk_elements
        self.max_chunk_frames = max_chunk_frames
        self.max_objects_per_kib = max_objects_per_kib
        self._element_cap = max_chunk_elements
        self._trailing_tags = trailing_tags
        self._cluster_chunks = cluster_chunks
        self._fast = fast
        self._out: Output = []
        self._events = False
        self._evented = 0  # frames of the chunk already handed out as events
        self._meta: tuple[str | None, datetime | None, datetime | None] | None = None
        # Storage of the unfinished chunk's bytes: the fed pieces, small ones coalesced.
        self._pieces: list[bytes | memoryview] = []
        self._starts: list[int] = []
        self._acc = bytearray()
        self._acc_start = 0
        # The chunk being parsed.
        self._chunk_start = 0
        self._objects = 0
        self._kvs = False  # a KVS fragment number came before this chunk's first Cluster
        self._seen_cluster = False
        self._tags: list[tuple[str, str] | None] = []
        self._frames: list[Frame] = []
        self._tracks: tuple[Track, ...] = ()
        self._by_number: dict[int, Track] = {}
        self._new_tracks: list[Track] | None = None
        self._entry: dict[str, Any] | None = None
        self._scale = 1_000_000
        self._cluster_tc = 0
        self._simple: list[list[Any]] = []  # open SimpleTags: [index in _tags, name, value]
        self._tags_final = False
        # Open BlockGroup: [(track, rel, flags, payload views) or None, has reference]
        self._group: list[Any] | None = None

    # -- storage ------------------------------------------------------------------------------

    def _store(self, data: bytes) -> None:
        """Keep a fed piece for the chunk's `raw` (small pieces are coalesced: bounded overhead)."""
        if len(data) < SMALL_PIECE:
            if not self._acc:
                self._acc_start = self._fed
            self._acc += data
            self._joined_bytes += len(data)
            if len(self._acc) >= _ACC_FLUSH:
                self._freeze()
        else:
            self._freeze()
            self._pieces.append(data)
            self._starts.append(self._fed)

    def _freeze(self) -> None:
        if self._acc:
            self._joined_bytes += len(self._acc)
            self._pieces.append(bytes(self._acc))
            self._starts.append(self._acc_start)
            self._acc = bytearray()

    def _span(self, start: int, end: int) -> list[bytes | memoryview]:
        """The stored pieces covering stream offsets [start, end), cut to size (views, no copy)."""
        if self._acc and self._acc_start < end:
            self._freeze()
        out: list[bytes | memoryview] = []
        for piece, at in zip(self._pieces, self._starts, strict=True):
            stop = at + len(piece)
            if stop <= start:
                continue
            if at >= end:
                break
            if at >= start and stop <= end:
                out.append(piece)
            else:
                out.append(memoryview(piece)[max(start, at) - at : min(end, stop) - at])
        return out

    def _on_join(self, start: int, joined: bytes) -> None:
        """Store a joined element in place of the pieces it covers.

        Pieces wholly inside it are no longer referenced (the caller's memory can be reused),
        boundary pieces keep only their outside part, so the chunk's bytes are held about once.
        The element is always at the end of what was stored: the scan is short and linear.
        """
        end = start + len(joined)
        if self._acc and self._acc_start < end:
            self._freeze()
        pieces, starts = self._pieces, self._starts
        j = len(pieces)
        while j > 0 and starts[j - 1] >= end:
            j -= 1
        i = j
        while i > 0 and starts[i - 1] + len(pieces[i - 1]) > start:
            i -= 1
        if i == j:
            return
        new_pieces: list[bytes | memoryview] = []
        new_starts: list[int] = []
        first, at = pieces[i], starts[i]
        if at < start:
            new_pieces.append(memoryview(first)[: start - at])
            new_starts.append(at)
        new_pieces.append(joined)
        new_starts.append(start)
        last, at = pieces[j - 1], starts[j - 1]
        if at + len(last) > end:
            new_pieces.append(memoryview(last)[end - at :])
            new_starts.append(end)
        pieces[i:j] = new_pieces
        starts[i:j] = new_starts

    def _drop(self, before: int) -> None:
        """Forget the pieces that end before stream offset `before`."""
        i = 0
        pieces, starts = self._pieces, self._starts
        while i < len(pieces) and starts[i] + len(pieces[i]) <= before:
            i += 1
        if i:
            del pieces[:i]
            del starts[:i]

    # -- limits -------------------------------------------------------------------------------

    def _check_master(self, eid: int, offset: int, end: int) -> None:
        if eid == ID_EBML or (eid == ID_SEGMENT and self._cluster_chunks):
            return
        self._check_leaf(eid, offset, end)

    def _check_leaf(self, eid: int, offset: int, end: int) -> None:
        size = end - self._chunk_start
        if size > self.max_buffer_size:
            plain = not self._kvs and not self._cluster_chunks
            hint = "; pass cluster_chunks=True to read a plain MKV file cluster by cluster"
            raise self._limit_error(
                f"{element_name(eid)} ends at {end}, which would make its chunk {size} bytes, "
                f"more than max_buffer_size ({self.max_buffer_size}){hint if plain else ''}",
                offset,
            )

    def _elements_exceeded(self, offset: int) -> None:
        raise self._limit_error(
            f"more than max_chunk_elements ({self.max_chunk_elements}) elements in one chunk",
            offset,
        )

    def _charge(self, count: int, frames: int, at: int, offset: int) -> None:
        """`count` more objects (of them `frames` frames) for the chunk, made at stream offset `at`."""
        if frames and len(self._frames) + frames > self.max_chunk_frames:
            raise self._limit_error(
                f"more than max_chunk_frames ({self.max_chunk_frames}) frames in one chunk",
                offset,
            )
        objects = self._objects + count
        allowed = _OBJECT_ALLOWANCE + ((at - self._chunk_start) * self.max_objects_per_kib >> 10)
        if objects > allowed:
            raise self._limit_error(
                f"{objects} frames, tags and tracks in {at - self._chunk_start} bytes, more than "
                f"max_objects_per_kib ({self.max_objects_per_kib}) allows",
                offset,
            )
        self._objects = objects

    # -- element handlers -----------------------------------------------------------------------

    def _on_start(self, entry: StackEntry) -> None:
        eid = entry[0]
        if eid == ID_CLUSTER:
            if self._events:
                self._flush_events()
            self._cluster_tc = 0
            self._seen_cluster = True
        elif eid == ID_SIMPLETAG:
            self._charge(1, 0, self._base + self._pos, entry[1])
            self._simple.append([len(self._tags), None, None])
            self._tags.append(None)
        elif eid == ID_BLOCKGROUP:
            self._group = [None, False]
        elif eid == ID_TRACKENTRY:
            self._charge(1, 0, self._base + self._pos, entry[1])
            self._entry = {}
        elif eid == ID_AUDIO:
            if self._entry is not None:
                self._entry["_audio"] = True
        elif eid == ID_TAGS:
            self._tags_final = False
        elif eid == ID_EBML:
            if len(self._stack) == 1 and entry[1] > self._chunk_start:
                self._complete(entry[1])
        elif eid == ID_SEGMENT:
            self._set_tracks(())
            self._scale = 1_000_000
        elif eid == ID_TRACKS:
            self._new_tracks = []

    def _on_end(self, entry: StackEntry, end: int) -> None:
        eid = entry[0]
        if eid == ID_SIMPLETAG:
            if self._simple:
                index, name, value = self._simple.pop()
                if name is not None and index < len(self._tags):
                    self._tags[index] = (name, value if value is not None else "")
                    self._meta = None
                    if name in FINAL_TAGS:
                        self._tags_final = True
                    elif name == TAG_FRAGMENT_NUMBER and not self._seen_cluster:
                        self._kvs = True
        elif eid == ID_BLOCKGROUP:
            group = self._group
            self._group = None
            if group is not None and group[0] is not None:
                track, rel, flags, views = group[0]
                flags = (flags & 0x08) | (0 if group[1] else 0x80)
                tc = self._timecode(rel)
                append = self._frames.append
                for v in views:
                    append(_new(Frame, (track, tc, _KEY[flags], _INVISIBLE[flags], False, v)))
        elif eid == ID_TAGS:
            if self._tags_final:
                self._tags_final = False
                self._complete(end)
        elif eid == ID_CLUSTER:
            if self._cluster_chunks and not self._kvs:
                self._complete(end)
        elif eid == ID_TRACKENTRY:
            fields = self._entry
            self._entry = None
            if fields is not None and "number" in fields:
                if self._new_tracks is None:
                    self._new_tracks = []
                self._new_tracks.append(_make_track(fields))
        elif eid == ID_TRACKS:
            self._set_tracks(tuple(self._new_tracks or ()))
            self._new_tracks = None

    def _on_leaf(self, eid: int, offset: int, hsize: int, size: int) -> None:
        start = offset - self._base + hsize
        end = start + size
        buf = self._buf
        stack = self._stack
        parent = stack[-1][0] if stack else -1
        if eid == ID_SIMPLEBLOCK:
            if parent == ID_CLUSTER:
                track, rel, flags, views = self._block(start, end, offset)
                tc = self._timecode(rel)
                k, i, d = _KEY[flags], _INVISIBLE[flags], _DISCARDABLE[flags]
                append = self._frames.append
                for v in views:
                    append(_new(Frame, (track, tc, k, i, d, v)))
        elif eid == ID_TIMECODE:
            if parent == ID_CLUSTER:
                self._cluster_tc = self._uint(start, end, offset)
        elif eid == ID_TAGNAME or eid == ID_TAGSTRING:
            if parent == ID_SIMPLETAG and self._simple:
                text = bytes(buf[start:end]).rstrip(b"\x00").decode("utf-8", "replace")
                self._simple[-1][1 if eid == ID_TAGNAME else 2] = text
        elif eid == ID_BLOCK:
            if parent == ID_BLOCKGROUP and self._group is not None:
                self._group[0] = self._block(start, end, offset)
        elif eid == ID_REFERENCEBLOCK:
            if self._group is not None:
                self._group[1] = True
        elif eid == ID_TIMECODESCALE:
            scale = self._uint(start, end, offset)
            if scale > 0:
                self._scale = scale
        elif self._entry is not None:
            entry = self._entry
            if eid in TRACK_UINTS:
                entry[TRACK_UINTS[eid]] = self._uint(start, end, offset)
            elif eid in TRACK_STRINGS:
                text = bytes(buf[start:end]).rstrip(b"\x00").decode("utf-8", "replace")
                entry[TRACK_STRINGS[eid]] = text
            elif eid == ID_CODEC_PRIVATE:
                entry["codec_private"] = bytes(buf[start:end])
            elif eid in TRACK_FLOATS:
                name = TRACK_FLOATS[eid]
                try:
                    entry[name] = decode_float(buf[start:end], offset=offset, name=name)
                except MkvFormatError as exc:
                    raise self._format_error(exc.message, offset) from None

    def _timecode(self, rel: int) -> int:
        tc = self._cluster_tc + rel
        return tc if self._scale == 1_000_000 else tc * self._scale // 1_000_000

    def _uint(self, start: int, end: int, offset: int) -> int:
        if end - start > 8:
            raise self._format_error(f"unsigned integer of {end - start} bytes", offset)
        return int.from_bytes(self._buf[start:end], "big")

    def _block(self, start: int, end: int, offset: int) -> tuple[int, int, int, list[memoryview]]:
        """Parse a block, charge its frames, and cut their payload views."""
        base = self._base
        try:
            track, rel, flags, spans = parse_block(self._buf, start, end, base)
        except MkvFormatError as exc:
            raise self._format_error(exc.message, exc.offset) from None
        self._charge(len(spans), len(spans), base + end, offset)
        view = self._view
        return track, rel, flags, [view[a - base : b - base] for a, b in spans]

    def _set_tracks(self, tracks: tuple[Track, ...]) -> None:
        self._tracks = tracks
        self._by_number = {t.number: t for t in tracks}

    # -- events and chunks --------------------------------------------------------------------

    def _flush_events(self) -> None:
        """A FrameEvent for each frame not handed out yet (in order, once each)."""
        frames = self._frames
        first = self._evented
        if first >= len(frames):
            return
        meta = self._meta
        if meta is None:
            tags = dict(t for t in self._tags if t is not None)
            server = tags.get(TAG_SERVER_TIMESTAMP)
            producer = tags.get(TAG_PRODUCER_TIMESTAMP)
            meta = self._meta = (
                tags.get(TAG_FRAGMENT_NUMBER),
                None if server is None else parse_timestamp(server),
                None if producer is None else parse_timestamp(producer),
            )
        number, server_ts, producer_ts = meta
        ctc = self._timecode(0)
        tracks = self._by_number
        cs = self._chunk_start
        append = self._out.append
        for i in range(first, len(frames)):
            f = frames[i]
            append(
                _new(FrameEvent, (f, i, number, server_ts, producer_ts, ctc, tracks.get(f[0]), cs))
            )
        self._evented = len(frames)

    def _complete(self, end: int) -> None:
        if self._events:
            self._flush_events()
        self._out.append(self._build(end))
        self._chunk_start = end
        self._drop(end)
        self._element_cap = self._elements + self.max_chunk_elements
        self._objects = 0
        self._kvs = False
        self._seen_cluster = False
        self._meta = None
        self._tags = []
        self._frames = []
        self._evented = 0
        self._simple = []
        self._group = None
        self._tags_final = False

    def _build(self, end: int) -> Chunk:
        cs = self._chunk_start
        tag_list = tuple(t for t in self._tags if t is not None)
        tags = dict(tag_list)
        server = tags.get(TAG_SERVER_TIMESTAMP)
        producer = tags.get(TAG_PRODUCER_TIMESTAMP)
        return Chunk(
            fragment_number=tags.get(TAG_FRAGMENT_NUMBER),
            server_timestamp=None if server is None else parse_timestamp(server),
            producer_timestamp=None if producer is None else parse_timestamp(producer),
            millis_behind_now=_parse_int(tags.get(TAG_MILLIS_BEHIND_NOW)),
            continuation_token=tags.get(TAG_CONTINUATION_TOKEN),
            tags=MappingProxyType(tags),
            tag_list=tag_list,
            tracks=self._tracks,
            frames=tuple(self._frames),
            offset=cs,
            size=end - cs,
            error_code=tags.get(TAG_ERROR_CODE),
            error_id=_parse_int(tags.get(TAG_ERROR_ID)),
            timecode_scale=self._scale,
            pieces=self._span(cs, end),
        )
