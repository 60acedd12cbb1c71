"""Resumable GetMedia: the public ``get_media`` that generated media clients inherit.

The generated bindings emit the raw operations as ``_get_media`` and
``_get_media_for_fragment_list``; this module turns their byte streams into
typed chunks through the sans-I/O parser, and reconnects after drops, throttles
and session ends so that every fragment is handed over once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from attrs import define

from ._http import ByteStream
from .errors import EndpointConnectionError, KvsError, ServiceError, TransportError
from .media_errors import stream_error
from .mkv import Chunk, ChunkParser, MkvTruncatedError
from .retries import UNREACHABLE_MAX_ATTEMPTS, RetryEvent, RetryHook, announce

if TYPE_CHECKING:
    from ._model import OperationSpec
    from .config import ClientConfig
    from .fleet.checkpoints import CheckpointStore
    from .fleet.hook import StreamCheckpointer
    from .kinesis_video_archived_media import GetMediaForFragmentListOutput
    from .kinesis_video_media import GetMediaOutput, StartSelector

__all__ = [
    "ArchivedMediaMixin",
    "GetMediaMixin",
    "MediaStream",
    "ResumePolicy",
]

log = logging.getLogger("kvs_async.getmedia")

#: KVS allows five GetMedia calls per second per stream.
GET_MEDIA_CALLS_PER_SECOND = 5
_READ_SIZE = 65536


@define(frozen=True, slots=True, kw_only=True)
class ResumePolicy:
    """How a media stream reconnects.

    ``max_attempts`` bounds consecutive failed attempts (drops, 5xx, throttles,
    retryable error tags) with no new chunk in between; ``None`` retries forever.
    A clean end of a session is not a failure: it reconnects with backoff only
    while sessions keep ending empty.
    """

    enabled: bool = True
    max_attempts: int | None = 10
    backoff_base: float = 0.1
    backoff_cap: float = 20.0
    calls_per_second: int = GET_MEDIA_CALLS_PER_SECOND

    def backoff(self, failures: int) -> float:
        """Full-jitter exponential backoff; the first retry after progress is immediate-ish."""
        if failures <= 0:
            return 0.0
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        return random.uniform(0.0, ceiling)


class _CallPacer:
    """At most ``rate`` calls per window, shared by every reader of one stream on one loop.

    The window carries a margin over one second so that calls paced here stay
    within the limit however the network shifts their arrival.
    """

    def __init__(self, rate: int, window: float = 1.1) -> None:
        self._rate = max(1, rate)
        self._window = window
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            while len(self._times) >= self._rate:
                age = now - self._times[0]
                if age >= self._window:
                    self._times.popleft()
                    continue
                await asyncio.sleep(self._window - age)
                now = time.monotonic()
            self._times.append(now)


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], _CallPacer]]
_PACERS = weakref.WeakKeyDictionary()


def _pacer(stream: str, rate: int) -> _CallPacer:
    per_loop = _PACERS.setdefault(asyncio.get_running_loop(), {})
    pacer = per_loop.get((stream, rate))
    if pacer is None:
        pacer = per_loop[(stream, rate)] = _CallPacer(rate)
    return pacer


class _Cursor(Protocol):
    """Where a media stream stands: what to ask for next and what was already handed over."""

    stream: str
    operation: str

    def open(self) -> Awaitable[ByteStream]: ...

    def accept(self, chunk: Chunk) -> bool:
        """Record a complete chunk; False when it was handed over before."""
        ...

    @property
    def resumable(self) -> bool: ...

    @property
    def finished(self) -> bool: ...

    @property
    def follows(self) -> bool:
        """Whether a response that ends with nothing new is normal (a live tail)."""
        ...

    @property
    def token(self) -> str | None: ...


class _LiveCursor:
    """GetMedia: resume from the last continuation token, else the caller's selector."""

    operation = "GetMedia"

    def __init__(
        self,
        stream: str,
        selector: StartSelector,
        call: Callable[[StartSelector], Awaitable[ByteStream]],
    ) -> None:
        self.stream = stream
        self._selector = selector
        self._call = call
        self._token: str | None = None
        self._last: int | None = None
        self._untokened = False

    def open(self) -> Awaitable[ByteStream]:
        selector = self._selector
        if self._token is not None:
            selector = type(selector)(
                start_selector_type="CONTINUATION_TOKEN", continuation_token=self._token
            )
        return self._call(selector)

    def accept(self, chunk: Chunk) -> bool:
        number = _fragment_int(chunk.fragment_number)
        if number is not None:
            if self._last is not None and number <= self._last:
                return False
            self._last = number
        if chunk.continuation_token:
            self._token = chunk.continuation_token
            self._untokened = False
        else:
            self._untokened = True
        return True

    @property
    def resumable(self) -> bool:
        # After a chunk without a token the server cannot be asked for "what comes next".
        return not self._untokened

    @property
    def finished(self) -> bool:
        return False

    @property
    def follows(self) -> bool:
        return True

    @property
    def token(self) -> str | None:
        return self._token

    def restore(self, token: str | None, fragment_number: str | None) -> None:
        """Start after a saved position: its token, else its fragment (dropped on arrival)."""
        if token:
            self._token = token
        elif fragment_number:
            self._selector = type(self._selector)(
                start_selector_type="FRAGMENT_NUMBER", after_fragment_number=fragment_number
            )
        self._last = _fragment_int(fragment_number)


