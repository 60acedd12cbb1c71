"""Where a consumer stands in each stream, kept outside the process so restarts resume.

A checkpoint is the position of the last chunk a consumer has finished with: its
continuation token (what GetMedia resumes after) and its fragment number (the
fallback when a chunk carried no token). ``fence`` is the lease generation that
last wrote it: :meth:`CheckpointStore.compare_and_set` refuses a writer whose
fence is older, so a worker that lost its lease cannot overwrite a newer
position. Two stores ship: :class:`SqliteCheckpoints` (one file, several
processes on one host) and :class:`RedisCheckpoints` (many hosts).
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from attrs import define

from ..errors import StaleFenceError

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "FencedCheckpoints",
    "StaleFenceError",
]


@define(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """The saved position of ``consumer`` in ``stream``."""

    consumer: str
    stream: str
    continuation_token: str | None
    fragment_number: str | None
    fence: int
    updated_at: float  # epoch seconds

    @property
    def has_position(self) -> bool:
        return self.continuation_token is not None or self.fragment_number is not None


@runtime_checkable
class CheckpointStore(Protocol):
    """Durable positions per (consumer, stream), with a fenced compare-and-set."""

    async def get(self, consumer: str, stream: str) -> Checkpoint | None:
        """The saved checkpoint, or None when the consumer never saved one."""
        ...

    async def put(
        self,
        consumer: str,
        stream: str,
        *,
        continuation_token: str | None,
        fragment_number: str | None = None,
    ) -> None:
        """Save a position unconditionally (a single consumer; the stored fence is kept)."""
        ...

    async def compare_and_set(
        self,
        consumer: str,
        stream: str,
        *,
        fence: int,
        continuation_token: str | None = None,
        fragment_number: str | None = None,
    ) -> bool:
        """Save (or, with no position, only claim) iff ``fence`` >= the stored fence.

        On success the stored fence becomes ``fence``, so older writers are refused
        from then on. Returns False, changing nothing, when the stored fence is newer.
        """
        ...

    async def list(self, consumer: str) -> list[Checkpoint]:
        """Every checkpoint of ``consumer``, by stream name."""
        ...

    async def close(self) -> None: ...


class _StoreBase:
    """Async context management shared by the stores."""

    async def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class FencedCheckpoints:
    """A store seen through one lease: every ``put`` is a compare-and-set with its fence.

    ``get_media(checkpoint=FencedCheckpoints(store, fence), ...)`` is how a fleet worker
    reads a stream it holds: once another worker claimed the stream with a newer fence,
    saving raises :class:`StaleFenceError` instead of moving the checkpoint back.
    """

    def __init__(self, store: CheckpointStore, fence: int) -> None:
        self.store = store
        self.fence = fence

    def __repr__(self) -> str:
        return f"FencedCheckpoints({self.store!r}, fence={self.fence})"

    async def get(self, consumer: str, stream: str) -> Checkpoint | None:
        return await self.store.get(consumer, stream)

    async def put(
        self,
        consumer: str,
        stream: str,
        *,
        continuation_token: str | None,
        fragment_number: str | None = None,
    ) -> None:
        ok = await self.store.compare_and_set(
            consumer,
            stream,
            fence=self.fence,
            continuation_token=continuation_token,
            fragment_number=fragment_number,
        )
        if not ok:
            raise StaleFenceError(consumer, stream, self.fence)

    async def compare_and_set(
        self,
        consumer: str,
        stream: str,
        *,
        fence: int,
        continuation_token: str | None = None,
        fragment_number: str | None = None,
    ) -> bool:
        return await self.store.compare_and_set(
            consumer,
            stream,
            fence=fence,
            continuation_token=continuation_token,
            fragment_number=fragment_number,
        )

    async def list(self, consumer: str) -> list[Checkpoint]:
        return await self.store.list(consumer)

    async def close(self) -> None:
        """The underlying store belongs to its owner: nothing to close here."""
