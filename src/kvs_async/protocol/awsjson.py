"""awsJson1_0 / awsJson1_1 (the ``json`` protocol), client side.

Every request is a POST of the whole input as one JSON document to the operation's
path (``/``), named by ``X-Amz-Target: <targetPrefix>.<Operation>`` and typed
``application/x-amz-json-<jsonVersion>``; timestamps default to epoch seconds; errors
carry their code in ``__type``. botocore's ``JSONSerializer``/``JSONParser`` are the
reference (tests/codegen: AWS's json protocol suites and hypothesis equivalence).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from .._http import ByteStream, HttpRequest
from .._model import OperationSpec, ServiceSpec
from ..errors import ParamValidationError, ServiceError
from ..validation import validators
from .documents import DocumentCodec
from .errors import build_error, json_error_code


class JsonCodec(DocumentCodec):
    """json for one service: the document converters plus the target/content-type rules."""

    all_members_in_body = True

    def __init__(self, service: ServiceSpec) -> None:
        super().__init__(service)
        self.content_type = f"application/x-amz-json-{service.json_version or '1.0'}"
        self.target_prefix = service.target_prefix or ""

    def headers(self, op: OperationSpec) -> dict[str, str]:
        headers = {"X-Amz-Target": f"{self.target_prefix}.{op.name}"}
        headers["Content-Type"] = self.content_type
        if self.service.query_compatible:
            headers["x-amzn-query-mode"] = "true"
        return headers

    def serialize(self, op: OperationSpec, value: Any) -> HttpRequest:
        doc: Any = {}
        if op.input_shape is not None:
            if value is None:
                raise ParamValidationError("", "required", f"{op.name} needs an input")
            shape = self.shapes[op.input_shape]
            missing = {
                m.name: str(uuid.uuid4())
                for m in shape.members
                if m.idempotency_token and getattr(value, m.name) is None
            }
            if missing:
                value = attrs.evolve(value, **missing)
            validators(self.service).get(shape.name)(value, "")
            fn = self.serializer(shape.name)
            assert fn is not None
            doc = fn(value)
        return HttpRequest(
            method=op.http_method,
            path=op.request_uri.partition("?")[0] or "/",
            headers=self.headers(op),
            body=json.dumps(doc).encode(),
        )

    def parse(
        self,
        op: OperationSpec,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
        stream: ByteStream | None = None,
    ) -> Any:
        if op.output_shape is None:
            return None
        doc = json.loads(body) if body else {}
        if not isinstance(doc, dict):
            doc = {}
        fn = self.parser(op.output_shape)
        assert fn is not None
        return fn(doc)

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> ServiceError:
        return build_error(
            self.service, status, headers, body, self._error_fields, code_of=json_error_code
        )

    def _error_fields(
        self, status: int, headers: Mapping[str, str], body: bytes, shape_name: str
    ) -> dict[str, Any]:
        doc = json.loads(body) if body else {}
        out: dict[str, Any] = {}
        if isinstance(doc, dict):
            for key, attr, fn in self.body_members(shape_name):
                v = doc.get(key)
                if v is not None:
                    out[attr] = v if fn is None else fn(v)
        return out

    # -- server side (emulators of json services; routing is by X-Amz-Target) -----------------
    def decode(self, op: OperationSpec, body: bytes) -> Any:
        if op.input_shape is None:
            return None
        try:
            doc = json.loads(body) if body.strip() else {}
            if not isinstance(doc, dict):
                raise ParamValidationError("", "type", "request body is not a JSON object")
            fn = self.parser(op.input_shape)
            assert fn is not None
            value = fn(doc)
        except ParamValidationError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ParamValidationError(
                "", "serialization", f"cannot decode request: {exc}"
            ) from exc
        validators(self.service).get(op.input_shape)(value, "")
        return value

    def encode(self, op: OperationSpec, output: Any) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": self.content_type}
        if op.output_shape is None or output is None:
            return 200, headers, b"{}"
        fn = self.serializer(op.output_shape)
        assert fn is not None
        return 200, headers, json.dumps(fn(output)).encode()

    def match_target(self, target: str) -> OperationSpec | None:
        prefix, _, name = target.rpartition(".")
        if prefix != self.target_prefix:
            return None
        return self.service.operations.get(name)
