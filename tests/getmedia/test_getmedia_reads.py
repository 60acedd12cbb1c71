"""The read loop: pieces reach the parser whole, as aiohttp received them, and no timer is
armed for a read that does not wait."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import aiohttp.streams
import pytest

from kvs_async.emulator import Emulator
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.mkv import Chunk, ChunkParser
from kvs_async.mkv.writer import synthetic_mkv

EARLIEST = StartSelector(start_selector_type="EARLIEST")


class _Recording(ChunkParser):
    fed: list[Any]

    def feed(self, data: Any) -> list[Chunk]:
        self.fed.append(data)
        return super().feed(data)


async def test_the_parser_gets_the_very_pieces_aiohttp_received(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[bytes] = []
    original = aiohttp.streams.StreamReader.feed_data

    def feed_data(self: aiohttp.streams.StreamReader, data: bytes, *args: Any) -> Any:
        received.append(data)
        return original(self, data, *args)

    monkeypatch.setattr(aiohttp.streams.StreamReader, "feed_data", feed_data)
    fed: list[Any] = []

    def parser() -> ChunkParser:
        p = _Recording()
        p.fed = fed
        return p

    async with Emulator(idle_timeout=0.3) as emu:
        # Large frames: several socket reads per fragment, more than 64 KiB per piece.
        loaded = await emu.load_media("cam", synthetic_mkv(4, frame_size=60_000))
        async with KinesisVideoMediaClient(
            region=emu.region, credentials=emu.credentials, endpoint_url=emu.url
        ) as client:
            stream = client.get_media(
                stream_name="cam", start_selector=EARLIEST, parser_factory=parser
            )
            got = []
            async with stream:
                async for chunk in stream:
                    got.append(chunk.fragment_number)
                    if len(got) == len(loaded):
                        break
    assert got == [f.fragment_number for f in loaded]
    body = {id(piece) for piece in received}
    assert fed and all(id(piece) in body for piece in fed), "a piece was sliced or joined"
    assert max(len(piece) for piece in fed) > 65536


async def test_a_timer_is_armed_only_for_reads_that_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    from kvs_async import transport

    reads = armed = 0
    readany = transport.ResponseStream.readany

    async def counted_read(self: transport.ResponseStream) -> bytes:
        nonlocal reads
        reads += 1
        return await readany(self)

    def counted_timeout(delay: float | None) -> asyncio.Timeout:
        nonlocal armed
        armed += 1
        return asyncio.timeout(delay)

    monkeypatch.setattr(transport.ResponseStream, "readany", counted_read)
    monkeypatch.setattr(transport, "asyncio", types.SimpleNamespace(timeout=counted_timeout))
    async with Emulator(idle_timeout=0.3) as emu:
        await emu.load_media("cam", synthetic_mkv(5, frame_size=20_000))
        async with KinesisVideoMediaClient(
            region=emu.region, credentials=emu.credentials, endpoint_url=emu.url
        ) as client:
            stream = client.get_media(stream_name="cam", start_selector=EARLIEST)
            async with stream:
                async for _ in stream:
                    if stream.chunks == 5:
                        break
                    await asyncio.sleep(0.1)  # a slow consumer: bytes wait in the buffer
    # Every read while the consumer slept found bytes buffered and armed nothing.
    assert 0 < armed < reads / 2, (armed, reads)
