"""The one error family the Matroska parser raises: anything else escaping it is a bug."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import KvsError

if TYPE_CHECKING:
    from .chunks import Chunk


class MkvParseError(KvsError):
    """The bytes are not a Matroska stream we can read, or they break a configured limit.

    `offset` is the absolute stream offset where the problem was found and `path` the names of
    the elements open there, outermost first (for example `("Segment", "Cluster")`).
    """

    def __init__(self, message: str, *, offset: int, path: Sequence[str] = ()) -> None:
        self.message = message
        self.offset = offset
        self.path = tuple(path)
        where = "/".join(self.path) or "top level"
        super().__init__(f"{message} (at byte {offset}, in {where})")


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
        self.chunks: list[Chunk] = list(chunks)
