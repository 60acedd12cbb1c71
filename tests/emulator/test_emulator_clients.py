"""Clients nobody here wrote (boto3, the AWS CLI, moto as a reference) against the emulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import MKV_DIR
from emulator_testkit import boto, parse_chunks

from kvs_async.emulator import Emulator

SAMPLE = MKV_DIR / "output_get_media.mkv"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_key="AKIDCLIENTTESTS", secret_key="client-tests-secret") as e:
        yield e


async def test_boto3_stream_life_cycle(emu: Emulator) -> None:
    kv = boto(emu)

    def scenario() -> dict[str, Any]:
        arn = kv.create_stream(StreamName="cam-1", DataRetentionInHours=2, Tags={"a": "1"})[
            "StreamARN"
        ]
        kv.create_stream(StreamName="cam-2", MediaType="video/h264")
        info = kv.describe_stream(StreamName="cam-1")["StreamInfo"]
        by_arn = kv.describe_stream(StreamARN=arn)["StreamInfo"]
        listed = kv.list_streams()["StreamInfoList"]
        filtered = kv.list_streams(
            StreamNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cam-2"}
        )["StreamInfoList"]
        page1 = kv.list_streams(MaxResults=1)
        page2 = kv.list_streams(MaxResults=1, NextToken=page1["NextToken"])
        kv.tag_stream(StreamName="cam-1", Tags={"b": "2"})
        kv.untag_stream(StreamARN=arn, TagKeyList=["a"])
        tags = kv.list_tags_for_stream(StreamName="cam-1")["Tags"]
        kv.tag_resource(ResourceARN=arn, Tags=[{"Key": "c", "Value": "3"}])
        rtags = kv.list_tags_for_resource(ResourceARN=arn)["Tags"]
        endpoint = kv.get_data_endpoint(StreamName="cam-1", APIName="GET_MEDIA")["DataEndpoint"]
        with pytest.raises(ClientError) as dup:
            kv.create_stream(StreamName="cam-1")
        kv.delete_stream(StreamARN=arn, CurrentVersion=info["Version"])
        with pytest.raises(ClientError) as gone:
            kv.describe_stream(StreamName="cam-1")
        return {
            "arn": arn,
            "info": info,
            "by_arn": by_arn,
            "listed": listed,
            "filtered": filtered,
            "pages": (page1, page2),
            "tags": tags,
            "rtags": rtags,
            "endpoint": endpoint,
            "dup": dup.value.response,
            "gone": gone.value.response,
        }

    r = await asyncio.to_thread(scenario)
    assert r["arn"].startswith(f"arn:aws:kinesisvideo:{emu.region}:123456789012:stream/cam-1/")
    assert r["info"]["StreamName"] == "cam-1"
    assert r["info"]["Status"] == "ACTIVE"
    assert r["info"]["DataRetentionInHours"] == 2
    assert r["info"]["CreationTime"].tzinfo is not None
    assert r["info"] == r["by_arn"]
    assert [s["StreamName"] for s in r["listed"]] == ["cam-1", "cam-2"]
    assert [s["StreamName"] for s in r["filtered"]] == ["cam-2"]
    page1, page2 = r["pages"]
    assert [s["StreamName"] for s in page1["StreamInfoList"]] == ["cam-1"]
    assert [s["StreamName"] for s in page2["StreamInfoList"]] == ["cam-2"]
    assert "NextToken" not in page2
    assert r["tags"] == {"b": "2"}
    assert r["rtags"] == {"b": "2", "c": "3"}
    assert r["endpoint"] == emu.url
    assert r["dup"]["Error"]["Code"] == "ResourceInUseException"
    assert r["dup"]["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r["gone"]["Error"]["Code"] == "ResourceNotFoundException"
    assert r["gone"]["ResponseMetadata"]["HTTPStatusCode"] == 404
    ops = [e.operation for e in emu.log.calls()]
    assert ops[:3] == ["CreateStream", "CreateStream", "DescribeStream"]
    assert emu.log.calls("DescribeStream")[-1].status == 404


async def test_boto3_get_media_returns_the_loaded_fragments(emu: Emulator) -> None:
    loaded = await emu.load_media("media", SAMPLE)
    assert len(loaded) == 5
    kv = boto(emu)
    endpoint = await asyncio.to_thread(
        lambda: kv.get_data_endpoint(StreamName="media", APIName="GET_MEDIA")["DataEndpoint"]
    )
    media = boto3.client(
        "kinesis-video-media",
        endpoint_url=endpoint,
        region_name=emu.region,
        aws_access_key_id=emu.credentials.access_key,
        aws_secret_access_key=emu.credentials.secret_key,
    )

    def read() -> tuple[str, bytes]:
        resp = media.get_media(StreamName="media", StartSelector={"StartSelectorType": "EARLIEST"})
        return resp["ContentType"], resp["Payload"].read()

    emu.idle_timeout = 0.2
    content_type, body = await asyncio.to_thread(read)
    assert content_type == "video/webm"
    chunks = parse_chunks(body)
    assert [c.fragment_number for c in chunks] == [f.fragment_number for f in loaded]
    assert [c.continuation_token for c in chunks] == [f.fragment_number for f in loaded]
    for chunk, frag in zip(chunks, loaded, strict=True):
        assert chunk.server_timestamp is not None
        assert len(frag.fragment_number) == 47
    assert sum(len(c.frames) for c in chunks) == 300
    closes = emu.log.closes("GetMedia", "media")
    assert closes and closes[-1].bytes_sent == len(body) and closes[-1].reason == "idle"


async def test_aws_cli_list_streams(emu: Emulator) -> None:
    await emu.create_stream("cli-stream")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": emu.credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": emu.credentials.secret_key,
        "AWS_DEFAULT_REGION": emu.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    # The AWS CLI installed with the test extra, run by this interpreter (no PATH lookup).
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awscli",
        "--endpoint-url",
        emu.url,
        "kinesisvideo",
        "list-streams",
        "--output",
        "json",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    names = [s["StreamName"] for s in json.loads(out)["StreamInfoList"]]
    assert names == ["cli-stream"]


def _normalize(value: Any) -> Any:
    """Shapes and fields, not values that legitimately differ (ARNs, versions, times)."""
    if isinstance(value, dict):
        return {
            k: _normalize(v)
            for k, v in sorted(value.items())
            if k not in ("ResponseMetadata", "NextToken")
        }
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return type(value).__name__


async def test_moto_and_emulator_agree(emu: Emulator) -> None:
    from moto import mock_aws

    def scenario(client: Any) -> list[Any]:
        out: list[Any] = []
        arn = client.create_stream(
            StreamName="same",
            DeviceName="dev",
            MediaType="video/h264",
            DataRetentionInHours=5,
            KmsKeyId="arn:aws:kms:us-west-2:123456789012:alias/aws/kinesisvideo",
        )["StreamARN"]
        out.append(arn.split(":")[:5])
        desc = client.describe_stream(StreamName="same")["StreamInfo"]
        out.append(_normalize(desc))
        out.append({k: desc[k] for k in ("StreamName", "DeviceName", "MediaType", "Status")})
        out.append(desc["DataRetentionInHours"])
        out.append(_normalize(client.list_streams()))
        out.append(sorted(s["StreamName"] for s in client.list_streams()["StreamInfoList"]))
        out.append(_normalize(client.get_data_endpoint(StreamName="same", APIName="GET_MEDIA")))
        for bad in (
            lambda: client.create_stream(StreamName="same"),
            lambda: client.describe_stream(StreamName="missing"),
            lambda: client.get_data_endpoint(StreamName="missing", APIName="GET_MEDIA"),
        ):
            with pytest.raises(ClientError) as exc:
                bad()
            err = exc.value.response
            out.append((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]))
        client.delete_stream(StreamARN=arn)
        out.append(client.list_streams()["StreamInfoList"])
        return out

    def with_moto() -> list[Any]:
        with mock_aws():
            client = boto3.client(
                "kinesisvideo",
                region_name=emu.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            return scenario(client)

    ours = await asyncio.to_thread(scenario, boto(emu))
    theirs = await asyncio.to_thread(with_moto)
    assert ours == theirs
