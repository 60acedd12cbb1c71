"""Leases on Redis: at most one worker reads a stream, and each holding has a fencing token.

A lease is redis-py's :class:`redis.asyncio.lock.Lock` on one key per (group, stream)
with a TTL: ``acquire`` (SET NX PX with this worker's token), ``reacquire`` to renew
(reset the TTL, only while the token still matches), ``release`` on a clean stop.
A worker that dies simply stops renewing and the key expires after the TTL.

Each acquisition then takes the next number of a per-stream Redis counter (INCR):
the fencing token. Checkpoints are written with a compare-and-set against it, so a
worker that was paused past its TTL cannot overwrite what the new holder saved.

The worker also knows, without asking Redis, until when its lease is certainly
valid: the moment it sent the last successful acquire/renew plus the TTL, minus a
margin for clock rate differences. Readers check that before every chunk, so a
paused or partitioned worker stops on its own even when it cannot reach Redis.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

try:
    import redis.asyncio as aioredis
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kvs_async's Redis leases and checkpoints need the redis package: "
        "pip install 'kvs_async[fleet]'"
    ) from exc
from attrs import define, field
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from .checkpoints.redis import _redacted, _text, redis_client
from .errors import CoordinationError, LeaseLostError

__all__ = ["Lease", "RedisLeases", "default_worker_id"]


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@define(slots=True, kw_only=True)
class Lease:
    """One stream held by this worker: its fence, and until when it is certainly ours."""

    stream: str
    fence: int
    token: str
    acquired_at: float  # epoch seconds, for status
    valid_until: float  # time.monotonic()
    lock: Lock = field(repr=False)

    def valid(self) -> bool:
        return time.monotonic() < self.valid_until

    def remaining(self) -> float:
        return self.valid_until - time.monotonic()


class RedisLeases:
    """Stream leases and worker membership on the Redis server at ``url``.

    ``ttl`` is how long a lease outlives a silent worker (the take-over delay after a
    crash); leases are renewed every ``renew_interval`` (default ``ttl / 3``).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        ttl: float = 10.0,
        renew_interval: float | None = None,
        prefix: str = "kvs-async",
        client: aioredis.Redis | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"lease ttl must be positive, got {ttl!r}")
        self.ttl = ttl
        self.renew_interval = renew_interval if renew_interval is not None else ttl / 3
        if not 0 < self.renew_interval < ttl:
            raise ValueError(
                f"renew_interval must be between 0 and the ttl ({ttl}), got {self.renew_interval}"
            )
        self.prefix = prefix
        self._url = _redacted(url)
        self._own = client is None
        # Calls must fail well inside a TTL so a dead server is noticed while leases last.
        timeout = max(0.2, min(5.0, ttl / 4))
        self._redis: aioredis.Redis = client or redis_client(url, timeout=timeout)
        self.group = "default"
        self.worker = default_worker_id()

    def __repr__(self) -> str:
        return f"RedisLeases({self._url!r}, ttl={self.ttl}, group={self.group!r})"

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    def bind(self, group: str, worker: str) -> None:
        """Name the consumer group (one lease per stream per group) and this worker."""
        if "|" in worker:
            raise ValueError(f"worker id must not contain '|': {worker!r}")
        self.group = group
        self.worker = worker

    # --- keys -------------------------------------------------------------------------------

    def _lease_key(self, stream: str) -> str:
        return f"{self.prefix}:{self.group}:lease:{stream}"

    def _fence_key(self, stream: str) -> str:
        return f"{self.prefix}:{self.group}:fence:{stream}"

    def _worker_key(self, worker: str) -> str:
        return f"{self.prefix}:{self.group}:worker:{worker}"

    @property
    def _workers_key(self) -> str:
        return f"{self.prefix}:{self.group}:workers"

    # --- leases -----------------------------------------------------------------------------

    def _lock(self, stream: str) -> Lock:
        return self._redis.lock(
            self._lease_key(stream),
            timeout=self.ttl,
            blocking=False,
            thread_local=False,
            raise_on_release_error=False,
        )

    def _valid_until(self, sent: float) -> float:
        return sent + self.ttl - min(0.25 * self.ttl, 0.05 + 0.01 * self.ttl)

    async def acquire(self, stream: str) -> Lease | None:
        """Take the lease of ``stream`` if nobody holds it; None when someone does."""
        lock = self._lock(stream)
        token = f"{self.worker}|{uuid.uuid4().hex}"
        sent = time.monotonic()
        try:
            if not await lock.acquire(blocking=False, token=token):
                return None
        except RedisError as exc:
            raise CoordinationError(f"acquiring the lease of {stream!r}: {exc}") from exc
        try:
            fence = int(await self._redis.incr(self._fence_key(stream)))
        except RedisError as exc:
            await self._quiet_release(lock)
            raise CoordinationError(f"fencing the lease of {stream!r}: {exc}") from exc
        return Lease(
            stream=stream,
            fence=fence,
            token=token,
            acquired_at=time.time(),
            valid_until=self._valid_until(sent),
            lock=lock,
        )

    async def advance_fence(self, lease: Lease, above: int) -> None:
        """Move the lease's fence past ``above`` (after Redis lost its counter, e.g. no AOF)."""
        try:
            current = int(await self._redis.incr(self._fence_key(lease.stream)))
            if current <= above:
                current = int(
                    await self._redis.incrby(self._fence_key(lease.stream), above + 1 - current)
                )
        except RedisError as exc:
            raise CoordinationError(f"fencing the lease of {lease.stream!r}: {exc}") from exc
        lease.fence = current

    async def renew(self, lease: Lease) -> None:
        """Reset the lease's TTL; LeaseLostError when another worker (or nobody) holds it now."""
        sent = time.monotonic()
        try:
            await lease.lock.reacquire()
        except LockError as exc:  # LockNotOwnedError: expired, maybe taken over
            lease.valid_until = 0.0
            raise LeaseLostError(lease.stream, "another worker holds it, or it expired") from exc
        except RedisError as exc:
            raise CoordinationError(f"renewing the lease of {lease.stream!r}: {exc}") from exc
        lease.valid_until = self._valid_until(sent)

    async def release(self, lease: Lease) -> None:
        """Give the lease up now (clean stop, rebalancing); quiet when it was already gone."""
        lease.valid_until = 0.0
        try:
            await lease.lock.release()
        except LockError:
            pass
        except RedisError as exc:
            raise CoordinationError(f"releasing the lease of {lease.stream!r}: {exc}") from exc

    async def _quiet_release(self, lock: Lock) -> None:
        try:
            await lock.release()
        except (LockError, RedisError):
            pass

    async def holders(self, streams: Sequence[str]) -> dict[str, str | None]:
        """Which worker holds each stream's lease now (None: free)."""
        if not streams:
            return {}
        try:
            tokens = await self._redis.mget([self._lease_key(s) for s in streams])
        except RedisError as exc:
            raise CoordinationError(f"reading lease holders: {exc}") from exc
        return {
            s: (t.split("|", 1)[0] if isinstance(t, str) else None)
            for s, t in zip(streams, tokens, strict=True)
        }

    # --- membership -------------------------------------------------------------------------

    async def heartbeat(self, state: dict[str, Any]) -> None:
        """Announce this worker (and what it holds) for one TTL."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self._worker_key(self.worker), json.dumps(state), px=int(self.ttl * 1000))
                pipe.sadd(self._workers_key, self.worker)
                await pipe.execute()
        except RedisError as exc:
            raise CoordinationError(f"heartbeat: {exc}") from exc

    async def workers(self) -> dict[str, dict[str, Any]]:
        """Live workers of the group and what each announced; forgets the silent ones."""
        try:
            names = sorted(_text(m) for m in await self._redis.smembers(self._workers_key))
            states = await self._redis.mget([self._worker_key(w) for w in names]) if names else []
            dead = [w for w, s in zip(names, states, strict=True) if s is None]
            if dead:
                await self._redis.srem(self._workers_key, *dead)
        except RedisError as exc:
            raise CoordinationError(f"listing workers: {exc}") from exc
        return {w: json.loads(s) for w, s in zip(names, states, strict=True) if s is not None}

    async def leave(self) -> None:
        """Forget this worker now (a clean stop), so others rebalance without waiting a TTL."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._worker_key(self.worker))
                pipe.srem(self._workers_key, self.worker)
                await pipe.execute()
        except RedisError as exc:
            raise CoordinationError(f"leaving the group: {exc}") from exc

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise CoordinationError(f"Redis at {self._url}: {exc}") from exc

    async def close(self) -> None:
        if self._own:
            await self._redis.aclose()
