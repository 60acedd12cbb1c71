"""The event level's records: a master element begins or ends, a whole leaf with its value."""

from __future__ import annotations

from attrs import define

__all__ = ["Event", "Leaf", "MasterEnd", "MasterStart"]


@define(frozen=True, slots=True, kw_only=True)
class MasterStart:
    """A master element begins. `size` is None for unknown size; `depth` counts open parents."""

    id: int
    name: str
    offset: int
    header_size: int
    size: int | None
    depth: int


@define(frozen=True, slots=True, kw_only=True)
class MasterEnd:
    """A master element ends at stream offset `end` (`offset` is where it began)."""

    id: int
    name: str
    offset: int
    end: int
    depth: int


@define(frozen=True, slots=True, kw_only=True)
class Leaf:
    """A whole leaf element with its decoded value (int, float, str, datetime or bytes)."""

    id: int
    name: str
    offset: int
    header_size: int
    size: int
    depth: int
    value: object


Event = MasterStart | MasterEnd | Leaf
