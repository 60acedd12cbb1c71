"""The one error family the Matroska parser raises: anything else escaping it is a bug."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

from ..errors import KvsError

if TYPE_CHECKING:
    from .model import Chunk


class MkvParseError(KvsError):
    """The bytes are not a Matroska stream we can read, or they break a configured limit.

    `offset` is the absolute stream offset where the problem was found and `path` the names of
    the elements open there, outermost first (for example `("Segment", "Cluster")`).

    Nothing parsed before the error is lost: `chunks` holds the chunks the failing `feed()` (or
    `close()`) had completed before it, `events` what `feed_events()` had (frame events and
    chunks, in order). They are carried once: the same error raised again by a later call on
    the failed parser carries none.
    """

    chunks: list[Chunk]
    events: list[Any]

    def __init__(self, message: str, *, offset: int, path: Sequence[str] = ()) -> None:
        self.message = message
        self.offset = offset
        self.path = tuple(path)
        self.chunks = []
        self.events = []
        where = "/".join(self.path) or "top level"
        super().__init__(f"{message} (at byte {offset}, in {where})")

    def again(self) -> Self:
        """The same error for a later call: same type, message and place, no results carried."""
        repeat = type(self).__new__(type(self), *self.args)
        repeat.__dict__.update(self.__dict__)
        repeat.chunks = []
        repeat.events = []
        if isinstance(repeat, MkvTruncatedError):
            repeat.partial = None
        return repeat


class MkvFormatError(MkvParseError):
    """Malformed EBML: a bad VINT, an ID longer than 4 bytes, a child larger than its parent..."""


class MkvLimitError(MkvParseError):
    """An element or the buffered data went beyond the limits the parser was created with."""


class MkvTruncatedError(MkvParseError):
    """The stream ended in the middle of an element or of a GetMedia fragment.

    `chunks` are the complete chunks the final `close()` still had to return (they are not lost);
    `partial` is what was parsed of the unfinished one (its `raw` holds the bytes received), or
    None when nothing of a chunk had begun (or for the event-level reader).
    """

    def __init__(
        self,
        message: str,
        *,
        offset: int,
        path: Sequence[str] = (),
        partial: Chunk | None = None,
        chunks: Sequence[Chunk] = (),
    ) -> None:
        super().__init__(message, offset=offset, path=path)
        self.partial = partial
        self.chunks = list(chunks)
