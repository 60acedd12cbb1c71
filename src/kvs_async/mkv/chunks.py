"""ChunkParser: GetMedia bytes in, one typed `Chunk` per fragment out (and frame events)."""

from __future__ import annotations

import re
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from .ebml import (
    DEFAULT_MAX_BUFFER_SIZE,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_ELEMENT_SIZE,
    ELEMENT_KIND,
    ELEMENT_LEVEL,
    ID_CLUSTER,
    ID_EBML,
    ID_LENGTH,
    ID_SEGMENT,
    ID_SIMPLEBLOCK,
    INFINITE,
    LEAF,
    MASTER,
    SMALL_PIECE,
    START,
    UNKNOWN_LEVEL,
    VINT_LENGTH,
    VINT_MASK,
    StackEntry,
    _Core,
    _immutable,
    decode_float,
    element_name,
)
from .errors import MkvFormatError, MkvParseError, MkvTruncatedError
from .lacing import parse_block
from .model import Chunk, Frame, FrameEvent, Track, parse_timestamp
from .tracks import ID_AUDIO, ID_CODEC_PRIVATE, TRACK_FLOATS, TRACK_IDS, TRACK_STRINGS, TRACK_UINTS
from .tracks import make_track as _make_track

__all__ = [
    "DEFAULT_MAX_CHUNK_ELEMENTS",
    "DEFAULT_MAX_CHUNK_FRAMES",
    "DEFAULT_MAX_OBJECTS_PER_KIB",
    "Chunk",
    "ChunkParser",
    "Frame",
    "FrameEvent",
    "Track",
    "parse_timestamp",
]

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


