"""Typed chunks: one GetMedia fragment (or one plain MKV file) parsed, with its exact bytes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from attrs import define

from .ebml import (
    DEFAULT_MAX_BUFFER_SIZE,
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
    START,
    UNKNOWN_LEVEL,
    VINT_LENGTH,
    VINT_MASK,
    StackEntry,
    _Core,
    decode_float,
    element_name,
)
from .errors import MkvFormatError, MkvLimitError, MkvParseError, MkvTruncatedError
from .lacing import BlockFrames, parse_block

__all__ = ["Chunk", "ChunkParser", "Frame", "Track", "parse_timestamp"]


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


# -- the parser -------------------------------------------------------------------------------

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

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"(-?)([0-9]{1,12})(?:\.([0-9]{1,9}))?")
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

_TRACK_UINTS: Final = {
    0xD7: "number",
    0x73C5: "uid",
    0x83: "type",
    0xB0: "width",
    0xBA: "height",
    0x9F: "channels",
    0x23E383: "default_duration_ns",
}
_TRACK_STRINGS: Final = {0x86: "codec_id", 0x536E: "name"}
_ID_CODEC_PRIVATE: Final = 0x63A2
_ID_SAMPLING_FREQUENCY: Final = 0xB5

_LEAF_IDS: Final = frozenset(
    {
        ID_SIMPLEBLOCK,
        ID_TIMECODE,
        ID_TAGNAME,
        ID_TAGSTRING,
        ID_BLOCK,
        ID_REFERENCEBLOCK,
        ID_TIMECODESCALE,
        _ID_CODEC_PRIVATE,
        _ID_SAMPLING_FREQUENCY,
        *_TRACK_UINTS,
        *_TRACK_STRINGS,
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
    }
)
_END_IDS: Final = frozenset({ID_SIMPLETAG, ID_BLOCKGROUP, ID_TAGS, ID_TRACKENTRY, ID_TRACKS})

_KEY: Final = tuple(bool(f & 0x80) for f in range(256))
_INVISIBLE: Final = tuple(bool(f & 0x08) for f in range(256))
_DISCARDABLE: Final = tuple(bool(f & 0x01) for f in range(256))

# (track number, timecode in ticks, flags, start, end): a frame before its chunk's raw exists.
_PendingFrame = tuple[int, int, int, int, int]


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


def _parse_int(text: str | None) -> int | None:
    if text is None or _INTEGER.fullmatch(text.strip()) is None:
        return None
    return int(text)


class ChunkParser(_Core):
    """Incremental GetMedia parser: bytes in, complete `Chunk`s out (see the package docs).

    A chunk completes when the Tags element carrying the continuation token (or the error tags)
    ends, or - for fragments without KVS tags - when the next EBML header begins or at `close()`.
    The unfinished chunk's bytes are held (they become its `raw`), so `max_buffer_size` bounds
    the fragment size; `max_element_size` bounds each leaf (a SimpleBlock is one);
    `max_chunk_elements` bounds the Python objects one chunk can make (checked per fed piece of at
    most 8 MiB), so that tiny elements cannot blow memory up far beyond the buffered bytes.
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
        fast: bool = True,
        trailing_tags: bool = True,
    ) -> None:
        super().__init__(max_element_size=max_element_size, max_buffer_size=max_buffer_size)
        self.max_chunk_elements = max_chunk_elements
        self._trailing_tags = trailing_tags
        self._chunk_first_element = 0
        self._fast = fast
        self._chunk_start = 0
        self._tags: list[tuple[str, str] | None] = []
        self._frames: list[_PendingFrame] = []
        self._tracks: tuple[Track, ...] = ()
        self._new_tracks: list[Track] | None = None
        self._entry: dict[str, Any] | None = None
        self._scale = 1_000_000
        self._cluster_tc = 0
        self._simple: list[list[Any]] = []  # open SimpleTags: [index in _tags, name, value]
        self._tags_final = False
        self._group: list[Any] | None = (
            None  # open BlockGroup: [parsed Block or None, has reference]
        )

    # -- public -------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> list[Chunk]:
        """Parse more bytes; return the chunks they complete (possibly none)."""
        self._check_usable()
        out: list[Chunk] = []
        try:
            step = self._piece_size()
            if len(data) <= step and not isinstance(data, memoryview):
                self._append(data)
                self._run(out)
                self._compact(self._chunk_start)
                self._check_limits()
            else:
                mv = memoryview(data).cast("B")
                for i in range(0, len(mv), step):
                    self._append(mv[i : i + step])
                    self._run(out)
                    self._compact(self._chunk_start)
                    self._check_limits()
        except MkvParseError as exc:
            self._failed = exc
            raise
        return out

    def close(self) -> list[Chunk]:
        """End of stream: return the last complete chunks, or raise MkvTruncatedError."""
        self._check_usable()
        self._closed = True
        out: list[Chunk] = []
        try:
            end = self._base + self._end
            here = self._base + self._pos
            reason = None
            if self._pos < self._end:
                reason = f"stream ended inside an element ({self._end - self._pos} bytes pending)"
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
                    self._on_end(top, here, out)
            if reason is None and end > self._chunk_start:
                if self._trailing_tags and self._is_kvs_fragment():
                    reason = "stream ended before the fragment's trailing KVS Tags"
                else:
                    out.append(self._complete(end))
            if reason is not None:
                partial = self._build(end) if end > self._chunk_start else None
                raise MkvTruncatedError(
                    reason, offset=here, path=self._path(), partial=partial, chunks=out
                )
        except MkvParseError as exc:
            self._failed = exc
            raise
        return out

    def _check_limits(self) -> None:
        self._check_buffer(self._chunk_start)
        self._check_elements()

    def _check_elements(self) -> None:
        count = self._elements - self._chunk_first_element
        if count > self.max_chunk_elements:
            raise MkvLimitError(
                f"{count} elements in one chunk, more than max_chunk_elements "
                f"({self.max_chunk_elements})",
                offset=self._chunk_start,
                path=self._path(),
            )

    # -- stepping -----------------------------------------------------------------------------

    def _run(self, out: list[Chunk]) -> None:
        if self._fast:
            self._run_fast(out)
        else:
            self._run_reference(out)

    def _run_reference(self, out: list[Chunk]) -> None:
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
                    self._on_start(r[1], out)  # type: ignore[arg-type]
            elif r[1][0] in ends:  # type: ignore[index]
                self._on_end(r[1], r[2], out)  # type: ignore[arg-type]

    def _run_fast(self, out: list[Chunk]) -> None:
        """`_run_reference` with the stepper inlined and a tight loop for SimpleBlocks.

        Same decisions in the same order as `_Core._step` (tests compare both on every fixture
        and on generated streams): where the SimpleBlock loop meets anything unusual (lacing, a
        long track number, a bad or incomplete header, a limit) it stops and the general code
        below reads the same bytes with every check. Errors are raised by `_step` itself.
        """
        buf = self._buf
        n = self._end
        base = self._base
        pos = self._pos
        stack = self._stack
        id_length, vint_length, vint_mask = ID_LENGTH, VINT_LENGTH, VINT_MASK
        levels, kinds = ELEMENT_LEVEL, ELEMENT_KIND
        leaves, starts, ends = _LEAF_IDS, _START_IDS, _END_IDS
        limit = self.max_element_size
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
                            self._on_end(top, base + pos, out)
                        continue
                    if top[0] == ID_CLUSTER:
                        bound = top[4] - base
                        lim = n if n < bound else bound
                        append = self._frames.append
                        ctc = self._cluster_tc
                        while pos + 5 < lim and buf[pos] == 0xA3:
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
                            rel = (buf[start + 1] << 8) | buf[start + 2]
                            if rel & 0x8000:
                                rel -= 0x10000
                            append((t0 & 0x7F, ctc + rel, flags, base + start + 4, base + end))
                            elements += 1
                            pos = end
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
                            self._on_end(top, abspos, out)
                        continue
                kind = kinds.get(eid)
                parent_bound = stack[-1][4] if stack else INFINITE
                if unknown:
                    if kind != MASTER or level < 0:
                        break
                    entry = (eid, abspos, level, -1, parent_bound)
                elif kind == MASTER:
                    end = abspos + hend - pos + size
                    if end > parent_bound:
                        break
                    entry = (eid, abspos, level, end, end)
                else:
                    if size > limit or abspos + hend - pos + size > parent_bound:
                        break
                    if hend + size > n:
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
                    self._on_start(entry, out)
        finally:
            self._pos = pos
            self._elements += elements
        # Something to raise about: the stepper reads the same bytes and raises.
        self._run_reference(out)

    # -- element handlers -----------------------------------------------------------------------

    def _on_start(self, entry: StackEntry, out: list[Chunk]) -> None:
        eid = entry[0]
        if eid == ID_CLUSTER:
            self._cluster_tc = 0
        elif eid == ID_SIMPLETAG:
            self._simple.append([len(self._tags), None, None])
            self._tags.append(None)
        elif eid == ID_BLOCKGROUP:
            self._group = [None, False]
        elif eid == ID_TRACKENTRY:
            self._entry = {}
        elif eid == ID_TAGS:
            self._tags_final = False
        elif eid == ID_EBML:
            if len(self._stack) == 1 and entry[1] > self._chunk_start:
                out.append(self._complete(entry[1]))
        elif eid == ID_SEGMENT:
            self._tracks = ()
            self._scale = 1_000_000
        elif eid == ID_TRACKS:
            self._new_tracks = []

    def _on_end(self, entry: StackEntry, end: int, out: list[Chunk]) -> None:
        eid = entry[0]
        if eid == ID_SIMPLETAG:
            if self._simple:
                index, name, value = self._simple.pop()
                if name is not None and index < len(self._tags):
                    self._tags[index] = (name, value if value is not None else "")
                    if name in FINAL_TAGS:
                        self._tags_final = True
        elif eid == ID_BLOCKGROUP:
            group = self._group
            self._group = None
            if group is not None and group[0] is not None:
                track, rel, flags, spans = group[0]
                flags = (flags & 0x08) | (0 if group[1] else 0x80)
                tc = self._cluster_tc + rel
                for a, b in spans:
                    self._frames.append((track, tc, flags, a, b))
        elif eid == ID_TAGS:
            if self._tags_final:
                self._tags_final = False
                out.append(self._complete(end))
        elif eid == ID_TRACKENTRY:
            fields = self._entry
            self._entry = None
            if fields is not None and "number" in fields:
                if self._new_tracks is None:
                    self._new_tracks = []
                self._new_tracks.append(Track(**fields))
        elif eid == ID_TRACKS:
            self._tracks = tuple(self._new_tracks or ())
            self._new_tracks = None

    def _on_leaf(self, eid: int, offset: int, hsize: int, size: int) -> None:
        start = offset - self._base + hsize
        end = start + size
        buf = self._buf
        stack = self._stack
        parent = stack[-1][0] if stack else -1
        if eid == ID_SIMPLEBLOCK:
            if parent == ID_CLUSTER:
                track, rel, flags, spans = self._block(start, end)
                tc = self._cluster_tc + rel
                for a, b in spans:
                    self._frames.append((track, tc, flags, a, b))
        elif eid == ID_TIMECODE:
            if parent == ID_CLUSTER:
                self._cluster_tc = self._uint(start, end, offset)
        elif eid == ID_TAGNAME or eid == ID_TAGSTRING:
            if parent == ID_SIMPLETAG and self._simple:
                text = bytes(buf[start:end]).rstrip(b"\x00").decode("utf-8", "replace")
                self._simple[-1][1 if eid == ID_TAGNAME else 2] = text
        elif eid == ID_BLOCK:
            if parent == ID_BLOCKGROUP and self._group is not None:
                self._group[0] = self._block(start, end)
        elif eid == ID_REFERENCEBLOCK:
            if self._group is not None:
                self._group[1] = True
        elif eid == ID_TIMECODESCALE:
            scale = self._uint(start, end, offset)
            if scale > 0:
                self._scale = scale
        elif self._entry is not None:
            entry = self._entry
            if eid in _TRACK_UINTS:
                entry[_TRACK_UINTS[eid]] = self._uint(start, end, offset)
            elif eid in _TRACK_STRINGS:
                text = bytes(buf[start:end]).rstrip(b"\x00").decode("utf-8", "replace")
                entry[_TRACK_STRINGS[eid]] = text
            elif eid == _ID_CODEC_PRIVATE:
                entry["codec_private"] = bytes(buf[start:end])
            elif eid == _ID_SAMPLING_FREQUENCY:
                try:
                    entry["sampling_rate"] = decode_float(
                        buf[start:end], offset=offset, name="SamplingFrequency"
                    )
                except MkvFormatError as exc:
                    raise self._format_error(exc.message, offset) from None

    def _uint(self, start: int, end: int, offset: int) -> int:
        if end - start > 8:
            raise self._format_error(f"unsigned integer of {end - start} bytes", offset)
        return int.from_bytes(self._buf[start:end], "big")

    def _block(self, start: int, end: int) -> BlockFrames:
        try:
            return parse_block(self._buf, start, end, self._base)
        except MkvFormatError as exc:
            raise self._format_error(exc.message, exc.offset) from None

    # -- chunks -------------------------------------------------------------------------------

    def _is_kvs_fragment(self) -> bool:
        return any(t is not None and t[0] == TAG_FRAGMENT_NUMBER for t in self._tags)

    def _complete(self, end: int) -> Chunk:
        self._check_elements()
        chunk = self._build(end)
        self._chunk_start = end
        self._chunk_first_element = self._elements
        self._tags = []
        self._frames = []
        self._simple = []
        self._group = None
        self._tags_final = False
        return chunk

    def _build(self, end: int) -> Chunk:
        cs = self._chunk_start
        raw = self._bytes(cs, end)
        view = memoryview(raw)
        key, inv, disc = _KEY, _INVISIBLE, _DISCARDABLE
        scale = self._scale
        if scale == 1_000_000:
            frames = tuple(
                [
                    Frame(t, tc, key[f], inv[f], disc[f], view[a - cs : b - cs])
                    for t, tc, f, a, b in self._frames
                ]
            )
        else:
            frames = tuple(
                [
                    Frame(
                        t, tc * scale // 1_000_000, key[f], inv[f], disc[f], view[a - cs : b - cs]
                    )
                    for t, tc, f, a, b in self._frames
                ]
            )
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
            frames=frames,
            raw=raw,
            offset=cs,
            error_code=tags.get(TAG_ERROR_CODE),
            error_id=_parse_int(tags.get(TAG_ERROR_ID)),
            timecode_scale=scale,
        )
