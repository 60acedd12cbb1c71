"""A bound on how deeply a request's JSON may nest, checked before anything parses it.

The deepest input shape of the six models nests about ten levels; a body nested
100,000 levels deep is an attack, and must get a 400 rather than exhaust the parser's
recursion. The check runs in C-speed passes (byte counts, replace, one regex, translate,
accumulate): linear in the body, whatever its shape.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

#: The deepest nesting a request body may have (the models need about ten).
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"[^"]*"')
_OPEN, _CLOSE = b"[{", b"]}"
# translate(): every byte other than a bracket is deleted, then openers become +1, closers -1.
_KEEP = _OPEN + _CLOSE
_DELETE = bytes(b for b in range(256) if b not in _KEEP)
_TABLE = bytes(1 if b in _OPEN else (0xFF if b in _CLOSE else 0) for b in range(256))


def json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``body``'s brackets outside strings nest: exact when above ``limit``.

    A body with at most ``limit`` opening brackets cannot nest deeper and is not scanned
    (its count of openers is returned, an upper bound within the limit). Escaped backslashes and quotes are dropped first, so every remaining quote
    opens or closes a string and strings can be removed by one linear regex.
    """
    openers = body.count(b"[") + body.count(b"{")
    if openers <= limit:
        return openers
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRING.sub(b"", text).translate(_TABLE, _DELETE)
    return max(accumulate(array("b", brackets)), default=0)
