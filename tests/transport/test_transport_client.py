"""BaseClient end to end over loopback HTTP: retries, throttles, quota, skew, timeouts,
credential refresh, data-endpoint discovery, secrets. Every request's SigV4 is verified."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from blockbuster import BlockBuster, blockbuster_ctx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transport_helpers import DESCRIBE_STREAM, Responder, fake_kvs, json_error, reply

from kvs_async import (
    ClientConfig,
    Credentials,
    KvsError,
    ParamValidationError,
    ReadTimeoutError,
    ServiceError,
)
from kvs_async import kinesisvideo as kv
from kvs_async.credentials import ExpiringCredentials, RefreshingCredentialProvider
from kvs_async.kinesis_video_archived_media import KinesisVideoArchivedMediaClient
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.kinesis_video_signaling import KinesisVideoSignalingClient
from kvs_async.kinesis_video_webrtc_storage import KinesisVideoWebRTCStorageClient
from kvs_async.retries import INITIAL_QUOTA, RetryPolicy

AK, SK, TOKEN = "AKIDTRANSPORTTEST", "sEcReT/transport+key-0123456789", "SeSsIoN-ToKeN-abcdef"
CREDS = Credentials(AK, SK)
SECRETS = {AK: SK}


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as bb:
        yield bb


def _client(url: str, **config: object) -> kv.KinesisVideoClient:
    return kv.KinesisVideoClient(
        region="us-west-2",
        credentials=CREDS,
        endpoint_url=url,
        config=ClientConfig(**config),  # type: ignore[arg-type]
    )


def _fast(client: kv.KinesisVideoClient, rand: float = 0.0) -> None:
    client._retry = RetryPolicy(client.config.max_attempts, rand=lambda: rand)


async def test_retries_500_and_throttling_with_backoff_then_success(
    blockbuster: BlockBuster,
) -> None:
    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/describeStream"] = [
            reply(500, "InternalFailure"),
            reply(400, "ThrottlingException"),
            reply(429, "TooManyRequests"),
        ]
        async with _client(kvs.url, max_attempts=4) as client:
            _fast(client, rand=0.5)  # delays: 0.5 * 1, 0.5 * 2, 0.5 * 4 seconds
            out = await client.describe_stream(stream_name="s")
    assert out.stream_info is not None
    assert out.stream_info.stream_name == "s"
    times = [s.at for s in kvs.seen]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, expected in zip(gaps, (0.5, 1.0, 2.0), strict=True):
        assert expected * 0.9 <= gap < expected + 1.0
    # Each retry signed afresh (new X-Amz-Date may repeat within a second, body identical).
    assert {s.body for s in kvs.seen} == {b'{"StreamName": "s"}'}
    # Three retries took 3 x 5 tokens; the success gives back the last retry's 5 (botocore's rule).
    assert client.retry_policy.quota.available == INITIAL_QUOTA - 10


@pytest.mark.parametrize(
    "code", ["ClientLimitExceededException", "ConnectionLimitExceededException"]
)
async def test_kvs_400_throttles_are_retried(code: str, blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/describeStream"] = [reply(400, code), reply(400, code)]
        async with _client(kvs.url) as client:
            _fast(client)
            out = await client.describe_stream(stream_name="s")
        assert out.stream_info is not None
        assert kvs.count("/describeStream") == 3
        # And when they persist, the typed error says it is a throttle.
        kvs.script["/describeStream"] = [reply(400, code)] * 3
        async with _client(kvs.url) as client:
            _fast(client)
            with pytest.raises(ServiceError) as info:
                await client.describe_stream(stream_name="s")
    err = info.value
    assert err.code == code
    assert err.status_code == 400
    assert err.throttling and err.retryable
    assert err.request_id == "req-1"
    if code == "ClientLimitExceededException":
        assert isinstance(err, kv.ClientLimitExceededException)


async def test_no_retry_on_400_validation(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/describeStream"] = [reply(400, "InvalidArgumentException", "bad name")]
        async with _client(kvs.url) as client:
            _fast(client)
            with pytest.raises(kv.InvalidArgumentException) as info:
                await client.describe_stream(stream_name="s")
    assert kvs.count("/describeStream") == 1
    assert info.value.message == "bad name"
    assert info.value.status_code == 400
    assert not info.value.retryable
    assert not info.value.throttling


async def test_not_found_is_typed_and_not_retried(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/describeStream"] = [reply(404, "ResourceNotFoundException", "no stream s")]
        async with _client(kvs.url) as client:
            with pytest.raises(kv.ResourceNotFoundException):
                await client.describe_stream(stream_name="s")
    assert kvs.count("/describeStream") == 1


async def test_retry_quota_exhaustion(blockbuster: BlockBuster) -> None:
    async def always_500(request: web.Request) -> web.StreamResponse:
        return json_error(503, "ServiceUnavailable", "down")

    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/describeStream"] = [always_500] * 1000
        async with _client(kvs.url, max_attempts=5) as client:
            _fast(client)
            for _ in range(26):
                with pytest.raises(ServiceError) as info:
                    await client.describe_stream(stream_name="s")
                assert info.value.status_code == 503
            assert client.retry_policy.quota.available == 0
    # 500 tokens / 5 per retry = 100 retries: 25 calls x (1 + 4), then one attempt only.
    assert kvs.count("/describeStream") == 25 * 5 + 1


async def test_clock_skew_is_corrected(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS, clock_offset=timedelta(hours=2)) as kvs:
        async with _client(kvs.url) as client:
            out = await client.describe_stream(stream_name="s")
            assert out.stream_info is not None
            assert kvs.rejected == ["InvalidSignatureException"]
            offset = client.clock_offset.total_seconds()
            assert abs(offset - 7200) < 5
            # Later calls are signed with the corrected clock straight away.
            await client.describe_stream(stream_name="s")
            assert kvs.rejected == ["InvalidSignatureException"]
            assert kvs.count("/describeStream") == 2


async def test_wrong_secret_is_typed_signature_error(blockbuster: BlockBuster) -> None:
    async with fake_kvs({AK: "another-secret"}) as kvs:
        async with _client(kvs.url) as client:
            with pytest.raises(ServiceError) as info:
                await client.describe_stream(stream_name="s")
    assert info.value.code == "InvalidSignatureException"
    assert info.value.status_code == 403
    assert SK not in str(info.value)


async def test_stalled_get_media_raises_read_timeout(blockbuster: BlockBuster) -> None:
    stop = asyncio.Event()

    async def stalled(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await resp.prepare(request)
        await resp.write(b"\x1a\x45\xdf\xa3")
        await stop.wait()
        return resp

    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/getMedia"] = [stalled]
        async with KinesisVideoMediaClient(
            region="us-west-2",
            credentials=CREDS,
            endpoint_url=kvs.url,
            config=ClientConfig(read_timeout=0.5),
        ) as media:
            out = await media._get_media(
                stream_name="s", start_selector=StartSelector(start_selector_type="NOW")
            )
            assert out.content_type == "video/webm"
            assert out.payload is not None
            assert await out.payload.read(4) == b"\x1a\x45\xdf\xa3"
            start = time.monotonic()
            with pytest.raises(ReadTimeoutError):
                await out.payload.read(4)
            assert time.monotonic() - start < 2.0
            out.payload.close()
            stop.set()


async def test_credentials_refresh_once_under_100_concurrent_calls(
    blockbuster: BlockBuster,
) -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    loads: list[int] = []

    def loader() -> ExpiringCredentials:  # blocking by contract: runs in a worker thread
        time.sleep(0.05)
        loads.append(1)
        n = len(loads)
        return ExpiringCredentials(
            credentials=Credentials(f"{AK}{n}", f"{SK}{n}", TOKEN),
            expiry=now[0] + timedelta(hours=1),
        )

    provider = RefreshingCredentialProvider(loader, clock=lambda: now[0])
    secrets = {f"{AK}{n}": f"{SK}{n}" for n in (1, 2, 3)}
    async with fake_kvs(secrets) as kvs:
        async with kv.KinesisVideoClient(
            region="us-west-2", credentials=provider, endpoint_url=kvs.url
        ) as client:
            await asyncio.gather(*(client.describe_stream(stream_name="s") for _ in range(100)))
            assert len(loads) == 1
            now[0] += timedelta(minutes=50)  # inside the 15-minute refresh window
            await asyncio.gather(*(client.describe_stream(stream_name="s") for _ in range(100)))
            assert len(loads) == 2
    keys = [s.access_key for s in kvs.seen]
    assert keys.count(f"{AK}1") == 100
    assert keys.count(f"{AK}2") == 100
    assert all(s.headers["X-Amz-Security-Token"] == TOKEN for s in kvs.seen)


async def test_data_endpoint_discovered_once_and_cached(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        async with KinesisVideoArchivedMediaClient(
            region="us-west-2",
            credentials=CREDS,
            control_endpoint_url=kvs.url,
            config=ClientConfig(data_endpoint_ttl=0.5),
        ) as archive:
            await asyncio.gather(*(archive.list_fragments(stream_name="s") for _ in range(50)))
            assert kvs.count("/getDataEndpoint") == 1
            assert kvs.count("/listFragments") == 50
            await archive.list_fragments(stream_arn="arn:aws:kinesisvideo:us-west-2:1:stream/t/2")
            assert kvs.count("/getDataEndpoint") == 2
            await asyncio.sleep(0.6)  # past the TTL
            await archive.list_fragments(stream_name="s")
            assert kvs.count("/getDataEndpoint") == 3
    lookups = [s for s in kvs.seen if s.path == "/getDataEndpoint"]
    assert b'"APIName": "LIST_FRAGMENTS"' in lookups[0].body
    assert b'"StreamName": "s"' in lookups[0].body
    assert b'"StreamARN": "arn:aws:kinesisvideo:us-west-2:1:stream/t/2"' in lookups[1].body


async def test_data_endpoint_for_get_media(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        async with KinesisVideoMediaClient(
            region="us-west-2", credentials=CREDS, control_endpoint_url=kvs.url
        ) as media:
            for _ in range(3):
                out = await media._get_media(
                    stream_name="s", start_selector=StartSelector(start_selector_type="NOW")
                )
                assert out.payload is not None
                assert await out.payload.read() == b"\x1a\x45\xdf\xa3media"
                out.payload.close()
    assert kvs.count("/getDataEndpoint") == 1
    assert b'"APIName": "GET_MEDIA"' in next(
        s.body for s in kvs.seen if s.path == "/getDataEndpoint"
    )


async def test_secrets_absent_from_reprs_errors_and_logs(
    caplog: pytest.LogCaptureFixture, blockbuster: BlockBuster
) -> None:
    creds = Credentials(AK, SK, TOKEN)
    caplog.set_level(logging.DEBUG)
    async with fake_kvs({AK: "not-the-secret"}) as kvs:
        kvs.script["/describeStream"] = [reply(500, "InternalFailure")]
        async with kv.KinesisVideoClient(
            region="us-west-2", credentials=creds, endpoint_url=kvs.url
        ) as client:
            _fast(client)
            with pytest.raises(ServiceError) as info:
                await client.describe_stream(stream_name="s")
            texts = [repr(creds), str(creds), repr(client), str(info.value), repr(info.value)]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert SK not in text
        assert TOKEN not in text
    assert AK in repr(creds)


async def test_describe_stream_output_parsed(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        async with _client(kvs.url) as client:
            out = await client.describe_stream(stream_name="s")
    info = out.stream_info
    assert info is not None
    assert info.stream_arn == DESCRIBE_STREAM["StreamInfo"]["StreamARN"]
    assert info.creation_time == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert client.region == "us-west-2"


async def test_signaling_and_storage_endpoints_discovered_per_channel(
    blockbuster: BlockBuster,
) -> None:
    arn = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/c/1"
    async with fake_kvs(SECRETS) as kvs:
        async with KinesisVideoSignalingClient(
            region="us-west-2", credentials=CREDS, control_endpoint_url=kvs.url
        ) as signaling:
            results = await asyncio.gather(
                *(signaling.get_ice_server_config(channel_arn=arn) for _ in range(20))
            )
            assert all(r.ice_server_list for r in results)
        assert kvs.count("/getSignalingChannelEndpoint") == 1
        assert kvs.count("/v1/get-ice-server-config") == 20
        async with KinesisVideoWebRTCStorageClient(
            region="us-west-2", credentials=CREDS, control_endpoint_url=kvs.url
        ) as storage:
            await storage.join_storage_session(channel_arn=arn)
            await storage.join_storage_session(channel_arn=arn)
            await storage.join_storage_session_as_viewer(channel_arn=arn, client_id="viewer-1")
        assert kvs.count("/joinStorageSession") == 2
        assert kvs.count("/joinStorageSessionAsViewer") == 1
    lookups = [json.loads(s.body) for s in kvs.seen if s.path == "/getSignalingChannelEndpoint"]
    assert [lk["SingleMasterChannelEndpointConfiguration"] for lk in lookups] == [
        {"Protocols": ["HTTPS"], "Role": "MASTER"},
        {"Protocols": ["WEBRTC"], "Role": "MASTER"},
        {"Protocols": ["WEBRTC"], "Role": "VIEWER"},
    ]
    assert all(lk["ChannelARN"] == arn for lk in lookups)


async def test_dead_data_endpoint_is_forgotten_and_rediscovered(blockbuster: BlockBuster) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens

    async def dead_endpoint(request: web.Request) -> web.StreamResponse:
        return web.json_response({"DataEndpoint": dead})

    async with fake_kvs(SECRETS) as kvs:
        kvs.script["/getDataEndpoint"] = [dead_endpoint]
        async with KinesisVideoArchivedMediaClient(
            region="us-west-2",
            credentials=CREDS,
            control_endpoint_url=kvs.url,
            config=ClientConfig(max_attempts=2),
        ) as archive:
            archive._retry = RetryPolicy(2, rand=lambda: 0.0)
            out = await archive.list_fragments(stream_name="s")
            assert out.fragments == []
    assert kvs.count("/getDataEndpoint") == 2
    assert kvs.count("/listFragments") == 1


async def test_invalid_input_fails_before_sending(blockbuster: BlockBuster) -> None:
    async with fake_kvs(SECRETS) as kvs:
        async with _client(kvs.url) as client:
            with pytest.raises(ParamValidationError) as info:
                await client.describe_stream(stream_name="")
    assert "stream_name" in str(info.value) or "StreamName" in str(info.value)
    assert kvs.seen == []


async def test_closed_client_refuses_calls() -> None:
    client = _client("http://127.0.0.1:9")
    await client.close()
    with pytest.raises(KvsError, match="closed"):
        await client.describe_stream(stream_name="s")


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    config = ClientConfig()
    assert config.max_attempts == 7
    assert config.use_fips_endpoint
    assert ClientConfig(max_attempts=2).max_attempts == 2
    with pytest.raises(ValueError):
        ClientConfig(max_attempts=0)
    with pytest.raises(ValueError):
        ClientConfig(read_timeout=0)


async def test_fips_endpoint_from_rule_set(monkeypatch: pytest.MonkeyPatch) -> None:
    client = kv.KinesisVideoClient(
        region="us-gov-west-1", credentials=CREDS, config=ClientConfig(use_fips_endpoint=True)
    )
    try:
        route = await client._static_route()
    finally:
        await client.close()
    assert route.url_base == "https://kinesisvideo-fips.us-gov-west-1.amazonaws.com"
    assert route.signing_region == "us-gov-west-1"
    assert route.signing_name == "kinesisvideo"


_OUTCOMES = {
    "ok": (200, ""),
    "internal": (500, "InternalFailure"),
    "unavailable": (503, "ServiceUnavailable"),
    "too-many": (429, "TooManyRequestsException"),
    "client-limit": (400, "ClientLimitExceededException"),
    "invalid": (400, "InvalidArgumentException"),
    "not-found": (404, "ResourceNotFoundException"),
}
_RETRYABLE = {"internal", "unavailable", "too-many", "client-limit"}


def _responder(kind: str) -> Responder:
    status, code = _OUTCOMES[kind]
    if status == 200:

        async def ok(request: web.Request) -> web.StreamResponse:
            return web.json_response(DESCRIBE_STREAM)

        return ok
    return reply(status, code)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(sorted(_OUTCOMES)), min_size=1, max_size=5),
    st.integers(min_value=1, max_value=4),
)
def test_attempts_follow_the_standard_policy(script: list[str], max_attempts: int) -> None:
    async def scenario() -> tuple[int, str, int]:
        async with fake_kvs(SECRETS) as kvs:
            kvs.script["/describeStream"] = [_responder(k) for k in script]
            async with _client(kvs.url, max_attempts=max_attempts) as client:
                _fast(client)
                try:
                    await client.describe_stream(stream_name="s")
                    outcome = "ok"
                except ServiceError as exc:
                    outcome = exc.code
                return kvs.count("/describeStream"), outcome, client.retry_policy.quota.available

    sent, outcome, quota = asyncio.run(scenario())
    # Expected: walk the script (then the default 200) until success, a non-retryable
    # error, or the attempt budget runs out.
    full = [*script, "ok"]
    expected_sent = 0
    for kind in full:
        expected_sent += 1
        if kind not in _RETRYABLE or expected_sent == max_attempts:
            break
    last = full[expected_sent - 1]
    assert sent == expected_sent
    assert outcome == ("ok" if last == "ok" else _OUTCOMES[last][1])
    retries = expected_sent - 1
    refund = (5 if retries else 1) if last == "ok" else 0
    assert quota == min(INITIAL_QUOTA, INITIAL_QUOTA - 5 * retries + refund)
