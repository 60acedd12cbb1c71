"""The worker fleet: every process runs ``Fleet(...).run()``; Redis decides who reads what.

One coordination round every ``leases.renew_interval``: announce this worker, renew
held leases (a lease that cannot be renewed is dropped at once), read who is alive,
compute this worker's fair share, hand back extra streams or take free ones. Each
held stream has one reader task: ``get_media`` from the stream's checkpoint, the
handler on one chunk at a time, a fenced checkpoint after each, and a check before
each chunk that the lease is still certainly ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import KvsError
from .balance import fair_share, plan
from .checkpoints import CheckpointStore
from .discovery import StaticStreams, StreamDiscovery
from .errors import CoordinationError, LeaseLostError, StaleFenceError
from .leases import RedisLeases, default_worker_id
from .logs import event
from .reader import FailureHook, Handler, HandlerRetry, Reader
from .status import FleetStatus

if TYPE_CHECKING:
    from ..config import ClientConfig
    from ..credentials import CredentialProvider, Credentials
    from ..kinesis_video_media import KinesisVideoMediaClient, StartSelector
    from ..kinesisvideo import KinesisVideoClient

__all__ = ["Fleet", "Handler", "HandlerRetry"]

T = TypeVar("T")

DEFAULT_CHECKPOINTS = "kvs-async-checkpoints.sqlite3"


class Fleet:
    """Read ``streams`` across every process that runs this with the same ``consumer``.

    ``streams`` is a list of names or a :class:`~kvs_async.fleet.StreamDiscovery`
    (e.g. ``ListStreamsDiscovery(prefix="cam-")``). ``handler(stream_name, chunk)`` is
    awaited once per chunk, in order, never twice at once for one stream. ``checkpoints``
    defaults to a SQLite file in the working directory (one host); give
    :class:`~kvs_async.RedisCheckpoints` for many hosts. Clients are built from
    ``region``/``credentials``/``endpoint_url`` (the control plane; data endpoints are
    discovered) unless ``client`` and ``control`` are given; a ``client`` of your own
    needs a connection pool as large as the streams one worker holds (see
    :func:`media_config`): each GetMedia keeps its connection.
    """

    def __init__(
        self,
        *,
        streams: Sequence[str] | StreamDiscovery,
        handler: Handler,
        leases: RedisLeases,
        checkpoints: CheckpointStore | None = None,
        consumer: str = "kvs-async",
        start_selector: StartSelector | None = None,
        retry: HandlerRetry | None = None,
        on_failure: FailureHook | None = None,
        worker_id: str | None = None,
        client: KinesisVideoMediaClient | None = None,
        control: KinesisVideoClient | None = None,
        region: str | None = None,
        credentials: Credentials | CredentialProvider | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        config: ClientConfig | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        if not consumer or ":" in consumer:
            raise ValueError(f"consumer must be a non-empty name without ':', got {consumer!r}")
        self.discovery: StreamDiscovery = (
            streams if isinstance(streams, StreamDiscovery) else StaticStreams(streams)
        )
        self.handler = handler
        self.leases = leases
        self.consumer = consumer
        self.worker_id = worker_id or default_worker_id()
        self.retry = retry or HandlerRetry()
        self.on_failure = on_failure
        self.stop_timeout = stop_timeout
        self._checkpoints = checkpoints
        self._own_checkpoints = checkpoints is None
        self._start_selector = start_selector
        self._client = client
        self._control = control
        self._owns_client = client is None
        self._owns_control = control is None
        self._releasing: set[asyncio.Task[None]] = set()
        self._client_args: dict[str, Any] = {
            "region": region,
            "credentials": credentials,
            "profile": profile,
            "config": config,
        }
        self._endpoint_url = endpoint_url
        self._readers: dict[str, Reader] = {}
        self._known: list[str] = []
        self._cooldown: dict[str, float] = {}
        self._workers = 1
        self._target = 0
        self._coordinator_ok = False
        self._running = False
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._counts = {"acquired": 0, "released": 0, "lost": 0, "handler_failures": 0}

    def __repr__(self) -> str:
        return (
            f"Fleet(worker={self.worker_id!r}, consumer={self.consumer!r}, "
            f"held={len(self._readers)}, {self.leases!r})"
        )

    # --- public -----------------------------------------------------------------------------

    def status(self) -> FleetStatus:
        """This worker now: membership view, fair share, and every held stream."""
        return FleetStatus(
            worker=self.worker_id,
            consumer=self.consumer,
            running=self._running,
            coordinator_ok=self._coordinator_ok,
            workers=self._workers,
            known_streams=len(self._known),
            target=self._target,
            held=tuple(r.state.snapshot() for r in sorted_readers(self._readers)),
            **self._counts,
        )

    async def stop(self) -> None:
        """Ask :meth:`run` to finish: handlers in progress complete, leases are released."""
        if self._stop is not None:
            self._stop.set()

    async def run(self) -> None:
        """Take part in the fleet until :meth:`stop` or cancellation, then leave cleanly."""
        if self._running:
            raise RuntimeError("Fleet.run() is already running")
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._closing = False
        self._running = True
        self.leases.bind(self.consumer, self.worker_id)
        async with contextlib.AsyncExitStack() as stack:
            client, control = self._clients()
            stack.push_async_callback(self._close_clients, client, control)
            if self._own_checkpoints:
                from .checkpoints.sqlite import SqliteCheckpoints

                self._checkpoints = SqliteCheckpoints(DEFAULT_CHECKPOINTS)
                stack.push_async_callback(self._checkpoints.close)
            self._client, self._control = client, control
            event(logging.INFO, "worker_started", worker=self.worker_id, consumer=self.consumer)
            loops = [
                asyncio.create_task(self._discover_loop(), name="kvs-fleet-discovery"),
                asyncio.create_task(self._coordinate_loop(), name="kvs-fleet-leases"),
            ]
            try:
                await self._stop.wait()
            finally:
                self._closing = True  # the loops end even if a cancellation were lost
                for task in loops:
                    task.cancel()
                await asyncio.wait(loops)
                await self._shutdown()
                self._running = False

    # --- set-up -----------------------------------------------------------------------------

    def _clients(self) -> tuple[KinesisVideoMediaClient, KinesisVideoClient]:
        from ..kinesis_video_media import KinesisVideoMediaClient
        from ..kinesisvideo import KinesisVideoClient

        media_args = {**self._client_args, "config": media_config(self._client_args["config"])}
        client = self._client or KinesisVideoMediaClient(
            control_endpoint_url=self._endpoint_url, **media_args
        )
        control = self._control or KinesisVideoClient(
            endpoint_url=self._endpoint_url, **self._client_args
        )
        return client, control

    async def _close_clients(
        self, client: KinesisVideoMediaClient, control: KinesisVideoClient
    ) -> None:
        # Clients the caller passed in stay open: they belong to the caller.
        if self._owns_client:
            await client.close()
            self._client = None
        if self._owns_control:
            await control.close()
            self._control = None

    # --- discovery --------------------------------------------------------------------------

    async def _discover_loop(self) -> None:
        assert self._control is not None
        failures = 0
        while not self._closing:
            try:
                found = await self.discovery.streams(self._control)
            except (KvsError, OSError) as exc:
                failures += 1
                event(logging.WARNING, "discovery_failed", error=str(exc), failures=failures)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            failures = 0
            if found != self._known:
                added = sorted(set(found) - set(self._known))
                removed = sorted(set(self._known) - set(found))
                self._known = found
                event(
                    logging.INFO,
                    "streams_discovered",
                    total=len(found),
                    added=len(added),
                    removed=len(removed),
                )
                for name in removed:
                    reader = self._readers.get(name)
                    if reader is not None:
                        self._hand_back(reader, "stream gone")
                if self._wake is not None:
                    self._wake.set()  # balance now: new streams should not wait for a round
            if self.discovery.interval is None:
                return
            await asyncio.sleep(self.discovery.interval)

    # --- coordination -----------------------------------------------------------------------

    async def _coordinate_loop(self) -> None:
        assert self._wake is not None
        while not self._closing:
            started = time.monotonic()
            self._wake.clear()
            await self._round()
            elapsed = time.monotonic() - started
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
            # lands as the wait ends, and this loop would then renew leases forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, self.leases.renew_interval - elapsed)):
                    await self._wake.wait()

    async def _round(self) -> None:
        started = time.monotonic()
        try:
            await self._renew_all()
            await self.leases.heartbeat(self._announcement())
            workers = await self.leases.workers()
            await self._balance(workers, started)
            if not self._coordinator_ok:
                event(logging.INFO, "coordinator_ok", workers=len(workers))
            self._coordinator_ok = True
        except CoordinationError as exc:
            if self._coordinator_ok:
                event(logging.WARNING, "coordinator_unavailable", error=str(exc))
            self._coordinator_ok = False
            for reader in list(self._readers.values()):
                if not reader.lease.valid():
                    self._lost(reader, "could not renew before the lease ran out")

    def _announcement(self) -> dict[str, Any]:
        """What other processes see of this worker (``kvs-async consume --status``)."""
        streams = {}
        for reader in self._readers.values():
            snap = reader.state.snapshot()
            streams[snap.stream] = {
                "fence": snap.fence,
                "chunks": snap.chunks,
                "lag": None if snap.lag_seconds is None else round(snap.lag_seconds, 3),
                "resumes": snap.resumes,
                "failures": snap.handler_failures,
            }
        return {"held": len(streams), "target": self._target, "t": time.time(), "streams": streams}

    async def _renew_all(self) -> None:
        unreachable: list[CoordinationError] = []

        async def renew(reader: Reader) -> None:
            try:
                await self.leases.renew(reader.lease)
            except LeaseLostError as exc:
                self._lost(reader, exc.reason)
            except CoordinationError as exc:
                unreachable.append(exc)
                if not reader.lease.valid():
                    self._lost(reader, "could not renew before the lease ran out")
            else:
                if self._readers.get(reader.lease.stream) is reader:
                    reader.arm(self._expired)

        # Concurrently: thousands of leases renew in a few round trips' time.
        await _bounded(renew(r) for r in list(self._readers.values()))
        if unreachable:
            raise unreachable[0]

    async def _balance(self, workers: dict[str, Any], started: float) -> None:
        now = time.monotonic()
        known = set(self._known)
        self._workers = len(set(workers) | {self.worker_id})
        self._target = fair_share(len(known), workers, self.worker_id)
        held = [r.lease.stream for r in sorted_readers(self._readers) if not r.stopping]
        holders = await self.leases.holders(sorted(known - set(self._readers)))
        free = [
            s for s, who in holders.items() if who is None and self._cooldown.get(s, 0.0) <= now
        ]
        shed, take = plan(held, free, self._target)
        for name in shed:
            self._hand_back(self._readers[name], "over fair share")
        random.shuffle(free)
        # Take free streams in concurrent batches, but only for half a round: a lease taken
        # now is renewed next round, and must not run out before then.
        budget = started + self.leases.renew_interval / 2
        while take > 0 and free and time.monotonic() < budget:
            batch, free = free[:take], free[take:]
            taken = await _bounded(self._acquire(name) for name in batch)
            take -= sum(taken)

    async def _acquire(self, stream: str) -> bool:
        assert self._checkpoints is not None
        lease = await self.leases.acquire(stream)
        if lease is None:
            return False
        try:
            # Claim the checkpoint with the new fence: from now on older holders are refused.
            while not await self._checkpoints.compare_and_set(
                self.consumer, stream, fence=lease.fence
            ):
                saved = await self._checkpoints.get(self.consumer, stream)
                await self.leases.advance_fence(lease, saved.fence if saved else 0)
        except BaseException:
            with contextlib.suppress(CoordinationError):
                await self.leases.release(lease)
            raise
        reader = Reader(
            lease,
            handler=self.handler,
            retry=self.retry,
            on_failure=self.on_failure,
            on_handler_error=self._count_handler_error,
        )
        self._readers[stream] = reader
        reader.arm(self._expired)
        self._counts["acquired"] += 1
        event(
            logging.INFO, "stream_acquired", stream=stream, fence=lease.fence, worker=self.worker_id
        )
        reader.task = asyncio.create_task(self._read(reader), name=f"kvs-fleet:{stream}")
        return True

    def _count_handler_error(self) -> None:
        self._counts["handler_failures"] += 1

    def _expired(self, reader: Reader) -> None:
        self._lost(reader, "the lease ran out before it could be renewed")

    def _lost(self, reader: Reader, reason: str) -> None:
        """The lease is gone: stop at once, even inside the handler, and save nothing more."""
        reader.disarm()
        if self._readers.get(reader.lease.stream) is not reader:
            return
        del self._readers[reader.lease.stream]
        reader.lease.valid_until = 0.0
        self._counts["lost"] += 1
        event(
            logging.WARNING,
            "stream_lost",
            stream=reader.lease.stream,
            fence=reader.lease.fence,
            reason=reason,
            worker=self.worker_id,
        )
        if reader.task is not None and reader.task is not asyncio.current_task():
            reader.task.cancel()

    def _hand_back(self, reader: Reader, reason: str) -> None:
        """Release in the background, so lease renewals never wait for a slow handler."""
        if reader.stopping:
            return
        reader.stopping = True
        task = asyncio.create_task(self._release(reader, reason))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, reader: Reader, reason: str) -> None:
        """Hand a stream back: let the chunk in progress finish and save, then release."""
        reader.stopping = True
        reader.state.state = "stopping"
        task = reader.task
        if task is not None and task is not asyncio.current_task():
            if not reader.busy:
                task.cancel()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                async with asyncio.timeout(self.stop_timeout):
                    await asyncio.shield(task)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._readers.get(reader.lease.stream) is not reader:
            return  # lost meanwhile
        reader.disarm()
        del self._readers[reader.lease.stream]
        try:
            await self.leases.release(reader.lease)
        except CoordinationError as exc:
            event(logging.WARNING, "release_failed", stream=reader.lease.stream, error=str(exc))
        self._counts["released"] += 1
        event(
            logging.INFO,
            "stream_released",
            stream=reader.lease.stream,
            fence=reader.lease.fence,
            reason=reason,
            worker=self.worker_id,
        )

    async def _shutdown(self) -> None:
        readers = [r for r in self._readers.values() if not r.stopping]
        await asyncio.gather(
            *self._releasing, *(self._release(r, "worker stopping") for r in readers)
        )
        with contextlib.suppress(CoordinationError):
            await self.leases.leave()
        event(logging.INFO, "worker_stopped", worker=self.worker_id)

    # --- reading ----------------------------------------------------------------------------

    async def _read(self, reader: Reader) -> None:
        assert self._client is not None and self._checkpoints is not None
        from ..kinesis_video_media import StartSelector

        stream_name = reader.lease.stream
        start = self._start_selector or StartSelector(start_selector_type="NOW")
        try:
            await reader.consume(self._client, self._checkpoints, self.consumer, start)
        except asyncio.CancelledError:
            raise
        except (LeaseLostError, StaleFenceError) as exc:
            self._lost(reader, str(exc))
        except Exception as exc:
            # The stream failed for good (deleted, no permission...): back off, free it.
            reader.state.last_error = str(exc)
            self._cooldown[stream_name] = time.monotonic() + 5 * self.leases.renew_interval
            event(logging.WARNING, "stream_failed", stream=stream_name, error=str(exc))
            if self._readers.get(stream_name) is reader:
                await self._release(reader, "stream failed")


#: Redis calls in flight at once from one worker's coordination round.
CONCURRENCY = 32


async def _bounded(calls: Iterable[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    """Await ``calls`` with at most ``limit`` in flight; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


#: GetMedia holds one connection per stream for as long as the stream is read.
MEDIA_POOL = 10_000


def media_config(config: ClientConfig | None) -> ClientConfig:
    """``config`` with a connection pool big enough for every stream a worker may hold.

    (The default pool of 100 would leave every stream past the 100th waiting for a
    connection.) Each held stream also needs a file descriptor: raise ``ulimit -n``
    for thousands of streams per process.
    """
    from attrs import evolve

    from ..config import ClientConfig

    config = config or ClientConfig()
    return evolve(config, max_pool_connections=max(config.max_pool_connections, MEDIA_POOL))


def sorted_readers(readers: dict[str, Reader]) -> list[Reader]:
    """Held streams, oldest acquisition first (so shedding hands back the newest)."""
    return sorted(readers.values(), key=lambda r: (r.lease.acquired_at, r.lease.stream))
