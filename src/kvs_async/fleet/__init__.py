"""Consume many streams across many processes: checkpoints, leases on Redis, a worker fleet.

- :class:`~kvs_async.fleet.checkpoints.CheckpointStore`: durable positions with a fenced
  compare-and-set; :class:`SqliteCheckpoints` (one host) and :class:`RedisCheckpoints`.
- ``get_media(..., checkpoint=store, consumer="name")`` resumes after the saved position.
- :class:`RedisLeases`: one holder per stream through redis-py's lock, with fencing tokens.
- :class:`Fleet`: discovery, balancing, per-stream readers, retries, status.

Names load on first use, so importing the package does not import redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checkpoints import Checkpoint, CheckpointStore, FencedCheckpoints
    from .checkpoints.redis import RedisCheckpoints
    from .checkpoints.sqlite import SqliteCheckpoints
    from .discovery import ListStreamsDiscovery, StreamDiscovery
    from .errors import CoordinationError, LeaseLostError, StaleFenceError
    from .leases import Lease, RedisLeases
    from .runner import Fleet, HandlerRetry
    from .status import FleetStatus, StreamStatus

_LAZY = {
    "Checkpoint": "checkpoints",
    "CheckpointStore": "checkpoints",
    "FencedCheckpoints": "checkpoints",
    "RedisCheckpoints": "checkpoints.redis",
    "SqliteCheckpoints": "checkpoints.sqlite",
    "ListStreamsDiscovery": "discovery",
    "StreamDiscovery": "discovery",
    "CoordinationError": "errors",
    "LeaseLostError": "errors",
    "StaleFenceError": "errors",
    "Lease": "leases",
    "RedisLeases": "leases",
    "Fleet": "runner",
    "HandlerRetry": "runner",
    "FleetStatus": "status",
    "StreamStatus": "status",
}

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "CoordinationError",
    "FencedCheckpoints",
    "Fleet",
    "FleetStatus",
    "HandlerRetry",
    "Lease",
    "LeaseLostError",
    "ListStreamsDiscovery",
    "RedisCheckpoints",
    "RedisLeases",
    "SqliteCheckpoints",
    "StaleFenceError",
    "StreamDiscovery",
    "StreamStatus",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kvs_async.fleet' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
