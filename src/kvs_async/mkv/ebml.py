"""EBML at the byte level: element IDs, VINTs, the Matroska element table, and the event reader.

`EbmlReader` is sans-I/O: `feed(data)` returns the events that the bytes complete, `close()` ends the
stream. The stepping core (`_Core`) is shared with `ChunkParser`, which adds a fast loop for
SimpleBlocks inside clusters on top of it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from attrs import define

from .errors import MkvFormatError, MkvLimitError, MkvParseError, MkvTruncatedError

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_MAX_ELEMENT_SIZE",
    "ELEMENTS",
    "EbmlReader",
    "ElementInfo",
    "Event",
    "Leaf",
    "MasterEnd",
    "MasterStart",
    "iter_events",
]

#: Largest leaf element (a SimpleBlock is one) the parsers accept: a 4K keyframe is a few MiB,
#: a whole 10 s 4K fragment at 50 Mbit/s about 60 MiB; KVS caps a fragment at 50 MiB.
DEFAULT_MAX_ELEMENT_SIZE: Final = 64 * 1024 * 1024
#: Most bytes held at once: the unfinished chunk (its `raw` must be kept) plus one element.
DEFAULT_MAX_BUFFER_SIZE: Final = 128 * 1024 * 1024

# Element kinds.
MASTER: Final = "m"
UINT: Final = "u"
INT: Final = "i"
STRING: Final = "s"
UTF8: Final = "8"
BINARY: Final = "b"
FLOAT: Final = "f"
DATE: Final = "d"

GLOBAL_LEVEL: Final = -1  # Void and CRC-32: anywhere, never close anything
UNKNOWN_LEVEL: Final = -2  # IDs not in the table: children of whatever is open


@define(frozen=True, slots=True)
class ElementInfo:
    """What the table knows about one element ID: its name, value kind and nesting level."""

    name: str
    kind: str
    level: int


_TABLE: list[tuple[int, str, str, int]] = [
    # EBML header
    (0x1A45DFA3, "EBML", MASTER, 0),
    (0x4286, "EBMLVersion", UINT, 1),
    (0x42F7, "EBMLReadVersion", UINT, 1),
    (0x42F2, "EBMLMaxIDLength", UINT, 1),
    (0x42F3, "EBMLMaxSizeLength", UINT, 1),
    (0x4282, "DocType", STRING, 1),
    (0x4287, "DocTypeVersion", UINT, 1),
    (0x4285, "DocTypeReadVersion", UINT, 1),
    (0xEC, "Void", BINARY, GLOBAL_LEVEL),
    (0xBF, "CRC-32", BINARY, GLOBAL_LEVEL),
    # Segment and meta seek
    (0x18538067, "Segment", MASTER, 0),
    (0x114D9B74, "SeekHead", MASTER, 1),
    (0x4DBB, "Seek", MASTER, 2),
    (0x53AB, "SeekID", BINARY, 3),
    (0x53AC, "SeekPosition", UINT, 3),
    # Info
    (0x1549A966, "Info", MASTER, 1),
    (0x73A4, "SegmentUID", BINARY, 2),
    (0x7384, "SegmentFilename", UTF8, 2),
    (0x3CB923, "PrevUID", BINARY, 2),
    (0x3C83AB, "PrevFilename", UTF8, 2),
    (0x3EB923, "NextUID", BINARY, 2),
    (0x3E83BB, "NextFilename", UTF8, 2),
    (0x4444, "SegmentFamily", BINARY, 2),
    (0x6924, "ChapterTranslate", MASTER, 2),
    (0x2AD7B1, "TimecodeScale", UINT, 2),
    (0x4489, "Duration", FLOAT, 2),
    (0x4461, "DateUTC", DATE, 2),
    (0x7BA9, "Title", UTF8, 2),
    (0x4D80, "MuxingApp", UTF8, 2),
    (0x5741, "WritingApp", UTF8, 2),
    # Cluster
    (0x1F43B675, "Cluster", MASTER, 1),
    (0xE7, "Timecode", UINT, 2),
    (0x5854, "SilentTracks", MASTER, 2),
    (0x58D7, "SilentTrackNumber", UINT, 3),
    (0xA7, "Position", UINT, 2),
    (0xAB, "PrevSize", UINT, 2),
    (0xA3, "SimpleBlock", BINARY, 2),
    (0xA0, "BlockGroup", MASTER, 2),
    (0xA1, "Block", BINARY, 3),
    (0xA2, "BlockVirtual", BINARY, 3),
    (0x75A1, "BlockAdditions", MASTER, 3),
    (0xA6, "BlockMore", MASTER, 4),
    (0xEE, "BlockAddID", UINT, 5),
    (0xA5, "BlockAdditional", BINARY, 5),
    (0x9B, "BlockDuration", UINT, 3),
    (0xFA, "ReferencePriority", UINT, 3),
    (0xFB, "ReferenceBlock", INT, 3),
    (0xA4, "CodecState", BINARY, 3),
    (0x75A2, "DiscardPadding", INT, 3),
    (0x8E, "Slices", MASTER, 3),
    (0xE8, "TimeSlice", MASTER, 4),
    (0xCC, "LaceNumber", UINT, 5),
    (0xAF, "EncryptedBlock", BINARY, 2),
    # Tracks
    (0x1654AE6B, "Tracks", MASTER, 1),
    (0xAE, "TrackEntry", MASTER, 2),
    (0xD7, "TrackNumber", UINT, 3),
    (0x73C5, "TrackUID", UINT, 3),
    (0x83, "TrackType", UINT, 3),
    (0xB9, "FlagEnabled", UINT, 3),
    (0x88, "FlagDefault", UINT, 3),
    (0x55AA, "FlagForced", UINT, 3),
    (0x9C, "FlagLacing", UINT, 3),
    (0x6DE7, "MinCache", UINT, 3),
    (0x6DF8, "MaxCache", UINT, 3),
    (0x23E383, "DefaultDuration", UINT, 3),
    (0x234E7A, "DefaultDecodedFieldDuration", UINT, 3),
    (0x23314F, "TrackTimecodeScale", FLOAT, 3),
    (0x55EE, "MaxBlockAdditionID", UINT, 3),
    (0x536E, "Name", UTF8, 3),
    (0x22B59C, "Language", STRING, 3),
    (0x22B59D, "LanguageBCP47", STRING, 3),
    (0x86, "CodecID", STRING, 3),
    (0x63A2, "CodecPrivate", BINARY, 3),
    (0x258688, "CodecName", UTF8, 3),
    (0x7446, "AttachmentLink", UINT, 3),
    (0xAA, "CodecDecodeAll", UINT, 3),
    (0x6FAB, "TrackOverlay", UINT, 3),
    (0x56AA, "CodecDelay", UINT, 3),
    (0x56BB, "SeekPreRoll", UINT, 3),
    (0x6624, "TrackTranslate", MASTER, 3),
    (0xE0, "Video", MASTER, 3),
    (0x9A, "FlagInterlaced", UINT, 4),
    (0x9D, "FieldOrder", UINT, 4),
    (0x53B8, "StereoMode", UINT, 4),
    (0x53C0, "AlphaMode", UINT, 4),
    (0xB0, "PixelWidth", UINT, 4),
    (0xBA, "PixelHeight", UINT, 4),
    (0x54AA, "PixelCropBottom", UINT, 4),
    (0x54BB, "PixelCropTop", UINT, 4),
    (0x54CC, "PixelCropLeft", UINT, 4),
    (0x54DD, "PixelCropRight", UINT, 4),
    (0x54B0, "DisplayWidth", UINT, 4),
    (0x54BA, "DisplayHeight", UINT, 4),
    (0x54B2, "DisplayUnit", UINT, 4),
    (0x54B3, "AspectRatioType", UINT, 4),
    (0x2EB524, "ColourSpace", BINARY, 4),
    (0x55B0, "Colour", MASTER, 4),
    (0x55B1, "MatrixCoefficients", UINT, 5),
    (0x55B2, "BitsPerChannel", UINT, 5),
    (0x55B3, "ChromaSubsamplingHorz", UINT, 5),
    (0x55B4, "ChromaSubsamplingVert", UINT, 5),
    (0x55B5, "CbSubsamplingHorz", UINT, 5),
    (0x55B6, "CbSubsamplingVert", UINT, 5),
    (0x55B7, "ChromaSitingHorz", UINT, 5),
    (0x55B8, "ChromaSitingVert", UINT, 5),
    (0x55B9, "Range", UINT, 5),
    (0x55BA, "TransferCharacteristics", UINT, 5),
    (0x55BB, "Primaries", UINT, 5),
    (0x55BC, "MaxCLL", UINT, 5),
    (0x55BD, "MaxFALL", UINT, 5),
    (0x55D0, "MasteringMetadata", MASTER, 5),
    (0x7670, "Projection", MASTER, 4),
    (0xE1, "Audio", MASTER, 3),
    (0xB5, "SamplingFrequency", FLOAT, 4),
    (0x78B5, "OutputSamplingFrequency", FLOAT, 4),
    (0x9F, "Channels", UINT, 4),
    (0x6264, "BitDepth", UINT, 4),
    (0xE2, "TrackOperation", MASTER, 3),
    (0x6D80, "ContentEncodings", MASTER, 3),
    (0x6240, "ContentEncoding", MASTER, 4),
    # Cues
    (0x1C53BB6B, "Cues", MASTER, 1),
    (0xBB, "CuePoint", MASTER, 2),
    (0xB3, "CueTime", UINT, 3),
    (0xB7, "CueTrackPositions", MASTER, 3),
    (0xF7, "CueTrack", UINT, 4),
    (0xF1, "CueClusterPosition", UINT, 4),
    (0xF0, "CueRelativePosition", UINT, 4),
    (0xB2, "CueDuration", UINT, 4),
    (0x5378, "CueBlockNumber", UINT, 4),
    (0xEA, "CueCodecState", UINT, 4),
    (0xDB, "CueReference", MASTER, 4),
    # Attachments and chapters
    (0x1941A469, "Attachments", MASTER, 1),
    (0x61A7, "AttachedFile", MASTER, 2),
    (0x467E, "FileDescription", UTF8, 3),
    (0x466E, "FileName", UTF8, 3),
    (0x4660, "FileMimeType", STRING, 3),
    (0x465C, "FileData", BINARY, 3),
    (0x46AE, "FileUID", UINT, 3),
    (0x1043A770, "Chapters", MASTER, 1),
    (0x45B9, "EditionEntry", MASTER, 2),
    (0xB6, "ChapterAtom", MASTER, 3),
    (0x73C4, "ChapterUID", UINT, 4),
    (0x91, "ChapterTimeStart", UINT, 4),
    (0x92, "ChapterTimeEnd", UINT, 4),
    (0x80, "ChapterDisplay", MASTER, 4),
    (0x85, "ChapString", UTF8, 5),
    (0x437C, "ChapLanguage", STRING, 5),
    # Tags
    (0x1254C367, "Tags", MASTER, 1),
    (0x7373, "Tag", MASTER, 2),
    (0x63C0, "Targets", MASTER, 3),
    (0x68CA, "TargetTypeValue", UINT, 4),
    (0x63CA, "TargetType", STRING, 4),
    (0x63C5, "TagTrackUID", UINT, 4),
    (0x63C9, "TagEditionUID", UINT, 4),
    (0x63C4, "TagChapterUID", UINT, 4),
    (0x63C6, "TagAttachmentUID", UINT, 4),
    (0x67C8, "SimpleTag", MASTER, 3),
    (0x45A3, "TagName", UTF8, 4),
    (0x447A, "TagLanguage", STRING, 4),
    (0x447B, "TagLanguageBCP47", STRING, 4),
    (0x4484, "TagDefault", UINT, 4),
    (0x4487, "TagString", UTF8, 4),
    (0x4485, "TagBinary", BINARY, 4),
]

#: Element ID (with its length-marker bits, as written: 0x1A45DFA3) -> what we know about it.
ELEMENTS: Final[dict[int, ElementInfo]] = {
    eid: ElementInfo(name, kind, level) for eid, name, kind, level in _TABLE
}
ELEMENT_KIND: Final[dict[int, str]] = {eid: kind for eid, _, kind, _ in _TABLE}
ELEMENT_LEVEL: Final[dict[int, int]] = {eid: level for eid, _, _, level in _TABLE}
_KIND = ELEMENT_KIND
_LEVEL = ELEMENT_LEVEL
_NAME: Final[dict[int, str]] = {eid: name for eid, name, _, _ in _TABLE}

# IDs the parsers refer to by name.
ID_EBML: Final = 0x1A45DFA3
ID_SEGMENT: Final = 0x18538067
ID_CLUSTER: Final = 0x1F43B675
ID_SIMPLEBLOCK: Final = 0xA3

#: First byte -> length of the VINT it starts (0: more than 8 bytes, invalid).
VINT_LENGTH: Final[tuple[int, ...]] = tuple(0 if b == 0 else 9 - b.bit_length() for b in range(256))
#: First byte -> length of the element ID it starts (0: longer than 4 bytes, invalid).
ID_LENGTH: Final[tuple[int, ...]] = tuple(n if n <= 4 else 0 for n in VINT_LENGTH)
#: VINT length -> mask of its value bits (also the reserved "unknown size" value).
VINT_MASK: Final[tuple[int, ...]] = tuple((1 << (7 * n)) - 1 for n in range(9))

INFINITE: Final = 1 << 62

# Raw step results (tuples, so that the chunk layer builds no event objects).
START: Final = 0  # (START, entry, header_size)
END: Final = 1  # (END, entry, end_offset)
LEAF: Final = 2  # (LEAF, id, offset, header_size, size)

# A stack entry: (id, offset, level, end or -1 when unknown, bound).
StackEntry = tuple[int, int, int, int, int]


def element_name(element_id: int) -> str:
    """The table name of an ID, or `0x...` for IDs the table does not know."""
    name = _NAME.get(element_id)
    return name if name is not None else f"0x{element_id:X}"


#: Pieces shorter than this are copied into one accumulating buffer instead of being kept one
#: by one (bounds the per-piece bookkeeping when a caller feeds tiny pieces).
SMALL_PIECE: Final = 2048
#: Bytes joined at most to finish an element header that straddles two pieces (ID + size <= 12).
_HEADER_JOIN: Final = 16
#: Default bound on open (nested) master elements; Matroska needs about 8.
DEFAULT_MAX_DEPTH: Final = 64


class _Core:
    """Current buffer, read position and open-element stack: one EBML element per `_step()`.

    No byte is copied on the common path: each fed piece (bytes, or a read-only view of bytes)
    is parsed where it lies, `buf[pos]` being stream offset `base + pos`. Only an element that
    straddles two pieces is joined, once, into a buffer of its own (its header first, then -
    for a leaf - its payload up to the exact end the header declares), so every byte is joined
    at most once and the work stays linear whatever the split. Offsets kept in the stack are
    absolute stream offsets. `_need` is the stream offset up to which the element at `pos` must
    be joined (0 while its header is incomplete).
    """

    def __init__(self, *, max_element_size: int, max_buffer_size: int, max_depth: int) -> None:
        if max_element_size < 1 or max_buffer_size < 1 or max_depth < 1:
            raise ValueError("limits must be positive")
        self.max_element_size = max_element_size
        self.max_buffer_size = max_buffer_size
        self.max_depth = max_depth
        self._buf: bytes | memoryview = b""
        self._view = memoryview(b"")  # read-only view of _buf: frame payloads are its slices
        self._end = 0  # len(_buf)
        self._base = 0
        self._pos = 0
        self._need = 0
        self._carry: list[bytes | memoryview] = []  # the straddling element's bytes so far
        self._carry_len = 0
        self._fed = 0  # stream offset after the last byte fed
        self._joined_bytes = 0  # bytes copied to join straddling elements (instrumentation)
        self._stack: list[StackEntry] = []
        self._elements = 0
        self._element_cap = INFINITE  # the stepper raises when _elements would pass it
        self._failed: MkvParseError | None = None
        self._closed = False

    # -- errors -------------------------------------------------------------------------------

    def _path(self) -> tuple[str, ...]:
        return tuple(element_name(e[0]) for e in self._stack)

    def _format_error(self, message: str, offset: int) -> MkvFormatError:
        return MkvFormatError(message, offset=offset, path=self._path())

    def _limit_error(self, message: str, offset: int) -> MkvLimitError:
        return MkvLimitError(message, offset=offset, path=self._path())

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise self._failed.again()
        if self._closed:
            raise MkvParseError("the parser was closed", offset=self._base + self._pos)

    @property
    def elements_parsed(self) -> int:
        """How many elements (masters and leaves) have been read so far."""
        return self._elements

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet parsed."""
        return self._base + self._pos

    @property
    def bytes_copied(self) -> int:
        """Bytes the parser copied so far to join elements that straddled two fed pieces."""
        return self._joined_bytes

    def _pending(self) -> int:
        """Bytes fed but not parsed yet (an incomplete element)."""
        return self._fed - (self._base + self._pos)

    # -- feeding ------------------------------------------------------------------------------

    def _ingest(self, data: bytes | memoryview) -> None:
        """Parse one fed piece (immutable): finish a straddling element, then the piece itself."""
        size = len(data)
        start = self._fed  # stream offset of data[0]
        self._fed = start + size
        used = 0
        while self._carry_len:
            cstart = self._base + self._pos
            have = cstart + self._carry_len
            if self._need:
                take = min(size - used, self._need - have)
            else:
                take = min(size - used, _HEADER_JOIN)
            if take > 0:
                self._carry.append(data[used : used + take])
                self._carry_len += take
                used += take
            if (self._need and cstart + self._carry_len < self._need) or take <= 0:
                return  # wait for more
            joined = b"".join(self._carry)
            self._joined_bytes += len(joined)
            self._carry.clear()
            self._carry_len = 0
            self._set_buf(joined, cstart, 0)
            self._run_buf()
            if self._pos < self._end:
                self._carry_from_buf()
        if used < size or size == 0:
            self._set_buf(data, start, used)
            self._run_buf()
            if self._pos < self._end:
                self._carry_from_buf()

    def _set_buf(self, data: bytes | memoryview, base: int, pos: int) -> None:
        self._buf = data
        self._view = data if isinstance(data, memoryview) else memoryview(data)
        self._end = len(data)
        self._base = base
        self._pos = pos
        self._need = 0

    def _carry_from_buf(self) -> None:
        """The element at `pos` is incomplete: keep its bytes (a view, no copy) for the join."""
        self._carry = [self._view[self._pos : self._end]]
        self._carry_len = self._end - self._pos

    def _run_buf(self) -> None:
        raise NotImplementedError

    # -- stepping -----------------------------------------------------------------------------

    def _step(self) -> tuple[int, StackEntry | int, int, int, int] | None:
        """Read one element header (and a leaf's whole payload) or close one element.

        Returns None when more bytes are needed (`_need` says up to where, 0 while the header
        is incomplete). Raises MkvFormatError/MkvLimitError.
        """
        stack = self._stack
        pos = self._pos
        base = self._base
        abspos = base + pos
        if stack:
            top = stack[-1]
            if top[4] == abspos:
                stack.pop()
                return (END, top, abspos, 0, 0)
        buf = self._buf
        n = self._end
        if pos >= n:
            return None
        b0 = buf[pos]
        idlen = ID_LENGTH[b0]
        if idlen == 0:
            raise self._format_error(
                f"element ID longer than 4 bytes (first byte 0x{b0:02X})", abspos
            )
        if pos + idlen >= n:
            self._need = 0
            return None
        eid = b0 if idlen == 1 else int.from_bytes(buf[pos : pos + idlen], "big")
        s0 = buf[pos + idlen]
        slen = VINT_LENGTH[s0]
        if slen == 0:
            raise self._format_error(
                f"size of {element_name(eid)} longer than 8 bytes (first byte 0x00)", abspos
            )
        hend = pos + idlen + slen
        if hend > n:
            self._need = 0
            return None
        if slen == 1:
            size = s0 & 0x7F
            unknown = size == 0x7F
        else:
            mask = VINT_MASK[slen]
            size = int.from_bytes(buf[pos + idlen : hend], "big") & mask
            unknown = size == mask
        level = _LEVEL.get(eid, UNKNOWN_LEVEL)
        if stack and level >= 0:
            top = stack[-1]
            if top[3] == -1 and top[2] >= level:
                # An element of the unknown-size element's level or higher ends it.
                stack.pop()
                return (END, top, abspos, 0, 0)
        kind = _KIND.get(eid)
        hsize = hend - pos
        parent_bound = stack[-1][4] if stack else INFINITE
        if self._elements >= self._element_cap:
            self._elements_exceeded(abspos)
        if unknown:
            if kind != MASTER or level < 0:
                raise self._format_error(
                    f"unknown size on {element_name(eid)}, which is not a master element", abspos
                )
            self._check_depth(eid, abspos)
            self._elements += 1
            entry = (eid, abspos, level, -1, parent_bound)
            stack.append(entry)
            self._pos = hend
            return (START, entry, hsize, 0, 0)
        end = abspos + hsize + size
        if end > parent_bound:
            raise self._format_error(
                f"{element_name(eid)} of {size} bytes ends at {end}, beyond its parent's end "
                f"at {parent_bound}",
                abspos,
            )
        if kind == MASTER:
            self._check_depth(eid, abspos)
            self._check_master(eid, abspos, end)
            self._elements += 1
            entry = (eid, abspos, level, end, end)
            stack.append(entry)
            self._pos = hend
            return (START, entry, hsize, 0, 0)
        if size > self.max_element_size:
            raise self._limit_error(
                f"{element_name(eid)} of {size} bytes is larger than max_element_size "
                f"({self.max_element_size})",
                abspos,
            )
        self._check_leaf(eid, abspos, end)
        if hend + size > n:
            self._need = end
            return None
        self._elements += 1
        self._pos = hend + size
        return (LEAF, eid, abspos, hsize, size)

    def _check_depth(self, eid: int, offset: int) -> None:
        if len(self._stack) >= self.max_depth:
            raise self._limit_error(
                f"{element_name(eid)} nested {len(self._stack) + 1} deep, deeper than max_depth "
                f"({self.max_depth})",
                offset,
            )

    def _check_master(self, eid: int, offset: int, end: int) -> None:
        """A known-size master is about to open (ChunkParser refuses one it could not hold)."""

    def _check_leaf(self, eid: int, offset: int, end: int) -> None:
        """A leaf's header is read (ChunkParser checks that its chunk can hold it)."""

    def _elements_exceeded(self, offset: int) -> None:
        """The element count reached `_element_cap` (ChunkParser raises)."""

    # -- values -------------------------------------------------------------------------------

    def _bytes(self, start: int, end: int) -> bytes:
        """Bytes at stream offsets [start, end) of the current buffer (one copy)."""
        base = self._base
        return bytes(self._view[start - base : end - base])


