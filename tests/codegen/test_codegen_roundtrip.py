"""Both ends of the wire agree: what the client sends the server side decodes, and back.

For every operation of the six services: ``decode_request(serialize_request(x)) == x``
(after the idempotency token is filled) and ``parse_response(encode_response(y)) == y``.
These are the functions the emulator serves requests with.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import attrs
import pytest
from codegen_helpers import strategy
from hypothesis import HealthCheck, given, settings
from multidict import CIMultiDict

from codegen import SERVICES
from codegen.names import module_name
from kvs_async import ParamValidationError, protocol
from kvs_async import kinesis_video_media as media

SETTINGS = settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def _operations() -> list[Any]:
    out = []
    for service in SERVICES:
        mod = importlib.import_module(f"kvs_async.{module_name(service)}")
        for name in mod.OPERATIONS:
            out.append(pytest.param(service, name, id=f"{service}.{name}"))
    return out


def _normalise(value: Any) -> Any:
    """Compare enums as strings, datetimes as instants, sequences as lists."""
    if attrs.has(type(value)):
        return {f.name: _normalise(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _rfc822_truncated(value: Any, shapes: Any, shape_name: str) -> Any:
    """Header timestamps travel as RFC 822 (whole seconds): drop sub-seconds before comparing."""
    s = shapes[shape_name]
    changes = {}
    for m in s.members:
        v = getattr(value, m.name)
        if m.location == "header" and isinstance(v, datetime):
            changes[m.name] = v.replace(microsecond=0)
    return attrs.evolve(value, **changes) if changes else value


@pytest.mark.parametrize(("service", "op_name"), _operations())
def test_request_round_trip(service: str, op_name: str) -> None:
    mod = importlib.import_module(f"kvs_async.{module_name(service)}")
    op = mod.OPERATIONS[op_name]
    if op.input_shape is None:
        pytest.skip("no input")
    shapes = mod.SERVICE.shapes

    @SETTINGS
    @given(value=strategy(shapes, op.input_shape))
    def check(value: Any) -> None:
        req = protocol.serialize_request(mod.SERVICE, op, value)
        found = protocol.match_operation(mod.SERVICE, req.method, req.path, query=req.query)
        assert found is not None
        matched, labels = found
        assert matched.name == op.name
        decoded = protocol.decode_request(
            mod.SERVICE,
            op,
            path_labels=labels,
            query=req.query,
            headers=CIMultiDict(req.headers),
            body=req.body,
        )
        token_filled = {
            m.name: getattr(decoded, m.name)
            for m in shapes[op.input_shape].members
            if m.idempotency_token
        }
        expected = _rfc822_truncated(attrs.evolve(value, **token_filled), shapes, op.input_shape)
        assert _normalise(decoded) == _normalise(expected)

    check()


@pytest.mark.parametrize(("service", "op_name"), _operations())
def test_response_round_trip(service: str, op_name: str) -> None:
    mod = importlib.import_module(f"kvs_async.{module_name(service)}")
    op = mod.OPERATIONS[op_name]
    if op.output_shape is None:
        pytest.skip("no output")
    shapes = mod.SERVICE.shapes
    if op.streaming_output:
        pytest.skip("streaming payload: covered by test_streaming_output_binds_stream")

    @SETTINGS
    @given(value=strategy(shapes, op.output_shape))
    def check(value: Any) -> None:
        status, headers, body = protocol.encode_response(mod.SERVICE, op, value)
        assert status == op.success_code
        parsed = protocol.parse_response(mod.SERVICE, op, status, CIMultiDict(headers), body)
        assert _normalise(parsed) == _normalise(_rfc822_truncated(value, shapes, op.output_shape))

    check()


def test_streaming_output_binds_stream() -> None:
    op = media.OPERATIONS["GetMedia"]
    out = media.GetMediaOutput(content_type="video/webm", payload=None)
    status, headers, body = protocol.encode_response(media.SERVICE, op, out)
    assert (status, headers, body) == (200, {"Content-Type": "video/webm"}, b"")

    class Stream:
        async def read(self, n: int = -1) -> bytes:
            return b""

        def close(self) -> None:
            pass

        def __aiter__(self) -> Any:
            raise NotImplementedError

    stream = Stream()
    parsed = protocol.parse_streaming_response(media.SERVICE, op, 200, CIMultiDict(headers), stream)
    assert parsed.payload is stream
    assert parsed.content_type == "video/webm"


def test_unknown_enum_value_kept_in_output() -> None:
    from kvs_async import kinesisvideo as kv

    op = kv.OPERATIONS["DescribeStream"]
    body = b'{"StreamInfo": {"StreamName": "s", "Status": "HIBERNATING"}}'
    out = protocol.parse_response(kv.SERVICE, op, 200, {}, body)
    assert out.stream_info.status == "HIBERNATING"
    body = b'{"StreamInfo": {"StreamName": "s", "Status": "ACTIVE"}}'
    out = protocol.parse_response(kv.SERVICE, op, 200, {}, body)
    assert out.stream_info.status is kv.Status.ACTIVE


def test_error_parsing_and_encoding() -> None:
    from kvs_async import kinesisvideo as kv

    headers = {
        "x-amzn-ErrorType": "ResourceNotFoundException:http://internal/",
        "x-amzn-RequestId": "rid",
    }
    err = protocol.parse_error(kv.SERVICE, 404, CIMultiDict(headers), b'{"Message": "no stream"}')
    assert type(err) is kv.ResourceNotFoundException
    assert (err.code, err.message, err.status_code, err.request_id) == (
        "ResourceNotFoundException",
        "no stream",
        404,
        "rid",
    )
    # __type with a namespace, no header.
    err = protocol.parse_error(
        kv.SERVICE, 400, {}, b'{"__type": "ns#ClientLimitExceededException", "message": "slow"}'
    )
    assert type(err) is kv.ClientLimitExceededException and err.message == "slow"
    # Unknown codes stay plain ServiceErrors with the code set.
    err = protocol.parse_error(kv.SERVICE, 418, {}, b'{"__type": "TeapotException"}')
    assert type(err).__name__ == "ServiceError" and err.code == "TeapotException"
    # Server side: encode_error then parse_error gives the same class back.
    status, headers_out, body = protocol.encode_error(
        kv.ResourceInUseException("busy", request_id="r2")
    )
    again = protocol.parse_error(kv.SERVICE, status, CIMultiDict(headers_out), body)
    assert type(again) is kv.ResourceInUseException
    assert (again.message, again.request_id, again.status_code) == ("busy", "r2", 400)


def test_decode_request_refuses_bad_input() -> None:
    from kvs_async import kinesisvideo as kv

    op = kv.OPERATIONS["DescribeStream"]
    with pytest.raises(ParamValidationError) as info:
        protocol.decode_request(
            kv.SERVICE, op, path_labels={}, query=[], headers={}, body=b'{"StreamName": "cam one"}'
        )
    assert (info.value.path, info.value.rule) == ("stream_name", "pattern")
    with pytest.raises(ParamValidationError):
        protocol.decode_request(
            kv.SERVICE, op, path_labels={}, query=[], headers={}, body=b"not json"
        )


def test_match_operation_labels_and_constants() -> None:
    from kvs_async import chime_sdk_media_pipelines as chime

    svc = chime.SERVICE
    op, labels = protocol.match_operation(
        svc, "POST", "/tags", query=[("operation", "untag-resource")]
    ) or (None, {})
    assert op is not None and op.name == "UntagResource"
    op, labels = protocol.match_operation(svc, "GET", "/sdk-media-capture-pipelines/a%2Fb%3Ac") or (
        None,
        {},
    )
    assert op is not None and op.name == "GetMediaCapturePipeline"
    assert labels == {"mediaPipelineId": unquote("a%2Fb%3Ac")}
    assert protocol.match_operation(svc, "PATCH", "/tags") is None
    assert protocol.match_operation(svc, "GET", "/nothing/here") is None
