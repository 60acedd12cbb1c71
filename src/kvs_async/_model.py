"""Runtime descriptions of services, operations and shapes that generated modules instantiate.

Fields are data taken from the botocore model; behaviour lives in the runtime
modules that read them (``protocol``, ``validation``, ``client``). Shapes refer
to each other by name through ``ServiceSpec.shapes`` so that recursive models
need no forward references.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define, field

from .errors import ServiceError


@define(frozen=True, slots=True)
class MemberSpec:
    """One member of a structure: where it lives in Python and on the wire."""

    name: str  # Python attribute: "stream_name"
    wire: str  # member name in the model: "StreamName"
    shape: str  # target shape name
    location: str | None = None  # uri, querystring, header, headers, statusCode or None (body)
    location_name: str | None = None  # header/query/label/JSON key when it differs from ``wire``
    timestamp_format: str | None = None  # member-level override of the target's format
    jsonvalue: bool = False  # header holding base64 JSON
    idempotency_token: bool = False
    host_label: bool = False

    @property
    def key(self) -> str:
        """The name used on the wire (JSON key, header name, query key or URI label)."""
        return self.location_name if self.location_name is not None else self.wire


@define(frozen=True, slots=True, kw_only=True)
class ShapeSpec:
    """A model shape. ``cls`` is the attrs class (structure), StrEnum (enum) or exception."""

    cls: type[Any] | None = None  # declared before ``type``, which shadows the builtin below
    name: str
    type: str  # botocore type name: structure, string, integer, list, map, ...
    members: tuple[MemberSpec, ...] = ()
    required: frozenset[str] = frozenset()  # wire names of required members
    payload: str | None = None  # wire name of the payload member
    member: str | None = None  # list element shape
    key: str | None = None  # map key shape
    value: str | None = None  # map value shape
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    timestamp_format: str | None = None
    streaming: bool = False
    document: bool = False
    union: bool = False
    exception: bool = False
    sensitive: bool = False  # never shown in repr or validation messages
    error_code: str | None = None
    error_status: int | None = None


@define(frozen=True, slots=True, kw_only=True)
class PaginatorSpec:
    """paginators-1.json for one operation, in Python attribute names."""

    input_token: tuple[str, ...]
    output_token: tuple[str, ...]
    limit_key: str | None = None
    result_key: tuple[str, ...] = ()


@define(frozen=True, slots=True, kw_only=True)
class OperationSpec:
    name: str  # "DescribeStream"
    http_method: str
    request_uri: str
    input: type[Any] | None
    output: type[Any] | None
    streaming_output: bool = False
    success_code: int = 200
    input_shape: str | None = None
    output_shape: str | None = None
    errors: tuple[str, ...] = ()  # error shape names
    host_prefix: str | None = None
    paginator: PaginatorSpec | None = None


@define(frozen=True, slots=True, kw_only=True, eq=False)
class ServiceSpec:
    name: str  # botocore service name: "kinesis-video-media"
    module: str  # Python module under kvs_async: "kinesis_video_media"
    signing_name: str  # SigV4 service name: "kinesisvideo"
    endpoint_prefix: str
    api_version: str
    protocol: str  # "rest-json" or "json"
    target_prefix: str | None = None  # json: X-Amz-Target is "<target_prefix>.<operation>"
    json_version: str | None = None  # json: Content-Type application/x-amz-json-<version>
    query_compatible: bool = False  # json: awsQueryCompatible (x-amzn-query-mode/-error)
    errors: Mapping[str, type[ServiceError]] = field(factory=dict)  # wire code -> class
    shapes: Mapping[str, ShapeSpec] = field(factory=dict)
    operations: Mapping[str, OperationSpec] = field(factory=dict)
