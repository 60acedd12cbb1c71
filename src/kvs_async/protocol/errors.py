"""Error responses: the code and message AWS puts in headers or the body, and the reverse.

Both JSON protocols name the error in ``x-amzn-ErrorType`` or in a ``__type``/``code``
body key, possibly namespaced (``aws.protocoltests#FooError``) or suffixed (``:http://...``).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .._model import ServiceSpec, ShapeSpec
from ..errors import ServiceError

JSON_CONTENT_TYPE = "application/json"

_XML_CODE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,2000})</Message>")

# (status, headers, body, error shape name) -> the shape's members as keyword arguments
FieldParser = Callable[[int, Mapping[str, str], bytes, str], dict[str, Any]]


def xml_error_fields(body: bytes) -> dict[str, str]:
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


def error_document(body: bytes) -> dict[str, Any]:
    doc: Any = None
    if body:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
    if not isinstance(doc, dict):
        return dict(xml_error_fields(body))
    return doc


def error_code(lower_headers: Mapping[str, str], doc: Mapping[str, Any]) -> str:
    code = lower_headers.get("x-amzn-errortype") or lower_headers.get("x-amz-errortype")
    if not code:
        code = str(doc.get("code") or doc.get("__type") or doc.get("Code") or "")
    return code.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def json_error_code(lower_headers: Mapping[str, str], doc: Mapping[str, Any]) -> str:
    """awsJson: ``__type`` in the body first (botocore ignores the header there), then the
    header or ``code``; ``x-amzn-query-error`` (``Code;Sender``) wins for query-compatible services."""
    query_error = lower_headers.get("x-amzn-query-error")
    if query_error:
        return query_error.split(";", 1)[0].strip()
    raw = str(doc.get("__type") or "")
    if not raw:
        return error_code(lower_headers, doc)
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()


CodeOf = Callable[[Mapping[str, str], Mapping[str, Any]], str]


def build_error(
    service: ServiceSpec,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    fields_of: FieldParser,
    code_of: CodeOf = error_code,
) -> ServiceError:
    """The modeled exception (its members in ``error.fields``) or a plain ServiceError."""
    lower = {k.lower(): v for k, v in headers.items()}
    doc = error_document(body)
    code = code_of(lower, doc)
    message = doc.get("message") or doc.get("Message") or doc.get("errorMessage") or ""
    request_id = lower.get("x-amzn-requestid") or lower.get("x-amz-request-id")
    cls = service.errors.get(code)
    if cls is None:
        err = ServiceError(
            str(message), code=code or f"HTTP{status}", status_code=status, request_id=request_id
        )
        err.fields = {}  # type: ignore[attr-defined]
        return err
    err = cls(str(message), code=code, status_code=status, request_id=request_id)
    shape = error_shape(service, cls)
    fields: dict[str, Any] = {}
    if shape is not None:
        try:
            fields = {
                k: v
                for k, v in fields_of(status, headers, body, shape.name).items()
                if v is not None
            }
        except (ValueError, TypeError, KeyError):
            fields = {}
    err.fields = fields  # type: ignore[attr-defined]
    return err


def error_shape(service: ServiceSpec, cls: type[ServiceError]) -> ShapeSpec | None:
    for s in service.shapes.values():
        if s.exception and s.cls is cls:
            return s
    return None


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
