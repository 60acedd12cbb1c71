"""moto's tests/test_kinesisvideoarchivedmedia cases, run against the emulator (no mock_aws).

Differences, each where the emulator follows AWS instead of moto:

- moto's streams are created without ``DataRetentionInHours``, which AWS defaults to 0; AWS
  then answers every archived-media call with ``NoDataRetentionException`` (moto: success).
  The cases run as moto wrote them (asserting AWS's error), then on a stream with retention.
- moto's ``get_clip`` asks for a range an hour ago on an empty stream and gets a payload; AWS
  answers ``ResourceNotFoundException`` when no fragment is in the range. With media in the
  range, the emulator returns ``video/mp4`` and a real MP4 payload, as moto's assertion expects.
- moto's sessions cover no media; ours (LIVE, the default) need a fragment from the last
  30 seconds, so media is loaded first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from archive_media import boto, when
from botocore.exceptions import ClientError
from conftest import MKV_DIR

from kvs_async.emulator import Emulator

REGION = "ap-northeast-1"
SAMPLE = MKV_DIR / "output_get_media.mkv"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(region=REGION) as e:
        yield e


def _endpoint(emu: Emulator, stream: str, api: str, *, retention: int | None) -> str:
    kvs = boto(emu, "kinesisvideo")
    args: dict[str, Any] = {"StreamName": stream}
    if retention is not None:
        args["DataRetentionInHours"] = retention
    kvs.create_stream(**args)
    endpoint = kvs.get_data_endpoint(StreamName=stream, APIName=api)["DataEndpoint"]
    return str(endpoint)


def _client(emu: Emulator, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "kinesis-video-archived-media",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=emu.credentials.access_key,
        aws_secret_access_key=emu.credentials.secret_key,
    )


@pytest.mark.parametrize(
    ("api", "call"),
    [
        ("GET_HLS_STREAMING_SESSION_URL", "get_hls_streaming_session_url"),
        ("GET_DASH_STREAMING_SESSION_URL", "get_dash_streaming_session_url"),
    ],
)
async def test_session_url_as_moto_wrote_it(emu: Emulator, api: str, call: str) -> None:
    def without_retention() -> str:
        endpoint = _endpoint(emu, "my-stream", api, retention=None)
        with pytest.raises(ClientError) as err:
            getattr(_client(emu, endpoint), call)(StreamName="my-stream")
        return str(err.value.response["Error"]["Code"])

    assert await asyncio.to_thread(without_retention) == "NoDataRetentionException"

    await emu.create_stream("kept", retention_hours=1)
    await emu.load_media("kept", SAMPLE)

    def with_retention() -> tuple[str, str]:
        kvs = boto(emu, "kinesisvideo")
        endpoint = kvs.get_data_endpoint(StreamName="kept", APIName=api)["DataEndpoint"]
        res = getattr(_client(emu, endpoint), call)(StreamName="kept")
        return endpoint, next(v for k, v in res.items() if k.endswith("StreamingSessionURL"))

    endpoint, url = await asyncio.to_thread(with_retention)
    if api.startswith("GET_HLS"):
        assert url.startswith(f"{endpoint}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=")
    else:
        assert url.startswith(f"{endpoint}/dash/v1/getDASHManifest.mpd?SessionToken=")


async def test_get_clip_as_moto_wrote_it(emu: Emulator) -> None:
    await emu.create_stream("my-stream", retention_hours=1)
    frags = await emu.load_media("my-stream", SAMPLE)

    def scenario() -> tuple[str, str, bytes]:
        kvs = boto(emu, "kinesisvideo")
        endpoint = kvs.get_data_endpoint(StreamName="my-stream", APIName="GET_CLIP")["DataEndpoint"]
        client = _client(emu, endpoint)
        end = when(emu.clock.now()) - timedelta(hours=1)
        start = end - timedelta(minutes=5)
        selector = {
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end},
        }
        with pytest.raises(ClientError) as err:
            client.get_clip(StreamName="my-stream", ClipFragmentSelector=selector)
        selector["TimestampRange"] = {
            "StartTimestamp": when(frags[0].producer_timestamp),
            "EndTimestamp": when(frags[-1].producer_timestamp),
        }
        res = client.get_clip(StreamName="my-stream", ClipFragmentSelector=selector)
        return str(err.value.response["Error"]["Code"]), res["ContentType"], res["Payload"].read()

    code, ctype, payload = await asyncio.to_thread(scenario)
    assert code == "ResourceNotFoundException"
    assert ctype == "video/mp4" and payload[4:8] == b"ftyp"
