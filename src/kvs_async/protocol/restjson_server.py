"""rest-json, server side (the emulator): route a request to its operation, decode its
input, encode outputs. The mirror image of ``restjson``'s client plans."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import attrs

from .._model import OperationSpec
from ..errors import ParamValidationError
from ..validation import validators
from .errors import JSON_CONTENT_TYPE
from .restjson import RestJsonCodec
from .values import json_dumps

Route = tuple[re.Pattern[str], OperationSpec, list[tuple[str, str]], int]


class RestJsonServer:
    """Server-side plans for one service, on top of its client codec's converters."""

    def __init__(self, codec: RestJsonCodec) -> None:
        self.codec = codec
        self.service = codec.service
        self.shapes = codec.shapes
        self._routes: list[Route] | None = None

    def routes(self) -> list[Route]:
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
                        kwargs[m.name] = self.codec.text_reader(m, "iso8601")(raw)
                elif m.location == "querystring":
                    if target.type == "map":
                        continue
                    claimed.add(m.key)
                    values = multi.get(m.key)
                    if values is None:
                        continue
                    if target.type == "list":
                        assert target.member is not None
                        item = self.codec.text_reader(
                            attrs.evolve(m, shape=target.member), "iso8601"
                        )
                        kwargs[m.name] = [item(v) for v in values]
                    else:
                        kwargs[m.name] = self.codec.text_reader(m, "iso8601")(values[0])
                elif m.location == "header":
                    hv = lower.get(m.key.lower())
                    if hv is not None:
                        kwargs[m.name] = self.codec.text_reader(m, "rfc822")(hv)
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
                    fn = self.codec.parser(pm.shape)
                    doc = json.loads(body)
                    kwargs[pm.name] = doc if fn is None else fn(doc)
            elif body.strip():
                doc = json.loads(body)
                if not isinstance(doc, dict):
                    raise ParamValidationError("", "type", "request body is not a JSON object")
                for m in shape.members:
                    if m.location is None and m.key in doc and doc[m.key] is not None:
                        fn = self.codec.parser(m.shape, m.timestamp_format)
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
                headers[m.key] = self.codec.header_writer(m)(v)
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
                fn = self.codec.serializer(pm.shape)
                body = json_dumps({} if v is None else (v if fn is None else fn(v)))
                headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        elif any(m.location is None for m in shape.members):
            fn = self.codec.serializer(shape.name)
            assert fn is not None
            body = json_dumps(fn(output))
            headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        return status, headers, body


def _group(name: str) -> str:
    return "g_" + re.sub(r"\W", lambda m: f"_{ord(m.group(0)):x}_", name)


def _ungroup(group: str) -> str:
    return re.sub(r"_([0-9a-f]+)_", lambda m: chr(int(m.group(1), 16)), group[2:])
