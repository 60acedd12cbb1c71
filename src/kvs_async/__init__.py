"""kvs_async: a typed asyncio client for Amazon Kinesis Video Streams.

Names load on first use (PEP 562), so ``import kvs_async.mkv`` stays a pure,
synchronous import with no asyncio or aiohttp behind it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .config import ClientConfig
    from .credentials import Credentials
    from .errors import (
        ConnectTimeoutError,
        CredentialsError,
        EndpointResolutionError,
        KvsError,
        ParamValidationError,
        ReadTimeoutError,
        ServiceError,
        TransportError,
    )
    from .fleet.checkpoints import Checkpoint, CheckpointStore, FencedCheckpoints
    from .fleet.checkpoints.redis import RedisCheckpoints
    from .fleet.checkpoints.sqlite import SqliteCheckpoints
    from .fleet.discovery import ListStreamsDiscovery
    from .fleet.errors import CoordinationError, LeaseLostError, StaleFenceError
    from .fleet.leases import RedisLeases
    from .fleet.runner import Fleet, HandlerRetry
    from .getmedia import MediaStream, ResumePolicy
    from .media_errors import GetMediaStreamError
    from .producer import AckEventType, FragmentAck, MediaProducer, PutMediaLimits

_LAZY = {
    "ClientConfig": "config",
    "Credentials": "credentials",
    "ConnectTimeoutError": "errors",
    "CredentialsError": "errors",
    "EndpointResolutionError": "errors",
    "KvsError": "errors",
    "ParamValidationError": "errors",
    "ReadTimeoutError": "errors",
    "ServiceError": "errors",
    "TransportError": "errors",
    "MediaStream": "getmedia",
    "ResumePolicy": "getmedia",
    "GetMediaStreamError": "media_errors",
    "Checkpoint": "fleet.checkpoints",
    "CheckpointStore": "fleet.checkpoints",
    "FencedCheckpoints": "fleet.checkpoints",
    "RedisCheckpoints": "fleet.checkpoints.redis",
    "SqliteCheckpoints": "fleet.checkpoints.sqlite",
    "ListStreamsDiscovery": "fleet.discovery",
    "CoordinationError": "fleet.errors",
    "LeaseLostError": "fleet.errors",
    "StaleFenceError": "fleet.errors",
    "RedisLeases": "fleet.leases",
    "Fleet": "fleet.runner",
    "HandlerRetry": "fleet.runner",
    "AckEventType": "producer",
    "FragmentAck": "producer",
    "MediaProducer": "producer",
    "PutMediaLimits": "producer",
}

__all__ = [
    "AckEventType",
    "Checkpoint",
    "CheckpointStore",
    "ClientConfig",
    "ConnectTimeoutError",
    "CoordinationError",
    "Credentials",
    "CredentialsError",
    "EndpointResolutionError",
    "FencedCheckpoints",
    "Fleet",
    "FragmentAck",
    "GetMediaStreamError",
    "HandlerRetry",
    "KvsError",
    "LeaseLostError",
    "ListStreamsDiscovery",
    "MediaProducer",
    "MediaStream",
    "ParamValidationError",
    "PutMediaLimits",
    "ReadTimeoutError",
    "RedisCheckpoints",
    "RedisLeases",
    "ResumePolicy",
    "ServiceError",
    "SqliteCheckpoints",
    "StaleFenceError",
    "TransportError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kvs_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
