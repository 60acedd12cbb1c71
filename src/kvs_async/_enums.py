"""The base of every generated enum: known values are members, unknown ones still arrive.

AWS adds enum values without notice. A field declared with an enum type holds that
enum at runtime either way: an unknown value becomes a *pseudo-member* made by
``_missing_`` (the way ``enum.Flag`` makes its combinations): an instance of the enum
that is equal to its string, named by it, and not listed by iteration. Input
validation still refuses values the model does not list.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

# Pseudo-members kept per enum, so repeated unknown values are one object each; beyond
# this many distinct values new ones are made fresh (bounded memory for hostile input).
_CACHE_LIMIT = 64


class OpenStrEnum(StrEnum):
    """A StrEnum that accepts values it does not list (``Status("NEW")`` is a Status)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        cached = cls._value2member_map_.get(value)
        if cached is not None:
            return cached
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        if len(cls._value2member_map_) - len(cls._member_map_) < _CACHE_LIMIT:
            cls._value2member_map_[value] = member
        return member

    @property
    def known(self) -> bool:
        """Whether the model lists this value (False for a pseudo-member)."""
        return type(self)._member_map_.get(self._name_) is self


E = TypeVar("E", bound=OpenStrEnum)


def coerce(cls: type[E], value: object) -> E:
    """The field converter of generated enums: a member (or pseudo-member) for a string.

    Anything else (``None``, a number) passes through unchanged, so that validation
    reports it ("required" or "type", naming the member) instead of failing here.
    """
    if not isinstance(value, str) or isinstance(value, cls):
        return value  # type: ignore[return-value]
    return cls(value)
