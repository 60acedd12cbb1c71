"""Property across both protocols: for valid inputs of every operation of 32 botocore
services (16 rest-json, 16 json, big and odd ones included), our request is botocore's.

Each service is generated in memory from the installed botocore's model; botocore's own
serializer runs on the same model. Method, path, query, headers and body must agree
(slow; runs in CI with a few examples per operation).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]
from codegen_helpers import strategy, to_params
from corpus_helpers import load_model
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from test_codegen_botocore_equiv import _body, _botocore_query

from codegen.generate import module_from_model
from kvs_async import ParamValidationError, protocol

pytestmark = pytest.mark.slow

REST_JSON = (
    "lambda", "apigatewayv2", "appsync", "batch", "polly", "efs", "eks", "glacier",
    "mq", "xray", "amplify", "signer", "schemas", "serverlessrepo", "outposts", "guardduty",
)  # fmt: skip
JSON = (
    "dynamodb", "kinesis", "kms", "logs", "secretsmanager", "sqs", "ecr", "events",
    "stepfunctions", "firehose", "cloudtrail", "codecommit", "acm", "rekognition",
    "transfer", "ssm-contacts",
)  # fmt: skip
EXAMPLES = 3


@pytest.mark.parametrize("service", REST_JSON + JSON)
def test_requests_match_botocore(service: str) -> None:
    model, pages = load_model(service)
    mod = module_from_model(service, model, pages)
    botocore_model = ServiceModel(model, service_name=service)
    serializer = create_serializer(model["metadata"]["protocol"], include_validation=False)
    checked = 0
    for name, op in mod.OPERATIONS.items():
        _check_operation(mod, op, botocore_model.operation_model(name), serializer)
        checked += 1
    print(f"{service}: {checked} operations equal botocore's requests")
    assert checked == len(mod.OPERATIONS) > 0


def _check_operation(mod: Any, op: Any, op_model: Any, serializer: Any) -> None:
    shapes = mod.SERVICE.shapes
    inputs = strategy(shapes, op.input_shape) if op.input_shape else st.none()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(value=inputs)
    def check(value: Any) -> None:
        try:
            ours = protocol.serialize_request(mod.SERVICE, op, value)
        except ParamValidationError as exc:
            # We refuse CR/LF/NUL in header values (botocore would send them): not valid input.
            assert exc.rule == "header_value", exc
            reject()
        params = to_params(shapes, op.input_shape, value) if op.input_shape else {}
        theirs = serializer.serialize_to_request(params, op_model)
        raw_query = theirs["query_string"] if isinstance(theirs["query_string"], dict) else {}
        path, query = _botocore_query(theirs["url_path"], raw_query)
        assert ours.method == theirs["method"]
        assert ours.path == path
        assert ours.query == query
        assert ours.headers == dict(theirs["headers"])
        assert _body(ours.body) == _body(theirs["body"])

    try:
        check()
    except Exception as exc:
        exc.add_note(f"operation {op.name}")
        raise
