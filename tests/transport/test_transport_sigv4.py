"""SigV4: the AWS test suite, equality with botocore's SigV4Auth, and verify_request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import quote, unquote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from conftest import CONFORMANCE_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async._http import HttpRequest
from kvs_async.credentials import Credentials
from kvs_async.signing import SignatureError, canonical_request, sign_request, verify_request

SUITE = CONFORMANCE_DIR / "sigv4"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


def _cases() -> list[Path]:
    return sorted(p.parent for p in SUITE.rglob("*.req"))


def _read(case: Path, ext: str) -> str:
    return (case / f"{case.name}{ext}").read_text(encoding="utf-8").replace("\r", "")


def _parse_req(raw: str) -> tuple[HttpRequest, list[tuple[str, str]]]:
    """Read the raw request line and headers ourselves (so all 34 cases can run)."""
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0]
    path, _, qs = target.partition("?")
    query: list[tuple[str, str]] = []
    if qs:
        for part in qs.split("&"):
            k, _, v = part.partition("=")
            query.append((unquote(k), unquote(v)))
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
        else:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
    merged: dict[str, str] = {}
    canon: dict[str, str] = {}
    for name, value in headers:
        key = canon.setdefault(name.lower(), name)
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    request = HttpRequest(method=method, path=path, query=query, headers=merged)
    request.body = body.encode("utf-8")
    return request, headers


@pytest.mark.parametrize("case", _cases(), ids=lambda p: str(p.relative_to(SUITE)))
def test_sigv4_suite_case(case: Path) -> None:
    request, _ = _parse_req(_read(case, ".req"))
    creq_expected = _read(case, ".creq")
    token = None
    for line in creq_expected.split("\n"):
        if line.startswith("x-amz-security-token:"):
            token = line.partition(":")[2]
    creds = Credentials(ACCESS_KEY, SECRET, token)
    sign_request(request, credentials=creds, region="us-east-1", service="service", now=SUITE_TIME)
    assert request.headers["Authorization"] == _read(case, ".authz")
    creq, _ = canonical_request(
        request.method,
        request.path,
        request.query,
        [(k, v) for k, v in request.headers.items() if k != "Authorization"],
        creq_expected.rsplit("\n", 1)[1],
    )
    assert creq == creq_expected


def test_sigv4_suite_has_all_cases() -> None:
    assert len(_cases()) == 34


# --- property: same Authorization as botocore ---------------------------------------------

_token_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-")
_header_name = st.text(_token_chars, min_size=1, max_size=12).map(lambda s: "x-" + s)
_header_value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=30
)
_segment = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
_query_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@st.composite
def _requests(draw: st.DrawFn) -> tuple[HttpRequest, Credentials, str, datetime]:
    segments = draw(st.lists(_segment, max_size=4))
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    query = draw(st.lists(st.tuples(_query_text, _query_text), max_size=4))
    names = draw(st.lists(_header_name, max_size=4, unique_by=str.lower))
    headers = {n: draw(_header_value) for n in names}
    if draw(st.booleans()):
        headers["Content-Type"] = "application/json"
    body = draw(st.binary(max_size=64))
    host = draw(
        st.sampled_from(
            [
                "https://kinesisvideo.us-west-2.amazonaws.com",
                "https://s-1234.kinesisvideo.eu-west-1.amazonaws.com:443",
                "http://127.0.0.1:8123",
                "https://kinesisvideo.cn-north-1.amazonaws.com.cn:8443",
            ]
        )
    )
    req = HttpRequest(
        method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"])),
        path=path,
        query=query,
        headers=headers,
        body=body,
        url_base=host,
    )
    creds = Credentials(
        draw(st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), min_size=4, max_size=20)),
        draw(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=16, max_size=40)
        ),
        draw(st.none() | st.text(st.sampled_from("abcdefXYZ0123+/="), min_size=1, max_size=40)),
    )
    region = draw(st.sampled_from(["us-east-1", "us-west-2", "cn-north-1", "us-gov-west-1"]))
    now = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
        )
    ).replace(microsecond=0)
    return req, creds, region, now


def _botocore_authorization(
    req: HttpRequest, creds: Credentials, region: str, now: datetime
) -> str:
    url = req.url_base + req.path
    if req.query:
        url += "?" + "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in req.query
        )
    aws = AWSRequest(method=req.method, url=url, headers=dict(req.headers), data=req.body)
    auth = SigV4Auth(
        BotoCredentials(creds.access_key, creds.secret_key, creds.token), "kinesisvideo", region
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        auth.add_auth(aws)
    return str(aws.headers["Authorization"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests())
def test_sigv4_matches_botocore(case: tuple[HttpRequest, Credentials, str, datetime]) -> None:
    req, creds, region, now = case
    expected = _botocore_authorization(req, creds, region, now)
    sign_request(req, credentials=creds, region=region, service="kinesisvideo", now=now)
    assert req.headers["Authorization"] == expected


# --- verify_request -------------------------------------------------------------------------


def _verify(req: HttpRequest, secrets: dict[str, str], now: datetime) -> str:
    return verify_request(
        method=req.method,
        path=req.path,
        query=req.query,
        headers=req.headers,
        body=req.body,
        secret_for=secrets.get,
        now=now,
    )


@settings(max_examples=150, deadline=None)
@given(_requests(), st.integers(min_value=-299, max_value=299))
def test_verify_round_trips(
    case: tuple[HttpRequest, Credentials, str, datetime], skew: int
) -> None:
    req, creds, region, now = case
    sign_request(req, credentials=creds, region=region, service="kinesisvideo", now=now)
    got = _verify(req, {creds.access_key: creds.secret_key}, now + timedelta(seconds=skew))
    assert got == creds.access_key


@settings(max_examples=150, deadline=None)
@given(_requests(), st.sampled_from(["body", "path", "query", "header", "method", "secret"]))
def test_verify_rejects_tampering(
    case: tuple[HttpRequest, Credentials, str, datetime], what: str
) -> None:
    req, creds, region, now = case
    req.headers["Content-Type"] = "application/json"
    sign_request(req, credentials=creds, region=region, service="kinesisvideo", now=now)
    secrets = {creds.access_key: creds.secret_key}
    if what == "body":
        req.body += b"x"
    elif what == "path":
        req.path += "x"
    elif what == "query":
        req.query = [*req.query, ("tampered", "1")]
    elif what == "header":
        req.headers["Content-Type"] = "text/plain"
    elif what == "method":
        req.method = "PATCH"
    else:
        secrets = {creds.access_key: creds.secret_key + "x"}
    with pytest.raises(SignatureError) as info:
        _verify(req, secrets, now)
    assert info.value.code == "InvalidSignatureException"
    assert info.value.status_code == 403
    assert creds.secret_key not in str(info.value)


def _signed(now: datetime) -> HttpRequest:
    req = HttpRequest(
        method="POST",
        path="/describeStream",
        headers={"Content-Type": "application/json"},
        body=b'{"StreamName":"s"}',
        url_base="https://kinesisvideo.us-west-2.amazonaws.com",
    )
    sign_request(
        req,
        credentials=Credentials("AKID", "secret"),
        region="us-west-2",
        service="kinesisvideo",
        now=now,
    )
    return req


def test_verify_error_codes() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    req = _signed(now)
    unsigned = HttpRequest(method="POST", path="/x", headers={"Host": "h"})
    with pytest.raises(SignatureError) as info:
        _verify(unsigned, {"AKID": "secret"}, now)
    assert info.value.code == "MissingAuthenticationTokenException"
    with pytest.raises(SignatureError) as info:
        _verify(req, {"OTHER": "secret"}, now)
    assert info.value.code == "UnrecognizedClientException"
    with pytest.raises(SignatureError) as info:
        _verify(req, {"AKID": "secret"}, now + timedelta(minutes=6))
    assert info.value.code == "InvalidSignatureException"
    assert "Signature expired" in info.value.message
    with pytest.raises(SignatureError) as info:
        _verify(req, {"AKID": "secret"}, now - timedelta(minutes=6))
    assert "Signature not yet current" in info.value.message
    req.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/x"
    with pytest.raises(SignatureError) as info:
        _verify(req, {"AKID": "secret"}, now)
    assert info.value.code == "IncompleteSignatureException"


def test_session_token_is_signed() -> None:
    req = HttpRequest(method="POST", path="/", url_base="https://example.com")
    creds = Credentials("AKID", "secret", "tok")
    sign_request(req, credentials=creds, region="r", service="s", now=SUITE_TIME)
    assert req.headers["X-Amz-Security-Token"] == "tok"
    assert "x-amz-security-token" in req.headers["Authorization"]
    assert "secret" not in repr(creds) and "tok" not in repr(creds)
