"""Signatures, malformed input and bounds: AWS's error shapes, stored data left intact."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator

import aiohttp
import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import MKV_DIR
from emulator_testkit import call, put_media, signed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.emulator import TEST_ACCESS_KEY, TEST_SECRET_KEY, Emulator, resolve_credentials

SAMPLE = MKV_DIR / "test_mixed_tags.mkv"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_key="AKIDSECURITY", secret_key="security-secret") as e:
        await e.load_media("kept", SAMPLE)
        yield e


async def raw_post(
    url: str, data: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def test_unsigned_request_is_403_missing_token(emu: Emulator) -> None:
    status, headers, body = await raw_post(
        emu.url + "/listStreams", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert headers["x-amzn-RequestId"]
    doc = json.loads(body)
    assert doc["__type"] == "MissingAuthenticationTokenException" and doc["message"]
    assert emu.log.calls()[-1].status == 403


async def test_wrong_secret_and_unknown_key(emu: Emulator) -> None:
    status, headers, _ = await call(emu, "/listStreams", {}, secret="not-the-secret")
    assert (status, headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    status, headers, _ = await call(emu, "/listStreams", {}, access_key="AKIDSOMEONEELSE")
    assert (status, headers["x-amzn-ErrorType"]) == (403, "UnrecognizedClientException")


async def test_tampered_body_fails_the_signature(emu: Emulator) -> None:
    url, headers, _ = signed(emu, "/listStreams", {"MaxResults": 1})
    status, resp_headers, _ = await raw_post(url, b'{"MaxResults": 2}', headers)
    assert (status, resp_headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")


async def test_body_must_match_the_signed_content_hash(emu: Emulator) -> None:
    original = b'{"MaxResults": 1}'
    url, headers, _ = signed(
        emu,
        "/listStreams",
        original,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(original).hexdigest()},
    )
    status, _, _ = await raw_post(url, original, headers)
    assert status == 200
    status, resp_headers, body = await raw_post(url, b'{"MaxResults": 2}', headers)
    assert (status, resp_headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert "x-amz-content-sha256" in json.loads(body)["message"]


async def test_boto3_with_the_wrong_key_gets_403(emu: Emulator) -> None:
    bad = boto3.client(
        "kinesisvideo",
        endpoint_url=emu.url,
        region_name=emu.region,
        aws_access_key_id=emu.credentials.access_key,
        aws_secret_access_key="wrong",
    )
    with pytest.raises(ClientError) as exc:
        await asyncio.to_thread(bad.list_streams)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"


async def test_malformed_json_is_400_and_data_intact(emu: Emulator) -> None:
    before = emu.fragments("kept")
    for body in (b"{not json", b"[1, 2]", b'{"StreamName": 5}', b"\xff\xfe"):
        status, headers, resp = await call(emu, "/describeStream", body)
        assert status == 400, body
        assert headers["x-amzn-ErrorType"] in ("SerializationException", "InvalidArgumentException")
        assert json.loads(resp)["message"]
    status, _, _ = await call(emu, "/describeStream", {"StreamName": "kept"})
    assert status == 200
    assert emu.fragments("kept") == before


async def test_model_validation_names_the_member(emu: Emulator) -> None:
    status, headers, body = await call(emu, "/createStream", {"StreamName": "bad name!"})
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidArgumentException")
    assert (
        "StreamName" in json.loads(body)["message"] or "stream_name" in json.loads(body)["message"]
    )
    status, _, _ = await call(emu, "/createStream", {"StreamName": "x" * 257})
    assert status == 400
    status, _, _ = await call(emu, "/createStream", {})
    assert status == 400
    status, _, _ = await call(emu, "/listStreams", {"MaxResults": 0})
    assert status == 400
    assert "bad name!" not in [s for s in emu.control.streams]


async def test_malformed_mkv_is_400_and_data_intact(emu: Emulator) -> None:
    before = emu.fragments("kept")
    good = SAMPLE.read_bytes()
    for body in (b"", b"not an mkv at all", good[:100], b"\x1a\x45\xdf\xa3\x9f" + b"\x00" * 8):
        status, headers, resp = await call(
            emu,
            "/putMedia",
            body,
            headers={"x-amzn-stream-name": "kept", "Content-Type": "application/octet-stream"},
        )
        assert status == 400, resp
        assert headers["x-amzn-ErrorType"] == "InvalidArgumentException"
        assert "MKV" in json.loads(resp)["message"] or "media" in json.loads(resp)["message"]
    assert emu.fragments("kept") == before
    acks = await put_media(emu, "kept", good)
    assert [a["EventType"] for a in acks] == ["PERSISTED"] * 10
    assert len(emu.fragments("kept")) == len(before) + 10


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(garbage=st.binary(max_size=300))
async def test_garbage_bodies_never_break_the_server(emu: Emulator, garbage: bytes) -> None:
    for path in ("/createStream", "/getMedia", "/listFragments", "/putMedia"):
        status, _, _ = await call(emu, path, garbage, headers={"x-amzn-stream-name": "kept"})
        assert status in (200, 400, 404), (path, garbage)
    status, _, _ = await call(emu, "/describeStream", {"StreamName": "kept"})
    assert status == 200


async def test_body_size_is_bounded(emu: Emulator) -> None:
    emu.max_body_bytes = 1000
    status, headers, _ = await call(emu, "/listStreams", b"{" + b" " * 2000 + b"}")
    assert status == 413
    assert headers["x-amzn-ErrorType"] == "InvalidArgumentException"


async def test_request_rate_is_bounded() -> None:
    async with Emulator(max_requests_per_second=3) as emu:
        emu.global_limiter.window = 60.0
        statuses = [(await call(emu, "/listStreams", {}))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 400]
        assert emu.log.calls()[-1].error_code == "ClientLimitExceededException"


async def test_unknown_operation_is_404(emu: Emulator) -> None:
    status, headers, _ = await call(emu, "/noSuchThing", {})
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


def test_credentials_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    assert resolve_credentials(None, None).access_key == TEST_ACCESS_KEY
    assert resolve_credentials(None, None).secret_key == TEST_SECRET_KEY
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    assert resolve_credentials(None, None).access_key == "AKIDENV"
    assert resolve_credentials("AKIDARG", "argsecret").access_key == "AKIDARG"
    with pytest.raises(ValueError):
        resolve_credentials("AKIDARG", None)
    assert "argsecret" not in repr(resolve_credentials("AKIDARG", "argsecret"))
