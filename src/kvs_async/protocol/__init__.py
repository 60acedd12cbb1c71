"""The wire protocols (rest-json and json) for both ends, driven by the generated shape tables.

Client side: ``serialize_request``, ``parse_response``, ``parse_streaming_response``,
``parse_error``. Server side (the emulator): ``match_operation``, ``decode_request``,
``encode_response``, ``encode_error``. All pure functions, no I/O.

Modules: ``values`` (scalar wire forms), ``headers`` (header lists), ``documents``
(JSON values per shape, shared by the JSON protocols), ``errors`` (error codes and
bodies), ``restjson`` (client plans), ``restjson_server`` (routing, decoding) and
``awsjson`` (awsJson1_0/1_1, both sides).
Per service one codec is compiled on first use and reused.
"""

from __future__ import annotations

import re
import uuid  # noqa: F401  # tests patch protocol.uuid.uuid4 for fixed idempotency tokens
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from .._http import ByteStream, HttpRequest
from .._model import OperationSpec, ServiceSpec
from ..errors import ParamValidationError, ServiceError
from .awsjson import JsonCodec
from .errors import encode_error
from .restjson import RestJsonCodec
from .restjson_server import RestJsonServer, _ungroup
from .values import parse_timestamp, ts_iso8601, ts_rfc822, ts_unix

Codec = RestJsonCodec | JsonCodec

__all__ = [
    "Codec",
    "codec",
    "decode_request",
    "encode_error",
    "encode_response",
    "expand_host_prefix",
    "match_operation",
    "parse_error",
    "parse_response",
    "parse_streaming_response",
    "parse_timestamp",
    "serialize_request",
    "ts_iso8601",
    "ts_rfc822",
    "ts_unix",
]

_CODECS: dict[int, tuple[ServiceSpec, Codec]] = {}
_SERVERS: dict[int, tuple[ServiceSpec, RestJsonServer]] = {}


def codec(service: ServiceSpec) -> Codec:
    """The service's compiled codec (built on first use, then reused)."""
    entry = _CODECS.get(id(service))
    if entry is None or entry[0] is not service:
        built: Codec = JsonCodec(service) if service.protocol == "json" else RestJsonCodec(service)
        entry = (service, built)
        _CODECS[id(service)] = entry
    return entry[1]


def _server(service: ServiceSpec) -> RestJsonServer | JsonCodec:
    c = codec(service)
    if isinstance(c, JsonCodec):
        return c
    entry = _SERVERS.get(id(service))
    if entry is None or entry[0] is not service:
        entry = (service, RestJsonServer(c))
        _SERVERS[id(service)] = entry
    return entry[1]


# -- client side --------------------------------------------------------------------------------


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


# -- server side (the emulator) -----------------------------------------------------------------


def match_operation(
    service: ServiceSpec,
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> tuple[OperationSpec, dict[str, str]] | None:
    """The operation a request targets and its decoded URI labels (None when nothing matches).

    ``query`` disambiguates operations that share a path and differ by a constant
    query (chime's ``?operation=tag-resource``); without it such constants are
    not required to be present. json services are routed by the ``X-Amz-Target``
    header in ``headers``.
    """
    server = _server(service)
    if isinstance(server, JsonCodec):
        target = next((v for k, v in (headers or {}).items() if k.lower() == "x-amz-target"), "")
        op = server.match_target(target) if method.upper() == "POST" else None
        return (op, {}) if op is not None else None
    found = server.match(method, path, query)
    if found is None and not query:
        for regex, op, _const, _ in server.routes():
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
    server = _server(service)
    if isinstance(server, JsonCodec):
        return server.decode(op, body)
    return server.decode(op, path_labels, query, headers, body)


def encode_response(
    service: ServiceSpec, op: OperationSpec, output: object
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a successful response; streaming payloads are left to the caller."""
    return _server(service).encode(op, output)
