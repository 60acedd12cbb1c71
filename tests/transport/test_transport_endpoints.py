"""Endpoint rule sets: botocore's 190 cases for our six services, plus the library functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from kvs_async.endpoints import RuleSet, _get_attr, _parse_arn, _parse_url, _substring, load_ruleset
from kvs_async.errors import EndpointResolutionError

ENDPOINTS = CONFORMANCE_DIR / "endpoints"
SERVICES = [
    "kinesisvideo",
    "kinesis-video-media",
    "kinesis-video-archived-media",
    "kinesis-video-signaling",
    "kinesis-video-webrtc-storage",
    "chime-sdk-media-pipelines",
]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _cases() -> list[Any]:
    out = []
    for svc in SERVICES:
        tests = _load(ENDPOINTS / svc / "endpoint-tests-1.json")["testCases"]
        for i, case in enumerate(tests):
            out.append(pytest.param(svc, case, id=f"{svc}-{i}"))
    return out


CASES = _cases()


def test_endpoint_case_count() -> None:
    assert len(CASES) == 190


def _ruleset(svc: str) -> RuleSet:
    return RuleSet(
        _load(ENDPOINTS / svc / "endpoint-rule-set-1.json"), _load(ENDPOINTS / "partitions.json")
    )


_RULESETS = {svc: _ruleset(svc) for svc in SERVICES}


@pytest.mark.parametrize(("svc", "case"), CASES)
def test_endpoint_case(svc: str, case: dict[str, Any]) -> None:
    expect = case["expect"]
    params = case.get("params", {})
    if "error" in expect:
        with pytest.raises(EndpointResolutionError) as info:
            _RULESETS[svc].resolve(params)
        assert str(info.value) == expect["error"]
        return
    endpoint = _RULESETS[svc].resolve(params)
    assert endpoint.url == expect["endpoint"]["url"]
    assert dict(endpoint.properties) == expect["endpoint"].get("properties", {})
    assert dict(endpoint.headers) == expect["endpoint"].get("headers", {})


def _packaged_available() -> bool:
    try:
        load_ruleset("kinesisvideo")
    except EndpointResolutionError:
        return False
    return True


@pytest.mark.skipif(not _packaged_available(), reason="codegen has not written kvs_async/_data yet")
@pytest.mark.parametrize("svc", SERVICES)
def test_packaged_rulesets_match_conformance_copies(svc: str) -> None:
    # The runtime loads kvs_async/_data via importlib.resources; it must give the same answers.
    packaged = load_ruleset(svc)
    for case in _load(ENDPOINTS / svc / "endpoint-tests-1.json")["testCases"]:
        params = case.get("params", {})
        if "error" in case["expect"]:
            with pytest.raises(EndpointResolutionError):
                packaged.resolve(params)
        else:
            assert packaged.resolve(params).url == case["expect"]["endpoint"]["url"]


def test_library_functions() -> None:
    assert _get_attr({"a": {"b": [1, {"c": 2}]}}, "a.b[1].c") == 2
    assert _get_attr({"a": [1]}, "a[3]") is None
    assert _substring("abcdef", 0, 3, False) == "abc"
    assert _substring("abcdef", 0, 3, True) == "def"
    assert _substring("ab", 0, 3, False) is None
    arn = _parse_arn("arn:aws:kinesisvideo:us-west-2:123456789012:stream/my-stream/1234")
    assert arn is not None
    assert arn["region"] == "us-west-2"
    assert arn["resourceId"] == ["stream", "my-stream", "1234"]
    assert _parse_arn("not-an-arn") is None
    url = _parse_url("https://127.0.0.1:8443/base")
    assert url == {
        "scheme": "https",
        "authority": "127.0.0.1:8443",
        "path": "/base",
        "normalizedPath": "/base/",
        "isIp": True,
    }
    assert _parse_url("ftp://x") is None
    assert _parse_url("https://x/?q=1") is None


def test_unknown_region_falls_back_by_regex_and_to_aws() -> None:
    rs = _RULESETS["kinesisvideo"]
    assert rs.resolve({"Region": "cn-northwest-9"}).url.endswith(".amazonaws.com.cn")
    assert rs.resolve({"Region": "mars-1"}).url == "https://kinesisvideo.mars-1.amazonaws.com"


_PARTITIONS = _load(ENDPOINTS / "partitions.json")
_KNOWN_REGIONS = sorted(r for p in _PARTITIONS["partitions"] for r in p["regions"])
_region = st.sampled_from(_KNOWN_REGIONS) | st.from_regex(
    r"\A(us|eu|ap|cn|us-gov|us-iso|eusc|xx)-[a-z]{2,9}-[0-9]{1,2}\Z", fullmatch=True
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SERVICES),
    st.none() | _region,
    st.booleans(),
    st.booleans(),
    st.none() | st.sampled_from(["https://example.com", "http://127.0.0.1:8080/base"]),
)
def test_endpoints_match_botocore_provider(
    svc: str, region: str | None, fips: bool, dualstack: bool, endpoint: str | None
) -> None:
    from botocore.endpoint_provider import EndpointProvider
    from botocore.exceptions import EndpointResolutionError as BotoEndpointError

    provider = EndpointProvider(_load(ENDPOINTS / svc / "endpoint-rule-set-1.json"), _PARTITIONS)
    params: dict[str, Any] = {"UseFIPS": fips, "UseDualStack": dualstack}
    if region is not None:
        params["Region"] = region
    if endpoint is not None:
        params["Endpoint"] = endpoint
    try:
        expected = provider.resolve_endpoint(**params)
    except BotoEndpointError as exc:
        with pytest.raises(EndpointResolutionError) as info:
            _RULESETS[svc].resolve(params)
        assert str(info.value) in str(exc)
        return
    got = _RULESETS[svc].resolve(params)
    assert got.url == expected.url
    assert dict(got.properties) == dict(expected.properties)
    assert dict(got.headers) == dict(expected.headers)
