"""The read loop: pieces reach the parser whole, as the socket (GetMedia's taken-over body) or
aiohttp (the fallback) received them, and no timer is armed for a read that does not wait."""

from __future__ import annotations

import asyncio
import socket
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


def _aiohttp_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback: the body read through aiohttp's parser, as before the take-over."""
    from kvs_async import client

    monkeypatch.setattr(client, "_TAKEOVER_OPS", frozenset())


async def test_the_parser_gets_the_very_pieces_aiohttp_received(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _aiohttp_reads(monkeypatch)
    received: list[bytes] = []
    original = aiohttp.streams.StreamReader.feed_data

    def feed_data(self: aiohttp.streams.StreamReader, data: bytes, *args: Any) -> Any:
        received.append(data)
        return original(self, data, *args)

    monkeypatch.setattr(aiohttp.streams.StreamReader, "feed_data", feed_data)
    fed = await _read_recording(4)
    body = {id(piece) for piece in received}
    assert fed and all(id(piece) in body for piece in fed), "a piece was sliced or joined"
    assert max(len(piece) for piece in fed) > 65536


async def test_taken_over_the_parser_gets_the_very_objects_recv_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GetMedia's body bypasses aiohttp's parser: what ``recv`` returned is what is fed, whole,
    for all but the few body bytes that share a read with the response head."""
    received: list[bytes] = []
    recv = socket.socket.recv

    def counted_recv(self: socket.socket, n: int, *args: Any) -> bytes:
        data = recv(self, n, *args)
        received.append(data)
        return data

    monkeypatch.setattr(socket.socket, "recv", counted_recv)
    fed_to_aiohttp: list[bytes] = []
    original = aiohttp.streams.StreamReader.feed_data

    def feed_data(self: aiohttp.streams.StreamReader, data: bytes, *args: Any) -> Any:
        fed_to_aiohttp.append(data)
        return original(self, data, *args)

    monkeypatch.setattr(aiohttp.streams.StreamReader, "feed_data", feed_data)
    fed = await _read_recording(4)
    whole = {id(piece) for piece in received}
    total = sum(len(p) for p in fed)
    sliced = sum(len(p) for p in fed if id(p) not in whole)
    assert total > 4 * 60_000
    # Sliced: only the body bytes that came in the head's read (reads between chunks are
    # sized from the last size line, so they end where the next chunk's data begins).
    assert sliced <= 2048, (sliced, total)
    assert max(len(piece) for piece in fed) > 65536
    # aiohttp's body reader saw none of GetMedia's bytes (only the control-plane answers).
    assert sum(len(p) for p in fed_to_aiohttp) < 10_000


async def _read_recording(fragments: int) -> list[Any]:
    fed: list[Any] = []

    def parser() -> ChunkParser:
        p = _Recording()
        p.fed = fed
        return p

    async with Emulator(idle_timeout=0.3) as emu:
        # Large frames: several socket reads per fragment, more than 64 KiB per piece.
        loaded = await emu.load_media("cam", synthetic_mkv(fragments, frame_size=60_000))
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
    return fed


@pytest.mark.parametrize("path", ["takeover", "aiohttp"])
async def test_a_timer_is_armed_only_for_reads_that_wait(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    from kvs_async import transport
    from kvs_async.wire import takeover

    reads = armed = 0
    cls: Any = takeover.TakenOverStream if path == "takeover" else transport.ResponseStream
    module: Any = takeover if path == "takeover" else transport
    if path == "aiohttp":
        _aiohttp_reads(monkeypatch)
    readany = cls.readany

    async def counted_read(self: Any) -> bytes:
        nonlocal reads
        reads += 1
        result: bytes = await readany(self)
        return result

    def counted_timeout(delay: float | None) -> asyncio.Timeout:
        nonlocal armed
        armed += 1
        return asyncio.timeout(delay)

    monkeypatch.setattr(cls, "readany", counted_read)
    monkeypatch.setattr(
        module,
        "asyncio",
        types.SimpleNamespace(timeout=counted_timeout, get_running_loop=asyncio.get_running_loop),
    )
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
