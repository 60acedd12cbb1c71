"""Where a media stream stands: what to ask for next, and what was already handed over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from .._http import ByteStream
from ..mkv import Chunk

if TYPE_CHECKING:
    from ..kinesis_video_media import StartSelector


class _Cursor(Protocol):
    """Where a media stream stands: what to ask for next and what was already handed over."""

    stream: str
    operation: str

    def open(self) -> Awaitable[ByteStream]: ...

    def accept(self, chunk: Chunk) -> bool:
        """Record a complete chunk; False when it was handed over before."""
        ...

    def handed_over(self, fragment_number: str) -> bool:
        """Whether that fragment was already handed over whole (its frames are duplicates)."""
        ...

    @property
    def resumable(self) -> bool: ...

    @property
    def finished(self) -> bool: ...

    @property
    def follows(self) -> bool:
        """Whether a response that ends with nothing new is normal (a live tail)."""
        ...

    @property
    def token(self) -> str | None: ...


class _LiveCursor:
    """GetMedia: resume from the last continuation token, else the caller's selector."""

    operation = "GetMedia"

    def __init__(
        self,
        stream: str,
        selector: StartSelector,
        call: Callable[[StartSelector], Awaitable[ByteStream]],
    ) -> None:
        self.stream = stream
        self._selector = selector
        self._call = call
        self._token: str | None = None
        self._last: int | None = None
        self._untokened = False

    def open(self) -> Awaitable[ByteStream]:
        selector = self._selector
        if self._token is not None:
            selector = type(selector)(
                start_selector_type="CONTINUATION_TOKEN", continuation_token=self._token
            )
        return self._call(selector)

    def handed_over(self, fragment_number: str) -> bool:
        number = _fragment_int(fragment_number)
        return number is not None and self._last is not None and number <= self._last

    def accept(self, chunk: Chunk) -> bool:
        number = _fragment_int(chunk.fragment_number)
        if number is not None:
            if self._last is not None and number <= self._last:
                return False
            self._last = number
        if chunk.continuation_token:
            self._token = chunk.continuation_token
            self._untokened = False
        else:
            self._untokened = True
        return True

    @property
    def resumable(self) -> bool:
        # After a chunk without a token the server cannot be asked for "what comes next".
        return not self._untokened

    @property
    def finished(self) -> bool:
        return False

    @property
    def follows(self) -> bool:
        return True

    @property
    def token(self) -> str | None:
        return self._token

    def restore(self, token: str | None, fragment_number: str | None) -> None:
        """Start after a saved position: its token, else its fragment (dropped on arrival)."""
        if token:
            self._token = token
        elif fragment_number:
            self._selector = type(self._selector)(
                start_selector_type="FRAGMENT_NUMBER", after_fragment_number=fragment_number
            )
        self._last = _fragment_int(fragment_number)


class _ListCursor:
    """GetMediaForFragmentList: resume by asking again for the fragments not yet received."""

    operation = "GetMediaForFragmentList"

    def __init__(
        self,
        stream: str,
        fragments: Sequence[str],
        call: Callable[[list[str]], Awaitable[ByteStream]],
    ) -> None:
        self.stream = stream
        self._wanted = list(fragments)
        self._seen: set[str] = set()
        self._call = call
        self._untokened = False

    def open(self) -> Awaitable[ByteStream]:
        return self._call([f for f in self._wanted if f not in self._seen])

    def handed_over(self, fragment_number: str) -> bool:
        return fragment_number in self._seen

    def accept(self, chunk: Chunk) -> bool:
        number = chunk.fragment_number
        if number is None:
            self._untokened = True
            return True
        if number in self._seen:
            return False
        self._seen.add(number)
        return True

    @property
    def resumable(self) -> bool:
        return not self._untokened

    @property
    def finished(self) -> bool:
        return all(f in self._seen for f in self._wanted)

    @property
    def follows(self) -> bool:
        return False

    @property
    def token(self) -> str | None:
        return None


def _fragment_int(number: str | None) -> int | None:
    if number is None:
        return None
    try:
        return int(number)
    except ValueError:
        return None
