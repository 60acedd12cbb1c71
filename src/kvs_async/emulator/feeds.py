"""What the emulator hands out about stored media: fragment views and lazy media bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

from attrs import define

from .media import ReadOutcome
from .storage import FragmentRecord


@define(frozen=True, slots=True, kw_only=True)
class FragmentInfo:
    """What the emulator stored for one fragment (the ListFragments view, plus the token)."""

    fragment_number: str
    server_timestamp: float
    producer_timestamp: float
    duration_ms: int
    size: int
    timecode_ms: int

    @property
    def continuation_token(self) -> str:
        return self.fragment_number

    @classmethod
    def of(cls, rec: FragmentRecord) -> FragmentInfo:
        return cls(
            fragment_number=rec.number_str,
            server_timestamp=rec.server_ts,
            producer_timestamp=rec.producer_ts,
            duration_ms=rec.duration_ms,
            size=rec.size,
            timecode_ms=rec.timecode_ms,
        )


class MediaFeed:
    """The bytes of one media response, produced lazily; ``reason`` says why it ended."""

    def __init__(self, gen: AsyncIterator[bytes], outcome: ReadOutcome) -> None:
        self._gen = gen
        self._outcome = outcome

    @property
    def reason(self) -> str:
        return self._outcome.reason

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._gen

    async def aclose(self) -> None:
        aclose = getattr(self._gen, "aclose", None)
        if aclose is not None:
            await aclose()
