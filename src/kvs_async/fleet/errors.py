"""The fleet's errors: one family under KvsError, each naming the stream and what to do."""

from __future__ import annotations

from ..errors import KvsError

__all__ = ["CoordinationError", "LeaseLostError", "StaleFenceError"]


class CoordinationError(KvsError):
    """Redis (or the checkpoint file) could not be reached or refused the call; retried later."""


class StaleFenceError(KvsError):
    """A checkpoint write carried a fence older than the stored one: the lease moved on."""

    def __init__(self, consumer: str, stream: str, fence: int) -> None:
        super().__init__(
            f"checkpoint of {consumer!r} in stream {stream!r} refused: fence {fence} is older "
            "than the stored one (another worker holds the lease now)"
        )
        self.consumer = consumer
        self.stream = stream
        self.fence = fence


class LeaseLostError(KvsError):
    """This worker no longer holds the lease of ``stream``: stop reading it."""

    def __init__(self, stream: str, reason: str) -> None:
        super().__init__(f"lease of stream {stream!r} lost: {reason}")
        self.stream = stream
        self.reason = reason
