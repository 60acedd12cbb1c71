"""GetMedia's body read off the socket by our protocol (kvs_async.wire.takeover), over real
loopback HTTP and TLS: exact bytes, typed errors, bounded memory, connections never reused."""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from test_transport_http import _self_signed_context
from transport_helpers import serve

from kvs_async import ClientConfig, ReadTimeoutError, TransportError
from kvs_async._http import HttpRequest
from kvs_async.transport import ResponseStream, Transport
from kvs_async.wire import takeover
from kvs_async.wire.chunked import BodyFramingError
from kvs_async.wire.takeover import TakenOverStream

BODY = bytes(range(256)) * 4096  # 1 MiB
PEERS = web.AppKey("peers", list)


def _get(url: str, path: str = "/") -> HttpRequest:
    return HttpRequest(method="GET", path=path, url_base=url)


async def _chunked_handler(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.app[PEERS].append(request.transport.get_extra_info("peername"))
    if request.path == "/plain":
        return web.Response(body=b"plain")
    if request.path == "/error":
        return web.Response(status=500, body=b'{"message": "boom"}')
    if request.path == "/length":
        return web.Response(body=BODY)
    resp = web.StreamResponse()
    await resp.prepare(request)
    for size in (1, 1000, 65536, 300_000, len(BODY)):  # chunks of every size
        await resp.write(BODY[:size])
    await resp.write_eof()
    return resp


_EXPECTED = b"".join(BODY[:size] for size in (1, 1000, 65536, 300_000, len(BODY)))


@asynccontextmanager
async def _server(
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[str, list[object]]]:
    app = web.Application()
    peers: list[object] = []
    app[PEERS] = peers
    app.router.add_route("*", "/{tail:.*}", _chunked_handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}", peers
    finally:
        await runner.cleanup()


async def _read_all(stream: object) -> bytes:
    assert isinstance(stream, TakenOverStream)
    parts = []
    while piece := await stream.readany():
        parts.append(piece)
    assert await stream.readany() == b""  # and again at the end
    return b"".join(parts)


@pytest.mark.parametrize("path", ["/", "/length"])
async def test_taken_over_body_is_exact_and_the_connection_is_not_reused(path: str) -> None:
    transport = Transport(ClientConfig(read_timeout=10))
    try:
        async with _server() as (url, peers):
            for _ in range(2):
                resp = await transport.send(_get(url, path), stream=True, takeover=True)
                assert resp.status == 200
                got = await _read_all(resp.stream)
                assert got == (_EXPECTED if path == "/" else BODY)
                assert resp.stream is not None and resp.stream.bytes_received == len(got)
                resp.stream.close()
            plain = await transport.send(_get(url, "/plain"))
            assert plain.body == b"plain"
            # Each taken-over connection was closed, never handed back to aiohttp's pool.
            assert len(set(peers)) == 3
    finally:
        await transport.close()


async def test_an_error_answer_is_read_by_aiohttp_and_its_connection_pooled() -> None:
    transport = Transport(ClientConfig(read_timeout=10))
    try:
        async with _server() as (url, peers):
            resp = await transport.send(_get(url, "/error"), stream=True, takeover=True)
            assert resp.status == 500 and resp.body == b'{"message": "boom"}'
            again = await transport.send(_get(url, "/plain"))
            assert again.body == b"plain"
            assert len(set(peers)) == 1  # declined: aiohttp's protocol got the connection back
    finally:
        await transport.close()


async def test_falls_back_to_aiohttp_when_the_connection_cannot_be_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(takeover._Splitter, "install", classmethod(lambda cls, conn: None))
    transport = Transport(ClientConfig(read_timeout=10))
    try:
        async with _server() as (url, _):
            resp = await transport.send(_get(url), stream=True, takeover=True)
            assert isinstance(resp.stream, ResponseStream)
            assert await resp.stream.read() == _EXPECTED
            resp.stream.close()
    finally:
        await transport.close()


async def test_tls_connection_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_ctx = _self_signed_context(tmp_path)
    client_ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    monkeypatch.setattr(
        aiohttp, "TCPConnector", functools.partial(aiohttp.TCPConnector, ssl=client_ctx)
    )
    transport = Transport(ClientConfig(read_timeout=10))
    try:
        async with _server(server_ctx) as (url, peers):
            resp = await transport.send(_get(url), stream=True, takeover=True)
            assert resp.stream is not None
            assert resp.stream._response.connection is not None  # type: ignore[union-attr]
            ssl_object = resp.stream._response.connection.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
            assert ssl_object is not None
            assert await _read_all(resp.stream) == _EXPECTED
            resp.stream.close()
            resp = await transport.send(_get(url, "/length"), stream=True, takeover=True)
            assert await _read_all(resp.stream) == BODY
            resp.stream.close()  # type: ignore[union-attr]
            assert len(set(peers)) == 2
    finally:
        await transport.close()


async def test_backpressure_bounds_what_is_buffered() -> None:
    total = 48 << 20

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(total // len(BODY)):
            await resp.write(BODY)
        await resp.write_eof()
        return resp

    transport = Transport(ClientConfig(read_timeout=10))
    try:
        async with serve(handler) as url:
            resp = await transport.send(_get(url), stream=True, takeover=True)
            stream = resp.stream
            assert isinstance(stream, TakenOverStream)
            got = len(await stream.readany())
            peak = 0
            for _ in range(20):  # a consumer that stopped reading: the socket is paused
                await asyncio.sleep(0.02)
                peak = max(peak, stream._splitter.queued)
            assert 0 < peak <= takeover._HIGH + takeover._RECV
            assert stream._splitter.received < total / 4
            while piece := await stream.readany():
                got += len(piece)
                peak = max(peak, stream._splitter.queued)
            assert got == total
            assert peak <= takeover._HIGH + takeover._RECV
    finally:
        await transport.close()


Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _raw_server(write: Writer) -> AsyncIterator[str]:
    """An HTTP server that answers every request with hand-written bytes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            await write(writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: video/webm\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("wire", "offset"),
    [(b"5\r\nhello\r\nZZ\r\n", 10), (b"5\r\nhelloXX", 8), (b"5\r\nhel", 6)],
)
async def test_broken_framing_is_a_typed_error_after_the_good_bytes(
    wire: bytes, offset: int
) -> None:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(_HEAD + wire)
        await writer.drain()

    transport = Transport(ClientConfig(read_timeout=5))
    try:
        async with _raw_server(write) as url:
            resp = await transport.send(_get(url), stream=True, takeover=True)
            assert isinstance(resp.stream, TakenOverStream)
            got = b""
            with pytest.raises(BodyFramingError) as info:
                while piece := await resp.stream.readany():
                    got += piece
            assert info.value.offset == offset
            assert got == b"hello"[: offset - 3]  # everything before the fault was handed over
            assert resp.stream.closed
            with pytest.raises(TransportError):
                await resp.stream.readany()
    finally:
        await transport.close()


async def test_a_stalled_body_times_out_per_read_and_a_head_with_body_bytes_is_split() -> None:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(_HEAD + b"3\r\nabc\r\n")  # head and body in one segment
        await writer.drain()
        await asyncio.sleep(2)

    transport = Transport(ClientConfig(read_timeout=0.3))
    try:
        async with _raw_server(write) as url:
            resp = await transport.send(_get(url), stream=True, takeover=True)
            assert isinstance(resp.stream, TakenOverStream)
            assert await resp.stream.readany() == b"abc"
            with pytest.raises(ReadTimeoutError):
                await resp.stream.readany()
            assert resp.stream.closed
    finally:
        await transport.close()
