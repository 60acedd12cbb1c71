"""What a fleet worker reports: per worker and per held stream (``Fleet.status()``)."""

from __future__ import annotations

import time
from typing import Any

from attrs import asdict, define, field

__all__ = ["FleetStatus", "StreamState", "StreamStatus"]


@define(slots=True, kw_only=True)
class StreamState:
    """The mutable counters a reader keeps; :meth:`snapshot` freezes them for callers."""

    stream: str
    fence: int
    acquired_at: float
    state: str = "starting"
    chunks: int = 0
    duplicates_skipped: int = 0
    handler_failures: int = 0
    chunks_failed: int = 0
    resumes: int = 0
    last_fragment: str | None = None
    last_server_time: float | None = None
    last_checkpoint: str | None = None
    last_checkpoint_at: float | None = None
    last_error: str | None = None

    def snapshot(self) -> StreamStatus:
        now = time.time()
        lag = None if self.last_server_time is None else max(0.0, now - self.last_server_time)
        return StreamStatus(
            stream=self.stream,
            fence=self.fence,
            state=self.state,
            held_for=max(0.0, now - self.acquired_at),
            chunks=self.chunks,
            handler_failures=self.handler_failures,
            chunks_failed=self.chunks_failed,
            resumes=self.resumes,
            last_fragment=self.last_fragment,
            lag_seconds=lag,
            last_checkpoint=self.last_checkpoint,
            last_checkpoint_at=self.last_checkpoint_at,
            last_error=self.last_error,
        )


@define(frozen=True, slots=True, kw_only=True)
class StreamStatus:
    """One held stream: lease fence, progress, lag behind now, last checkpoint, resumes."""

    stream: str
    fence: int
    state: str  # starting | reading | handling | retrying | stopping
    held_for: float
    chunks: int
    handler_failures: int
    chunks_failed: int
    resumes: int
    last_fragment: str | None
    lag_seconds: float | None  # now minus the server timestamp of the last chunk handled
    last_checkpoint: str | None
    last_checkpoint_at: float | None
    last_error: str | None


@define(frozen=True, slots=True, kw_only=True)
class FleetStatus:
    """One worker: its share of the group and the streams it holds."""

    worker: str
    consumer: str
    running: bool
    coordinator_ok: bool  # the last lease round reached Redis
    workers: int
    known_streams: int
    target: int
    held: tuple[StreamStatus, ...] = field(factory=tuple)
    acquired: int = 0
    released: int = 0
    lost: int = 0
    handler_failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
