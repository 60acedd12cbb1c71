"""Taking a streaming response's connection away from aiohttp once its head is in.

aiohttp's HTTP parser copies every body piece out of the bytes the socket returned. For
GetMedia we let aiohttp send the request and parse the status line and headers, then read the
body ourselves: :class:`TakeoverResponse` puts a :class:`_Splitter` in front of aiohttp's
protocol (``transport.set_protocol``) *before* any response byte is read, so the split between
head and body is exact. The head goes to aiohttp; body bytes go through :class:`BodyDecoder`
and are queued as the very ``bytes`` objects ``recv`` returned: on plain sockets the next read
is sized to end where the current HTTP chunk ends, so a read holds body bytes only (and the
read between two chunks is sized from the last size line to take just the framing).

Why ``recv`` into fresh ``bytes`` and not ``recv_into`` a buffer of ours (a BufferedProtocol):
the MKV parser keeps the pieces it is fed (frame payloads are views of them, ``Chunk.raw`` joins
them), so a piece must be immutable ``bytes`` that nobody reuses; a bytearray filled by
``recv_into`` would have to be copied once more into ``bytes``. ``recv(n)`` writes straight into
a new ``bytes`` object: the kernel copy is the only one.

A taken-over connection is never given back to aiohttp's pool: closing the stream closes it.
Whenever the take-over is not possible (aiohttp already holds response bytes, a non-2xx answer,
an unusual transfer coding, a transport without ``set_protocol``) the connection stays
aiohttp's and the caller reads the body the usual way.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Final

import aiohttp

from ..errors import ReadTimeoutError, TransportError
from .chunked import BodyDecoder, BodyFramingError

__all__ = ["TAKEOVER", "TakenOverStream", "TakeoverResponse"]

#: Set (in the sending task) for a request whose 2xx body we read ourselves.
TAKEOVER: contextvars.ContextVar[bool] = contextvars.ContextVar("kvs_async_takeover", default=False)

_HEAD_LIMIT: Final = 65536  # a longer head is left to aiohttp (which refuses it)
_HEAD_READ: Final = 1024  # read size for the head: the body bytes read with it are sliced
_RECV: Final = 4 << 20  # largest single socket read (the emulator sends a fragment per chunk)
_RECV_DEFAULT: Final = 256 * 1024  # asyncio's own read size, restored when declining
_HIGH: Final = 1 << 20  # queued body bytes above which the socket stops being read
_LOW: Final = _HIGH // 4  # ... and below which reading resumes


class _Splitter(asyncio.Protocol):
    """The connection's protocol once installed: head bytes to aiohttp, body bytes to a queue.

    Modes: ``head`` (collecting the response head), ``body`` (ours), ``forward`` (everything
    to aiohttp: the take-over was declined once the head was seen).
    """

    def __init__(self, handler: Any, transport: asyncio.Transport) -> None:
        self._handler = handler
        self._transport = transport
        self._mode = "head"
        self._head = b""
        self._decoder: BodyDecoder | None = None
        self._steer = hasattr(transport, "max_size")  # selector socket transports
        self.pieces: deque[bytes] = deque()
        self.queued = 0
        self.received = 0  # body bytes decoded so far
        self.eof = False
        self.error: BaseException | None = None
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._lost = False

    @classmethod
    def install(cls, connection: Any) -> _Splitter | None:
        """Stand in front of aiohttp's protocol, or ``None`` when it already has bytes."""
        handler = getattr(connection, "protocol", None)
        transport = getattr(connection, "transport", None)
        if handler is None or transport is None or transport.is_closing():
            return None
        if not hasattr(transport, "set_protocol") or transport.get_protocol() is not handler:
            return None
        if (
            getattr(handler, "_buffer", True)
            or getattr(handler, "_payload", True) is not None
            or getattr(handler, "_tail", True)
            or getattr(handler, "_upgraded", True)
        ):
            return None  # response bytes were already parsed: aiohttp keeps this one
        splitter = cls(handler, transport)
        transport.set_protocol(splitter)
        if splitter._steer:
            transport.max_size = _HEAD_READ
            _raise_mmap_threshold()
        return splitter

    @property
    def taken(self) -> bool:
        return self._mode == "body"

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        mode = self._mode
        if mode == "body":
            self._body(data)
        elif mode == "forward":
            self._handler.data_received(data)
        else:
            self._head_received(data)

    def eof_received(self) -> bool | None:
        if self._mode != "body":
            result: bool | None = self._handler.eof_received()
            return result
        self._ended(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._mode == "body":
            self._ended(exc)
        self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    # -- the head -----------------------------------------------------------------------------

    def _head_received(self, data: bytes) -> None:
        head = self._head + data if self._head else data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            if len(head) > _HEAD_LIMIT:
                self._forward(head)
            else:
                self._head = head
            return
        end += 4
        self._head = b""
        decoder = _decoder_for(head[:end])
        if decoder is None:
            self._forward(head)
            return
        self._mode = "body"
        self._decoder = decoder
        handler = self._handler
        handler.data_received(head[:end] if end < len(head) else head)
        # aiohttp's per-recv timer was armed by the head; it sees no more bytes, so drop it
        # (our stream arms its own timer when a read has to wait).
        handler.read_timeout = None
        reschedule = getattr(handler, "_reschedule_timeout", None)
        if reschedule is not None:
            reschedule()
        if end < len(head):
            self._body(head[end:])
        else:
            self._steer_next()

    def _forward(self, data: bytes) -> None:
        """Declined: aiohttp's protocol gets the connection back, and the bytes seen so far."""
        self._mode = "forward"
        if self._steer:
            self._transport.max_size = _RECV_DEFAULT  # type: ignore[attr-defined]
        self._transport.set_protocol(self._handler)
        self._handler.data_received(data)

    # -- the body -----------------------------------------------------------------------------

    def _body(self, data: bytes) -> None:
        decoder = self._decoder
        assert decoder is not None
        if self.eof or self.error is not None:
            return
        try:
            pieces = decoder.feed(data)
        except BodyFramingError as exc:
            pieces = exc.pieces  # the body bytes before the bad framing still go out first
            self._fail(exc)
        for piece in pieces:
            self.pieces.append(piece)
            self.queued += len(piece)
            self.received += len(piece)
        if decoder.done:
            self.eof = True
        elif self.error is None and self.queued >= _HIGH and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        self._steer_next()
        self._wake()

    def _steer_next(self) -> None:
        """Size the next socket read to end where the current HTTP chunk's data ends."""
        if not self._steer or self._decoder is None:
            return
        decoder = self._decoder
        wanted = decoder.wanted()
        size = _RECV if wanted < 0 else (min(wanted, _RECV) if wanted else decoder.framing())
        self._transport.max_size = size  # type: ignore[attr-defined]

    def _ended(self, exc: BaseException | None) -> None:
        if self.eof or self.error is not None:
            return
        decoder = self._decoder
        assert decoder is not None
        try:
            decoder.close()
        except BodyFramingError as err:
            if exc is not None:
                err.__cause__ = exc
            self.error = err
        else:
            self.eof = True
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._transport.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the consumer's side ------------------------------------------------------------------

    def pop(self) -> bytes:
        piece = self.pieces.popleft()
        self.queued -= len(piece)
        if self._paused and self.queued <= _LOW and not self._lost:
            self._paused = False
            self._transport.resume_reading()
        return piece

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None


_THRESHOLD_RAISED: list[bool] = []


def _raise_mmap_threshold() -> None:
    """Let socket reads of up to ``_RECV`` bytes come from the heap, not fresh mmaps.

    ``recv(n)`` allocates ``n`` bytes and shrinks them to what arrived; the pieces are kept
    (the parser holds them), so with glibc's starting mmap threshold (128 KiB) every read
    would be a new mapping and every page of it a page fault. glibc raises the threshold
    when it frees a mapped block, to that block's size: one block of ``_RECV`` bytes,
    allocated and freed once per process, does that (aiohttp's own reads, freed at once,
    get there by themselves). Only speed depends on it; other allocators ignore it.
    """
    if not _THRESHOLD_RAISED:
        _THRESHOLD_RAISED.append(True)
        block = bytes(_RECV + 65536)
        del block


def _decoder_for(head: bytes) -> BodyDecoder | None:
    """A decoder for a 2xx head we can read ourselves, else ``None`` (aiohttp reads it)."""
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
        return None
    if not 200 <= int(status[1]) < 300:
        return None
    codings: list[bytes] = []
    lengths: list[bytes] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",") if c.strip()]
        elif name == b"content-length":
            lengths.append(value.strip())
        elif name == b"connection" and b"upgrade" in value.lower():
            return None
    if codings:
        return BodyDecoder(chunked=True) if codings == [b"chunked"] and not lengths else None
    if len(set(lengths)) == 1 and lengths[0].isdigit():
        return BodyDecoder(chunked=False, length=int(lengths[0]))
    return None


