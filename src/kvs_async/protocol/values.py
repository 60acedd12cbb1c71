"""Scalar conversions shared by every protocol: timestamps, floats, blobs, text forms.

Each function turns one Python value into its wire form or back; the codecs pick
them per shape once, when they compile their plans.
"""

from __future__ import annotations

import base64
import calendar
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

Fn = Callable[[Any], Any]

INT_TYPES = frozenset({"integer", "long", "byte", "short"})
FLOAT_TYPES = frozenset({"float", "double"})


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise TypeError(f"not a timestamp: {value!r}")


def ts_unix(value: Any) -> int | float:
    """Epoch seconds as botocore sends them: an int, or a float carrying the microseconds."""
    dt = _aware(value)
    seconds = calendar.timegm(dt.utctimetuple())
    if dt.microsecond:
        # Add as integers first so the float is rounded once (botocore does the same).
        return (seconds * 10**6 + dt.microsecond) / 10**6
    return seconds


def ts_iso8601(value: Any) -> str:
    dt = _aware(value).astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_rfc822(value: Any) -> str:
    return formatdate(calendar.timegm(_aware(value).utctimetuple()), usegmt=True)


TS_WRITERS: dict[str, Fn] = {"unixtimestamp": ts_unix, "iso8601": ts_iso8601, "rfc822": ts_rfc822}


def parse_timestamp(value: Any) -> datetime:
    """Lenient, as botocore: epoch numbers (or numeric strings), ISO 8601, RFC 822/7231."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise ValueError(f"unrecognised timestamp {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def float_out(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def float_in(value: Any) -> float:
    return float(value)


def b64(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode()
    return base64.b64encode(bytes(value)).decode("ascii")


def unb64(value: Any) -> bytes:
    return base64.b64decode(value)


def bool_text(value: Any) -> str:
    return "true" if value else "false"


def query_text(value: Any) -> str:
    """A query value as botocore writes it (booleans lower-case, special floats spelled)."""
    if isinstance(value, bool):
        return bool_text(value)
    if isinstance(value, float):
        return str(float_out(value))
    return str(value)


def enum_parser(cls: type[Any]) -> Fn:
    """Wire string -> enum member; unknown values become pseudo-members (``_missing_``)."""
    known: Mapping[str, Any] = cls._value2member_map_

    def parse(value: Any) -> Any:
        member = known.get(value)
        return member if member is not None else cls(value)

    return parse


def list_of(item: Fn | None) -> Fn:
    """A list converter from its item's (``None``: items pass through as they are)."""
    if item is None:
        return list
    return lambda value: [None if v is None else item(v) for v in value]


def map_of(val: Fn | None) -> Fn:
    """A map converter from its value's (``None``: values pass through as they are)."""
    if val is None:
        return dict
    return lambda value: {k: None if v is None else val(v) for k, v in value.items()}


def json_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