class ChunkParser(_Core):
    """Incremental GetMedia parser: bytes in, complete `Chunk`s out (see the package docs).

    A chunk completes when the Tags element carrying the continuation token (or the error tags)
    ends, or - for fragments without KVS tags - when the next EBML header begins or at `close()`
    (with `cluster_chunks=True`, at the end of each Cluster instead). The unfinished chunk's
    pieces are held (they become its `raw`), so `max_buffer_size` bounds how many bytes one
    chunk may span: an element whose declared end lies beyond is refused as soon as its header
    is read. `max_element_size` bounds each leaf (a SimpleBlock is one), `max_depth` nesting,
    `max_chunk_elements` the elements and `max_chunk_frames` the frames of one chunk, and
    `max_objects_per_kib` the Python objects (frames, tags, tracks) per KiB of the chunk.
    Every limit is checked at a fixed stream position, so errors do not depend on the split.
    `fast=False` turns off the SimpleBlock loop and reads clusters through the generic stepper
    (same results; kept for tests). `trailing_tags=False` is for responses whose KVS fragments
    carry no trailing Tags (GetMediaForFragmentList): then a fragment with KVS tags is complete
    at the next EBML header or at `close()` too, instead of being reported as truncated.
    """

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
        self._chunk_first_element = 0
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

    # -- public -------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> list[Chunk]:
        """Parse more bytes; return the chunks they complete (possibly none).

        `bytes` (or a read-only view of bytes) is kept as fed, not copied; a mutable buffer is
        copied once. On an error, `exc.chunks` holds the chunks completed before it.
        """
        out = self._feed(data, events=False)
        return out  # type: ignore[return-value]

    def feed_events(self, data: bytes | bytearray | memoryview) -> list[Chunk | FrameEvent]:
        """`feed()`, with a `FrameEvent` for each frame as soon as its block is complete.

        In stream order: a fragment's frame events, then its `Chunk` (whose `frames` are the
        same `Frame` objects). On an error, `exc.events` holds what was completed before it.
        """
        return self._feed(data, events=True)

    def close(self) -> list[Chunk]:
        """End of stream: return the last complete chunks, or raise MkvTruncatedError."""
        self._check_usable()
        self._closed = True
        out: Output = []
        self._out = out
        self._events = False
        try:
            end = self._fed
            here = self._base + self._pos
            reason = None
            if self._pending():
                reason = f"stream ended inside an element ({self._pending()} bytes pending)"
            else:
                while self._stack:
                    top = self._stack[-1]
                    if top[3] != -1:
                        reason = (
                            f"stream ended inside {element_name(top[0])}, "
                            f"which should end at {top[3]}"
                        )
                        break
                    self._stack.pop()
                    self._on_end(top, here)
            if reason is None and end > self._chunk_start:
                if self._trailing_tags and self._kvs:
                    reason = "stream ended before the fragment's trailing KVS Tags"
                else:
                    self._complete(end)
            if reason is not None:
                partial = self._build(end) if end > self._chunk_start else None
                raise MkvTruncatedError(
                    reason,
                    offset=here,
                    path=self._path(),
                    partial=partial,
                    chunks=[c for c in out if type(c) is Chunk],
                )
        except MkvParseError as exc:
            exc.chunks = [c for c in out if type(c) is Chunk]
            exc.events = list(out)
            self._failed = exc
            raise
        finally:
            self._out = []
        return out  # type: ignore[return-value]

    def _feed(self, data: bytes | bytearray | memoryview, *, events: bool) -> Output:
        self._check_usable()
        out: Output = []
        self._out = out
        self._events = events
        if not events:
            self._evented = len(self._frames)
        try:
            piece = _immutable(data)
            self._store(piece)
            self._ingest(piece)
            if events:
                self._flush_events()
            else:
                self._evented = len(self._frames)
        except MkvParseError as exc:
            if events:
                self._flush_events()
            exc.chunks = [c for c in out if type(c) is Chunk]
            exc.events = list(out)
            self._failed = exc
            raise
        finally:
            self._out = []
        return out

    # -- storage ------------------------------------------------------------------------------

    def _store(self, data: bytes | memoryview) -> None:
        """Keep a fed piece for the chunk's `raw` (small pieces are coalesced: bounded overhead)."""
        if len(data) < SMALL_PIECE:
            if not self._acc:
                self._acc_start = self._fed
            self._acc += data
            if len(self._acc) >= _ACC_FLUSH:
                self._freeze()
        else:
            self._freeze()
            self._pieces.append(data)
            self._starts.append(self._fed)

    def _freeze(self) -> None:
        if self._acc:
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
                view = piece if isinstance(piece, memoryview) else memoryview(piece)
                out.append(view[max(start, at) - at : min(end, stop) - at])
        return out

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
        if end - self._chunk_start > self.max_buffer_size:
            hint = (
                "; pass cluster_chunks=True to read a plain MKV file cluster by cluster"
                if eid == ID_SEGMENT
                else ""
            )
            raise self._limit_error(
                f"{element_name(eid)} ends at {end}, which would make its chunk "
                f"{end - self._chunk_start} bytes, more than max_buffer_size "
                f"({self.max_buffer_size}){hint}",
                offset,
            )

    def _check_leaf(self, eid: int, offset: int, end: int) -> None:
        if end - self._chunk_start > self.max_buffer_size:
            raise self._limit_error(
                f"{element_name(eid)} ends at {end}, which would make its chunk "
                f"{end - self._chunk_start} bytes, more than max_buffer_size "
                f"({self.max_buffer_size})",
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

    # -- stepping -----------------------------------------------------------------------------

    def _run_buf(self) -> None:
        if self._fast:
            self._run_fast()
        else:
            self._run_reference()

    def _run_reference(self) -> None:
        """The chunk layer on top of the shared stepper (`_Core._step`): one element per call."""
        step = self._step
        leaves, starts, ends = _LEAF_IDS, _START_IDS, _END_IDS
        while (r := step()) is not None:
            kind = r[0]
            # Elements the chunk layer has no use for cost one set lookup.
            if kind == LEAF:
                if r[1] in leaves:
                    self._on_leaf(r[1], r[2], r[3], r[4])
            elif kind == START:
                if r[1][0] in starts:  # type: ignore[index]
                    self._on_start(r[1])  # type: ignore[arg-type]
            elif r[1][0] in ends:  # type: ignore[index]
                self._on_end(r[1], r[2])  # type: ignore[arg-type]

    def _run_fast(self) -> None:
        """`_run_reference` with the stepper inlined and a tight loop for SimpleBlocks.

        Same decisions in the same order as `_Core._step` (tests compare both on every fixture
        and on generated streams): where the fast code meets anything unusual (lacing, a long
        track number, a bad or incomplete header, a limit) it stops and the general code below
        reads the same bytes with every check. Errors are raised by `_step` itself.
        """
        buf = self._buf
        view = self._view
        n = self._end
        base = self._base
        pos = self._pos
        stack = self._stack
        id_length, vint_length, vint_mask = ID_LENGTH, VINT_LENGTH, VINT_MASK
        levels, kinds = ELEMENT_LEVEL, ELEMENT_KIND
        leaves, starts, ends = _LEAF_IDS, _START_IDS, _END_IDS
        key, inv, disc = _KEY, _INVISIBLE, _DISCARDABLE
        limit = self.max_element_size
        maxbuf = self.max_buffer_size
        maxdepth = self.max_depth
        dens = self.max_objects_per_kib
        from_bytes = int.from_bytes
        elements = 0
        try:
            while True:
                if stack:
                    top = stack[-1]
                    if top[4] == base + pos:
                        stack.pop()
                        if top[0] in ends:
                            self._pos = pos
                            self._elements += elements
                            elements = 0
                            self._on_end(top, base + pos)
                        continue
                    if top[0] == ID_CLUSTER:
                        cs = self._chunk_start
                        bound = top[4] - base
                        lim = min(n, bound, cs + maxbuf - base)
                        frames = self._frames
                        append = frames.append
                        ctc = self._cluster_tc
                        scale = self._scale
                        nobj = self._objects
                        room = min(
                            self.max_chunk_frames - len(frames),
                            self._element_cap - self._elements - elements,
                        )
                        off = base - cs
                        while room > 0 and pos + 5 < lim and buf[pos] == 0xA3:
                            s0 = buf[pos + 1]
                            sl = vint_length[s0]
                            if sl == 2:
                                size = ((s0 & 0x3F) << 8) | buf[pos + 2]
                                if size == 0x3FFF:
                                    break
                                start = pos + 3
                            elif sl == 1:
                                size = s0 & 0x7F
                                if size == 0x7F:
                                    break
                                start = pos + 2
                            elif sl:
                                start = pos + 1 + sl
                                if start > lim:
                                    break
                                m = vint_mask[sl]
                                size = from_bytes(buf[pos + 1 : start], "big") & m
                                if size == m:
                                    break
                            else:
                                break
                            end = start + size
                            if end > lim or size > limit or size < 4:
                                break
                            t0 = buf[start]
                            flags = buf[start + 3]
                            if t0 < 0x80 or flags & 0x06:
                                break
                            if nobj >= _OBJECT_ALLOWANCE + ((off + end) * dens >> 10):
                                break
                            rel = (buf[start + 1] << 8) | buf[start + 2]
                            if rel & 0x8000:
                                rel -= 0x10000
                            tc = ctc + rel
                            if scale != 1_000_000:
                                tc = tc * scale // 1_000_000
                            append(
                                _new(
                                    Frame,
                                    (
                                        t0 & 0x7F,
                                        tc,
                                        key[flags],
                                        inv[flags],
                                        disc[flags],
                                        view[start + 4 : end],
                                    ),
                                )
                            )
                            nobj += 1
                            room -= 1
                            elements += 1
                            pos = end
                        self._objects = nobj
                        if pos == bound:
                            continue
                if pos >= n:
                    return
                b0 = buf[pos]
                il = id_length[b0]
                if il == 0 or pos + il >= n:
                    break  # the stepper raises or waits
                eid = b0 if il == 1 else from_bytes(buf[pos : pos + il], "big")
                s0 = buf[pos + il]
                sl = vint_length[s0]
                if sl == 0:
                    break
                hend = pos + il + sl
                if hend > n:
                    self._need = 0
                    return
                if sl == 1:
                    size = s0 & 0x7F
                    unknown = size == 0x7F
                else:
                    m = vint_mask[sl]
                    size = from_bytes(buf[pos + il : hend], "big") & m
                    unknown = size == m
                level = levels.get(eid, UNKNOWN_LEVEL)
                abspos = base + pos
                if stack and level >= 0:
                    top = stack[-1]
                    if top[3] == -1 and top[2] >= level:
                        stack.pop()
                        if top[0] in ends:
                            self._pos = pos
                            self._elements += elements
                            elements = 0
                            self._on_end(top, abspos)
                        continue
                if self._elements + elements >= self._element_cap:
                    break
                kind = kinds.get(eid)
                parent_bound = stack[-1][4] if stack else INFINITE
                end = abspos + hend - pos + size
                if unknown:
                    if kind != MASTER or level < 0 or len(stack) >= maxdepth:
                        break
                    entry = (eid, abspos, level, -1, parent_bound)
                elif kind == MASTER:
                    if end > parent_bound or len(stack) >= maxdepth:
                        break
                    self._check_master(eid, abspos, end)
                    entry = (eid, abspos, level, end, end)
                else:
                    if size > limit or end > parent_bound:
                        break
                    self._check_leaf(eid, abspos, end)
                    if hend + size > n:
                        self._need = end
                        return
                    elements += 1
                    pos = hend + size
                    if eid in leaves:
                        self._on_leaf(eid, abspos, hend - (abspos - base), size)
                    continue
                stack.append(entry)
                pos = hend
                elements += 1
                if eid in starts:
                    self._pos = pos
                    self._elements += elements
                    elements = 0
                    self._on_start(entry)
        finally:
            self._pos = pos
            self._elements += elements
        # Something to raise about: the stepper reads the same bytes and raises.
        self._run_reference()

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
