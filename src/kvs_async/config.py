"""Client configuration: timeouts and retry policy."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from attrs import define, field

if TYPE_CHECKING:
    from .retries import RetryEvent

RetryMode = Literal["standard", "legacy", "adaptive"]


def _default_max_attempts() -> int:
    raw = os.environ.get("AWS_MAX_ATTEMPTS")
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"AWS_MAX_ATTEMPTS must be an integer, got {raw!r}") from None
        if value >= 1:
            return value
    return 3


def _default_retry_mode() -> RetryMode:
    raw = os.environ.get("AWS_RETRY_MODE", "standard")
    if raw in ("standard", "legacy", "adaptive"):
        return raw  # type: ignore[return-value]
    return "standard"


def _service_env_id(module: str) -> str:
    # botocore's serviceId, upper-cased with underscores: "Kinesis Video" -> KINESIS_VIDEO.
    return "KINESIS_VIDEO" if module == "kinesisvideo" else module.upper()


def configured_endpoint_url(module: str, *, data_plane: bool) -> str | None:
    """The endpoint the environment configures for a service, as the AWS SDKs read it.

    ``AWS_ENDPOINT_URL_<SERVICE>`` (``AWS_ENDPOINT_URL_KINESIS_VIDEO`` ...), else
    ``AWS_ENDPOINT_URL`` (except for data-plane services, whose endpoint is discovered
    through the control plane, which reads it); none when
    ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true.
    """
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() == "true":
        return None
    url = os.environ.get(f"AWS_ENDPOINT_URL_{_service_env_id(module)}")
    if not url and not data_plane:
        url = os.environ.get("AWS_ENDPOINT_URL")
    return url.strip() or None if url is not None else None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


@define(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Per-client knobs. ``read_timeout`` bounds each read, never a whole stream.

    ``retry_mode``: "standard" is implemented; "legacy" and "adaptive" are
    accepted for compatibility with AWS config files and behave as "standard".
    ``data_endpoint_ttl``: seconds a GetDataEndpoint/GetSignalingChannelEndpoint
    answer is reused by data-plane clients. ``on_retry``: called with a
    :class:`~kvs_async.retries.RetryEvent` before every retry (calls and media-stream
    reconnects), e.g. to show ``retrying in 1.6 s (3/10): connection refused at ...``;
    it runs on the event loop and must not block.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = field(factory=_default_max_attempts)
    retry_mode: RetryMode = field(factory=_default_retry_mode)
    max_pool_connections: int = 100
    user_agent_extra: str | None = None
    use_fips_endpoint: bool = field(factory=lambda: _env_flag("AWS_USE_FIPS_ENDPOINT"))
    use_dualstack_endpoint: bool = field(factory=lambda: _env_flag("AWS_USE_DUALSTACK_ENDPOINT"))
    data_endpoint_ttl: float = 300.0
    on_retry: Callable[[RetryEvent], None] | None = field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_pool_connections < 1:
            raise ValueError(f"max_pool_connections must be >= 1, got {self.max_pool_connections}")
        if self.retry_mode not in ("standard", "legacy", "adaptive"):
            raise ValueError(f"unknown retry_mode {self.retry_mode!r}")
