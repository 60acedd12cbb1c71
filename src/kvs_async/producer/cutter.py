"""Cut an MKV byte stream into KVS fragments, keeping every element the producer wrote.

Sans-I/O over :class:`kvs_async.mkv.EbmlReader` events: ``feed(bytes) -> events``. A fragment is
one Cluster with what the producer wrote around it: the level-1 elements before the first
Cluster of a Segment (SeekHead, Info, Tracks, Tags, ...) belong to the first fragment, and
those after a Cluster (producer Tags, Cues, ...) to that Cluster's fragment, as KVS stores
them. Tags holding only ``AWS_KINESISVIDEO_*`` names (KVS's own, from a GetMedia recording
fed back in) are dropped: the service writes its own. A fragment completes when the next one
begins (a Cluster, an EBML header, new Info/Tracks), at ``close()``, or on ``flush()`` (the
caller saw no more bytes coming). Whatever the cluster layout (known or unknown sizes), only
the open fragment is held: ``max_fragment_size`` bounds it.

Used by the emulator (PutMedia ingest, ``load_media``) and by ``kvs-async put-media``.
"""

from __future__ import annotations

from attrs import define, field

from ..mkv import EbmlReader, Leaf, MasterEnd, MasterStart, MkvParseError, writer

__all__ = ["CutError", "CutFragment", "FragmentCutter", "FragmentStarted"]

EBML_ID = 0x1A45DFA3
SEGMENT_ID = 0x18538067
INFO_ID = 0x1549A966
TRACKS_ID = 0x1654AE6B
CLUSTER_ID = 0x1F43B675
TAGS_ID = 0x1254C367
TAGNAME_ID = 0x45A3
TIMECODE_ID = 0xE7
TIMECODESCALE_ID = 0x2AD7B1
KVS_TAG_PREFIX = "AWS_KINESISVIDEO_"


class CutError(ValueError):
    """Input the cutter cannot turn into fragments; ``rule`` names why, ``offset`` where."""

    def __init__(self, message: str, *, rule: str, offset: int) -> None:
        self.rule = rule
        self.offset = offset
        super().__init__(f"{message} (at byte {offset})")


@define(frozen=True, slots=True, kw_only=True)
class FragmentStarted:
    """A Cluster began and its Timecode was read (KVS acks BUFFERING here)."""

    timecode_ms: int
    offset: int


@define(frozen=True, slots=True, kw_only=True)
class CutFragment:
    """One fragment: exact element bytes. ``head`` holds Info and Tracks where they were sent."""

    header: bytes
    head: bytes
    info: bytes
    tracks: bytes
    cluster: bytes
    tail: bytes
    timecode_ms: int

    @property
    def document(self) -> bytes:
        """A standalone MKV document of this fragment (EBML header, Segment, elements)."""
        return self.header + writer.unknown_size(SEGMENT_ID) + self.head + self.cluster + self.tail

    @property
    def size(self) -> int:
        return len(self.head) + len(self.cluster) + len(self.tail)


@define(slots=True, kw_only=True)
class _Pending:
    header: bytes
    head: bytes
    info: bytes
    tracks: bytes
    cluster: bytes
    timecode_ms: int
    tail: list[bytes] = field(factory=list)
    size: int = 0


