"""Which streams a fleet reads: a fixed list, or ListStreams by name prefix (and tags)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..kinesisvideo import KinesisVideoClient

__all__ = ["ListStreamsDiscovery", "StaticStreams", "StreamDiscovery"]

_READABLE = ("ACTIVE", "UPDATING")


@runtime_checkable
class StreamDiscovery(Protocol):
    """A source of stream names; ``interval`` is how often to ask again (None: never)."""

    interval: float | None

    async def streams(self, control: KinesisVideoClient) -> list[str]: ...


class StaticStreams:
    """The fixed list given to ``Fleet(streams=[...])``."""

    interval: float | None = None

    def __init__(self, names: Sequence[str]) -> None:
        if isinstance(names, str):
            raise TypeError("streams must be a list of names, not one string")
        self.names = sorted(dict.fromkeys(names))

    def __repr__(self) -> str:
        return f"StaticStreams({len(self.names)} streams)"

    async def streams(self, control: KinesisVideoClient) -> list[str]:
        return list(self.names)


class ListStreamsDiscovery:
    """Active streams whose name starts with ``prefix`` and that carry every tag in ``tags``.

    Asked again every ``interval`` seconds, so new cameras are picked up and deleted
    ones dropped. Tags need one ListTagsForStream call per stream and refresh.
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        tags: Mapping[str, str] | None = None,
        interval: float = 30.0,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"discovery interval must be positive, got {interval!r}")
        self.prefix = prefix
        self.tags = dict(tags or {})
        self.interval: float | None = interval

    def __repr__(self) -> str:
        return f"ListStreamsDiscovery(prefix={self.prefix!r}, tags={self.tags}, interval={self.interval})"

    async def streams(self, control: KinesisVideoClient) -> list[str]:
        from ..kinesisvideo import StreamNameCondition

        condition = (
            StreamNameCondition(comparison_operator="BEGINS_WITH", comparison_value=self.prefix)
            if self.prefix
            else None
        )
        names: list[str] = []
        async for page in control.paginate_list_streams(stream_name_condition=condition):
            for info in page.stream_info_list or ():
                if info.stream_name and str(info.status or "ACTIVE") in _READABLE:
                    names.append(info.stream_name)
        if self.tags:
            names = [n for n in names if await self._tagged(control, n)]
        return sorted(set(names))

    async def _tagged(self, control: KinesisVideoClient, name: str) -> bool:
        from ..errors import ServiceError

        try:
            out = await control.list_tags_for_stream(stream_name=name)
        except ServiceError as exc:
            if exc.code == "ResourceNotFoundException":
                return False
            raise
        tags = out.tags or {}
        return all(tags.get(k) == v for k, v in self.tags.items())
