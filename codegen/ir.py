"""The intermediate representation between a botocore model and emitted Python.

Everything the emitter needs is decided here (Python names, locations, formats,
constraints), so the emitter only prints.
"""

from __future__ import annotations

from attrs import define, field


@define(frozen=True, slots=True, kw_only=True)
class Member:
    wire: str  # member name in the model
    py_name: str  # Python attribute name (names.member_name)
    shape: str  # target shape name
    location: str | None = None  # uri, querystring, header, headers, statusCode; None = body
    location_name: str | None = None
    timestamp_format: str | None = None
    jsonvalue: bool = False
    idempotency_token: bool = False
    host_label: bool = False
    required: bool = False
    doc: str = ""


@define(frozen=True, slots=True, kw_only=True)
class Shape:
    name: str  # the model's shape name (keys SHAPES, kept on the wire)
    py_name: str  # the Python class name (names.class_name)
    type: str  # botocore type name
    members: tuple[Member, ...] = ()
    payload: str | None = None
    member: str | None = None  # list element
    key: str | None = None  # map key
    value: str | None = None  # map value
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    timestamp_format: str | None = None
    streaming: bool = False
    document: bool = False
    union: bool = False
    exception: bool = False
    error_code: str | None = None
    error_status: int | None = None
    throttling: bool = False
    sensitive: bool = False
    doc: str = ""

    @property
    def is_enum(self) -> bool:
        return self.type == "string" and bool(self.enum)

    @property
    def is_class(self) -> bool:
        """Whether the shape becomes a Python class (structure, union, enum or exception)."""
        return self.type == "structure" or self.is_enum


@define(frozen=True, slots=True, kw_only=True)
class Paginator:
    input_token: tuple[str, ...]  # Python names on the input shape
    output_token: tuple[str, ...]  # Python names (dotted paths) on the output shape
    limit_key: str | None = None
    result_key: tuple[str, ...] = ()


@define(frozen=True, slots=True, kw_only=True)
class Operation:
    name: str
    py_name: str  # method name; private ("_get_media") when a mixin wraps it
    http_method: str
    request_uri: str
    input: str | None
    output: str | None
    errors: tuple[str, ...] = ()
    success_code: int = 200
    host_prefix: str | None = None
    streaming_output: bool = False
    paginator: Paginator | None = None
    deprecated: bool = False
    doc: str = ""


@define(frozen=True, slots=True, kw_only=True)
class Service:
    name: str  # botocore service name
    module: str  # kvs_async.<module>
    client_class: str
    source: str  # "specs/<name>/service-2.json", named in the generated header
    full_name: str
    api_version: str
    protocol: str
    target_prefix: str | None = None  # json only
    json_version: str | None = None  # json only
    query_compatible: bool = False  # json only (awsQueryCompatible)
    signing_name: str
    endpoint_prefix: str
    shapes: dict[str, Shape] = field(factory=dict)
    operations: dict[str, Operation] = field(factory=dict)
    mixins: tuple[tuple[str, str], ...] = ()  # (module, class) bases placed before BaseClient
    doc: str = ""
    warnings: tuple[str, ...] = ()  # generation-time notes (patterns left unchecked ...)
