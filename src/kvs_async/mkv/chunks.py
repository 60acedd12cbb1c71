"""ChunkParser: GetMedia bytes in, one typed `Chunk` per fragment out (and frame events)."""

from __future__ import annotations

from .ebml import _immutable
from .elements import (
    ELEMENT_KIND,
    ELEMENT_LEVEL,
    ID_CLUSTER,
    ID_LENGTH,
    INFINITE,
    LEAF,
    MASTER,
    START,
    UNKNOWN_LEVEL,
    VINT_LENGTH,
    VINT_MASK,
    element_name,
)
from .errors import MkvParseError, MkvTruncatedError
from .handlers import (
    _DISCARDABLE,
    _END_IDS,
    _INVISIBLE,
    _KEY,
    _LEAF_IDS,
    _OBJECT_ALLOWANCE,
    _START_IDS,
    DEFAULT_MAX_CHUNK_ELEMENTS,
    DEFAULT_MAX_CHUNK_FRAMES,
    DEFAULT_MAX_OBJECTS_PER_KIB,
    Output,
    _ChunkCore,
    _new,
)
from .model import Chunk, Frame, FrameEvent, Track, parse_timestamp

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


class ChunkParser(_ChunkCore):
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
            if piece is not data:
                self._joined_bytes += len(piece)
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
        new, frame_type = _new, Frame  # locals: no module-dict lookup per frame
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
                                new(
                                    frame_type,
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
