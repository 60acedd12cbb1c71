"""What ``get_media(checkpoint=..., consumer=...)`` does with a checkpoint store.

The stream starts after the saved position when there is one. A chunk's position
is saved once the consumer is done with it: when the consumer asks for the next
chunk, or calls ``await stream.commit()``. So a crash repeats at most the chunk
that was being processed, and never skips one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ParamValidationError

if TYPE_CHECKING:
    from ..mkv import Chunk
    from .checkpoints import CheckpointStore

__all__ = ["StreamCheckpointer"]

Restore = Callable[[str | None, str | None], None]


class StreamCheckpointer:
    """Loads and saves one (consumer, stream) position for a :class:`~kvs_async.MediaStream`."""

    def __init__(
        self,
        store: CheckpointStore,
        consumer: str | None,
        stream: str,
        *,
        restore: Restore,
    ) -> None:
        if not consumer:
            raise ParamValidationError(
                "consumer", "required", "get_media(checkpoint=...) needs consumer='name'"
            )
        self.store = store
        self.consumer = consumer
        self.stream = stream
        self._restore = restore
        self._loaded = False
        self._pending: tuple[str | None, str | None] | None = None
        #: The (continuation token, fragment number) last saved or loaded.
        self.committed: tuple[str | None, str | None] | None = None
        self.saves = 0

    def __repr__(self) -> str:
        return f"StreamCheckpointer({self.consumer!r}, {self.stream!r}, committed={self.committed})"

    async def advance(self) -> None:
        """Before the next chunk: load the saved position once, then save the last one handed over."""
        if not self._loaded:
            saved = await self.store.get(self.consumer, self.stream)
            self._loaded = True
            if saved is not None and saved.has_position:
                self.committed = (saved.continuation_token, saved.fragment_number)
                self._restore(saved.continuation_token, saved.fragment_number)
            return
        await self.commit()

    def delivered(self, chunk: Chunk) -> None:
        """A chunk was handed to the consumer: its position is saved when the consumer is done."""
        if chunk.continuation_token or chunk.fragment_number:
            self._pending = (chunk.continuation_token, chunk.fragment_number)

    async def commit(self) -> None:
        """Save the position of the last chunk handed over (no-op when already saved)."""
        pending = self._pending
        if pending is None:
            return
        token, fragment = pending
        await self.store.put(
            self.consumer, self.stream, continuation_token=token, fragment_number=fragment
        )
        if self._pending is pending:
            self._pending = None
        self.committed = pending
        self.saves += 1
