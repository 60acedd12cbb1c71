"""Runtime descriptions of services and operations that generated modules instantiate.

Fields are data taken from the botocore model; behaviour lives in the runtime
modules that read them (``protocol``, ``validation``, ``client``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define, field

from .errors import ServiceError


@define(frozen=True, slots=True, kw_only=True)
class ServiceSpec:
    name: str  # botocore service name: "kinesis-video-media"
    module: str  # Python module under kvs_async: "kinesis_video_media"
    signing_name: str  # SigV4 service name: "kinesisvideo"
    endpoint_prefix: str
    api_version: str
    protocol: str  # "rest-json"
    errors: Mapping[str, type[ServiceError]] = field(factory=dict)  # wire code -> class


@define(frozen=True, slots=True, kw_only=True)
class OperationSpec:
    name: str  # "DescribeStream"
    http_method: str
    request_uri: str
    input: type[Any] | None
    output: type[Any] | None
    streaming_output: bool = False
    success_code: int = 200
