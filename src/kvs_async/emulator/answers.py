"""What every emulated operation shares: the error it raises and how lists page.

Handlers raise :class:`ApiError` (wire code, message, HTTP status); ``server`` sends it
as AWS does. Page tokens are opaque base64 JSON naming the last key handed out.
"""

from __future__ import annotations

import base64
import json
from typing import Any

#: A request or response, or stored state, in wire form (the model's member names).
Wire = dict[str, Any]


class ApiError(Exception):
    """An AWS error response: wire code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def not_found(what: str = "stream") -> ApiError:
    return ApiError(
        "ResourceNotFoundException", f"The requested {what} is not found or not active.", 404
    )


def invalid(message: str) -> ApiError:
    return ApiError("InvalidArgumentException", message, 400)


def encode_token(position: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": position}).encode()).decode()


def decode_token(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["after"])
    except Exception:
        raise invalid(f"NextToken {token[:40]!r} is not a token this service issued") from None


def paginate(
    items: list[Wire], key: str, params: Wire, default_max: int
) -> tuple[list[Wire], Wire]:
    """Slice a name-sorted list by NextToken/MaxResults; returns (page, {"NextToken"?})."""
    items = sorted(items, key=lambda i: str(i[key]))
    token = params.get("NextToken")
    if token:
        after = decode_token(token)
        items = [i for i in items if str(i[key]) > after]
    limit = int(params.get("MaxResults") or default_max)
    page = items[:limit]
    extra: Wire = {}
    if len(items) > limit and page:
        extra["NextToken"] = encode_token(str(page[-1][key]))
    return page, extra
