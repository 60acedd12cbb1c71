"""Shared helpers for the codegen tests: params <-> shape instances, inline model modules."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the generator package lives at the repo root
    sys.path.insert(0, str(ROOT))

from kvs_async._model import ShapeSpec  # noqa: E402

_INT = {"integer", "long", "byte", "short"}


def from_params(shapes: Mapping[str, ShapeSpec], shape_name: str, value: Any) -> Any:
    """botocore-style params (wire member names, epoch timestamps, str blobs) -> our objects."""
    s = shapes[shape_name]
    if value is None:
        return None
    if s.type == "structure":
        if s.document or s.cls is None:
            return value
        by_wire = {m.wire: m for m in s.members}
        kwargs: dict[str, Any] = {m.name: None for m in s.members if m.wire in s.required}
        for key, v in value.items():
            m = by_wire[key]
            kwargs[m.name] = from_params(shapes, m.shape, v)
        return s.cls(**kwargs)
    if s.type == "list":
        assert s.member is not None
        return [from_params(shapes, s.member, v) for v in value]
    if s.type == "map":
        assert s.value is not None
        return {k: from_params(shapes, s.value, v) for k, v in value.items()}
    if s.type == "timestamp":
        if isinstance(value, datetime):
            return value
        return datetime.fromtimestamp(value, UTC)
    if s.type == "blob":
        return value.encode() if isinstance(value, str) else value
    if s.type in ("float", "double"):
        return float(value)
    return value


def to_params(shapes: Mapping[str, ShapeSpec], shape_name: str, value: Any) -> Any:
    """Our objects -> botocore params (wire member names, datetimes, bytes kept)."""
    s = shapes[shape_name]
    if value is None:
        return None
    if s.type == "structure":
        if s.document or s.cls is None:
            return value
        out: dict[str, Any] = {}
        for m in s.members:
            v = getattr(value, m.name)
            if v is not None:
                out[m.wire] = to_params(shapes, m.shape, v)
        return out
    if s.type == "list":
        assert s.member is not None
        return [to_params(shapes, s.member, v) for v in value]
    if s.type == "map":
        assert s.value is not None
        return {k: to_params(shapes, s.value, v) for k, v in value.items()}
    if s.type == "string":
        return str(value)
    return value


def to_result(
    shapes: Mapping[str, ShapeSpec], shape_name: str, value: Any, top: bool = True
) -> Any:
    """Our parsed objects -> the normalised form the conformance ``result`` uses."""
    s = shapes[shape_name]
    if value is None:
        return None
    if s.type == "structure":
        if s.document or s.cls is None:
            return value
        out: dict[str, Any] = {}
        for m in s.members:
            v = getattr(value, m.name)
            if v is not None:
                out[m.wire] = to_result(shapes, m.shape, v, top=False)
        unknown = getattr(value, "sdk_unknown_member", None)
        if unknown is not None:
            out["SDK_UNKNOWN_MEMBER"] = {"name": unknown}
        return out
    if s.type == "list":
        assert s.member is not None
        return [to_result(shapes, s.member, v, top=False) for v in value]
    if s.type == "map":
        assert s.value is not None
        return {k: to_result(shapes, s.value, v, top=False) for k, v in value.items()}
    if s.type == "timestamp":
        return value.timestamp()
    if s.type == "blob":
        return bytes(value).decode()
    if s.type in ("float", "double") and isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    if s.type == "string" and isinstance(value, str):
        return str(value)
    return value
