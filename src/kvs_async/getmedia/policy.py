"""How a media stream reconnects, and the per-stream pacing of GetMedia calls."""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections import deque

from attrs import define

#: KVS allows five GetMedia calls per second per stream.
GET_MEDIA_CALLS_PER_SECOND = 5


@define(frozen=True, slots=True, kw_only=True)
class ResumePolicy:
    """How a media stream reconnects.

    ``max_attempts`` bounds consecutive failed attempts (drops, 5xx, throttles,
    retryable error tags) with no new chunk in between; ``None`` retries forever.
    A clean end of a session is not a failure: it reconnects with backoff only
    while sessions keep ending empty.
    """

    enabled: bool = True
    max_attempts: int | None = 10
    backoff_base: float = 0.1
    backoff_cap: float = 20.0
    calls_per_second: int = GET_MEDIA_CALLS_PER_SECOND

    def backoff(self, failures: int) -> float:
        """Full-jitter exponential backoff; the first retry after progress is immediate-ish."""
        if failures <= 0:
            return 0.0
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        return random.uniform(0.0, ceiling)


class _CallPacer:
    """At most ``rate`` calls per window, shared by every reader of one stream on one loop.

    The window carries a margin over one second so that calls paced here stay
    within the limit however the network shifts their arrival.
    """

    def __init__(self, rate: int, window: float = 1.1) -> None:
        self._rate = max(1, rate)
        self._window = window
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            while len(self._times) >= self._rate:
                age = now - self._times[0]
                if age >= self._window:
                    self._times.popleft()
                    continue
                await asyncio.sleep(self._window - age)
                now = time.monotonic()
            self._times.append(now)


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], _CallPacer]]
_PACERS = weakref.WeakKeyDictionary()


def _pacer(stream: str, rate: int) -> _CallPacer:
    per_loop = _PACERS.setdefault(asyncio.get_running_loop(), {})
    pacer = per_loop.get((stream, rate))
    if pacer is None:
        pacer = per_loop[(stream, rate)] = _CallPacer(rate)
    return pacer
