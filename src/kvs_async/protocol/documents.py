"""JSON document values <-> Python values per shape, the part rest-json and json share.

A ``DocumentCodec`` compiles, per shape, one function from Python to JSON values and
one back (member names, wire keys and value converters resolved ahead of time), and
registers them as cattrs hooks for the service's structure classes, so cattrs never
reflects on annotations.
"""

from __future__ import annotations

from typing import Any

import cattrs

from .._model import ServiceSpec, ShapeSpec
from .values import (
    FLOAT_TYPES,
    TS_WRITERS,
    Fn,
    b64,
    enum_parser,
    float_in,
    float_out,
    list_of,
    map_of,
    parse_timestamp,
    unb64,
)


class DocumentCodec:
    """Per service: the cattrs converter and the compiled per-shape JSON value functions."""

    #: Timestamp format in JSON documents when neither member nor shape names one.
    body_timestamp_format = "unixtimestamp"
    #: json puts every member in the body (rest-json binds some to the path, query, headers).
    all_members_in_body = False

    def __init__(self, service: ServiceSpec) -> None:
        self.service = service
        self.shapes = service.shapes
        self.converter = cattrs.Converter()
        self._ser: dict[tuple[str, str | None], Fn | None] = {}
        self._par: dict[tuple[str, str | None], Fn | None] = {}
        by_cls = {
            shape.cls: shape.name
            for shape in self.shapes.values()
            if shape.type == "structure" and shape.cls is not None and not shape.exception
        }
        self._by_cls = by_cls
        self.converter.register_unstructure_hook_func(by_cls.__contains__, self._unstructure_hook)
        self.converter.register_structure_hook_func(by_cls.__contains__, self._structure_hook)

    def _unstructure_hook(self, value: Any) -> Any:
        fn = self.serializer(self._by_cls[type(value)])
        assert fn is not None
        return fn(value)

    def _structure_hook(self, value: Any, cls: Any) -> Any:
        fn = self.parser(self._by_cls[cls])
        assert fn is not None
        return fn(value)

    def serializer(self, shape_name: str, ts_format: str | None = None) -> Fn | None:
        """Python value -> JSON value for ``shape_name`` (None means identity)."""
        key = (shape_name, ts_format)
        if key in self._ser:
            return self._ser[key]
        self._ser[key] = lambda v: self._ser[key](v)  # type: ignore[misc]  # recursion guard
        fn = self._build_serializer(self.shapes[shape_name], ts_format)
        self._ser[key] = fn
        return fn

    def _build_serializer(self, s: ShapeSpec, ts_format: str | None) -> Fn | None:
        kind = s.type
        if kind == "structure":
            if s.document:
                return None
            plan = [
                (m.name, m.key, self.serializer(m.shape, m.timestamp_format))
                for m in s.members
                if m.location is None or self.all_members_in_body
            ]

            def ser_struct(value: Any) -> dict[str, Any]:
                out: dict[str, Any] = {}
                for attr, key, fn in plan:
                    v = getattr(value, attr)
                    if v is not None:
                        out[key] = v if fn is None else fn(v)
                return out

            return ser_struct
        if kind == "list":
            assert s.member is not None
            return list_of(self.serializer(s.member))
        if kind == "map":
            assert s.value is not None
            return map_of(self.serializer(s.value))
        if kind == "timestamp":
            return TS_WRITERS[ts_format or s.timestamp_format or self.body_timestamp_format]
        if kind == "blob":
            return b64
        if kind in FLOAT_TYPES:
            return float_out
        if kind == "string" and s.enum:
            return str
        return None

    def parser(self, shape_name: str, ts_format: str | None = None) -> Fn | None:
        """JSON value -> Python value for ``shape_name`` (None means identity)."""
        key = (shape_name, ts_format)
        if key in self._par:
            return self._par[key]
        self._par[key] = lambda v: self._par[key](v)  # type: ignore[misc]  # recursion guard
        fn = self._build_parser(self.shapes[shape_name])
        self._par[key] = fn
        return fn

    def _build_parser(self, s: ShapeSpec) -> Fn | None:
        kind = s.type
        if kind == "structure":
            if s.document or s.cls is None:
                return None
            cls = s.cls
            plan = [
                (m.key, m.name, self.parser(m.shape, m.timestamp_format))
                for m in s.members
                if m.location is None or self.all_members_in_body
            ]
            required_none = {m.name: None for m in s.members if m.wire in s.required}
            if s.union:
                known = {key for key, _, _ in plan} | {"__type"}

                def parse_union(value: Any) -> Any:
                    kwargs: dict[str, Any] = dict(required_none)
                    for key, attr, fn in plan:
                        v = value.get(key)
                        if v is not None:
                            kwargs[attr] = v if fn is None else fn(v)
                    if not kwargs:
                        unknown = [k for k in value if k not in known]
                        if unknown:
                            kwargs["sdk_unknown_member"] = unknown[0]
                    return cls(**kwargs)

                return parse_union

            def parse_struct(value: Any) -> Any:
                kwargs: dict[str, Any] = dict(required_none)
                for key, attr, fn in plan:
                    v = value.get(key)
                    if v is not None:
                        kwargs[attr] = v if fn is None else fn(v)
                return cls(**kwargs)

            return parse_struct
        if kind == "list":
            assert s.member is not None
            return list_of(self.parser(s.member))
        if kind == "map":
            assert s.value is not None
            return map_of(self.parser(s.value))
        if kind == "timestamp":
            return parse_timestamp
        if kind == "blob":
            return unb64
        if kind in FLOAT_TYPES:
            return float_in
        if kind == "string" and s.enum and s.cls is not None:
            return enum_parser(s.cls)
        return None

    def body_members(self, shape_name: str) -> list[tuple[str, str, Fn | None]]:
        """(wire key, attribute, parser) for each body member of a structure."""
        shape = self.shapes[shape_name]
        return [
            (m.key, m.name, self.parser(m.shape, m.timestamp_format))
            for m in shape.members
            if m.location is None or self.all_members_in_body
        ]
