"""kvs_async: a typed asyncio client for Amazon Kinesis Video Streams."""

from ._version import __version__
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

__all__ = [
    "ClientConfig",
    "ConnectTimeoutError",
    "Credentials",
    "CredentialsError",
    "EndpointResolutionError",
    "KvsError",
    "ParamValidationError",
    "ReadTimeoutError",
    "ServiceError",
    "TransportError",
    "__version__",
]
