"""Copies per media byte from the socket to what the consumer holds, counted by an instrumented run.

Method: one get_media read of a whole stream in a child process with counting wrappers at every
place a media byte can be copied on its way up, divided by the media bytes delivered
(``sum(chunk.size)``):

- ``recv``: bytes returned by ``socket.socket.recv`` / ``recv_into`` (kernel -> user; asyncio's
  selector transport reads with ``recv``), HTTP headers and chunked framing included;
- ``http body``: bytes aiohttp's HTTP parser hands to ``StreamReader.feed_data`` (the C parser
  builds a new ``bytes`` for each body piece: a copy out of the recv buffer);
- ``re-slice``: bytes of pieces ``readany()`` returns that are not the very object aiohttp fed
  (a slice or a join inside the StreamReader) or, on GetMedia's taken-over connection
  (kvs_async.wire.takeover), not the very object ``recv`` returned (body bytes that shared a
  read with the chunked framing, sliced out);
- ``parser``: ``ChunkParser.bytes_copied`` summed over the parsers the stream used (elements
  straddling two pieces, coalesced small pieces);
- ``raw``: for a consumer that reads ``chunk.raw``, its length unless it is one of the pieces
  fed (then no copy was made).

Nothing is sampled or estimated: each wrapper adds ``len()`` of what passed through. The
wrappers cost time, so this run is never timed.
"""

from __future__ import annotations

import asyncio
import collections
import socket
from typing import Any

Counts = dict[str, int]


def _install(counts: Counts) -> None:
    import aiohttp.streams

    from kvs_async import transport
    from kvs_async.wire import takeover

    recv, recv_into = socket.socket.recv, socket.socket.recv_into
    recent: collections.deque[bytes] = collections.deque(maxlen=64)

    def counted_recv(self: socket.socket, n: int, *args: Any) -> bytes:
        data = recv(self, n, *args)
        counts["recv"] += len(data)
        recent.append(data)
        return data

    def counted_recv_into(self: socket.socket, buf: Any, *args: Any) -> int:
        got = recv_into(self, buf, *args)
        counts["recv"] += got
        return got

    socket.socket.recv = counted_recv  # type: ignore[method-assign]
    socket.socket.recv_into = counted_recv_into  # type: ignore[method-assign]

    feed = aiohttp.streams.StreamReader.feed_data

    def counted_feed(self: Any, data: bytes, *args: Any) -> Any:
        counts["http body"] += len(data)
        recent.append(data)
        return feed(self, data, *args)

    aiohttp.streams.StreamReader.feed_data = counted_feed  # type: ignore[method-assign]

    for cls in (transport.ResponseStream, takeover.TakenOverStream):
        readany = cls.readany

        async def counted_readany(self: Any, readany: Any = readany) -> bytes:
            piece: bytes = await readany(self)
            if piece and not any(piece is fed for fed in recent):
                counts["re-slice"] += len(piece)
            return piece

        cls.readany = counted_readany  # type: ignore[method-assign]


async def _read(url: str, stream: str, frags: int, raw: bool, counts: Counts) -> None:
    from bench.bench_getmedia import _client
    from kvs_async.kinesis_video_media import StartSelector
    from kvs_async.mkv import ChunkParser

    parsers: list[ChunkParser] = []

    def factory() -> ChunkParser:
        parsers.append(ChunkParser())
        return parsers[-1]

    async with _client(url) as client:
        async for chunk in client.get_media(
            stream_name=stream,
            start_selector=StartSelector(start_selector_type="EARLIEST"),
            idle_timeout=30,
            parser_factory=factory,
        ):
            counts["media"] += chunk.size
            counts["frames"] += len(chunk.frames)
            if raw:
                data = chunk.raw
                pieces = chunk._pieces  # bench-only look inside: was raw one of the fed pieces?
                if not any(data is p for p in pieces):
                    counts["raw"] += len(data)
            counts["chunks"] += 1
            if counts["chunks"] >= frags:
                break
    counts["parser"] = sum(p.bytes_copied for p in parsers)


def child(url: str, stream: str, frags: int, raw: bool) -> Counts:
    counts: Counts = collections.Counter()
    _install(counts)
    asyncio.run(_read(url, stream, frags, raw, counts))
    return dict(counts)


STAGES = ("recv", "http body", "re-slice", "parser", "raw")


def report(label: str, frames_only: Counts, with_raw: Counts) -> None:
    print(f"\nCopies per media byte, socket -> consumer ({label}; instrumented run, not timed)")
    print(f"  {'consumer':<26}" + "".join(f"{s:>10}" for s in STAGES) + f"{'total':>8}")
    for name, c in (("frames, tags (no .raw)", frames_only), ("... and chunk.raw", with_raw)):
        media = c["media"]
        per = [c.get(s, 0) / media for s in STAGES]
        total = sum(per)
        print(
            f"  {name:<26}"
            + "".join(f"{p:10.2f}" for p in per)
            + f"{total:8.2f}  (goal <= 2: {'met' if total <= 2 else 'NOT met'})"
        )