class _ListCursor:
    """GetMediaForFragmentList: resume by asking again for the fragments not yet received."""

    operation = "GetMediaForFragmentList"

    def __init__(
        self,
        stream: str,
        fragments: Sequence[str],
        call: Callable[[list[str]], Awaitable[ByteStream]],
    ) -> None:
        self.stream = stream
        self._wanted = list(fragments)
        self._seen: set[str] = set()
        self._call = call
        self._untokened = False

    def open(self) -> Awaitable[ByteStream]:
        return self._call([f for f in self._wanted if f not in self._seen])

    def accept(self, chunk: Chunk) -> bool:
        number = chunk.fragment_number
        if number is None:
            self._untokened = True
            return True
        if number in self._seen:
            return False
        self._seen.add(number)
        return True

    @property
    def resumable(self) -> bool:
        return not self._untokened

    @property
    def finished(self) -> bool:
        return all(f in self._seen for f in self._wanted)

    @property
    def follows(self) -> bool:
        return False

    @property
    def token(self) -> str | None:
        return None


def _fragment_int(number: str | None) -> int | None:
    if number is None:
        return None
    try:
        return int(number)
    except ValueError:
        return None


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
        self._pending: deque[Chunk] = deque()
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

    async def _next(self) -> Chunk:
        if self._checkpointer is not None:
            # Asking for the next chunk means the consumer is done with the previous one.
            await self._checkpointer.advance()
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

    async def _step(self) -> Chunk:
        while True:
            if self._pending:
                return self._deliver(self._pending.popleft())
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
        self._take(self._parser.feed(data))

    def _take(self, chunks: list[Chunk]) -> None:
        """Queue new complete chunks; an error tag ends the stream or triggers a resume."""
        for chunk in chunks:
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
            self._progress = True
            self._failures = 0
            self._empty_sessions = 0
            self._pending.append(chunk)

    def _end_of_response(self) -> None:
        """The server ended the body: keep what is complete, then resume or stop."""
        assert self._parser is not None
        parser, self._parser = self._parser, None
        self._close_payload()
        try:
            tail = parser.close()
        except MkvTruncatedError as exc:
            tail = list(exc.chunks)
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


def _list_parser() -> ChunkParser:
    # GetMediaForFragmentList fragments carry no trailing Tags: each ends at the next header.
    return ChunkParser(trailing_tags=False)


def _stream_key(stream_name: str | None, stream_arn: str | None) -> str:
    return stream_arn or stream_name or ""


def _policy(resume: bool | ResumePolicy) -> ResumePolicy:
    if isinstance(resume, ResumePolicy):
        return resume
    return ResumePolicy(enabled=resume)


