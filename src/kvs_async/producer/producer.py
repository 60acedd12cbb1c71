"""MediaProducer: fragments in, one long PutMedia connection out, acks back, resumption.

Every fragment put joins a bounded in-flight window (fragments and bytes) until it is
acknowledged: PERSISTED, or RECEIVED on a stream without retention. A full window makes
``put_fragment``/``put_frame`` wait (backpressure). One task runs the connection: it streams
queued fragments as the request body (paced to the limits) and reads the acks of the same
response. When the connection drops, the service answers 5xx or throttles, an ack is a
retryable ERROR or no ack comes for ``ack_timeout`` seconds, it reconnects with backoff
(:class:`~kvs_async.getmedia.ResumePolicy`) and resends, whole and in order, every fragment of
the window not yet acknowledged as RECEIVED. A fragment acknowledged is never sent again; one
sent whose acknowledgement was lost is sent again (so it may be stored twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

from attrs import define, field

from ..errors import KvsError
from ..getmedia import ResumePolicy
from ..mkv import Track
from .acks import AckEventType, AckFormatError, FragmentAck
from .connection import PutMediaConnection, is_retryable
from .errors import AckTimeoutError, FragmentRejectedError, ProducerClosedError, PutMediaAckError
from .fragments import Fragment, FrameMuxer, inspect_fragment
from .limits import PutMediaLimits, RatePacer

__all__ = ["MediaProducer", "ProducerStats"]

log = logging.getLogger("kvs_async.producer")

#: Connector: body iterator -> an opened connection (signed, headers sent, status checked).
Connector = Callable[[AsyncIterator[bytes]], Awaitable[PutMediaConnection]]


@define(slots=True, kw_only=True, eq=False)
class _Entry:
    frag: Fragment
    state: str = "queued"  # queued | sent | buffering | received | done
    conn: int = -1
    sends: int = 0
    retries: int = 0
    sent_at: float = 0.0


@define(slots=True, kw_only=True)
class ProducerStats:
    """Counters for status lines and reports (fragment counts, bytes, timings)."""

    put: int = 0
    bytes_put: int = 0
    sends: int = 0
    bytes_sent: int = 0
    buffering: int = 0
    received: int = 0
    persisted: int = 0
    failed: int = 0
    unconfirmed: int = 0
    connections: int = 0
    resumes: int = 0
    acks: int = 0
    last_ack_latency: float | None = None
    ack_latency_total: float = 0.0
    ack_latency_count: int = 0
    started: float = field(factory=time.monotonic)

    @property
    def mean_ack_latency(self) -> float | None:
        if not self.ack_latency_count:
            return None
        return self.ack_latency_total / self.ack_latency_count


class MediaProducer:
    """An async context manager sending fragments to one stream (see the module docs).

    Made by ``KinesisVideoMediaClient.put_media``. ``put_fragment(data)`` sends one complete
    MKV fragment; ``set_tracks(tracks)`` then ``put_frame(...)`` has the producer mux frames
    into fragments itself. ``acks()`` yields every :class:`FragmentAck`. Leaving the context
    sends what is buffered and waits up to ``close_timeout`` seconds for every fragment to be
    acknowledged, then raises the first ERROR a fragment got (``failures`` holds them all).
    """

    def __init__(
        self,
        connector: Connector,
        *,
        stream: str,
        resume: ResumePolicy,
        limits: PutMediaLimits,
        need_persisted: Callable[[], Awaitable[bool]],
        prepare: Callable[[], Awaitable[None]] | None = None,
        max_inflight_fragments: int = 32,
        max_inflight_bytes: int = 64 << 20,
        ack_timeout: float = 30.0,
        close_timeout: float = 60.0,
        min_fragment_duration_ms: int = 0,
        max_fragment_duration_ms: int | None = None,
        ack_buffer: int = 10_000,
    ) -> None:
        if max_inflight_fragments < 1 or max_inflight_bytes < 1:
            raise ValueError("the in-flight window must hold at least one fragment and one byte")
        self._connector = connector
        self.stream = stream
        self._policy = resume
        self.limits = limits
        self._need_persisted_fn = need_persisted
        self._prepare = prepare
        self.max_inflight_fragments = max_inflight_fragments
        self.max_inflight_bytes = max_inflight_bytes
        self.ack_timeout = ack_timeout
        self.close_timeout = close_timeout
        self._min_ms = min_fragment_duration_ms
        self._max_ms = max_fragment_duration_ms
        self._window: dict[int, _Entry] = {}
        self._window_bytes = 0
        self._changed = asyncio.Event()
        self._next_index = 0
        self._previous_tc: int | None = None
        self._muxer: FrameMuxer | None = None
        self._need_persisted = True
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._finished = False
        self._fatal: BaseException | None = None
        self._acks: deque[FragmentAck] = deque(maxlen=ack_buffer)
        self.acks_dropped = 0
        self._sent: dict[int, deque[_Entry]] = {}
        self._draining: set[int] = set()
        self._frag_pacer = RatePacer(limits.fragments_per_second)
        self._byte_pacer = RatePacer(limits.bytes_per_second)
        self._call_pacer = RatePacer(limits.calls_per_second)
        self.failures: list[PutMediaAckError] = []
        self.stats = ProducerStats()

    def __repr__(self) -> str:
        state = "finished" if self._finished else ("closing" if self._closing else "open")
        return (
            f"MediaProducer({self.stream!r}, {state}, put={self.stats.put}, "
            f"in_flight={len(self._window)}, persisted={self.stats.persisted})"
        )

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def start(self) -> None:
        """Check the stream (a missing one raises here) and start the connection task."""
        if self._task is not None:
            return
        if self._prepare is not None:
            await self._prepare()
        self._need_persisted = await self._need_persisted_fn()
        self._task = asyncio.create_task(self._run(), name=f"put_media:{self.stream}")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close()
        else:
            with contextlib.suppress(Exception):
                await self.close(timeout=min(self.close_timeout, 5.0), raise_errors=False)

    async def close(self, *, timeout: float | None = None, raise_errors: bool = True) -> None:
        """Flush, end the body once all is sent, wait for the acks (``close_timeout``)."""
        if self._finished:
            if raise_errors:
                self._raise_failures()
            return
        if self._muxer is not None and self._fatal is None:
            with contextlib.suppress(FragmentRejectedError):
                frag = self._muxer.flush(index=self._next_index)
                if frag is not None:
                    await self._enqueue(frag)
        self._closing = True
        self._wake()
        wait = self.close_timeout if timeout is None else timeout
        task = self._task
        try:
            if task is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await asyncio.shield(task)
        finally:
            self._finished = True
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._wake()
        if not raise_errors:
            return
        if self._fatal is not None:
            raise self._fatal
        self._raise_failures()
        if self._window:
            pending = tuple(sorted(self._window))
            raise AckTimeoutError(
                f"{len(pending)} fragments of stream {self.stream} not acknowledged after "
                f"{wait:g}s: {list(pending)[:10]}",
                pending=pending,
            )

    def _raise_failures(self) -> None:
        if self.failures:
            raise self.failures[0]

    # --- putting -----------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Closed: every fragment acknowledged, failed, or given up on at the close timeout."""
        return self._finished

    @property
    def in_flight(self) -> int:
        """Fragments put and not yet acknowledged."""
        return len(self._window)

    @property
    def in_flight_bytes(self) -> int:
        return self._window_bytes

    def _check_open(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        if self._closing or self._finished:
            raise ProducerClosedError(f"the producer for {self.stream} is closed")
        if self._task is None:
            raise ProducerClosedError("use the producer with `async with` (or await start())")

    async def put_fragment(self, data: bytes) -> int:
        """Queue one complete MKV fragment (waits while the window is full); returns its index."""
        self._check_open()
        frag = inspect_fragment(
            data,
            index=self._next_index,
            limits=self.limits,
            previous_timecode_ms=self._previous_tc,
        )
        await self._enqueue(frag)
        return frag.index

    def set_tracks(self, tracks: Sequence[Track]) -> None:
        """Declare the tracks ``put_frame`` writes (Track objects as the parser returns them)."""
        if self._muxer is not None and self._muxer.pending_frames:
            raise ProducerClosedError("set_tracks while a fragment is being built")
        self._muxer = FrameMuxer(
            tracks,
            limits=self.limits,
            min_fragment_duration_ms=self._min_ms,
            max_fragment_duration_ms=self._max_ms,
        )
        if self._previous_tc is not None:
            self._muxer._previous = self._previous_tc

    async def put_frame(
        self,
        track_number: int,
        timecode_ms: int,
        payload: bytes | bytearray | memoryview,
        *,
        keyframe: bool = False,
    ) -> None:
        """Add one encoded frame; a keyframe of the cut track may close the fragment before it."""
        self._check_open()
        if self._muxer is None:
            raise ProducerClosedError("call set_tracks(...) before put_frame")
        frag = self._muxer.add(
            track_number,
            int(timecode_ms),
            bytes(payload),
            keyframe=keyframe,
            index=self._next_index,
        )
        if frag is not None:
            await self._enqueue(frag)

    async def flush(self) -> None:
        """Send the fragment being built by ``put_frame`` now instead of at the next keyframe."""
        self._check_open()
        if self._muxer is not None:
            frag = self._muxer.flush(index=self._next_index)
            if frag is not None:
                await self._enqueue(frag)

    async def _enqueue(self, frag: Fragment) -> None:
        while (
            self._window
            and (
                len(self._window) >= self.max_inflight_fragments
                or self._window_bytes + frag.size > self.max_inflight_bytes
            )
            and self._fatal is None
            and not self._finished
        ):
            await self._wait_change()
        if self._fatal is not None:
            raise self._fatal
        if frag.size > self.limits.max_fragment_size:
            raise FragmentRejectedError(
                f"{frag.size} bytes, more than the maximum fragment size of "
                f"{self.limits.max_fragment_size}",
                fragment=frag.index,
                rule="max-fragment-size",
            )
        self._window[frag.index] = _Entry(frag=frag)
        self._window_bytes += frag.size
        self._next_index = frag.index + 1
        self._previous_tc = frag.timecode_ms
        self.stats.put += 1
        self.stats.bytes_put += frag.size
        self._wake()

    # --- acks --------------------------------------------------------------------------------

    async def acks(self) -> AsyncIterator[FragmentAck]:
        """Every acknowledgement as it arrives, until the producer is finished."""
        while True:
            while self._acks:
                yield self._acks.popleft()
            if self._finished:
                return
            await self._wait_change()

    # --- the connection task ---------------------------------------------------------------

    def _wake(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_change(self) -> None:
        await self._changed.wait()

    def _queued(self) -> _Entry | None:
        for entry in self._window.values():
            if entry.state == "queued":
                return entry
        return None

    async def _run(self) -> None:
        failures = 0
        conn_id = 0
        try:
            while True:
                if self._closing and not self._window:
                    return
                if self._queued() is None:
                    await self._wait_change()
                    continue
                delay = self._policy.backoff(failures)
                if delay:
                    await asyncio.sleep(delay)
                await self._call_pacer.take(1)
                conn_id += 1
                self._sent[conn_id] = deque()
                self.stats.connections += 1
                if conn_id > 1:
                    self.stats.resumes += 1
                progress = False
                conn: PutMediaConnection | None = None
                try:
                    conn = await self._connector(self._body(conn_id))
                    async for ack in conn.acks(read_timeout=self.ack_timeout):
                        if self._on_ack(conn_id, ack):
                            progress = True
                            failures = 0
                        if self._closing and not self._window:
                            break
                    error: BaseException | None = None
                except (KvsError, AckFormatError) as exc:
                    error = exc
                finally:
                    if conn is not None:
                        conn.close()
                    self._end_connection(conn_id)
                if error is None:
                    continue
                if isinstance(error, _Reconnect):
                    failures = 0 if progress else failures + 1
                    log.info("%s: %s; reconnecting", self.stream, error)
                    continue
                failures += 1
                limit = self._policy.max_attempts
                if not (self._policy.enabled and is_retryable(error)) or (
                    limit is not None and failures >= limit
                ):
                    self._fail_all(error)
                    return
                log.info("%s: %s; reconnecting (failure %d)", self.stream, error, failures)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug must not leave put_* waiting forever
            self._fail_all(exc)
            raise
        finally:
            self._wake()

    def _fail_all(self, exc: BaseException) -> None:
        self._fatal = exc
        self._wake()

    async def _body(self, conn_id: int) -> AsyncIterator[bytes]:
        while True:
            if conn_id not in self._sent or conn_id in self._draining:
                return
            entry = self._queued()
            if entry is None:
                if self._closing:
                    return
                await self._wait_change()
                continue
            frag = entry.frag
            await self._frag_pacer.take(1)
            await self._byte_pacer.take(frag.size)
            if conn_id not in self._sent or conn_id in self._draining:
                return
            if entry.state != "queued":
                continue
            entry.state = "sent"
            entry.conn = conn_id
            entry.sends += 1
            entry.sent_at = time.monotonic()
            self._sent[conn_id].append(entry)
            self.stats.sends += 1
            self.stats.bytes_sent += frag.size
            yield frag.data

    def _match(self, conn_id: int, ack: FragmentAck) -> _Entry | None:
        sent = self._sent.get(conn_id, ())
        if ack.fragment_timecode is not None:
            for entry in sent:
                if entry.frag.timecode_ms == ack.fragment_timecode:
                    return entry
            return None
        if ack.event_type == AckEventType.ERROR:
            for entry in sent:
                if entry.state in ("sent", "buffering"):
                    return entry
        return None

    def _on_ack(self, conn_id: int, raw: FragmentAck) -> bool:
        """Apply one ack; True when it moved a fragment forward."""
        entry = self._match(conn_id, raw)
        ack = raw.with_fragment(entry.frag.index if entry is not None else None)
        self.stats.acks += 1
        if len(self._acks) == self._acks.maxlen:
            self.acks_dropped += 1
        self._acks.append(ack)
        self._wake()
        event = ack.event_type
        if entry is None or entry.state == "done":
            if event == AckEventType.ERROR and ack.error is not None and entry is None:
                # An error about no fragment we can name: the connection is unusable.
                raise _Reconnect(f"ERROR ack for no known fragment: {ack.error}")
            return False
        if event == AckEventType.BUFFERING:
            if entry.state == "sent":
                entry.state = "buffering"
                self.stats.buffering += 1
            return True
        if event == AckEventType.RECEIVED:
            if entry.state in ("sent", "buffering"):
                entry.state = "received"
                self.stats.received += 1
                if not self._need_persisted:
                    self._done(entry, latency=True)
            return True
        if event == AckEventType.PERSISTED:
            if entry.state != "received":
                self.stats.received += 1
            self.stats.persisted += 1
            self._done(entry, latency=True)
            return True
        if event == AckEventType.ERROR:
            error = ack.error
            assert error is not None
            limit = self._policy.max_attempts
            if (
                error.RETRYABLE
                and self._policy.enabled
                and entry.state != "received"
                and (limit is None or entry.retries + 1 < limit)
            ):
                # Resend it on a new connection; first end this body and read the acks of
                # what was already sent, so that they are not sent twice.
                entry.retries += 1
                entry.state = "queued"
                self._draining.add(conn_id)
                self._wake()
                return True
            self.failures.append(error)
            self.stats.failed += 1
            self._done(entry, latency=False)
            return True
        return False

    def _done(self, entry: _Entry, *, latency: bool) -> None:
        entry.state = "done"
        if self._window.pop(entry.frag.index, None) is not None:
            self._window_bytes -= entry.frag.size
        sent = self._sent.get(entry.conn)
        while sent and sent[0].state == "done":
            sent.popleft()  # a long connection holds only what is still unacknowledged
        if latency and entry.sent_at:
            lat = time.monotonic() - entry.sent_at
            self.stats.last_ack_latency = lat
            self.stats.ack_latency_total += lat
            self.stats.ack_latency_count += 1
        self._wake()

    def _end_connection(self, conn_id: int) -> None:
        """Fragments of a dead connection: unacked ones go back to the queue, in order."""
        self._draining.discard(conn_id)
        for entry in self._sent.pop(conn_id, ()):
            if entry.state in ("sent", "buffering", "queued"):
                entry.state = "queued"
            elif entry.state == "received":
                # RECEIVED but the PERSISTED ack can no longer come: not sent again.
                self.stats.unconfirmed += 1
                self._done(entry, latency=False)
        self._wake()


class _Reconnect(KvsError):
    """Internal: drop this connection and resend from the window."""