class TakeoverResponse(aiohttp.ClientResponse):
    """aiohttp's response, with the splitter installed before the head is read (when asked)."""

    _splitter: _Splitter | None = None

    async def start(self, connection: Any) -> TakeoverResponse:
        if TAKEOVER.get():
            self._splitter = _Splitter.install(connection)
        await super().start(connection)
        return self

    @property
    def splitter(self) -> _Splitter | None:
        """The splitter, when the body is ours to read."""
        s = self._splitter
        return s if s is not None and s.taken else None


class TakenOverStream:
    """A streaming body read by :class:`_Splitter` (:class:`kvs_async._http.ByteStream`).

    Same contract as :class:`kvs_async.transport.ResponseStream`: each piece as received, a
    read timer only when a read has to wait, typed errors, and ``close()`` ends the
    connection (a taken-over connection never goes back to the pool).
    """

    def __init__(
        self,
        response: TakeoverResponse,
        splitter: _Splitter,
        read_timeout: float,
        where: str,
    ) -> None:
        self._response = response
        self._splitter = splitter
        self._read_timeout = read_timeout
        self._where = where
        self._closed = False
        self._done = False
        self._rest = b""  # what read(n) left of a piece

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("eof" if self._done else "open")
        return f"TakenOverStream({self._where}, {state})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def bytes_received(self) -> int:
        """Body bytes received from the socket so far (handed over or still queued)."""
        return self._splitter.received

    async def readany(self) -> bytes:
        """The next body piece whole, as the socket returned it (``b""`` at the end)."""
        if self._rest:
            piece, self._rest = self._rest, b""
            return piece
        if self._closed:
            raise TransportError(f"read from a closed response stream ({self._where})")
        if self._done:
            return b""
        s = self._splitter
        if not s.pieces and s.error is None and not s.eof:
            try:
                async with asyncio.timeout(self._read_timeout):
                    while not s.pieces and s.error is None and not s.eof:
                        await s.wait()
            except TimeoutError as exc:
                self.close()
                raise ReadTimeoutError(
                    f"no bytes for {self._read_timeout:g}s reading the response to {self._where}"
                ) from exc
        if s.pieces:
            return s.pop()
        if s.error is not None:
            self.close()
            error = s.error
            if isinstance(error, TransportError):
                raise error
            raise TransportError(f"{self._where} failed at the connection level: {error}") from (
                error
            )
        self._done = True  # reads after the end keep returning b""
        self._response.close()
        return b""

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``b""`` at the end); ``n < 0`` reads to the end of the body."""
        if n < 0:
            parts: list[bytes] = []
            while piece := await self.readany():
                parts.append(piece)
            return b"".join(parts)
        if n == 0:
            return b""
        piece = await self.readany()
        if len(piece) > n:
            piece, self._rest = piece[:n], piece[n:]
        return piece

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while piece := await self.readany():
            yield piece

    def close(self) -> None:
        """Stop reading and close the connection (it is never reused)."""
        if self._closed:
            return
        self._closed = True
        self._splitter.pieces.clear()
        self._splitter.queued = 0
        self._response.close()

    async def __aenter__(self) -> TakenOverStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
