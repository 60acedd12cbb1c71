"""MediaStream: typed chunks (and frames) from a GetMedia body, reconnecting by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ..errors import EndpointConnectionError, KvsError, ServiceError, TransportError
from ..media_errors import stream_error
from ..mkv import Chunk, ChunkParser, FrameEvent, MkvParseError, MkvTruncatedError
from ..retries import UNREACHABLE_MAX_ATTEMPTS, RetryEvent, RetryHook, announce
from .cursors import _Cursor
from .policy import ResumePolicy, _pacer

if TYPE_CHECKING:
    from .._http import ByteStream
    from ..fleet.hook import StreamCheckpointer

log = logging.getLogger("kvs_async.getmedia")
_READ_SIZE = 65536
_Item = Chunk | FrameEvent


class MediaStream:
    """An async iterator of :class:`~kvs_async.mkv.Chunk` that reconnects by itself.

    Chunks are read only as the consumer asks for them (backpressure), so at
    most one fragment is buffered. ``async with`` or :meth:`aclose` closes the
    response; so does breaking out of ``async for`` (the response is closed when
    the stream is dropped) and cancelling the consuming task.

    Progress is visible for logging and for saving a position:
    ``continuation_token`` (of the last chunk handed over; start a later call
    with ``StartSelector(start_selector_type="CONTINUATION_TOKEN", ...)``),
    ``fragment_number``, ``attempts`` (HTTP calls made), ``resumes`` (calls after
    the first), ``last_error``, ``chunks`` and ``bytes_received``.

    :meth:`frames` reads the same stream frame by frame instead, each frame as
    soon as its block has arrived; a stream is read one way or the other.
    """

    def __init__(
        self,
        cursor: _Cursor,
        *,
        policy: ResumePolicy,
        idle_timeout: float | None = None,
        read_size: int = _READ_SIZE,
        parser_factory: Callable[[], ChunkParser] = ChunkParser,
        checkpointer: StreamCheckpointer | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        self._cursor = cursor
        self._checkpointer = checkpointer
        self._on_retry = on_retry
        self._policy = policy
        self._idle_timeout = idle_timeout
        self._read_size = read_size  # kept for callers; reads are whole received pieces
        self._parser_factory = parser_factory
        self._payload: ByteStream | None = None
        self._parser: ChunkParser | None = None
        self._pending: deque[_Item] = deque()
        self._frames: bool | None = None  # None until the first read picks chunks or frames
        # The fragment whose frames are being handed over, and how many of them went out:
        # after a resume the server sends that fragment again from its first frame.
        self._partial: str | None = None
        self._partial_next = 0
        self._terminal: BaseException | None = None
        self._done = False
        self._failures = 0
        self._empty_sessions = 0
        self._progress = False
        self._deadline: float | None = None
        self.attempts = 0
        self.resumes = 0
        self.duplicates = 0
        self.chunks = 0
        self.frames_delivered = 0
        self.bytes_received = 0
        self.last_error: BaseException | None = None
        self.continuation_token: str | None = None
        self.fragment_number: str | None = None

    def __repr__(self) -> str:
        state = "closed" if self._done else ("open" if self._payload else "idle")
        return (
            f"MediaStream({self._cursor.stream!r}, {state}, chunks={self.chunks}, "
            f"attempts={self.attempts}, token={self.continuation_token!r})"
        )

    # --- iteration -------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Chunk:
        self._mode(frames=False)
        item = await self._guarded_next()
        assert isinstance(item, Chunk)
        return item

    def frames(self) -> AsyncIterator[FrameEvent]:
        """Frames as they arrive: a :class:`~kvs_async.mkv.FrameEvent` per frame, yielded as
        soon as its SimpleBlock is complete, not when its whole fragment is.

        Each carries its fragment's number and timestamps and ``frame_index``, its place in
        the fragment. Exactly once across reconnects, like the chunks: a resumed call starts
        from the last complete fragment's continuation token, and frames of a fragment that
        was partly handed over before the drop are skipped by their index. Progress
        (``continuation_token``, ``chunks``, checkpoints) moves when a fragment's last frame
        has been handed over and its trailing tags arrived. Call it before reading chunks;
        ``async with stream`` / :meth:`aclose` close it as they close the chunk iteration.
        """
        self._mode(frames=True)
        return _Frames(self)

    def _mode(self, *, frames: bool) -> None:
        if self._frames is None:
            self._frames = frames
        elif self._frames != frames:
            raise RuntimeError(
                "a MediaStream is read either as chunks or with frames(), not both: "
                "open a second get_media() for the other view"
            )

    async def _guarded_next(self) -> _Item:
        try:
            return await self._next()
        except StopAsyncIteration:
            self._close_payload()
            raise
        except BaseException:
            # Errors, cancellation, timeouts: the response must not outlive the iterator.
            self._done = True
            self._close_payload()
            raise

    async def _next(self) -> _Item:
        if self._checkpointer is not None:
            # Asking for the next chunk means the consumer is done with the previous one.
            await self._checkpointer.advance()
        ready = self._ready()
        if ready is not None:  # already parsed: no read, no timer
            return ready
        if self._idle_timeout is None:
            return await self._step()
        if self._deadline is None:
            self._deadline = time.monotonic() + self._idle_timeout
        # One timer per chunk, not per read: the deadline moves only when a chunk arrives.
        try:
            async with asyncio.timeout_at(_loop_time(self._deadline)):
                return await self._step()
        except TimeoutError:
            if not self._idle_expired():
                raise
        log.info("%s: no chunk for %.1fs, ending", self._cursor.stream, self._idle_timeout)
        self._done = True
        self._parser = None
        self._close_payload()
        return await self._step()

    def _ready(self) -> _Item | None:
        """The next parsed item for the consumer; in frames mode chunks are only recorded."""
        pending = self._pending
        while pending:
            item = pending.popleft()
            if isinstance(item, Chunk):
                self._deliver(item)
                if not self._frames:
                    return item
            else:
                self.frames_delivered += 1
                if self._idle_timeout is not None:
                    self._deadline = time.monotonic() + self._idle_timeout
                return item
        return None

    async def _step(self) -> _Item:
        while True:
            ready = self._ready()
            if ready is not None:
                return ready
            if self._terminal is not None:
                error, self._terminal = self._terminal, None
                self._done = True
                raise error
            if self._done:
                raise StopAsyncIteration
            if self._payload is None:
                await self._connect()
            else:
                await self._read()

    def _deliver(self, chunk: Chunk) -> Chunk:
        self.chunks += 1
        if self._checkpointer is not None:
            self._checkpointer.delivered(chunk)
        if chunk.continuation_token:
            self.continuation_token = chunk.continuation_token
        if chunk.fragment_number is not None:
            self.fragment_number = chunk.fragment_number
        if self._idle_timeout is not None:
            self._deadline = time.monotonic() + self._idle_timeout
        return chunk

    def _idle_expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    async def _connect(self) -> None:
        delay = self._policy.backoff(max(self._failures, self._empty_sessions))
        if self._failures and self.last_error is not None:
            announce(
                self._on_retry,
                RetryEvent(
                    operation=self._cursor.operation,
                    attempt=self._failures,
                    max_attempts=self._limit(self.last_error),
                    delay=delay,
                    error=self.last_error,
                ),
            )
        try:
            if delay:
                await asyncio.sleep(delay)
            await _pacer(self._cursor.stream, self._policy.calls_per_second).wait()
            self.attempts += 1
            self.resumes = self.attempts - 1
            payload = await self._cursor.open()
        except ServiceError as exc:
            if not (exc.retryable or exc.throttling):
                raise
            self._failed(exc)
            return
        except TransportError as exc:
            self._failed(exc)
            return
        self._payload = payload
        self._parser = self._parser_factory()
        self._progress = False

    async def _read(self) -> None:
        assert self._payload is not None and self._parser is not None
        try:
            data = await self._payload.readany()
        except TransportError as exc:
            self._close_payload()
            self._failed(exc)
            return
        if not data:
            self._end_of_response()
            return
        self.bytes_received += len(data)
        parser = self._parser
        try:
            items: Sequence[_Item] = parser.feed_events(data) if self._frames else parser.feed(data)
        except MkvParseError as exc:
            # What was complete before the bad bytes is still handed over, then the error.
            self._close_payload()
            self._take(exc.events if self._frames else exc.chunks)
            if self._terminal is None:
                self._terminal = exc
            return
        self._take(items)

    def _take(self, items: Sequence[_Item]) -> None:
        """Queue new frames and complete chunks; an error tag ends the stream or resumes."""
        for chunk in items:
            if not isinstance(chunk, Chunk):
                self._take_frame(chunk)
                continue
            if chunk.error_code is not None or chunk.error_id is not None:
                last = self._pending[-1].fragment_number if self._pending else None
                error = stream_error(
                    chunk.error_code,
                    chunk.error_id,
                    fragment_number=last or self.fragment_number,
                    continuation_token=self._cursor.token,
                )
                self._close_payload()
                if error.RETRYABLE and self._policy.enabled and self._cursor.resumable:
                    self._failed(error)
                else:
                    self._terminal = error
                return
            if not self._cursor.accept(chunk):
                self.duplicates += 1
                continue
            self._progressed()
            self._partial, self._partial_next = None, 0
            self._pending.append(chunk)

    def _take_frame(self, event: FrameEvent) -> None:
        number = event.fragment_number
        if number is not None and self._cursor.handed_over(number):
            return  # a fragment sent again whole after a resume
        if number != self._partial:
            self._partial, self._partial_next = number, 0
        if event.frame_index < self._partial_next:
            return  # handed over before the connection dropped
        self._partial_next = event.frame_index + 1
        self._progressed()
        self._pending.append(event)

    def _progressed(self) -> None:
        self._progress = True
        self._failures = 0
        self._empty_sessions = 0

    def _end_of_response(self) -> None:
        """The server ended the body: keep what is complete, then resume or stop."""
        assert self._parser is not None
        parser, self._parser = self._parser, None
        self._close_payload()
        try:
            tail = parser.close()
        except MkvTruncatedError as exc:
            tail = exc.chunks
        # A KVS fragment that ended without its trailing Tags is reported truncated by the
        # parser and not taken: the resumed call sends it again in full.
        self._take(tail)
        if self._terminal is not None:
            return
        if not self._policy.enabled or self._cursor.finished:
            self._done = True
            return
        if not self._cursor.resumable:
            self._done = True
            return
        if not self._progress:
            if not self._cursor.follows:
                self._failed(TransportError("the response ended before the fragments asked for"))
                return
            self._empty_sessions += 1
        self.last_error = None
        log.info(
            "%s: response ended after %d chunks; resuming from %s",
            self._cursor.stream,
            self.chunks + len(self._pending),
            self._cursor.token,
        )

    def _failed(self, exc: KvsError) -> None:
        """Record a failed attempt; give up when resuming is off, impossible or exhausted."""
        self.last_error = exc
        self._parser = None
        self._failures += 1
        limit = self._limit(exc)
        if not self._policy.enabled or not self._cursor.resumable:
            raise exc
        if limit is not None and self._failures >= limit:
            log.warning(
                "%s: giving up after %d failed attempts: %s", self._cursor.stream, limit, exc
            )
            raise exc
        log.info(
            "%s: %s; resuming from %s (failure %d)",
            self._cursor.stream,
            exc,
            self._cursor.token,
            self._failures,
        )

    async def commit(self) -> None:
        """Save the position of the chunk last handed over, now (``get_media(checkpoint=...)``)."""
        if self._checkpointer is None:
            raise TypeError("commit() needs get_media(checkpoint=store, consumer='name')")
        await self._checkpointer.commit()

    def _limit(self, exc: BaseException) -> int | None:
        # A refused connection or an unknown host is not worth ten tries.
        limit = self._policy.max_attempts
        if limit is not None and isinstance(exc, EndpointConnectionError):
            return min(limit, UNREACHABLE_MAX_ATTEMPTS)
        return limit

    # --- closing ---------------------------------------------------------------------------

    def _close_payload(self) -> None:
        payload, self._payload = self._payload, None
        if payload is not None:
            payload.close()

    async def aclose(self) -> None:
        """Stop reading and close the HTTP response now; idempotent."""
        self._done = True
        self._pending.clear()
        self._close_payload()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Breaking out of ``async for`` drops the iterator: close the connection with it.
        payload = getattr(self, "_payload", None)
        if payload is not None:
            with contextlib.suppress(Exception):  # the loop may already be gone
                payload.close()


def _loop_time(deadline: float) -> float:
    """Translate a time.monotonic() deadline to the running loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


class _Frames:
    """The async iterator :meth:`MediaStream.frames` returns (closing it closes the stream)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: MediaStream) -> None:
        self._stream = stream

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> FrameEvent:
        item = await self._stream._guarded_next()
        assert isinstance(item, FrameEvent)
        return item

    async def aclose(self) -> None:
        await self._stream.aclose()
