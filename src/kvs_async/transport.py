"""Sending signed requests with aiohttp: one pooled session per client, typed failures.

The session is created lazily inside the running event loop (aiohttp binds a
session to its loop) and closed by the owning client. Timeouts: ``connect``
bounds establishing a connection; ``read_timeout`` bounds each read from the
socket (never a whole response), so a long GetMedia stream lives as long as
bytes keep coming. A streaming body arms that timer only when a read has to wait
(aiohttp's own per-``recv`` timer is switched off once the headers are in).
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from urllib.parse import quote, urlsplit

import aiohttp
from attrs import define
from multidict import CIMultiDictProxy
from yarl import URL

from ._http import HttpRequest
from ._version import __version__
from .config import ClientConfig
from .errors import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    TransportError,
)
from .wire.takeover import TAKEOVER, TakenOverStream, TakeoverResponse

_READ_CHUNK = 64 * 1024
# Streaming bodies: up to 1 MiB per socket read instead of asyncio's 256 KiB means fewer
# pieces (fewer trips through the event loop, fewer frames straddling two pieces, which the
# parser must join). A read returns what has arrived; it never waits to fill the size.
_STREAM_RECV = 1 << 20


def user_agent(extra: str | None = None) -> str:
    """``kvs_async/<version> python/<version> aiohttp/<version>`` plus the caller's extra."""
    ua = f"kvs_async/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
    return f"{ua} {extra}" if extra else ua


def request_url(request: HttpRequest) -> URL:
    """The wire URL: path kept as encoded, query encoded exactly as the signer canonicalises."""
    url = request.url_base + request.path
    if request.query:
        url += "?" + "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in request.query
        )
    return URL(url, encoded=True)


def _where(request: HttpRequest) -> str:
    return f"{request.method} {urlsplit(request.url_base).netloc}{request.path}"


