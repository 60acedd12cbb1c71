"""Checkpoints in Redis (redis-py's asyncio client): one hash per (consumer, stream).

The fenced compare-and-set is one server-side script, so it is atomic against
every other writer. Durability is the server's: run Redis with ``appendonly yes``
(and ``appendfsync always`` for a save per write) when a restart must not lose
positions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

try:
    import redis.asyncio as aioredis
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kvs_async's Redis leases and checkpoints need the redis package: "
        "pip install 'kvs_async[fleet]'"
    ) from exc
from redis.exceptions import RedisError

from ..errors import CoordinationError
from . import Checkpoint, _StoreBase

__all__ = ["RedisCheckpoints"]

# KEYS: the checkpoint hash, the consumer's index set.
# ARGV: fence, token, fragment, updated_at, claim ("1": keep the position), stream name.
_CAS = """
local stored = redis.call('HGET', KEYS[1], 'fence')
if stored and tonumber(ARGV[1]) < tonumber(stored) then
  return 0
end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'updated_at', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'token', ARGV[2], 'fragment', ARGV[3],
             'updated_at', ARGV[4])
end
redis.call('SADD', KEYS[2], ARGV[6])
return 1
"""


# KEYS: the checkpoint hash, the consumer's index set. ARGV: token, fragment, updated_at, stream.
_PUT = """
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fragment', ARGV[2], 'updated_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'fence', 0)
redis.call('SADD', KEYS[2], ARGV[4])
return 1
"""


class RedisCheckpoints(_StoreBase):
    """A :class:`~kvs_async.CheckpointStore` on the Redis server at ``url`` (``redis://...``)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "kvs-async",
        client: aioredis.Redis | None = None,
        socket_timeout: float = 5.0,
    ) -> None:
        self.prefix = prefix
        self._own = client is None
        self._redis: aioredis.Redis = client or redis_client(url, timeout=socket_timeout)
        self._cas = self._redis.register_script(_CAS)
        self._put = self._redis.register_script(_PUT)
        self._url = _redacted(url)

    def __repr__(self) -> str:
        return f"RedisCheckpoints({self._url!r}, prefix={self.prefix!r})"

    def _key(self, consumer: str, stream: str) -> str:
        return f"{self.prefix}:checkpoint:{consumer}:{stream}"

    def _index(self, consumer: str) -> str:
        return f"{self.prefix}:checkpoints:{consumer}"

    async def get(self, consumer: str, stream: str) -> Checkpoint | None:
        try:
            fields = await self._redis.hgetall(self._key(consumer, stream))
        except RedisError as exc:
            raise CoordinationError(f"reading the checkpoint of {stream!r}: {exc}") from exc
        return _checkpoint(consumer, stream, _texts(fields)) if fields else None

    async def put(
        self,
        consumer: str,
        stream: str,
        *,
        continuation_token: str | None,
        fragment_number: str | None = None,
    ) -> None:
        args = [continuation_token or "", fragment_number or "", repr(time.time()), stream]
        try:
            # One script call: a round trip, atomic, and cheaper in redis-py than MULTI/EXEC.
            await self._put(keys=[self._key(consumer, stream), self._index(consumer)], args=args)
        except RedisError as exc:
            raise CoordinationError(f"saving the checkpoint of {stream!r}: {exc}") from exc

    async def compare_and_set(
        self,
        consumer: str,
        stream: str,
        *,
        fence: int,
        continuation_token: str | None = None,
        fragment_number: str | None = None,
    ) -> bool:
        claim = continuation_token is None and fragment_number is None
        args: list[str | int] = [
            fence,
            continuation_token or "",
            fragment_number or "",
            repr(time.time()),
            "1" if claim else "0",
            stream,
        ]
        try:
            done = await self._cas(
                keys=[self._key(consumer, stream), self._index(consumer)], args=args
            )
        except RedisError as exc:
            raise CoordinationError(f"saving the checkpoint of {stream!r}: {exc}") from exc
        return bool(done)

    async def list(self, consumer: str) -> list[Checkpoint]:
        try:
            streams = sorted(_text(m) for m in await self._redis.smembers(self._index(consumer)))
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream in streams:
                    pipe.hgetall(self._key(consumer, stream))
                rows = await pipe.execute()
        except RedisError as exc:
            raise CoordinationError(f"listing checkpoints of {consumer!r}: {exc}") from exc
        return [
            _checkpoint(consumer, s, _texts(f)) for s, f in zip(streams, rows, strict=True) if f
        ]

    async def close(self) -> None:
        if self._own:
            await self._redis.aclose()


def _checkpoint(consumer: str, stream: str, fields: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        consumer=consumer,
        stream=stream,
        continuation_token=fields.get("token") or None,
        fragment_number=fields.get("fragment") or None,
        fence=int(fields.get("fence") or 0),
        updated_at=float(fields.get("updated_at") or 0.0),
    )


def redis_client(url: str, *, timeout: float, max_connections: int = 64) -> aioredis.Redis:
    """A client whose callers wait for a free connection instead of failing past the pool.

    (redis-py's default pool raises "Too many connections" once 100 calls are in flight,
    as hundreds of streams checkpointing at once would be.)
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return aioredis.Redis.from_pool(pool)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(fields: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in fields.items()}


def _redacted(url: str) -> str:
    """The URL without a password, for reprs and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))
