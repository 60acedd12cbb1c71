"""AWS's rest-json and json protocol tests (botocore's copies) against our serializer and parser.

Each case carries its own small service model; the generator turns it into a module
(in memory, through the same lower/emit stages as the committed bindings) and the
case runs against that module's shape table. Cases botocore skips are skipped here
with botocore's reason; every other case must pass. Counts per suite are printed
by ``test_conformance_counts`` (run pytest with ``-s`` to see them).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from codegen_helpers import from_params, to_result
from conftest import CONFORMANCE_DIR

from codegen.generate import module_from_model
from kvs_async import protocol

PROTOCOLS = CONFORMANCE_DIR / "protocols"
SUITES = {
    "input": "input/rest-json.json",
    "output": "output/rest-json.json",
    "legacy-input": "legacy/input/rest-json.json",
    "legacy-output": "legacy/output/rest-json.json",
    "json-input": "input/json.json",
    "json-output": "output/json.json",
    "json-legacy-input": "legacy/input/json.json",
    "json-legacy-output": "legacy/output/json.json",
    "json_1_0-input": "input/json_1_0.json",
    "json_1_0-output": "output/json_1_0.json",
}
IGNORE = json.loads((PROTOCOLS / "protocol-tests-ignore-list.json").read_text())

# Cases botocore's own runner skips, with its reasons (tests/data/conformance/README.md).
# The per-protocol lists are keyed by file basename and apply to the legacy files too.
SKIP_REASONS: dict[str, str] = {}
for _suite in IGNORE["general"]["input"]["suites"]:
    SKIP_REASONS[f"suite:input:{_suite}"] = "botocore ignore list (general input suite)"
for _proto in ("rest-json", "json", "json_1_0"):
    for _direction in ("input", "output"):
        for _case in IGNORE["protocols"].get(_proto, {}).get(_direction, {}).get("cases", []):
            SKIP_REASONS[f"case:{_proto}:{_direction}:{_case}"] = (
                f"botocore ignore list ({_proto} {_direction} case)"
            )

# Cases botocore skips that we support and therefore run too (README: "Run them if your
# code supports the feature"). Token auto-fill cases expect a fixed uuid4, patched in.
BEYOND_BOTOCORE = {
    "RestJsonQueryIdempotencyTokenAutoFill",
    "RestJsonQueryIdempotencyTokenAutoFillIsSet",
    "Idempotency token auto fill#0",
    "Idempotency token auto fill#1",
    "No parameters#0",
    "DocumentTypeAsPayloadInput",
    "DocumentTypeAsPayloadInputString",
    "RestJsonFooErrorUsingXAmznErrorType",
    "RestJsonFooErrorUsingXAmznErrorTypeWithUri",
    "RestJsonFooErrorUsingXAmznErrorTypeWithUriAndNamespace",
    "RestJsonHttpPayloadWithUnsetUnion:output",
    "RestJsonInputAndOutputWithQuotedStringHeaders",
    "RestJsonInputAndOutputWithTimestampHeaders:output",
    "AwsJson11StructuresDontSerializeNullValues",
    "AwsJson11FooErrorUsingXAmznErrorType",
    "AwsJson11FooErrorUsingXAmznErrorTypeWithUri",
    "AwsJson11FooErrorUsingXAmznErrorTypeWithUriAndNamespace",
    "AwsJson11FooErrorUsingCode",
    "AwsJson11FooErrorUsingCodeAndNamespace",
    "AwsJson11FooErrorUsingCodeUriAndNamespace",
    "AwsJson10FooErrorUsingXAmznErrorType",
    "AwsJson10FooErrorUsingXAmznErrorTypeWithUri",
    "AwsJson10FooErrorUsingXAmznErrorTypeWithUriAndNamespace",
    "AwsJson10FooErrorUsingCode",
    "AwsJson10FooErrorUsingCodeAndNamespace",
    "AwsJson10FooErrorUsingCodeUriAndNamespace",
}
# Cases botocore runs that we do not pass yet, with why (counted, reported, not hidden).
REFUSED: dict[str, str] = {
    "json-legacy-output:RPC JSON Event Stream#0": (
        "event streams are refused until supported (issue 13); the operation is left out"
    ),
}
FIXED_TOKEN = "00000000-0000-4000-8000-000000000000"

_MODULES: dict[str, Any] = {}
CATEGORY: dict[str, str] = {}  # case id -> run (as botocore) / beyond (botocore skips) / skip
RESULTS: Counter[tuple[str, str]] = Counter()


def _cases() -> list[Any]:
    params = []
    for kind, rel in SUITES.items():
        direction = "input" if kind.endswith("input") else "output"
        proto = rel.rsplit("/", 1)[-1].removesuffix(".json")
        for si, suite in enumerate(json.loads((PROTOCOLS / rel).read_text())):
            for ci, case in enumerate(suite["cases"]):
                cid = case.get("id") or f"{suite['description']}#{ci}"
                reason = SKIP_REASONS.get(f"suite:{direction}:{suite['description']}") or (
                    SKIP_REASONS.get(f"case:{proto}:{direction}:{case['id']}")
                    if "id" in case
                    else None
                )
                if reason is None and kind.endswith("legacy-input") and "params" not in case:
                    reason = "legacy input case without params (botocore skips it)"
                beyond = cid in BEYOND_BOTOCORE or f"{cid}:{direction}" in BEYOND_BOTOCORE
                pid = f"{kind}:{cid}"
                marks = []
                if pid in REFUSED:
                    CATEGORY[pid] = "refused"
                    params.append(
                        pytest.param(
                            kind,
                            si,
                            suite,
                            case,
                            id=pid,
                            marks=[pytest.mark.xfail(reason=REFUSED[pid], strict=True)],
                        )
                    )
                    continue
                if reason and beyond:
                    CATEGORY[pid] = "beyond"
                elif reason:
                    CATEGORY[pid] = "skip"
                    marks = [pytest.mark.skip(reason=reason)]
                else:
                    CATEGORY[pid] = "run"
                params.append(pytest.param(kind, si, suite, case, id=pid, marks=marks))
    return params


def _module(kind: str, si: int, suite: dict[str, Any], case: dict[str, Any]) -> Any:
    given = dict(case["given"])
    given.setdefault("name", "OperationName")
    key = f"{kind}:{si}:{json.dumps(given, sort_keys=True)}"
    mod = _MODULES.get(key)
    if mod is None:
        model = {
            "metadata": suite["metadata"],
            "shapes": suite["shapes"],
            "operations": {given["name"]: given},
        }
        mod = module_from_model("conformance", model, client_class="ConformanceClient")
        _MODULES[key] = mod
    return mod


def _query_pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import unquote

    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((unquote(k), unquote(v)))
    return pairs


def _check_input(mod: Any, suite: dict[str, Any], case: dict[str, Any]) -> None:
    op = next(iter(mod.OPERATIONS.values()))
    shapes = mod.SERVICE.shapes
    params = case.get("params", {})
    value = from_params(shapes, op.input_shape, params) if op.input_shape else None
    req = protocol.serialize_request(mod.SERVICE, op, value)
    expected = case["serialized"]
    if "method" in expected:
        assert req.method == expected["method"]
    path, _, query = expected["uri"].partition("?")
    assert req.path == path
    # Our query is decoded pairs (the transport encodes them); compare decoded, in order.
    assert req.query == _query_pairs(query)
    if "body" in expected:
        want = expected["body"]
        try:
            assert json.loads(req.body) == json.loads(want)
        except ValueError:
            assert req.body == want.encode()
    lower = {k.lower(): v for k, v in req.headers.items()}
    in_shape = shapes[op.input_shape] if op.input_shape else None
    list_headers = {
        (m.key.lower())
        for m in (in_shape.members if in_shape else ())
        if m.location == "header" and shapes[m.shape].type == "list"
    }
    rest = suite["metadata"]["protocol"] == "rest-json"
    for name, value_ in expected.get("headers", {}).items():
        if rest and name.lower() == "content-type" and value_ != "application/json":
            continue
        actual = lower.get(name.lower())
        if name.lower() in list_headers:
            value_ = value_.replace(", ", ",")
            actual = actual.replace(", ", ",") if actual is not None else None
        assert actual == value_, name
    for name in expected.get("forbidHeaders", []):
        assert name.lower() not in lower, name
    if "host" in expected:
        prefix = protocol.expand_host_prefix(mod.SERVICE, op, value) or ""
        endpoint = suite.get("clientEndpoint", "https://example.com")
        assert prefix + urlsplit(endpoint).netloc == expected["host"]


def _check_output(mod: Any, case: dict[str, Any]) -> None:
    op = next(iter(mod.OPERATIONS.values()))
    shapes = mod.SERVICE.shapes
    resp = case["response"]
    body = resp.get("body", "").encode()
    headers = resp.get("headers", {})
    if "error" in case:
        err = protocol.parse_error(mod.SERVICE, resp["status_code"], headers, body)
        assert err.code == case.get("errorCode", "")
        assert err.message == case.get("errorMessage", "")
        shape = next((s for s in shapes.values() if s.exception and s.cls is type(err)), None)
        fields = {
            m.wire: to_result(shapes, m.shape, err.fields[m.name], top=False)  # type: ignore[attr-defined]
            for m in (shape.members if shape else ())
            if m.name in err.fields  # type: ignore[attr-defined]
        }
        assert fields == case["error"]
        return
    out = protocol.parse_response(mod.SERVICE, op, resp["status_code"], headers, body)
    got = to_result(shapes, op.output_shape, out) if op.output_shape else {}
    assert got == case["result"]


@pytest.mark.parametrize(("kind", "si", "suite", "case"), _cases())
def test_conformance(
    kind: str, si: int, suite: dict[str, Any], case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol.uuid, "uuid4", lambda: FIXED_TOKEN)
    mod = _module(kind, si, suite, case)
    if kind.endswith("input"):
        _check_input(mod, suite, case)
    else:
        _check_output(mod, case)
    RESULTS[(kind, "passed")] += 1


# What botocore's runner executes per file (tests/data/conformance/README.md, "Case counts").
BOTOCORE_RUN = {
    "input": 101,
    "output": 82,
    "legacy-input": 53,
    "legacy-output": 33,
    "json-input": 50,
    "json-output": 52,
    "json-legacy-input": 22,
    "json-legacy-output": 20,
    "json_1_0-input": 18,
    "json_1_0-output": 26,
}


def test_conformance_counts() -> None:
    """We run exactly the cases botocore runs; print run/skip counts per suite."""
    run: Counter[str] = Counter()
    beyond: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for p in _cases():
        kind = p.values[0]
        category = CATEGORY[p.id]
        counter = {"skip": skipped, "beyond": beyond, "refused": refused}.get(category, run)
        counter[kind] += 1
    for kind in SUITES:
        print(
            f"conformance {kind}: {run[kind]} run (as botocore), {beyond[kind]} more that "
            f"botocore skips, {skipped[kind]} skipped, {refused[kind]} botocore runs and we fail"
        )
    assert dict(run + refused) == BOTOCORE_RUN