class FragmentCutter:
    """``feed(bytes)``/``close()``/``flush()`` -> FragmentStarted and CutFragment events."""

    def __init__(self, *, max_fragment_size: int = 50_000_000) -> None:
        self.max_fragment_size = max_fragment_size
        limit = max(max_fragment_size, 1 << 16)
        self._reader = EbmlReader(max_element_size=limit, max_buffer_size=2 * limit)
        self._buf = bytearray()
        self._base = 0
        self._fed = 0
        self._consumed = 0
        self._open_top: int | None = None
        self._header: bytes | None = None
        self._info = b""
        self._tracks = b""
        self._before: list[bytes] = []  # level-1 elements waiting for the next Cluster
        self._first_in_segment = True
        self._pending: _Pending | None = None
        self._scale = 1_000_000
        self._in_cluster: int | None = None  # offset of the open Cluster
        self._tags: list[str] | None = None
        self._cluster_tc = 0
        self.fragments = 0

    # -- public -----------------------------------------------------------------------------

    @property
    def complete_pending(self) -> bool:
        """A fragment is waiting and no element after it has begun: ``flush()`` would emit it."""
        return self._pending is not None and self._open_top is None and self._consumed == self._fed

    def feed(self, data: bytes | bytearray | memoryview) -> list[FragmentStarted | CutFragment]:
        self._buf += data
        self._fed += len(data)
        try:
            events = self._reader.feed(data)
        except MkvParseError as exc:
            raise CutError(f"not valid MKV: {exc}", rule="mkv", offset=self._consumed) from None
        out = self._handle(events)
        self._trim()
        return out

    def close(self) -> list[FragmentStarted | CutFragment]:
        try:
            events = self._reader.close()
        except MkvParseError as exc:
            raise CutError(f"truncated MKV: {exc}", rule="mkv", offset=self._consumed) from None
        out = self._handle(events)
        self._complete(out)
        self._trim()
        return out

    def take_pending(self) -> CutFragment | None:
        """The waiting fragment, whole, whatever follows (to keep it when later bytes are bad)."""
        out: list[FragmentStarted | CutFragment] = []
        self._complete(out)
        return out[0] if out else None  # type: ignore[return-value]

    def flush(self) -> list[FragmentStarted | CutFragment]:
        out: list[FragmentStarted | CutFragment] = []
        if self.complete_pending:
            self._complete(out)
        return out

    # -- internals --------------------------------------------------------------------------

    def _slice(self, start: int, end: int) -> bytes:
        return bytes(self._buf[start - self._base : end - self._base])

    def _trim(self) -> None:
        keep = self._consumed if self._open_top is None else min(self._open_top, self._consumed)
        drop = keep - self._base
        if drop > 0:
            del self._buf[:drop]
            self._base = keep
        held = len(self._buf) + (self._pending.size if self._pending is not None else 0)
        if held > self.max_fragment_size + (1 << 16):
            raise CutError(
                f"a fragment larger than {self.max_fragment_size} bytes",
                rule="max-fragment-size",
                offset=self._base,
            )

    def _complete(self, out: list[FragmentStarted | CutFragment]) -> None:
        p, self._pending = self._pending, None
        if p is None:
            return
        self.fragments += 1
        out.append(
            CutFragment(
                header=p.header,
                head=p.head,
                info=p.info,
                tracks=p.tracks,
                cluster=p.cluster,
                tail=b"".join(p.tail),
                timecode_ms=p.timecode_ms,
            )
        )

    def _handle(
        self, events: list[MasterStart | MasterEnd | Leaf]
    ) -> list[FragmentStarted | CutFragment]:
        out: list[FragmentStarted | CutFragment] = []
        for ev in events:
            if isinstance(ev, MasterStart):
                self._consumed = max(self._consumed, ev.offset + ev.header_size)
                self._start(ev, out)
            elif isinstance(ev, MasterEnd):
                self._consumed = max(self._consumed, ev.end)
                self._end(ev, out)
            else:
                self._consumed = max(self._consumed, ev.offset + ev.header_size + ev.size)
                self._leaf(ev, out)
        return out

    def _start(self, ev: MasterStart, out: list[FragmentStarted | CutFragment]) -> None:
        if ev.depth == 0 and ev.id == EBML_ID:
            self._complete(out)
            self._open_top = ev.offset
        elif ev.depth == 0 and ev.id == SEGMENT_ID:
            self._info = self._tracks = b""
            self._before = []
            self._first_in_segment = True
            self._scale = 1_000_000
        elif ev.depth == 1:
            self._open_top = ev.offset
            if ev.id == CLUSTER_ID:
                self._complete(out)
                if self._header is None or not self._tracks:
                    raise CutError(
                        "a Cluster before the EBML header and Tracks", rule="mkv", offset=ev.offset
                    )
                self._in_cluster = ev.offset
            elif ev.id == TAGS_ID:
                self._tags = []

    def _leaf(self, ev: Leaf, out: list[FragmentStarted | CutFragment]) -> None:
        if ev.id == TIMECODE_ID and ev.depth == 2 and self._in_cluster is not None:
            if isinstance(ev.value, int):
                out.append(
                    FragmentStarted(
                        timecode_ms=ev.value * self._scale // 1_000_000, offset=self._in_cluster
                    )
                )
                self._cluster_tc = ev.value * self._scale // 1_000_000
        elif ev.id == TIMECODESCALE_ID and isinstance(ev.value, int) and ev.value > 0:
            self._scale = ev.value
        elif ev.id == TAGNAME_ID and self._tags is not None:
            value = ev.value
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            self._tags.append(text.rstrip("\x00"))

    def _end(self, ev: MasterEnd, out: list[FragmentStarted | CutFragment]) -> None:
        if ev.depth == 0:
            if ev.id == EBML_ID:
                self._header = self._slice(ev.offset, ev.end)
                self._open_top = None
            elif ev.id == SEGMENT_ID:
                self._complete(out)
            return
        if ev.depth != 1:
            return
        self._open_top = None
        raw = self._slice(ev.offset, ev.end)
        if ev.id == CLUSTER_ID:
            assert self._header is not None
            if self._first_in_segment:
                head = b"".join(self._before)
                # Headers changed mid-segment may repeat only one of Info/Tracks.
                if self._tracks not in self._before:
                    head = self._tracks + head
                if self._info and self._info not in self._before:
                    head = self._info + head
            else:
                head = self._info + self._tracks + b"".join(self._before)
            self._before = []
            self._first_in_segment = False
            tc, self._cluster_tc = self._cluster_tc, 0
            self._in_cluster = None
            self._pending = _Pending(
                header=self._header,
                head=head,
                info=self._info,
                tracks=self._tracks,
                cluster=raw,
                timecode_ms=tc,
                size=len(head) + len(raw),
            )
            return
        if ev.id == TAGS_ID:
            names, self._tags = self._tags or [], None
            if names and all(n.startswith(KVS_TAG_PREFIX) for n in names):
                return  # the service's own tags from a recording: it writes fresh ones
        if ev.id in (INFO_ID, TRACKS_ID):
            if self._pending is not None:
                self._complete(out)
            if not self._first_in_segment:
                # New headers mid-segment: the next fragment carries them in its head.
                self._first_in_segment = True
                self._before = []
            if ev.id == INFO_ID:
                self._info = raw
            else:
                self._tracks = raw
            self._before.append(raw)
            return
        if self._pending is not None:
            self._pending.tail.append(raw)
            self._pending.size += len(raw)
        else:
            self._before.append(raw)
