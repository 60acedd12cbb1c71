"""rest-json (de)serialization for both ends of the wire, driven by the generated shape tables.

Client side: ``serialize_request``, ``parse_response``, ``parse_streaming_response``,
``parse_error``. Server side (the emulator): ``match_operation``, ``decode_request``,
``encode_response``, ``encode_error``. All pure functions, no I/O.

Per service, a ``Codec`` is built once: a cattrs ``Converter`` whose (un)structure
hooks are compiled per structure shape from the shape table (member names, wire
keys and value converters resolved ahead of time), plus a compiled plan per
operation saying which member goes to the path, query, headers or body. A call
then only walks precomputed tuples; nothing inspects types at call time.
"""

from __future__ import annotations

import base64
import calendar
import html
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote

import attrs
import cattrs

from ._http import ByteStream, HttpRequest
from ._model import MemberSpec, OperationSpec, ServiceSpec, ShapeSpec
from .errors import ParamValidationError, ServiceError
from .validation import validators

Fn = Callable[[Any], Any]

JSON_CONTENT_TYPE = "application/json"
_INT_TYPES = frozenset({"integer", "long", "byte", "short"})
_FLOAT_TYPES = frozenset({"float", "double"})

__all__ = [
    "Codec",
    "decode_request",
    "encode_error",
    "encode_response",
    "expand_host_prefix",
    "match_operation",
    "parse_error",
    "parse_response",
    "parse_streaming_response",
    "serialize_request",
]


# -- scalar conversions ----------------------------------------------------------------------


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


_TS_WRITERS: dict[str, Fn] = {"unixtimestamp": ts_unix, "iso8601": ts_iso8601, "rfc822": ts_rfc822}


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


def _float_out(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def _float_in(value: Any) -> float:
    return float(value)


def _b64(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode()
    return base64.b64encode(bytes(value)).decode("ascii")


def _unb64(value: Any) -> bytes:
    return base64.b64decode(value)


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _bool_text(value)
    if isinstance(value, float):
        return str(_float_out(value))
    return str(value)


def _enum_parser(cls: type[Any]) -> Fn:
    known: Mapping[str, Any] = cls._value2member_map_

    def parse(value: Any) -> Any:
        return known.get(value, value)

    return parse


def _list_of(item: Fn | None) -> Fn:
    """A list converter from its item's (``None``: items pass through as they are)."""
    if item is None:
        return list
    return lambda value: [None if v is None else item(v) for v in value]


def _map_of(val: Fn | None) -> Fn:
    """A map converter from its value's (``None``: values pass through as they are)."""
    if val is None:
        return dict
    return lambda value: {k: None if v is None else val(v) for k, v in value.items()}


_XML_CODE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,2000})</Message>")


def _xml_error_fields(body: bytes) -> dict[str, str]:
    """Code and Message of an XML error body: gateways and emulators such as moto answer
    authentication failures of JSON services in XML."""
    if body.lstrip()[:1] != b"<":
        return {}
    fields = {}
    for key, pattern in (("Code", _XML_CODE), ("Message", _XML_MESSAGE)):
        found = pattern.search(body)
        if found is not None:
            fields[key] = html.unescape(found.group(1).decode("utf-8", "replace")).strip()
    return fields


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _split_header_list(value: str) -> list[str]:
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


def _header_safe(attr: str, text: str) -> str:
    """Refuse CR, LF and NUL in header names/values: they would split or corrupt the request."""
    if "\r" in text or "\n" in text or "\x00" in text:
        raise ParamValidationError(attr, "header_value", "contains CR, LF or NUL")
    return text


def _split_http_dates(value: str) -> list[str]:
    """Split a header list of HTTP dates, whose items contain a comma themselves."""
    return [v.strip() for v in re.split(r"(?<=GMT)\s*,\s*", value) if v.strip()]


def _escape_header_item(value: str) -> str:
    if '"' in value or "," in value:
        return '"' + value.replace('"', '\\"') + '"'
    return value


