"""Property: for valid inputs of every operation of the six services, our request is botocore's.

Inputs are drawn from strategies derived from the shape tables (enums as members and
as plain strings, patterns, nested structures, lists, maps, timestamps, URI labels
that need escaping). botocore's rest-json serializer runs on a ServiceModel loaded
from the same specs/ files; method, path, query, headers and JSON body must agree.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]
from codegen_helpers import ROOT, strategy, to_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen import SERVICES
from codegen.names import module_name
from kvs_async import protocol

_SERIALIZER = create_serializer("rest-json", include_validation=False)
_MODELS: dict[str, ServiceModel] = {}


def _botocore_model(service: str) -> ServiceModel:
    if service not in _MODELS:
        raw = json.loads((ROOT / "specs" / service / "service-2.json").read_text())
        _MODELS[service] = ServiceModel(raw, service_name=service)
    return _MODELS[service]


def _operations() -> list[Any]:
    out = []
    for service in SERVICES:
        mod = importlib.import_module(f"kvs_async.{module_name(service)}")
        for name in mod.OPERATIONS:
            out.append(pytest.param(service, name, id=f"{service}.{name}"))
    return out


def _botocore_query(url_path: str, query: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    path, _, const = url_path.partition("?")
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in const.split("&") if p)]
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((key, str(v)) for v in values)
    return path, pairs


def _body(body: Any) -> Any:
    """JSON bodies compared as documents; anything else (a blob payload that merely starts
    with ``{``, e.g. lambda Invoke's) as bytes."""
    if isinstance(body, bytes | bytearray) and body[:1] in (b"{", b"["):
        try:
            return json.loads(body)
        except ValueError:  # not UTF-8 or not JSON: a raw payload
            pass
    return bytes(body)


@pytest.mark.parametrize(("service", "op_name"), _operations())
def test_request_matches_botocore(service: str, op_name: str) -> None:
    mod = importlib.import_module(f"kvs_async.{module_name(service)}")
    op = mod.OPERATIONS[op_name]
    shapes = mod.SERVICE.shapes
    op_model = _botocore_model(service).operation_model(op_name)
    inputs = strategy(shapes, op.input_shape) if op.input_shape else st.none()

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(value=inputs)
    def check(value: Any) -> None:
        ours = protocol.serialize_request(mod.SERVICE, op, value)
        params = to_params(shapes, op.input_shape, value) if op.input_shape else {}
        theirs = _SERIALIZER.serialize_to_request(params, op_model)
        path, query = _botocore_query(theirs["url_path"], theirs["query_string"])
        assert ours.method == theirs["method"]
        assert ours.path == path
        assert ours.query == query
        assert ours.headers == dict(theirs["headers"])
        assert _body(ours.body) == _body(theirs["body"])

    check()
