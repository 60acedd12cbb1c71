"""Sans-I/O Matroska for KVS: GetMedia bytes in, typed chunks (or EBML events) out.

Pure and synchronous (no asyncio, no aiohttp): feed it bytes from any source.
"""

from __future__ import annotations

from .chunks import Chunk, ChunkParser, Frame, Track, parse_timestamp
from .ebml import (
    DEFAULT_MAX_BUFFER_SIZE,
    DEFAULT_MAX_ELEMENT_SIZE,
    ELEMENTS,
    EbmlReader,
    ElementInfo,
    Event,
    Leaf,
    MasterEnd,
    MasterStart,
    iter_events,
)
from .errors import MkvFormatError, MkvLimitError, MkvParseError, MkvTruncatedError

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_MAX_ELEMENT_SIZE",
    "ELEMENTS",
    "Chunk",
    "ChunkParser",
    "EbmlReader",
    "ElementInfo",
    "Event",
    "Frame",
    "Leaf",
    "MasterEnd",
    "MasterStart",
    "MkvFormatError",
    "MkvLimitError",
    "MkvParseError",
    "MkvTruncatedError",
    "Track",
    "iter_events",
    "parse_timestamp",
]
