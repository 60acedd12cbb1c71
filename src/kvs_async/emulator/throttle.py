"""Sliding one-second windows: the 5 GetMedia calls per second per stream, and a global bound."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` accepted calls per key within any ``window`` seconds.

    A refused call is not counted, as KVS does: a client that backs off gets in again.
    """

    def __init__(self, limit: int, *, window: float = 1.0, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True

    def reset(self) -> None:
        self._calls.clear()
