"""Sans-I/O Matroska for KVS: GetMedia bytes in, typed chunks, frame events (or EBML events) out.

Pure and synchronous (no asyncio, no aiohttp): feed it bytes from any source::

    parser = ChunkParser()
    async for data in response.content.iter_any():
        for chunk in parser.feed(data):
            handle(chunk)               # chunk.fragment_number, .frames, .raw, ...
    last = parser.close()               # or MkvTruncatedError(.chunks, .partial)

A chunk is one fragment: it completes when the Tags element carrying
AWS_KINESISVIDEO_CONTINUATION_TOKEN (or the AWS_KINESISVIDEO_ERROR_* tags) ends, without waiting
for the next fragment; without KVS tags before its Cluster (plain MKV) at the next EBML header
or at `close()` - or, with `ChunkParser(cluster_chunks=True)`, at the end of each Cluster, so
plain files of any size are read in bounded memory. `close()` raises MkvTruncatedError when the
stream stops inside an element or inside a KVS fragment whose trailing Tags never came.
`b"".join(c.raw for c in chunks)` is the input.

Frames as they arrive: `parser.feed_events(data)` returns `list[Chunk | FrameEvent]` in stream
order: a `FrameEvent(frame, frame_index, fragment_number, server_timestamp, producer_timestamp,
cluster_timecode_ms, track, chunk_offset)` for each frame as soon as its SimpleBlock/BlockGroup
is complete (fragment number and timestamps from the KVS tags sent before the Cluster), then
the fragment's `Chunk`, whose `frames` are the same `Frame` objects (`frame_index` is the
position there). `close()` is the same for both. Frame and FrameEvent are tuple subclasses:
typed, immutable, cheap.

Copies: bytes fed as `bytes` (or read-only views of bytes) are kept as they are: a frame's
`payload` is a read-only view into the piece it arrived in, and `Chunk.raw` is joined from the
pieces only when first read. Only an element that straddles two fed pieces is joined into a
buffer of its own, once (`parser.bytes_copied` counts those bytes); pieces under 2 KiB are
coalesced. Work is linear in the bytes fed whatever the split.

Limits (all raise MkvLimitError, a MkvParseError, at a fixed stream position, so the outcome does
not depend on the split): `max_element_size` (64 MiB: any leaf, e.g. a SimpleBlock),
`max_buffer_size` (128 MiB: the bytes one chunk may span; a known-size master or a leaf whose
declared end lies beyond is refused as soon as its header is read), `max_chunk_elements`
(1,000,000), `max_chunk_frames` (200,000), `max_objects_per_kib` (64 frames, tags and tracks per
KiB of the chunk beyond the first 64), `max_depth` (64 nested masters). Errors lose nothing: a
`feed()` that raises carries the chunks it completed before the error on `exc.chunks`
(`exc.events` for `feed_events()`); later calls raise the same error again, carrying nothing.
`EbmlReader` is the event level (MasterStart/MasterEnd/Leaf); `writer` builds KVS-style streams
for tests, demos and the emulator.
"""

from __future__ import annotations

import sys as _sys

from . import _purity  # first of the package: KVS_ASYNC_PURE=1 acts before a compiled module loads
from .chunks import (
    DEFAULT_MAX_CHUNK_ELEMENTS,
    DEFAULT_MAX_CHUNK_FRAMES,
    DEFAULT_MAX_OBJECTS_PER_KIB,
    ChunkParser,
)
from .ebml import DEFAULT_MAX_DEPTH, EbmlReader, iter_events
from .elements import DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_ELEMENT_SIZE, ELEMENTS, ElementInfo
from .errors import MkvFormatError, MkvLimitError, MkvParseError, MkvTruncatedError
from .events import Event, Leaf, MasterEnd, MasterStart
from .model import Chunk, Frame, FrameEvent, Track, parse_timestamp

#: True when the mypyc-compiled parser is running, False for the pure-Python source.
COMPILED: bool = not _purity.PURE_REQUESTED and not str(
    _sys.modules[ChunkParser.__module__].__file__
).endswith((".py", ".pyc"))

__all__ = [
    "COMPILED",
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_MAX_CHUNK_ELEMENTS",
    "DEFAULT_MAX_CHUNK_FRAMES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_ELEMENT_SIZE",
    "DEFAULT_MAX_OBJECTS_PER_KIB",
    "ELEMENTS",
    "Chunk",
    "ChunkParser",
    "EbmlReader",
    "ElementInfo",
    "Event",
    "Frame",
    "FrameEvent",
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
