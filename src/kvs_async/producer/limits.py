"""The documented PutMedia quotas, checked and paced on the client side.

From the KVS service quotas page: five PutMedia calls per second per stream, five fragments per
second, 12.5 MB/s per connection, fragments of at most 50 MB and 20 s, at most three tracks.
Rates are paced (the producer waits); a fragment that breaks a size or duration rule is refused
with :class:`~kvs_async.producer.FragmentRejectedError` before a byte of it is sent.
"""

from __future__ import annotations

import asyncio
import math
import time

from attrs import define

__all__ = ["PutMediaLimits", "RatePacer"]


@define(frozen=True, slots=True, kw_only=True)
class PutMediaLimits:
    """Client-side limits (defaults: the KVS quotas). ``math.inf`` turns a rate off."""

    calls_per_second: float = 5
    fragments_per_second: float = 5
    bytes_per_second: float = 12_500_000
    max_fragment_size: int = 50_000_000
    max_fragment_duration_ms: int = 20_000
    max_tracks: int = 3

    def __attrs_post_init__(self) -> None:
        for name in ("calls_per_second", "fragments_per_second", "bytes_per_second"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PutMediaLimits.{name} must be positive")
        if self.max_fragment_size <= 0 or self.max_fragment_duration_ms <= 0:
            raise ValueError("PutMediaLimits sizes and durations must be positive")

    @classmethod
    def unlimited(cls) -> PutMediaLimits:
        """No pacing and no size/duration refusals (an emulator, a benchmark)."""
        return cls(
            calls_per_second=math.inf,
            fragments_per_second=math.inf,
            bytes_per_second=math.inf,
            max_fragment_size=1 << 62,
            max_fragment_duration_ms=1 << 62,
            max_tracks=1 << 16,
        )


class RatePacer:
    """A token bucket holding one second of ``rate``: ``await take(n)`` waits for ``n`` tokens.

    A take larger than the bucket is allowed and leaves it in debt, so the long-run rate holds
    for any item size.
    """

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate) if math.isfinite(rate) else math.inf
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    async def take(self, n: float = 1.0) -> None:
        if not math.isfinite(self._rate):
            return
        while True:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            need = min(n, self._capacity)
            if self._tokens >= need:
                self._tokens -= n
                return
            await asyncio.sleep((need - self._tokens) / self._rate)
