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


# -- hypothesis strategies derived from the shape table ------------------------------------------

import re  # noqa: E402

from hypothesis import strategies as st  # noqa: E402

from kvs_async.javaregex import compile_java, java_to_regex  # noqa: E402

_UTC_DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC),
)


# Stand-ins for Unicode properties, so ``re`` (which hypothesis generates from) can read the
# translated pattern; every drawn string is then checked by the real (``regex``) pattern.
_PROPERTY_SAMPLES = {
    "L": "a-zA-Z\u00e0-\u00f6\u0100-\u017f\u4e00-\u4e0f",
    "Lu": "A-Z\u00c0-\u00d6",
    "Ll": "a-z\u00e0-\u00f6",
    "N": "0-9\u0660-\u0669\u2160-\u2163",
    "Nd": "0-9\u0660-\u0669",
    "Z": " \u00a0\u2000-\u2003",
    "Zs": " \u00a0\u2000-\u2003",
    "M": "\u0300-\u0307",
    "P": "!-#%-*,-/:;?@\\[-\\]_{}\u00a1",
    "S": "$+<->^`|~\u00a2",
    "C": "\x00-\x1f",
}


_ONE_CLASS_REPEATED = re.compile(r"^(\^?)(\[(?:[^\]\\]|\\.)+\])[+*](\$?)$")


def pattern_strategy(
    java: str, lo: float | None = None, hi: float | None = None
) -> st.SearchStrategy[str]:
    """Strings the Java pattern accepts: drawn from an ``re`` reading of its translation
    (properties replaced by samples), kept only when the real pattern matches them.
    ``lo``/``hi`` (the shape's length bounds) are folded into a lone ``[...]+`` so that
    fixed-length values (``[a-f0-9\\-]+`` with min = max = 36) are drawn, not filtered."""
    ours = compile_java(java)
    source = re.sub(
        r"\\[pP]\{([^}]*)\}",
        lambda m: _PROPERTY_SAMPLES.get(m.group(1), "a-z"),
        java_to_regex(java),
    )
    single = _ONE_CLASS_REPEATED.match(source)
    if single and (lo or hi):
        low = int(lo or 0)
        high = int(hi) if hi is not None else low + 12
        source = (
            f"{single.group(1)}{single.group(2)}{{{low},{min(high, low + 12)}}}{single.group(3)}"
        )
    try:
        drawn = st.from_regex(re.compile(source), fullmatch=True)
    except (re.error, ValueError):
        drawn = st.text(max_size=12)
    return drawn.filter(lambda v: ours.fullmatch(v) is not None)


def _bounded(s: ShapeSpec, cap: int) -> tuple[int, int]:
    lo = int(s.min) if s.min is not None else 0
    hi = int(s.max) if s.max is not None else lo + cap
    return lo, max(lo, min(hi, lo + cap))


_STRATEGIES: dict[tuple[int, str, int], st.SearchStrategy[Any]] = {}


def strategy(
    shapes: Mapping[str, ShapeSpec], shape_name: str, *, depth: int = 0
) -> st.SearchStrategy[Any]:
    """Valid values of ``shape_name`` per the model (enums, patterns, sizes, nesting)."""
    key = (id(shapes), shape_name, min(depth, 5))
    found = _STRATEGIES.get(key)
    if found is None:
        # A recursive model reaches this key again while building it: defer to the result.
        built: list[st.SearchStrategy[Any]] = []
        _STRATEGIES[key] = st.deferred(lambda: built[0])
        built.append(_strategy(shapes, shape_name, depth))
        found = _STRATEGIES[key] = built[0]
    return found


def _strategy(
    shapes: Mapping[str, ShapeSpec], shape_name: str, depth: int
) -> st.SearchStrategy[Any]:
    s = shapes[shape_name]
    if s.type in ("string", "character"):
        if s.enum:
            members = list(s.cls) if s.cls is not None else []
            return st.sampled_from([*s.enum, *members])
        lo, hi = _bounded(s, 12)
        if s.pattern:
            return pattern_strategy(s.pattern, s.min, s.max).filter(
                lambda v: (s.min is None or len(v) >= s.min) and (s.max is None or len(v) <= s.max)
            )
        return st.text(min_size=lo, max_size=hi)
    if s.type in _INT:
        lo = int(s.min) if s.min is not None else -(2**31)
        hi = int(s.max) if s.max is not None else 2**31
        return st.integers(lo, hi)
    if s.type in ("float", "double"):
        return st.floats(
            min_value=s.min, max_value=s.max, allow_nan=False, allow_infinity=False, width=32
        )
    if s.type == "boolean":
        return st.booleans()
    if s.type == "timestamp":
        return _UTC_DATETIMES
    if s.type == "blob":
        lo, hi = _bounded(s, 16)
        return st.binary(min_size=lo, max_size=hi)
    if s.type == "list":
        assert s.member is not None
        lo, hi = _bounded(s, 3 if depth < 3 else 0)
        if hi == 0:
            return st.just([])  # deep in a recursive model: do not build the item strategy
        return st.lists(strategy(shapes, s.member, depth=depth + 1), min_size=lo, max_size=hi)
    if s.type == "map":
        assert s.key is not None and s.value is not None
        lo, hi = _bounded(s, 3 if depth < 3 else 0)
        if hi == 0:
            return st.just({})
        return st.dictionaries(
            strategy(shapes, s.key, depth=depth + 1),
            strategy(shapes, s.value, depth=depth + 1),
            min_size=lo,
            max_size=hi,
        )
    if s.type == "structure" and s.union:
        assert s.cls is not None
        cls = s.cls
        members = [
            m for m in s.members if depth < 3 or shapes[m.shape].type not in ("list", "map")
        ] or list(s.members)
        if depth >= 4:  # deep in a recursive union: prefer members that end the recursion
            flat = [m for m in members if shapes[m.shape].type != "structure"]
            members = flat or members
        choices = [
            st.builds(
                lambda v, _n=m.name: cls(**{_n: v}), strategy(shapes, m.shape, depth=depth + 1)
            )
            for m in members
        ]
        return st.one_of(choices) if choices else st.nothing()
    if s.type == "structure":
        assert s.cls is not None
        kwargs: dict[str, st.SearchStrategy[Any]] = {}
        for m in s.members:
            if m.location == "statusCode":
                continue
            if m.wire in s.required or m.idempotency_token:
                kwargs[m.name] = strategy(shapes, m.shape, depth=depth + 1)
            elif depth >= 4:
                kwargs[m.name] = st.none()
            else:
                kwargs[m.name] = st.none() | strategy(shapes, m.shape, depth=depth + 1)
        return st.builds(s.cls, **kwargs)
    raise AssertionError(f"no strategy for {s.type}")
