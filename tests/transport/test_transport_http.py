"""The aiohttp layer over real loopback sockets: URLs, headers, streams, timeouts, failures."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from blockbuster import BlockBuster, blockbuster_ctx
from transport_helpers import serve

from kvs_async import ClientConfig, ReadTimeoutError, TransportError, __version__
from kvs_async._http import HttpRequest
from kvs_async.errors import ConnectTimeoutError
from kvs_async.transport import Transport, request_url


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as bb:
        yield bb


def test_request_url_keeps_encoded_path_and_encodes_query() -> None:
    req = HttpRequest(
        method="GET",
        path="/a%3Ab/c",
        query=[("k y", "v+1/é"), ("z", "")],
        url_base="https://h:8443/base",
    )
    assert str(request_url(req)) == "https://h:8443/base/a%3Ab/c?k%20y=v%2B1%2F%C3%A9&z="


async def test_send_round_trip_headers_and_user_agent(blockbuster: BlockBuster) -> None:
    seen: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(request.headers)
        seen["_body"] = (await request.read()).decode()
        seen["_path_qs"] = request.raw_path
        return web.Response(body=b'{"ok":1}', headers={"x-amzn-RequestId": "r1"})

    transport = Transport(ClientConfig(user_agent_extra="app/1"))
    try:
        async with serve(handler) as url:
            req = HttpRequest(
                method="POST",
                path="/describeStream",
                query=[("a", "b c")],
                headers={"Content-Type": "application/json", "X-Custom": "1"},
                body=b'{"StreamName":"s"}',
                url_base=url,
            )
            resp = await transport.send(req)
    finally:
        await transport.close()
    assert resp.status == 200
    assert resp.body == b'{"ok":1}'
    assert resp.headers["X-Amzn-RequestId"] == "r1"
    assert seen["_path_qs"] == "/describeStream?a=b%20c"
    assert seen["_body"] == '{"StreamName":"s"}'
    assert seen["X-Custom"] == "1"
    assert seen["Content-Type"] == "application/json"
    assert seen["User-Agent"].startswith(f"kvs_async/{__version__} python/")
    assert f"aiohttp/{aiohttp.__version__}" in seen["User-Agent"]
    assert seen["User-Agent"].endswith(" app/1")


async def test_connection_refused_is_transport_error_with_cause() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    transport = Transport(ClientConfig())
    try:
        with pytest.raises(TransportError) as info:
            await transport.send(
                HttpRequest(method="POST", path="/", url_base=f"http://127.0.0.1:{port}")
            )
    finally:
        await transport.close()
    assert isinstance(info.value.__cause__, aiohttp.ClientError | OSError)
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_connect_timeout_is_typed() -> None:
    # A listening socket whose accept backlog is full never completes new handshakes.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(s)
        transport = Transport(ClientConfig(connect_timeout=0.3, read_timeout=0.3))
        try:
            with pytest.raises(TransportError) as info:
                await transport.send(
                    HttpRequest(method="GET", path="/", url_base=f"http://127.0.0.1:{port}")
                )
        finally:
            await transport.close()
        # Depending on the kernel the handshake either stalls (connect timeout) or completes
        # into the backlog and then nothing answers (read timeout); both are typed timeouts.
        assert isinstance(info.value, ConnectTimeoutError | ReadTimeoutError)
        assert info.value.__cause__ is not None
    finally:
        for s in fillers:
            s.close()
        server.close()


async def test_stalled_stream_raises_read_timeout_per_read(blockbuster: BlockBuster) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await resp.prepare(request)
        # Bytes keep arriving for longer than read_timeout in total, each gap shorter.
        for _ in range(6):
            await resp.write(b"x" * 10)
            await asyncio.sleep(0.1)
        await release.wait()  # then stall
        return resp

    transport = Transport(ClientConfig(read_timeout=0.4))
    try:
        async with serve(handler) as url:
            resp = await transport.send(
                HttpRequest(method="POST", path="/getMedia", url_base=url), stream=True
            )
            assert resp.stream is not None
            got = b""
            start = time.monotonic()
            with pytest.raises(ReadTimeoutError) as info:
                async for chunk in resp.stream:
                    got += chunk
            elapsed = time.monotonic() - start
            release.set()
            assert got == b"x" * 60
            assert 0.6 < elapsed < 3.0
            assert info.value.__cause__ is not None
            assert resp.stream.closed
    finally:
        await transport.close()


async def test_stream_read_sizes_eof_and_connection_reuse(blockbuster: BlockBuster) -> None:
    peers: list[object] = []
    finish = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        if request.path == "/slow":
            resp = web.StreamResponse()
            await resp.prepare(request)
            await resp.write(b"abcdef")
            await finish.wait()
            return resp
        return web.Response(body=b"0123456789" * 100)

    transport = Transport(ClientConfig())
    try:
        async with serve(handler) as url:
            for _ in range(3):
                resp = await transport.send(
                    HttpRequest(method="GET", path="/", url_base=url), stream=True
                )
                assert resp.stream is not None
                first = await resp.stream.read(10)
                assert 1 <= len(first) <= 10
                rest = await resp.stream.read()
                assert first + rest == b"0123456789" * 100
                assert await resp.stream.read(5) == b""
                resp.stream.close()
            # Fully read streams hand their connection back to the pool.
            assert len(set(peers)) == 1
            # Closing early drops the connection instead of reusing a half-read one.
            resp = await transport.send(
                HttpRequest(method="GET", path="/slow", url_base=url), stream=True
            )
            assert resp.stream is not None
            await resp.stream.read(3)
            resp.stream.close()
            finish.set()
            with pytest.raises(TransportError):
                await resp.stream.read(1)
            again = await transport.send(HttpRequest(method="GET", path="/", url_base=url))
            assert again.body == b"0123456789" * 100
            assert len(set(peers)) == 2
            assert peers[-1] != peers[-2]
    finally:
        await transport.close()


async def test_server_cut_mid_stream_is_transport_error() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "1000"})
        await resp.prepare(request)
        await resp.write(b"abc")
        assert request.transport is not None
        request.transport.close()
        return resp

    transport = Transport(ClientConfig(read_timeout=5))
    try:
        async with serve(handler) as url:
            resp = await transport.send(
                HttpRequest(method="GET", path="/", url_base=url), stream=True
            )
            assert resp.stream is not None
            with pytest.raises(TransportError) as info:
                await resp.stream.read()
            assert info.value.__cause__ is not None
    finally:
        await transport.close()


async def test_session_is_lazy_and_closed() -> None:
    transport = Transport(ClientConfig(max_pool_connections=7))
    assert transport._session is None
    session = transport._get_session()
    assert session.connector is not None
    assert session.connector.limit == 7
    assert session.timeout.total is None
    assert session.timeout.sock_read == 60.0
    await transport.close()
    assert session.closed
    await transport.close()  # idempotent


def _self_signed_context(tmp: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


async def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    ctx = _self_signed_context(tmp_path)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="should not get here")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    transport = Transport(ClientConfig(connect_timeout=5))
    try:
        with pytest.raises(TransportError) as info:
            await transport.send(
                HttpRequest(method="POST", path="/", url_base=f"https://127.0.0.1:{port}")
            )
        cause = info.value.__cause__
        assert isinstance(cause, aiohttp.ClientSSLError)
    finally:
        await transport.close()
        await runner.cleanup()