# -- compiled plans --------------------------------------------------------------------------


@attrs.define(slots=True)
class _RequestPlan:
    method: str
    path_parts: list[tuple[str, Any]]  # ("lit", text) | ("label", (attr, greedy, fn))
    const_query: list[tuple[str, str]]
    query: list[tuple[str, str, str, Fn | None]]  # (attr, key, kind, item fn): kind value/list/map
    headers: list[tuple[str, str, Fn]]
    prefix_headers: list[tuple[str, str]]
    body: Fn | None  # structure -> dict (body members), None when no body members
    payload: tuple[str, str] | None  # (attr, kind): kind raw/json
    payload_fn: Fn | None
    tokens: list[str]
    validator: Callable[[Any, str], None] | None
    shape: str | None


@attrs.define(slots=True)
class _ResponsePlan:
    cls: type[Any] | None
    headers: list[tuple[str, str, Fn]]  # (attr, lower-case header, parser)
    prefix_headers: list[tuple[str, str]]  # (attr, lower-case prefix)
    status: str | None
    payload: tuple[str, str] | None  # (attr, kind): raw/text/json/stream
    payload_fn: Fn | None
    body: Fn | None  # JSON dict -> kwargs dict of body members
    required_none: dict[str, None]


class Codec:
    """Everything compiled for one service: converters, operation plans, path matchers."""

    def __init__(self, service: ServiceSpec) -> None:
        self.service = service
        self.shapes = service.shapes
        self.converter = cattrs.Converter()
        self._ser: dict[tuple[str, str | None], Fn | None] = {}
        self._par: dict[tuple[str, str | None], Fn | None] = {}
        self._req: dict[str, _RequestPlan] = {}
        self._resp: dict[str, _ResponsePlan] = {}
        self._routes: (
            list[tuple[re.Pattern[str], OperationSpec, list[tuple[str, str]], int]] | None
        ) = None
        # One predicate-dispatched hook pair for all structure classes of the service: the
        # per-class functions are compiled from the shape table (see ``serializer``/``parser``),
        # so cattrs never reflects on the classes' annotations.
        by_cls = {
            shape.cls: shape.name
            for shape in self.shapes.values()
            if shape.type == "structure" and shape.cls is not None and not shape.exception
        }
        self._by_cls = by_cls
        self.converter.register_unstructure_hook_func(by_cls.__contains__, self._unstructure_hook)
        self.converter.register_structure_hook_func(by_cls.__contains__, self._structure_hook)

    # -- JSON values ---------------------------------------------------------------------------
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
            fn = self._ser[key]
            return fn
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
                if m.location is None
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
            return _list_of(self.serializer(s.member))
        if kind == "map":
            assert s.value is not None
            return _map_of(self.serializer(s.value))
        if kind == "timestamp":
            return _TS_WRITERS[ts_format or s.timestamp_format or "unixtimestamp"]
        if kind == "blob":
            return _b64
        if kind in _FLOAT_TYPES:
            return _float_out
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
                if m.location is None
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
            return _list_of(self.parser(s.member))
        if kind == "map":
            assert s.value is not None
            return _map_of(self.parser(s.value))
        if kind == "timestamp":
            return parse_timestamp
        if kind == "blob":
            return _unb64
        if kind in _FLOAT_TYPES:
            return _float_in
        if kind == "string" and s.enum and s.cls is not None:
            return _enum_parser(s.cls)
        return None

    # -- text values (labels, query, headers) ----------------------------------------------------
    def text_writer(self, m: MemberSpec, default_ts: str) -> Fn:
        s = self.shapes[m.shape]
        if m.jsonvalue:
            return lambda v: _b64(json.dumps(v, separators=(",", ":")))
        if s.type == "timestamp":
            return _TS_WRITERS[m.timestamp_format or s.timestamp_format or default_ts]
        if s.type == "boolean":
            return _bool_text
        if s.type in _FLOAT_TYPES:
            return lambda v: str(_float_out(v))
        return str

    def header_writer(self, m: MemberSpec) -> Fn:
        s = self.shapes[m.shape]
        if s.type == "list":
            assert s.member is not None
            inner = self.shapes[s.member]
            if inner.type == "string":
                return lambda v: ",".join(_escape_header_item(str(x)) for x in v if x is not None)
            item = self.text_writer(attrs.evolve(m, shape=s.member), "rfc822")
            return lambda v: ",".join(str(item(x)) for x in v if x is not None)
        fn = self.text_writer(m, "rfc822")
        return lambda v: str(fn(v))

    def text_reader(self, m: MemberSpec, default_ts: str) -> Fn:
        s = self.shapes[m.shape]
        if m.jsonvalue:
            return lambda v: json.loads(base64.b64decode(v))
        if s.type == "timestamp":
            return parse_timestamp
        if s.type == "boolean":
            return lambda v: v == "true" if isinstance(v, str) else bool(v)
        if s.type in _INT_TYPES:
            return int
        if s.type in _FLOAT_TYPES:
            return float
        if s.type == "blob":
            return lambda v: v.encode() if isinstance(v, str) else v
        if s.type == "string" and s.enum and s.cls is not None:
            return _enum_parser(s.cls)
        if s.type == "list":
            assert s.member is not None
            item = self.text_reader(attrs.evolve(m, shape=s.member), default_ts)
            inner = self.shapes[s.member]
            fmt = m.timestamp_format or inner.timestamp_format or default_ts
            split = (
                _split_http_dates
                if inner.type == "timestamp" and fmt == "rfc822"
                else _split_header_list
            )
            return lambda v: [item(x) for x in (split(v) if isinstance(v, str) else v)]
        return lambda v: v

    # -- request (client side) --------------------------------------------------------------------
    def request_plan(self, op: OperationSpec) -> _RequestPlan:
        plan = self._req.get(op.name)
        if plan is None:
            plan = self._build_request_plan(op)
            self._req[op.name] = plan
        return plan

    def _build_request_plan(self, op: OperationSpec) -> _RequestPlan:
        path, _, const = op.request_uri.partition("?")
        const_query = [(k, v) for k, _, v in (p.partition("=") for p in const.split("&") if p)]
        shape = self.shapes[op.input_shape] if op.input_shape else None
        members = {m.key: m for m in shape.members if m.location == "uri"} if shape else {}
        parts: list[tuple[str, Any]] = []
        for lit, label in re.findall(r"([^{]*)(?:\{([^}]*)\})?", path):
            if lit:
                parts.append(("lit", lit))
            if label:
                greedy = label.endswith("+")
                m = members[label.rstrip("+")]
                parts.append(("label", (m.name, greedy, self.text_writer(m, "iso8601"))))
        plan = _RequestPlan(
            method=op.http_method,
            path_parts=parts,
            const_query=const_query,
            query=[],
            headers=[],
            prefix_headers=[],
            body=None,
            payload=None,
            payload_fn=None,
            tokens=[],
            validator=None,
            shape=op.input_shape,
        )
        if shape is None:
            return plan
        plan.validator = validators(self.service).get(shape.name)
        plan.tokens = [m.name for m in shape.members if m.idempotency_token]
        for m in shape.members:
            target = self.shapes[m.shape]
            if m.location == "querystring":
                if target.type == "map":
                    plan.query.append((m.name, m.key, "map", None))
                elif target.type == "list":
                    assert target.member is not None
                    item = self.text_writer(attrs.evolve(m, shape=target.member), "iso8601")
                    plan.query.append((m.name, m.key, "list", item))
                else:
                    plan.query.append((m.name, m.key, "value", self.text_writer(m, "iso8601")))
            elif m.location == "header":
                plan.headers.append((m.name, m.key, self.header_writer(m)))
            elif m.location == "headers":
                plan.prefix_headers.append((m.name, m.key))
        if shape.payload is not None:
            pm = next(m for m in shape.members if m.wire == shape.payload)
            target = self.shapes[pm.shape]
            if target.type in ("blob", "string"):
                plan.payload = (pm.name, "raw")
            else:
                plan.payload = (pm.name, "json")
                plan.payload_fn = self.serializer(pm.shape)
        elif any(m.location is None for m in shape.members):
            plan.body = self.converter.unstructure
        return plan

    def serialize(self, op: OperationSpec, value: Any) -> HttpRequest:
        plan = self.request_plan(op)
        query = list(plan.const_query)
        if value is None:
            if plan.shape is not None:
                raise ParamValidationError("", "required", f"{op.name} needs an input")
            return HttpRequest(method=plan.method, path=_literal_path(plan), query=query)
        if plan.tokens:
            missing = {t: str(uuid.uuid4()) for t in plan.tokens if getattr(value, t) is None}
            if missing:
                value = attrs.evolve(value, **missing)
        if plan.validator is not None:
            plan.validator(value, "")
        path: list[str] = []
        for kind, item in plan.path_parts:
            if kind == "lit":
                path.append(item)
                continue
            attr, greedy, fn = item
            v = getattr(value, attr)
            if v is None:
                raise ParamValidationError(attr, "required", "URI label")
            text = str(fn(v))
            if greedy:
                path.append(quote(text, safe="/~"))
            else:
                path.append(quote(text, safe="-._~"))
        if plan.query:
            qmap: dict[str, Any] = {}
            for attr, key, kind, fn in plan.query:
                v = getattr(value, attr)
                if v is None:
                    continue
                if kind == "value":
                    assert fn is not None
                    qmap[key] = fn(v)
                elif kind == "list":
                    assert fn is not None
                    qmap[key] = [fn(x) for x in v]
                else:
                    qmap.update(v)
            for key, v in qmap.items():
                if isinstance(v, list):
                    query.extend((key, _text(x)) for x in v)
                else:
                    query.append((key, _text(v)))
        headers: dict[str, str] = {}
        for attr, name, fn in plan.headers:
            v = getattr(value, attr)
            if v is None or (isinstance(v, list | tuple) and not v):
                continue
            headers[name] = _header_safe(attr, fn(v))
        for attr, prefix in plan.prefix_headers:
            v = getattr(value, attr)
            if v:
                for k, hv in v.items():
                    headers[_header_safe(attr, prefix + k)] = _header_safe(attr, str(hv))
        body = b""
        if plan.payload is not None:
            attr, kind = plan.payload
            v = getattr(value, attr)
            if kind == "raw":
                body = v.encode() if isinstance(v, str) else (bytes(v) if v is not None else b"")
            else:
                if v is not None and plan.payload_fn is not None:
                    body = _json_dumps(plan.payload_fn(v))
                elif v is not None:
                    body = _json_dumps(v)
                else:
                    body = b"{}"
                if not _has_header(headers, "content-type"):
                    headers["Content-Type"] = JSON_CONTENT_TYPE
        elif plan.body is not None:
            body = _json_dumps(plan.body(value))
            if not _has_header(headers, "content-type"):
                headers["Content-Type"] = JSON_CONTENT_TYPE
        return HttpRequest(
            method=plan.method, path="".join(path), query=query, headers=headers, body=body
        )

    # -- response (client side) -------------------------------------------------------------------
    def response_plan(self, op: OperationSpec) -> _ResponsePlan:
        plan = self._resp.get(op.name)
        if plan is None:
            plan = self._build_response_plan(op.output_shape)
            self._resp[op.name] = plan
        return plan

    def _build_response_plan(self, shape_name: str | None) -> _ResponsePlan:
        plan = _ResponsePlan(
            cls=None,
            headers=[],
            prefix_headers=[],
            status=None,
            payload=None,
            payload_fn=None,
            body=None,
            required_none={},
        )
        if shape_name is None:
            return plan
        shape = self.shapes[shape_name]
        plan.cls = shape.cls
        plan.required_none = {m.name: None for m in shape.members if m.wire in shape.required}
        for m in shape.members:
            if m.location == "header":
                plan.headers.append((m.name, m.key.lower(), self.text_reader(m, "rfc822")))
            elif m.location == "headers":
                plan.prefix_headers.append((m.name, (m.location_name or "").lower()))
            elif m.location == "statusCode":
                plan.status = m.name
        if shape.payload is not None:
            pm = next(m for m in shape.members if m.wire == shape.payload)
            target = self.shapes[pm.shape]
            if target.type == "blob":
                plan.payload = (pm.name, "stream" if target.streaming else "raw")
            elif target.type == "string":
                plan.payload = (pm.name, "text")
            else:
                plan.payload = (pm.name, "json")
                plan.payload_fn = self.parser(pm.shape)
        else:
            body_members = [
                (m.key, m.name, self.parser(m.shape, m.timestamp_format))
                for m in shape.members
                if m.location is None
            ]
            if body_members:

                def body(doc: Mapping[str, Any]) -> dict[str, Any]:
                    out: dict[str, Any] = {}
                    for key, attr, fn in body_members:
                        v = doc.get(key)
                        if v is not None:
                            out[attr] = v if fn is None else fn(v)
                    return out

                plan.body = body
        return plan

    def parse(
        self,
        op: OperationSpec,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
        stream: ByteStream | None = None,
    ) -> Any:
        plan = self.response_plan(op)
        if plan.cls is None:
            return None
        kwargs = self._parse_into(plan, status, headers, body, stream)
        return plan.cls(**kwargs)

    def _parse_into(
        self,
        plan: _ResponsePlan,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
        stream: ByteStream | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(plan.required_none)
        if plan.headers or plan.prefix_headers:
            lower = {k.lower(): v for k, v in headers.items()}
            for attr, name, fn in plan.headers:
                v = lower.get(name)
                if v is not None:
                    kwargs[attr] = fn(v)
            for attr, prefix in plan.prefix_headers:
                found = {
                    k[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)
                }
                if found:
                    kwargs[attr] = found
        if plan.status is not None:
            kwargs[plan.status] = status
        if plan.payload is not None:
            attr, kind = plan.payload
            if kind == "stream":
                kwargs[attr] = stream if stream is not None else body
            elif kind == "raw":
                kwargs[attr] = body or b""
            elif kind == "text":
                if body:
                    kwargs[attr] = body.decode()
            elif body:
                doc = json.loads(body)
                kwargs[attr] = doc if plan.payload_fn is None else plan.payload_fn(doc)
        elif plan.body is not None and body:
            doc = json.loads(body)
            if isinstance(doc, dict):
                kwargs.update(plan.body(doc))
        return kwargs

    # -- errors -----------------------------------------------------------------------------------
    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> ServiceError:
        lower = {k.lower(): v for k, v in headers.items()}
        doc: Any = None
        if body:
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
        if not isinstance(doc, dict):
            doc = _xml_error_fields(body)
        code = lower.get("x-amzn-errortype") or lower.get("x-amz-errortype")
        if not code:
            raw = doc.get("code") or doc.get("__type") or doc.get("Code") or ""
            code = str(raw)
        code = code.split(":", 1)[0].rsplit("#", 1)[-1].strip()
        message = doc.get("message") or doc.get("Message") or doc.get("errorMessage") or ""
        request_id = lower.get("x-amzn-requestid") or lower.get("x-amz-request-id")
        cls = self.service.errors.get(code)
        if cls is None:
            cls = ServiceError
            err = ServiceError(
                str(message),
                code=code or f"HTTP{status}",
                status_code=status,
                request_id=request_id,
            )
        else:
            err = cls(str(message), code=code, status_code=status, request_id=request_id)
        shape = self._error_shape(cls) if cls is not ServiceError else None
        fields: dict[str, Any] = {}
        if shape is not None:
            plan = self._resp.get("error:" + shape.name)
            if plan is None:
                plan = self._build_response_plan(shape.name)
                self._resp["error:" + shape.name] = plan
            try:
                fields = {
                    k: v
                    for k, v in self._parse_into(plan, status, headers, body, None).items()
                    if v is not None
                }
            except (ValueError, TypeError, KeyError):
                fields = {}
        err.fields = fields  # type: ignore[attr-defined]
        return err

    def _error_shape(self, cls: type[ServiceError]) -> ShapeSpec | None:
        for s in self.shapes.values():
            if s.exception and s.cls is cls:
                return s
        return None

    # -- server side ------------------------------------------------------------------------------
    def routes(self) -> list[tuple[re.Pattern[str], OperationSpec, list[tuple[str, str]], int]]:
        if self._routes is None:
            routes = []
            for op in self.service.operations.values():
                path, _, const = op.request_uri.partition("?")
                const_query = [
                    (k, v) for k, _, v in (p.partition("=") for p in const.split("&") if p)
                ]
                regex = ""
                literal = 0
                for lit, label in re.findall(r"([^{]*)(?:\{([^}]*)\})?", path):
                    regex += re.escape(lit)
                    literal += len(lit)
                    if label:
                        name = label.rstrip("+")
                        group = (
                            f"(?P<{_group(name)}>.+)"
                            if label.endswith("+")
                            else f"(?P<{_group(name)}>[^/]+)"
                        )
                        regex += group
                routes.append(
                    (re.compile(regex + "/?$" if regex != "/" else "/$"), op, const_query, literal)
                )
            routes.sort(key=lambda r: (-len(r[2]), -r[3]))
            self._routes = routes
        return self._routes

    def match(
        self, method: str, path: str, query: Sequence[tuple[str, str]] = ()
    ) -> tuple[OperationSpec, dict[str, str]] | None:
        path = path.split("?", 1)[0]
        given = {k: v for k, v in query}
        for regex, op, const, _ in self.routes():
            if op.http_method != method.upper():
                continue
            m = regex.match(path)
            if m is None:
                continue
            if any(k not in given or (v and given[k] != v) for k, v in const):
                continue
            labels = {_ungroup(k): unquote(v) for k, v in m.groupdict().items()}
            return op, labels
        return None

    def decode(
        self,
        op: OperationSpec,
        path_labels: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Any:
        if op.input_shape is None:
            return None
        shape = self.shapes[op.input_shape]
        kwargs: dict[str, Any] = {m.name: None for m in shape.members if m.wire in shape.required}
        lower = {k.lower(): v for k, v in headers.items()}
        claimed = {k for k, _ in self._const_query(op)}
        multi: dict[str, list[str]] = {}
        for k, v in query:
            multi.setdefault(k, []).append(v)
        try:
            for m in shape.members:
                target = self.shapes[m.shape]
                if m.location == "uri":
                    raw = path_labels.get(m.key)
                    if raw is not None:
                        kwargs[m.name] = self.text_reader(m, "iso8601")(raw)
                elif m.location == "querystring":
                    if target.type == "map":
                        continue
                    claimed.add(m.key)
                    values = multi.get(m.key)
                    if values is None:
                        continue
                    if target.type == "list":
                        assert target.member is not None
                        item = self.text_reader(attrs.evolve(m, shape=target.member), "iso8601")
                        kwargs[m.name] = [item(v) for v in values]
                    else:
                        kwargs[m.name] = self.text_reader(m, "iso8601")(values[0])
                elif m.location == "header":
                    hv = lower.get(m.key.lower())
                    if hv is not None:
                        kwargs[m.name] = self.text_reader(m, "rfc822")(hv)
                elif m.location == "headers":
                    prefix = (m.location_name or "").lower()
                    found = {
                        k[len(prefix) :]: v
                        for k, v in headers.items()
                        if k.lower().startswith(prefix)
                    }
                    if found:
                        kwargs[m.name] = found
            for m in shape.members:
                if m.location == "querystring" and self.shapes[m.shape].type == "map":
                    value_shape = self.shapes[self.shapes[m.shape].value or ""]
                    rest = {k: v for k, v in multi.items() if k not in claimed}
                    if rest:
                        kwargs[m.name] = (
                            rest
                            if value_shape.type == "list"
                            else {k: v[0] for k, v in rest.items()}
                        )
            if shape.payload is not None:
                pm = next(m for m in shape.members if m.wire == shape.payload)
                target = self.shapes[pm.shape]
                if target.type == "blob":
                    kwargs[pm.name] = body
                elif target.type == "string":
                    kwargs[pm.name] = body.decode() if body else None
                elif body:
                    fn = self.parser(pm.shape)
                    doc = json.loads(body)
                    kwargs[pm.name] = doc if fn is None else fn(doc)
            elif body.strip():
                doc = json.loads(body)
                if not isinstance(doc, dict):
                    raise ParamValidationError("", "type", "request body is not a JSON object")
                for m in shape.members:
                    if m.location is None and m.key in doc and doc[m.key] is not None:
                        fn = self.parser(m.shape, m.timestamp_format)
                        kwargs[m.name] = doc[m.key] if fn is None else fn(doc[m.key])
        except ParamValidationError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ParamValidationError(
                "", "serialization", f"cannot decode request: {exc}"
            ) from exc
        assert shape.cls is not None
        value = shape.cls(**kwargs)
        validators(self.service).get(shape.name)(value, "")
        return value

    def _const_query(self, op: OperationSpec) -> list[tuple[str, str]]:
        const = op.request_uri.partition("?")[2]
        return [(k, v) for k, _, v in (p.partition("=") for p in const.split("&") if p)]

    def encode(self, op: OperationSpec, output: Any) -> tuple[int, dict[str, str], bytes]:
        status = op.success_code
        headers: dict[str, str] = {}
        if op.output_shape is None or output is None:
            return status, headers, b""
        shape = self.shapes[op.output_shape]
        body = b""
        for m in shape.members:
            v = getattr(output, m.name)
            if v is None:
                continue
            if m.location == "header":
                if isinstance(v, list | tuple) and not v:
                    continue
                headers[m.key] = self.header_writer(m)(v)
            elif m.location == "headers":
                for k, hv in v.items():
                    headers[m.key + k] = str(hv)
            elif m.location == "statusCode":
                status = int(v)
        if shape.payload is not None:
            pm = next(m for m in shape.members if m.wire == shape.payload)
            target = self.shapes[pm.shape]
            v = getattr(output, pm.name)
            if target.type == "blob":
                body = b"" if target.streaming or v is None else bytes(v)
            elif target.type == "string":
                body = v.encode() if v is not None else b""
            else:
                fn = self.serializer(pm.shape)
                body = _json_dumps({} if v is None else (v if fn is None else fn(v)))
                headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        elif any(m.location is None for m in shape.members):
            fn = self.serializer(shape.name)
            assert fn is not None
            body = _json_dumps(fn(output))
            headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        return status, headers, body


def _group(name: str) -> str:
    return "g_" + re.sub(r"\W", lambda m: f"_{ord(m.group(0)):x}_", name)


def _ungroup(group: str) -> str:
    return re.sub(r"_([0-9a-f]+)_", lambda m: chr(int(m.group(1), 16)), group[2:])


def _literal_path(plan: _RequestPlan) -> str:
    return "".join(item for kind, item in plan.path_parts if kind == "lit")


def _has_header(headers: Mapping[str, str], lower_name: str) -> bool:
    return any(k.lower() == lower_name for k in headers)


_CODECS: dict[int, tuple[ServiceSpec, Codec]] = {}


def codec(service: ServiceSpec) -> Codec:
    """The service's compiled codec (built on first use, then reused)."""
    entry = _CODECS.get(id(service))
    if entry is None or entry[0] is not service:
        entry = (service, Codec(service))
        _CODECS[id(service)] = entry
    return entry[1]


# -- public API ---------------------------------------------------------------------------------


def serialize_request(service: ServiceSpec, op: OperationSpec, input: object) -> HttpRequest:
    """Validate ``input``, fill idempotency tokens and build the request (``url_base`` left "")."""
    return codec(service).serialize(op, input)


def parse_response(
    service: ServiceSpec, op: OperationSpec, status: int, headers: Mapping[str, str], body: bytes
) -> Any:
    """The output instance for a successful response (None for operations without output)."""
    return codec(service).parse(op, status, headers, body)


def parse_streaming_response(
    service: ServiceSpec,
    op: OperationSpec,
    status: int,
    headers: Mapping[str, str],
    stream: ByteStream,
) -> Any:
    """The output instance with the payload member bound to ``stream`` (never read here)."""
    return codec(service).parse(op, status, headers, None, stream)


def parse_error(
    service: ServiceSpec, status: int, headers: Mapping[str, str], body: bytes
) -> ServiceError:
    """The modeled exception for the response's error code, or a plain ServiceError.

    Members of the error shape beyond the message land in ``error.fields`` (a dict).
    """
    return codec(service).error(status, headers, body)


def expand_host_prefix(service: ServiceSpec, op: OperationSpec, input: object) -> str | None:
    """The operation's hostPrefix with ``{label}``s filled from hostLabel members, if any."""
    if op.host_prefix is None:
        return None
    shape = service.shapes[op.input_shape] if op.input_shape else None
    attr_of = {m.wire: m.name for m in shape.members} if shape else {}

    def fill(m: re.Match[str]) -> str:
        value = getattr(input, attr_of.get(m.group(1), m.group(1)), None)
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9.\-]+", value):
            raise ParamValidationError(
                m.group(1), "host_label", f"{value!r} is not a valid host label"
            )
        return value

    return re.sub(r"\{([^}]+)\}", fill, op.host_prefix)


def match_operation(
    service: ServiceSpec, method: str, path: str, *, query: Sequence[tuple[str, str]] = ()
) -> tuple[OperationSpec, dict[str, str]] | None:
    """The operation a request targets and its decoded URI labels (None when nothing matches).

    ``query`` disambiguates operations that share a path and differ by a constant
    query (chime's ``?operation=tag-resource``); without it such constants are
    not required to be present.
    """
    c = codec(service)
    found = c.match(method, path, query)
    if found is None and not query:
        for regex, op, _const, _ in c.routes():
            if op.http_method == method.upper() and (m := regex.match(path.split("?", 1)[0])):
                return op, {_ungroup(k): unquote(v) for k, v in m.groupdict().items()}
    return found


def decode_request(
    service: ServiceSpec,
    op: OperationSpec,
    *,
    path_labels: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> Any:
    """The input instance a request carries, validated (ParamValidationError otherwise)."""
    return codec(service).decode(op, path_labels, query, headers, body)


def encode_response(
    service: ServiceSpec, op: OperationSpec, output: object
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a successful response; streaming payloads are left to the caller."""
    return codec(service).encode(op, output)


def encode_error(error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) as AWS sends an error: x-amzn-ErrorType, JSON ``__type``/``message``."""
    status = error.status_code or int(getattr(type(error), "HTTP_STATUS", 400))
    request_id = error.request_id or str(uuid.uuid4())
    headers = {
        "x-amzn-ErrorType": error.code,
        "x-amzn-RequestId": request_id,
        "Content-Type": JSON_CONTENT_TYPE,
    }
    doc: dict[str, Any] = {"__type": error.code, "message": error.message}
    return status, headers, json.dumps(doc).encode()
