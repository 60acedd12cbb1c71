"""Client configuration: timeouts and retry policy."""

from __future__ import annotations

import os
from typing import Literal

from attrs import define, field

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


@define(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Per-client knobs. ``read_timeout`` bounds each read, never a whole stream."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = field(factory=_default_max_attempts)
    retry_mode: RetryMode = field(factory=_default_retry_mode)
    max_pool_connections: int = 100
    user_agent_extra: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.retry_mode not in ("standard", "legacy", "adaptive"):
            raise ValueError(f"unknown retry_mode {self.retry_mode!r}")
