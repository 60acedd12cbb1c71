"""EBML at the byte level: element IDs, VINT tables, the Matroska element table, leaf values."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from .errors import MkvFormatError

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


class ElementInfo(NamedTuple):
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
