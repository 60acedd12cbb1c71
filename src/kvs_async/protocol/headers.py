"""HTTP header forms: list splitting and quoting, and refusing values that would split a request."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import ParamValidationError


def split_header_list(value: str) -> list[str]:
    """Split a header list on commas outside double quotes, unquoting quoted items."""
    if '"' not in value:
        return [v.strip() for v in value.split(",")]
    items: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(value):
        c = value[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and quoted and i + 1 < len(value):
            i += 1
            buf.append(value[i])
        elif c == "," and not quoted:
            items.append("".join(buf).strip())
            buf = []
        else:
            buf.append(c)
        i += 1
    items.append("".join(buf).strip())
    return items


def header_safe(attr: str, text: str) -> str:
    """Refuse CR, LF and NUL in header names/values: they would split or corrupt the request."""
    if "\r" in text or "\n" in text or "\x00" in text:
        raise ParamValidationError(attr, "header_value", "contains CR, LF or NUL")
    return text


def split_http_dates(value: str) -> list[str]:
    """Split a header list of HTTP dates, whose items contain a comma themselves."""
    return [v.strip() for v in re.split(r"(?<=GMT)\s*,\s*", value) if v.strip()]


def escape_header_item(value: str) -> str:
    if '"' in value or "," in value:
        return '"' + value.replace('"', '\\"') + '"'
    return value


def has_header(headers: Mapping[str, str], lower_name: str) -> bool:
    return any(k.lower() == lower_name for k in headers)
