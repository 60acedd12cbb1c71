"""Pagination driven by paginators-1.json: one loop shared by every ``paginate_*`` method."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs

from ._model import OperationSpec


def _get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


async def paginate(client: Any, op: OperationSpec, params: Any) -> AsyncIterator[Any]:
    """Yield each output page, feeding the output token back until the service stops sending one.

    Stops as well when the service repeats the token it was just given, instead of looping forever.
    """
    spec = op.paginator
    if spec is None:
        raise ValueError(f"{op.name} is not paginated")
    seen: tuple[Any, ...] | None = None
    while True:
        page = await client._invoke(op, params)
        yield page
        tokens = tuple(_get_path(page, path) for path in spec.output_token)
        if all(t is None or t == "" for t in tokens) or tokens == seen:
            return
        seen = tokens
        params = attrs.evolve(params, **dict(zip(spec.input_token, tokens, strict=True)))
