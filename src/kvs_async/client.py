"""The hand-written base every generated client class stands on.

Generated modules declare data (shapes, operation specs); this runtime does the
work: credentials, endpoint resolution, signing, sending, retries, parsing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, ClassVar

from ._model import OperationSpec, ServiceSpec
from .config import ClientConfig
from .credentials import Credentials


class BaseClient:
    """One client per service; an async context manager that owns one aiohttp session."""

    SERVICE: ClassVar[ServiceSpec]

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: Credentials | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        self._region = region
        self._credentials = credentials
        self._endpoint_url = endpoint_url
        self._profile = profile
        self._config = config or ClientConfig()

    async def __aenter__(self) -> BaseClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session; idempotent."""

    async def _invoke(self, op: OperationSpec, params: Any) -> Any:
        raise NotImplementedError("transport lands with issue 3")
