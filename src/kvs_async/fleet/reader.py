"""One held stream: get_media from its checkpoint, the handler on each chunk, a fenced save.

A :class:`Reader` lives as long as its lease. Before every chunk it checks that the lease
is certainly still ours (and a watchdog cancels it the moment it is not); a failing
handler is retried with backoff, then reported and skipped so the stream moves on; the
chunk's position is saved under the lease's fence before the next chunk is asked for.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from attrs import define

from ..getmedia import ResumePolicy
from .checkpoints import CheckpointStore, FencedCheckpoints
from .errors import CoordinationError, LeaseLostError
from .leases import Lease
from .logs import event
from .status import StreamState

if TYPE_CHECKING:
    from ..getmedia import MediaStream
    from ..kinesis_video_media import KinesisVideoMediaClient, StartSelector
    from ..mkv import Chunk

__all__ = ["FailureHook", "Handler", "HandlerRetry", "Reader"]

Handler = Callable[[str, "Chunk"], Awaitable[Any]]
FailureHook = Callable[[str, "Chunk", BaseException], Awaitable[Any]]


@define(frozen=True, slots=True, kw_only=True)
class HandlerRetry:
    """How often a failing handler is retried on one chunk before it is reported and skipped."""

    attempts: int = 3
    backoff_base: float = 0.2
    backoff_cap: float = 5.0

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"HandlerRetry attempts must be >= 1, got {self.attempts}")

    def delay(self, failures: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)


class Reader:
    """A held stream: its lease, its task, its counters, and how it reads."""

    def __init__(
        self,
        lease: Lease,
        *,
        handler: Handler,
        retry: HandlerRetry,
        on_failure: FailureHook | None,
        on_handler_error: Callable[[], None],
    ) -> None:
        self.lease = lease
        self.state = StreamState(
            stream=lease.stream, fence=lease.fence, acquired_at=lease.acquired_at
        )
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # inside the handler or its checkpoint: let it finish on a clean stop
        self.stopping = False
        self.watchdog: asyncio.TimerHandle | None = None
        self._handler = handler
        self._retry = retry
        self._on_failure = on_failure
        self._on_handler_error = on_handler_error

    def arm(self, expired: Callable[[Reader], None]) -> None:
        """Stop the reader the moment the lease is no longer certainly ours."""
        if self.watchdog is not None:
            self.watchdog.cancel()
        # loop.time() and time.monotonic() are the same clock.
        self.watchdog = asyncio.get_running_loop().call_at(self.lease.valid_until, expired, self)

    def disarm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None

    async def consume(
        self,
        client: KinesisVideoMediaClient,
        store: CheckpointStore,
        consumer: str,
        start_selector: StartSelector,
    ) -> None:
        """Read until the lease is lost, the reader is stopped, or the stream fails."""
        lease, state = self.lease, self.state
        stream: MediaStream = client.get_media(
            stream_name=lease.stream,
            start_selector=start_selector,
            resume=ResumePolicy(max_attempts=None, backoff_cap=5.0),
            checkpoint=FencedCheckpoints(store, lease.fence),
            consumer=consumer,
        )
        state.state = "reading"
        async with stream:
            async for chunk in stream:
                if not lease.valid():
                    raise LeaseLostError(lease.stream, "the lease ran out before the next chunk")
                self.busy = True
                try:
                    await self._handle(chunk)
                    await self._commit(stream)
                finally:
                    self.busy = False
                state.chunks += 1
                state.resumes = stream.resumes
                if chunk.server_timestamp is not None:
                    state.last_server_time = chunk.server_timestamp.timestamp()
                state.state = "reading"
                if self.stopping:
                    return

    async def _handle(self, chunk: Chunk) -> None:
        state, name = self.state, self.lease.stream
        state.state = "handling"
        failures = 0
        while True:
            try:
                await self._handler(name, chunk)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                state.handler_failures += 1
                self._on_handler_error()
                state.last_error = f"{type(exc).__name__}: {exc}"
                if failures >= self._retry.attempts:
                    state.chunks_failed += 1
                    event(
                        logging.ERROR,
                        "handler_failed",
                        stream=name,
                        fragment=chunk.fragment_number,
                        attempts=failures,
                        error=state.last_error,
                    )
                    if self._on_failure is not None:
                        await self._on_failure(name, chunk, exc)
                    return  # reported; the stream moves on
                state.state = "retrying"
                event(
                    logging.WARNING,
                    "handler_retry",
                    stream=name,
                    fragment=chunk.fragment_number,
                    attempt=failures,
                    error=state.last_error,
                )
                await asyncio.sleep(self._retry.delay(failures))
                if not self.lease.valid():
                    raise LeaseLostError(name, "the lease ran out while retrying") from exc

    async def _commit(self, stream: MediaStream) -> None:
        """Save the chunk's position under the lease's fence; retry while the lease lasts."""
        failures = 0
        while True:
            if not self.lease.valid():
                raise LeaseLostError(self.lease.stream, "the lease ran out before checkpointing")
            try:
                await stream.commit()
            except CoordinationError as exc:
                failures += 1
                event(logging.WARNING, "checkpoint_retry", stream=self.lease.stream, error=str(exc))
                await asyncio.sleep(min(1.0, 0.05 * 2**failures))
                continue
            self.state.last_checkpoint = self.state.last_fragment = stream.fragment_number
            self.state.last_checkpoint_at = time.time()
            return