class _MediaOperations:
    """What both mixins share: one unretried call whose body is the media stream."""

    if TYPE_CHECKING:
        _config: ClientConfig

        async def _invoke(self, op: OperationSpec, params: Any, *, retries: bool = True) -> Any: ...

    async def _open_media(self, op: OperationSpec, request: object) -> ByteStream:
        # One attempt per call: MediaStream retries, paced to the per-stream limit.
        output: GetMediaOutput | GetMediaForFragmentListOutput = await self._invoke(
            op, request, retries=False
        )
        if output.payload is None:  # pragma: no cover - the transport always sets it
            raise TransportError(f"{op.name} response carried no body")
        return output.payload


class GetMediaMixin(_MediaOperations):
    """Adds ``get_media`` (typed chunks, resumption) to ``KinesisVideoMediaClient``."""

    def get_media(
        self,
        *,
        stream_name: str | None = None,
        stream_arn: str | None = None,
        start_selector: StartSelector,
        resume: bool | ResumePolicy = True,
        idle_timeout: float | None = None,
        read_size: int = _READ_SIZE,
        parser_factory: Callable[[], ChunkParser] = ChunkParser,
        checkpoint: CheckpointStore | None = None,
        consumer: str | None = None,
    ) -> MediaStream:
        """Chunks of a stream from ``start_selector`` on, resuming after drops.

        ``resume`` turns reconnection off (``False``) or tunes it (a
        :class:`ResumePolicy`). ``idle_timeout`` ends the iteration cleanly when no
        chunk arrives for that many seconds (to drain an archive); without it the
        iteration follows the stream for as long as it lives, like GetMedia itself.
        ``read_size`` is accepted for compatibility and no longer bounds reads: each
        piece aiohttp receives goes to the parser whole (no re-slicing, no copy).
        ``checkpoint`` (a :class:`~kvs_async.CheckpointStore`) with ``consumer`` starts
        after the consumer's saved position, if any, and saves each chunk's position once
        the consumer asks for the next one or calls ``await stream.commit()``.
        """
        from .kinesis_video_media import OPERATIONS, GetMediaInput

        def call(selector: StartSelector) -> Awaitable[ByteStream]:
            request = GetMediaInput(
                stream_name=stream_name, stream_arn=stream_arn, start_selector=selector
            )
            return self._open_media(OPERATIONS["GetMedia"], request)

        cursor = _LiveCursor(_stream_key(stream_name, stream_arn), start_selector, call)
        checkpointer = None
        if checkpoint is not None:
            from .fleet.hook import StreamCheckpointer

            checkpointer = StreamCheckpointer(
                checkpoint, consumer, cursor.stream, restore=cursor.restore
            )
        return MediaStream(
            cursor,
            policy=_policy(resume),
            idle_timeout=idle_timeout,
            read_size=read_size,
            parser_factory=parser_factory,
            checkpointer=checkpointer,
            on_retry=self._config.on_retry,
        )


class ArchivedMediaMixin(_MediaOperations):
    """Adds ``get_media_for_fragment_list`` (typed chunks) to the archived-media client."""

    def get_media_for_fragment_list(
        self,
        *,
        fragments: Sequence[str],
        stream_name: str | None = None,
        stream_arn: str | None = None,
        resume: bool | ResumePolicy = True,
        read_size: int = _READ_SIZE,
        parser_factory: Callable[[], ChunkParser] | None = None,
    ) -> MediaStream:
        """Chunks of the listed fragments; after a drop, asks again for the ones not yet received."""
        from .kinesis_video_archived_media import OPERATIONS, GetMediaForFragmentListInput

        def call(remaining: list[str]) -> Awaitable[ByteStream]:
            request = GetMediaForFragmentListInput(
                stream_name=stream_name, stream_arn=stream_arn, fragments=remaining
            )
            return self._open_media(OPERATIONS["GetMediaForFragmentList"], request)

        cursor = _ListCursor(_stream_key(stream_name, stream_arn), fragments, call)
        return MediaStream(
            cursor,
            policy=_policy(resume),
            read_size=read_size,
            parser_factory=parser_factory or _list_parser,
            on_retry=self._config.on_retry,
        )
