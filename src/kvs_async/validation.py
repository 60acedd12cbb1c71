"""Input validation from the model's own rules, compiled once per shape.

Rules checked: required members, Python types, min/max (string and blob length,
list and map sizes, number values), enums and patterns. Unlike botocore we also
check ``max``, enums and patterns, because the service does and a refusal before
sending is cheaper and names the member. Patterns are matched against the whole
value (``cam one`` is not a stream name), with Java's semantics (``javaregex``: the
``regex`` package plus a small rewrite of what Java reads differently). A pattern that
cannot be expressed leaves that member unchecked (the generator warns about it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from ._model import ServiceSpec, ShapeSpec
from .errors import ParamValidationError
from .javaregex import JavaPatternError, compile_java

Validator = Callable[[Any, str], None]


def compiled_pattern(pattern: str | None) -> Any:
    """The compiled Java pattern, or None when there is none or it cannot be expressed."""
    if not pattern:
        return None
    try:
        return compile_java(pattern)
    except JavaPatternError:
        return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Validators:
    """Per-service cache of compiled validators, keyed by shape name."""

    def __init__(self, service: ServiceSpec) -> None:
        self.shapes = service.shapes
        self._cache: dict[str, Validator] = {}

    def get(self, shape_name: str) -> Validator:
        fn = self._cache.get(shape_name)
        if fn is None:
            # Placeholder first, so recursive shapes resolve to the finished function.
            self._cache[shape_name] = lambda v, p: self._cache[shape_name](v, p)
            fn = self._build(self.shapes[shape_name])
            self._cache[shape_name] = fn
        return fn

    def _build(self, s: ShapeSpec) -> Validator:
        kind = s.type
        if kind == "structure":
            return self._structure(s)
        if kind == "list":
            return self._list(s)
        if kind == "map":
            return self._map(s)
        if kind in ("string", "character"):
            return self._string(s)
        if kind in ("integer", "long", "byte", "short"):
            return self._number(s, (int,), "an int")
        if kind in ("float", "double"):
            return self._number(s, (int, float), "a number")
        if kind == "boolean":
            return _typed(bool, "a bool")
        if kind == "timestamp":
            return _typed(datetime, "a datetime")
        if kind == "blob":
            return self._blob(s)
        return _anything

    def _structure(self, s: ShapeSpec) -> Validator:
        if s.document:
            return _anything
        cls = s.cls
        plan = [
            (
                m.name,
                m.wire in s.required,
                m.idempotency_token,
                _anything if m.jsonvalue else self._lazy(m.shape),
            )
            for m in s.members
        ]
        union = s.union
        name = s.name

        def check(value: Any, path: str) -> None:
            if cls is not None and not isinstance(value, cls):
                raise ParamValidationError(
                    path, "type", f"expected {name}, got {type(value).__name__}"
                )
            set_count = 0
            for attr, required, token, sub in plan:
                v = getattr(value, attr)
                if v is None:
                    if required and not token:
                        raise ParamValidationError(_join(path, attr), "required", "missing")
                    continue
                set_count += 1
                sub(v, _join(path, attr))
            if union and set_count != 1:
                raise ParamValidationError(
                    path, "union", f"exactly one member must be set, got {set_count}"
                )

        return check

    def _lazy(self, shape_name: str) -> Validator:
        def call(value: Any, path: str) -> None:
            self.get(shape_name)(value, path)

        cached = self._cache.get(shape_name)
        return cached if cached is not None else call

    def _list(self, s: ShapeSpec) -> Validator:
        assert s.member is not None
        item = self._lazy(s.member)
        lo, hi = s.min, s.max

        def check(value: Any, path: str) -> None:
            if not isinstance(value, Sequence) or isinstance(value, str | bytes):
                raise ParamValidationError(
                    path, "type", f"expected a list, got {type(value).__name__}"
                )
            _size(path, len(value), lo, hi, "items")
            for i, v in enumerate(value):
                if v is not None:
                    item(v, f"{path}[{i}]")

        return check

    def _map(self, s: ShapeSpec) -> Validator:
        assert s.key is not None and s.value is not None
        key, val = self._lazy(s.key), self._lazy(s.value)
        lo, hi = s.min, s.max

        def check(value: Any, path: str) -> None:
            if not isinstance(value, Mapping):
                raise ParamValidationError(
                    path, "type", f"expected a mapping, got {type(value).__name__}"
                )
            _size(path, len(value), lo, hi, "items")
            for k, v in value.items():
                sub = f"{path}[{k!r}]"
                key(k, sub)
                if v is not None:
                    val(v, sub)

        return check

    def _string(self, s: ShapeSpec) -> Validator:
        lo, hi = s.min, s.max
        allowed = frozenset(s.enum)
        regex = compiled_pattern(s.pattern)
        pattern = s.pattern
        sensitive = s.sensitive

        def check(value: Any, path: str) -> None:
            if not isinstance(value, str):
                raise ParamValidationError(
                    path, "type", f"expected a str, got {type(value).__name__}"
                )
            _size(path, len(value), lo, hi, "length")
            shown = "value" if sensitive else repr(value)
            if allowed and value not in allowed:
                raise ParamValidationError(
                    path, "enum", f"{shown} is not one of {', '.join(sorted(allowed))}"
                )
            if regex is not None and regex.fullmatch(value) is None:
                raise ParamValidationError(path, "pattern", f"{shown} does not match {pattern}")

        return check

    def _number(self, s: ShapeSpec, types: tuple[type, ...], what: str) -> Validator:
        lo, hi = s.min, s.max

        def check(value: Any, path: str) -> None:
            if isinstance(value, bool) or not isinstance(value, types):
                raise ParamValidationError(
                    path, "type", f"expected {what}, got {type(value).__name__}"
                )
            num = cast(float, value)
            if lo is not None and num < lo:
                raise ParamValidationError(path, "min_value", f"{value} < {lo}")
            if hi is not None and num > hi:
                raise ParamValidationError(path, "max_value", f"{value} > {hi}")

        return check

    def _blob(self, s: ShapeSpec) -> Validator:
        lo, hi = s.min, s.max
        streaming = s.streaming

        def check(value: Any, path: str) -> None:
            if isinstance(value, bytes | bytearray | memoryview):
                _size(path, len(value), lo, hi, "length")
            elif isinstance(value, str):
                _size(path, len(value.encode()), lo, hi, "length")
            elif not (streaming and hasattr(value, "read")):
                raise ParamValidationError(
                    path, "type", f"expected bytes, got {type(value).__name__}"
                )

        return check


def _size(path: str, n: int, lo: float | None, hi: float | None, what: str) -> None:
    if lo is not None and n < lo:
        raise ParamValidationError(path, f"min_{what}", f"{what} {n} < {lo}")
    if hi is not None and n > hi:
        raise ParamValidationError(path, f"max_{what}", f"{what} {n} > {hi}")


def _typed(kind: type, what: str) -> Validator:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, kind):
            raise ParamValidationError(path, "type", f"expected {what}, got {type(value).__name__}")

    return check


def _anything(value: Any, path: str) -> None:
    return None


_VALIDATORS: dict[int, tuple[ServiceSpec, Validators]] = {}


def validators(service: ServiceSpec) -> Validators:
    entry = _VALIDATORS.get(id(service))
    if entry is None or entry[0] is not service:
        entry = (service, Validators(service))
        _VALIDATORS[id(service)] = entry
    return entry[1]


def validate(service: ServiceSpec, shape_name: str, value: Any) -> None:
    """Raise ParamValidationError (member path, rule, detail) if ``value`` breaks the model."""
    validators(service).get(shape_name)(value, "")