def _translate(
    exc: BaseException, where: str, read_timeout: float, url: str = ""
) -> TransportError:
    """aiohttp/asyncio/OS failures -> our typed errors (the caller chains ``exc``)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(f"connecting for {where} timed out")
    if isinstance(exc, (aiohttp.SocketTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return ReadTimeoutError(f"no bytes for {read_timeout:g}s reading the response to {where}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return EndpointConnectionError(
            f"could not connect for {where}: cannot resolve host {exc.host!r}",
            reason="cannot resolve host",
            url=url,
        )
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, ConnectionRefusedError
    ):
        return EndpointConnectionError(
            f"could not connect for {where}: connection refused",
            reason="connection refused",
            url=url,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError(f"could not connect for {where}: {exc.os_error}")
    return TransportError(f"{where} failed at the connection level: {type(exc).__name__}: {exc}")


_TRANSPORT_FAILURES = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


class ResponseStream:
    """A streaming response body (:class:`kvs_async._http.ByteStream`).

    Each read waits at most ``read_timeout`` for bytes and raises
    :class:`ReadTimeoutError` past it; connection failures raise
    :class:`TransportError`. ``close()`` releases the connection: back to the
    pool when the body was read to the end, closed otherwise.
    """

    def __init__(self, response: aiohttp.ClientResponse, read_timeout: float, where: str) -> None:
        self._response = response
        self._content = response.content
        connection = response.connection
        if connection is not None and connection.protocol is not None:
            # aiohttp's sock_read re-arms a timer on every recv; ours waits only when empty.
            connection.protocol.read_timeout = None
            transport = connection.transport
            if _STREAM_RECV > getattr(transport, "max_size", _STREAM_RECV):
                transport.max_size = _STREAM_RECV  # type: ignore[union-attr]
        self._read_timeout = read_timeout
        self._where = where
        self._eof = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("eof" if self._eof else "open")
        return f"ResponseStream({self._where}, {state})"

    @property
    def closed(self) -> bool:
        return self._closed

    async def _read_some(self, n: int) -> bytes:
        if self._closed:
            raise TransportError(f"read from a closed response stream ({self._where})")
        if self._eof:
            return b""
        content = self._content
        try:
            # Bytes already buffered need no timer: arming one per read costs more than
            # parsing them. Only a read that has to wait runs under the read timeout.
            data = content.read_nowait(n)
            if not data and not content.at_eof():
                async with asyncio.timeout(self._read_timeout):
                    data = await content.read(n)
        except _TRANSPORT_FAILURES as exc:
            self._abort()
            raise _translate(exc, self._where, self._read_timeout) from exc
        if not data:
            self._eof = True
            self._response.release()
        return data

    async def readany(self) -> bytes:
        """The next piece of the body whole, as aiohttp received it (``b""`` at the end).

        Nothing is sliced or joined: a piece is one socket read's share of the body
        (up to 1 MiB for a streaming body), handed over as the same ``bytes`` object.
        """
        if self._closed:
            raise TransportError(f"read from a closed response stream ({self._where})")
        if self._eof:
            return b""
        content = self._content
        try:
            data = _whole_piece(content)
            if data is None:
                async with asyncio.timeout(self._read_timeout):
                    data = await _wait_piece(content)
        except _TRANSPORT_FAILURES as exc:
            self._abort()
            raise _translate(exc, self._where, self._read_timeout) from exc
        if not data:
            self._eof = True
            self._response.release()
        return data

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``b""`` at the end); ``n < 0`` reads to the end of the body."""
        if n >= 0:
            return await self._read_some(n) if n else b""
        parts: list[bytes] = []
        while chunk := await self._read_some(_READ_CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while chunk := await self.readany():
            yield chunk

    def _abort(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.close()

    def close(self) -> None:
        """Stop reading and give the connection back (or drop it when bytes were left unread)."""
        if self._closed:
            return
        self._closed = True
        if self._eof:
            self._response.release()
        else:
            self._response.close()

    async def __aenter__(self) -> ResponseStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _whole_piece(content: aiohttp.StreamReader) -> bytes | None:
    """Pop the first buffered piece unjoined; ``b""`` at the end, ``None`` when it must wait.

    ``StreamReader.readany()`` joins every piece buffered (a copy of each byte
    when more than one is waiting) and ``read(n)`` slices; the whole-piece pop is
    what ``readchunk()`` uses inside aiohttp. Readers without it (an empty body,
    another aiohttp) fall back to the public ``read_nowait()``.
    """
    exc = content.exception()
    if exc is not None:
        raise exc
    buffer = getattr(content, "_buffer", None)
    pop = getattr(content, "_read_nowait_chunk", None)
    if buffer is None or pop is None:
        data = content.read_nowait()
        return data if data or content.at_eof() else None
    if buffer:
        piece: bytes = pop(-1)
        return piece
    return b"" if content.is_eof() else None


async def _wait_piece(content: aiohttp.StreamReader) -> bytes:
    wait = getattr(content, "_wait", None)
    if wait is None:
        return await content.readany()
    while True:
        await wait("readany")
        data = _whole_piece(content)
        if data is not None:  # else woken by the end of an HTTP chunk, with no bytes
            return data


@define(slots=True, kw_only=True)
class RawResponse:
    """Status and headers, with either the whole body or (2xx streaming) a live stream."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    stream: ResponseStream | TakenOverStream | None = None


class Transport:
    """One aiohttp ``ClientSession`` (connection pool) owned by one client."""

    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None
        self._user_agent = user_agent(config.user_agent_extra)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout, sock_read=config.read_timeout
        )

    @property
    def user_agent(self) -> str:
        return self._user_agent

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._config.max_pool_connections)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={"User-Agent": self._user_agent},
                skip_auto_headers=("Content-Type", "Accept-Encoding"),
                auto_decompress=False,
                raise_for_status=False,
                response_class=TakeoverResponse,
            )
            self._session = session
        return session

    async def send(
        self, request: HttpRequest, *, stream: bool = False, takeover: bool = False
    ) -> RawResponse:
        """Send ``request``; a 2xx answer to a streaming call keeps its body unread.

        ``takeover`` (GetMedia): the body of a 2xx streaming answer is read by our own
        protocol (:mod:`kvs_async.wire.takeover`) instead of aiohttp's parser, one copy less;
        the connection is then closed, never pooled. Falls back to aiohttp's reading when
        the connection cannot be taken over.
        """
        session = self._get_session()
        where = _where(request)
        token = TAKEOVER.set(stream and takeover)
        try:
            response = await session.request(
                request.method,
                request_url(request),
                headers=request.headers,
                data=request.body or None,
            )
        except _TRANSPORT_FAILURES as exc:
            raise _translate(exc, where, self._config.read_timeout, request.url_base) from exc
        finally:
            TAKEOVER.reset(token)
        headers: CIMultiDictProxy[str] = response.headers
        if isinstance(response, TakeoverResponse) and (splitter := response.splitter) is not None:
            # Only a 2xx answer to a streaming request with takeover=True is ever taken over.
            return RawResponse(
                status=response.status,
                headers=headers,
                stream=TakenOverStream(response, splitter, self._config.read_timeout, where),
            )
        if stream and 200 <= response.status < 300:
            return RawResponse(
                status=response.status,
                headers=headers,
                stream=ResponseStream(response, self._config.read_timeout, where),
            )
        try:
            body = await response.read()
        except _TRANSPORT_FAILURES as exc:
            response.close()
            raise _translate(exc, where, self._config.read_timeout) from exc
        finally:
            response.release()
        return RawResponse(status=response.status, headers=headers, body=body)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