def _immutable(data: bytes | bytearray | memoryview) -> bytes | memoryview:
    """What `feed()` may keep without copying: bytes, or a read-only view of bytes."""
    if type(data) is bytes:
        return data
    if isinstance(data, memoryview):
        if data.readonly and isinstance(data.obj, bytes):
            view = data if data.format == "B" and data.ndim == 1 else data.cast("B")
            if view.nbytes == len(data.obj):
                return data.obj
            return view
        return data.tobytes()
    return bytes(data)


# -- values -----------------------------------------------------------------------------------

_EPOCH_2001: Final = datetime(2001, 1, 1, tzinfo=UTC)


def decode_value(kind: str, data: bytes, *, offset: int, name: str) -> object:
    """Decode a leaf payload by kind. Strings lose their trailing NUL padding (the spec allows it)."""
    if kind == UINT:
        if len(data) > 8:
            raise MkvFormatError(f"{name}: unsigned integer of {len(data)} bytes", offset=offset)
        return int.from_bytes(data, "big")
    if kind == INT:
        if len(data) > 8:
            raise MkvFormatError(f"{name}: signed integer of {len(data)} bytes", offset=offset)
        return int.from_bytes(data, "big", signed=True)
    if kind == STRING or kind == UTF8:
        return data.rstrip(b"\x00").decode("utf-8", "replace")
    if kind == FLOAT:
        return decode_float(data, offset=offset, name=name)
    if kind == DATE:
        if len(data) not in (0, 8):
            raise MkvFormatError(f"{name}: date of {len(data)} bytes", offset=offset)
        nanos = int.from_bytes(data, "big", signed=True)
        return _EPOCH_2001 + timedelta(microseconds=nanos // 1000)
    return data


def decode_float(data: bytes | bytearray | memoryview, *, offset: int, name: str) -> float:
    if len(data) == 0:
        return 0.0
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    raise MkvFormatError(f"{name}: float of {len(data)} bytes", offset=offset)


# -- events -----------------------------------------------------------------------------------


@define(frozen=True, slots=True, kw_only=True)
class MasterStart:
    """A master element begins. `size` is None for unknown size; `depth` counts open parents."""

    id: int
    name: str
    offset: int
    header_size: int
    size: int | None
    depth: int


@define(frozen=True, slots=True, kw_only=True)
class MasterEnd:
    """A master element ends at stream offset `end` (`offset` is where it began)."""

    id: int
    name: str
    offset: int
    end: int
    depth: int


@define(frozen=True, slots=True, kw_only=True)
class Leaf:
    """A whole leaf element with its decoded value (int, float, str, datetime or bytes)."""

    id: int
    name: str
    offset: int
    header_size: int
    size: int
    depth: int
    value: object


Event = MasterStart | MasterEnd | Leaf


class EbmlReader(_Core):
    """Incremental EBML reader: bytes in, `MasterStart`/`MasterEnd`/`Leaf` events out.

    Unknown-size masters end when an element of their level or higher begins (or at `close()`).
    Leaves are returned whole, so a leaf is buffered until complete (bounded by
    `max_element_size`); everything already returned is dropped from the buffer.
    """

    def __init__(
        self,
        *,
        max_element_size: int = DEFAULT_MAX_ELEMENT_SIZE,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        super().__init__(
            max_element_size=max_element_size, max_buffer_size=max_buffer_size, max_depth=max_depth
        )
        self._out: list[Event] = []

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse more bytes; return the events they complete. On an error, `exc.events` holds
        the events completed before it."""
        self._check_usable()
        out: list[Event] = []
        self._out = out
        try:
            self._ingest(_immutable(data))
        except MkvParseError as exc:
            exc.events = out
            self._failed = exc
            raise
        finally:
            self._out = []
        return out

    def close(self) -> list[Event]:
        """End the stream: unknown-size masters end here; anything else open is truncation."""
        self._check_usable()
        self._closed = True
        out: list[Event] = []
        offset = self._base + self._pos
        if self._pending():
            raise MkvTruncatedError(
                f"stream ended inside an element ({self._pending()} bytes pending)",
                offset=offset,
                path=self._path(),
            )
        while self._stack:
            top = self._stack[-1]
            if top[3] != -1:
                raise MkvTruncatedError(
                    f"stream ended inside {element_name(top[0])}, which should end at {top[3]}",
                    offset=offset,
                    path=self._path(),
                )
            self._stack.pop()
            out.append(self._end_event(top, offset))
        return out

    def _end_event(self, entry: StackEntry, end: int) -> MasterEnd:
        return MasterEnd(
            id=entry[0],
            name=element_name(entry[0]),
            offset=entry[1],
            end=end,
            depth=len(self._stack),
        )

    def _check_leaf(self, eid: int, offset: int, end: int) -> None:
        if end - offset > self.max_buffer_size:
            raise self._limit_error(
                f"{element_name(eid)} of {end - offset} bytes is more than max_buffer_size "
                f"({self.max_buffer_size})",
                offset,
            )

    def _run_buf(self) -> None:
        out = self._out
        step = self._step
        while (r := step()) is not None:
            kind = r[0]
            if kind == START:
                entry = r[1]
                assert isinstance(entry, tuple)
                out.append(
                    MasterStart(
                        id=entry[0],
                        name=element_name(entry[0]),
                        offset=entry[1],
                        header_size=r[2],
                        size=None if entry[3] == -1 else entry[3] - entry[1] - r[2],
                        depth=len(self._stack) - 1,
                    )
                )
            elif kind == END:
                entry = r[1]
                assert isinstance(entry, tuple)
                out.append(self._end_event(entry, r[2]))
            else:
                eid = r[1]
                assert isinstance(eid, int)
                offset, hsize, size = r[2], r[3], r[4]
                data = self._bytes(offset + hsize, offset + hsize + size)
                name = element_name(eid)
                kind_ = _KIND.get(eid, BINARY)
                try:
                    value = decode_value(kind_, data, offset=offset, name=name)
                except MkvFormatError as exc:
                    raise MkvFormatError(exc.message, offset=offset, path=self._path()) from None
                out.append(
                    Leaf(
                        id=eid,
                        name=name,
                        offset=offset,
                        header_size=hsize,
                        size=size,
                        depth=len(self._stack),
                        value=value,
                    )
                )


def iter_events(data: bytes | bytearray | memoryview) -> Iterator[Event]:
    """All events of a complete byte string (raises MkvTruncatedError if it is cut short)."""
    reader = EbmlReader()
    yield from reader.feed(data)
    yield from reader.close()
