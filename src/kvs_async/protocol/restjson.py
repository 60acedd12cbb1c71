"""rest-json, client side: requests from inputs, outputs from responses.

Per operation a plan is compiled once saying which member goes to the path, query,
headers or body (and back); a call then only walks precomputed tuples.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import attrs

from .._http import ByteStream, HttpRequest
from .._model import MemberSpec, OperationSpec, ServiceSpec
from ..errors import ParamValidationError, ServiceError
from ..validation import validators
from .documents import DocumentCodec
from .errors import JSON_CONTENT_TYPE, build_error
from .headers import (
    escape_header_item,
    has_header,
    header_safe,
    split_header_list,
    split_http_dates,
)
from .values import (
    FLOAT_TYPES,
    INT_TYPES,
    TS_WRITERS,
    Fn,
    b64,
    bool_text,
    enum_parser,
    float_out,
    json_dumps,
    parse_timestamp,
    query_text,
)


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


class RestJsonCodec(DocumentCodec):
    """rest-json for one service: document converters plus per-operation HTTP plans."""

    def __init__(self, service: ServiceSpec) -> None:
        super().__init__(service)
        self._req: dict[str, _RequestPlan] = {}
        self._resp: dict[str, _ResponsePlan] = {}

    # -- text values (labels, query, headers) ----------------------------------------------------
    def text_writer(self, m: MemberSpec, default_ts: str) -> Fn:
        s = self.shapes[m.shape]
        if m.jsonvalue:
            return lambda v: b64(json.dumps(v, separators=(",", ":")))
        if s.type == "timestamp":
            return TS_WRITERS[m.timestamp_format or s.timestamp_format or default_ts]
        if s.type == "boolean":
            return bool_text
        if s.type in FLOAT_TYPES:
            return lambda v: str(float_out(v))
        return str

    def header_writer(self, m: MemberSpec) -> Fn:
        s = self.shapes[m.shape]
        if s.type == "list":
            assert s.member is not None
            inner = self.shapes[s.member]
            if inner.type == "string":
                return lambda v: ",".join(escape_header_item(str(x)) for x in v if x is not None)
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
        if s.type in INT_TYPES:
            return int
        if s.type in FLOAT_TYPES:
            return float
        if s.type == "blob":
            return lambda v: v.encode() if isinstance(v, str) else v
        if s.type == "string" and s.enum and s.cls is not None:
            return enum_parser(s.cls)
        if s.type == "list":
            assert s.member is not None
            item = self.text_reader(attrs.evolve(m, shape=s.member), default_ts)
            inner = self.shapes[s.member]
            fmt = m.timestamp_format or inner.timestamp_format or default_ts
            split = (
                split_http_dates
                if inner.type == "timestamp" and fmt == "rfc822"
                else split_header_list
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
                    query.extend((key, query_text(x)) for x in v)
                else:
                    query.append((key, query_text(v)))
        headers: dict[str, str] = {}
        for attr, name, fn in plan.headers:
            v = getattr(value, attr)
            if v is None or (isinstance(v, list | tuple) and not v):
                continue
            headers[name] = header_safe(attr, fn(v))
        for attr, prefix in plan.prefix_headers:
            v = getattr(value, attr)
            if v:
                for k, hv in v.items():
                    headers[header_safe(attr, prefix + k)] = header_safe(attr, str(hv))
        body = b""
        if plan.payload is not None:
            attr, kind = plan.payload
            v = getattr(value, attr)
            if kind == "raw":
                body = v.encode() if isinstance(v, str) else (bytes(v) if v is not None else b"")
            else:
                if v is not None and plan.payload_fn is not None:
                    body = json_dumps(plan.payload_fn(v))
                elif v is not None:
                    body = json_dumps(v)
                else:
                    body = b"{}"
                if not has_header(headers, "content-type"):
                    headers["Content-Type"] = JSON_CONTENT_TYPE
        elif plan.body is not None:
            body = json_dumps(plan.body(value))
            if not has_header(headers, "content-type"):
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
        return build_error(self.service, status, headers, body, self._error_fields)

    def _error_fields(
        self, status: int, headers: Mapping[str, str], body: bytes, shape_name: str
    ) -> dict[str, Any]:
        plan = self._resp.get("error:" + shape_name)
        if plan is None:
            plan = self._resp["error:" + shape_name] = self._build_response_plan(shape_name)
        return self._parse_into(plan, status, headers, body, None)


def _literal_path(plan: _RequestPlan) -> str:
    return "".join(item for kind, item in plan.path_parts if kind == "lit")
