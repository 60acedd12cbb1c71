"""Sans-I/O Matroska for KVS: GetMedia bytes in, typed chunks (or EBML events) out.

Pure and synchronous (no asyncio, no aiohttp): feed it bytes from any source::

    parser = ChunkParser()
    async for data in response.content.iter_any():
        for chunk in parser.feed(data):
            handle(chunk)               # chunk.fragment_number, .frames, .raw, ...
    last = parser.close()               # or MkvTruncatedError(.chunks, .partial)

A chunk is one fragment: it completes when the Tags element carrying
AWS_KINESISVIDEO_CONTINUATION_TOKEN (or the AWS_KINESISVIDEO_ERROR_* tags) ends, without waiting
for the next fragment; without KVS tags (plain MKV) at the next EBML header or at `close()`.
`close()` raises MkvTruncatedError when the stream stops inside an element or inside a KVS
fragment whose trailing Tags never came. `b"".join(c.raw for c in chunks)` is the input.

Limits (all raise MkvLimitError, a MkvParseError): `max_element_size` (64 MiB: any leaf, e.g.
a SimpleBlock), `max_buffer_size` (128 MiB: the unfinished chunk plus one element),
`max_chunk_elements` (1,000,000). `EbmlReader` is the event level (MasterStart/MasterEnd/Leaf);
`writer` builds KVS-style streams for tests, demos and the emulator.
"""

from __future__ import annotations

from .chunks import DEFAULT_MAX_CHUNK_ELEMENTS, Chunk, ChunkParser, Frame, Track, parse_timestamp
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
    "DEFAULT_MAX_CHUNK_ELEMENTS",
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
