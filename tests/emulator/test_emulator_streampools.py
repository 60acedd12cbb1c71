"""Chime SDK media pipelines stream pools: the life cycle through our client, boto3, the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_testkit import aws_cli, boto

from kvs_async.chime_sdk_media_pipelines import (
    BadRequestException,
    ChimeSDKMediaPipelinesClient,
    ConflictException,
    KinesisVideoStreamConfiguration,
    KinesisVideoStreamConfigurationUpdate,
    NotFoundException,
    ResourceLimitExceededException,
    Tag,
)
from kvs_async.emulator import Emulator

DELAY = 0.05


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(
        access_key="AKIDPOOLS", secret_key="pools-secret", stream_pool_delay=DELAY
    ) as e:
        yield e


def client(emu: Emulator) -> ChimeSDKMediaPipelinesClient:
    return ChimeSDKMediaPipelinesClient(
        region=emu.region, credentials=emu.credentials, endpoint_url=emu.url
    )


async def settle() -> None:
    await asyncio.sleep(DELAY * 6)


async def test_life_cycle_through_our_client(emu: Emulator) -> None:
    config = KinesisVideoStreamConfiguration(region="us-east-1", data_retention_in_hours=24)
    async with client(emu) as chime:
        created = await chime.create_media_pipeline_kinesis_video_stream_pool(
            stream_configuration=config,
            pool_name="meetings",
            client_request_token="token-1",
            tags=[Tag(key="team", value="rec")],
        )
        pool = created.kinesis_video_stream_pool_configuration
        assert pool is not None and pool.pool_status == "CREATING"
        assert pool.pool_arn == (
            f"arn:aws:chime:{emu.region}:123456789012:"
            "media-pipeline-kinesis-video-stream-pool/meetings"
        )
        assert pool.pool_size == 0 and pool.stream_configuration == config
        assert pool.created_timestamp is not None and pool.created_timestamp.tzinfo is not None

        # The same token and input: the same pool; another input: the documented conflict.
        again = await chime.create_media_pipeline_kinesis_video_stream_pool(
            stream_configuration=config,
            pool_name="meetings",
            client_request_token="token-1",
            tags=[Tag(key="team", value="rec")],
        )
        assert again.kinesis_video_stream_pool_configuration is not None
        assert again.kinesis_video_stream_pool_configuration.pool_id == pool.pool_id
        with pytest.raises(ConflictException) as conflict:
            await chime.create_media_pipeline_kinesis_video_stream_pool(
                stream_configuration=config, pool_name="other", client_request_token="token-1"
            )
        assert conflict.value.status_code == 409
        with pytest.raises(ConflictException):  # the name is taken, whatever the token
            await chime.create_media_pipeline_kinesis_video_stream_pool(
                stream_configuration=config, pool_name="meetings"
            )
        with pytest.raises(ConflictException):  # still CREATING
            await chime.update_media_pipeline_kinesis_video_stream_pool(identifier="meetings")

        await settle()
        got = await chime.get_media_pipeline_kinesis_video_stream_pool(identifier=pool.pool_arn)
        assert got.kinesis_video_stream_pool_configuration is not None
        assert got.kinesis_video_stream_pool_configuration.pool_status == "ACTIVE"

        updated = await chime.update_media_pipeline_kinesis_video_stream_pool(
            identifier="meetings",
            stream_configuration=KinesisVideoStreamConfigurationUpdate(data_retention_in_hours=48),
        )
        view = updated.kinesis_video_stream_pool_configuration
        assert view is not None and view.pool_status == "UPDATING"
        assert view.stream_configuration is not None
        assert view.stream_configuration.data_retention_in_hours == 48
        with pytest.raises(ConflictException):  # UPDATING
            await chime.delete_media_pipeline_kinesis_video_stream_pool(identifier="meetings")
        await settle()

        await chime.tag_resource(resource_arn=pool.pool_arn, tags=[Tag(key="env", value="ci")])
        await chime.untag_resource(resource_arn=pool.pool_arn, tag_keys=["team"])
        tags = await chime.list_tags_for_resource(resource_arn=pool.pool_arn)
        assert tags.tags == [Tag(key="env", value="ci")]
        with pytest.raises(NotFoundException):
            await chime.list_tags_for_resource(resource_arn=pool.pool_arn + "-missing")

        await chime.delete_media_pipeline_kinesis_video_stream_pool(identifier="meetings")
        deleting = await chime.get_media_pipeline_kinesis_video_stream_pool(identifier="meetings")
        assert deleting.kinesis_video_stream_pool_configuration is not None
        assert deleting.kinesis_video_stream_pool_configuration.pool_status == "DELETING"
        await settle()
        with pytest.raises(NotFoundException) as gone:
            await chime.get_media_pipeline_kinesis_video_stream_pool(identifier="meetings")
        assert gone.value.status_code == 404


async def test_list_pages_and_limits(emu: Emulator) -> None:
    emu.pools.max_pools = 5
    config = KinesisVideoStreamConfiguration(region="us-west-2")
    async with client(emu) as chime:
        for i in range(5):
            await chime.create_media_pipeline_kinesis_video_stream_pool(
                stream_configuration=config, pool_name=f"pool-{i}"
            )
        with pytest.raises(ResourceLimitExceededException):
            await chime.create_media_pipeline_kinesis_video_stream_pool(
                stream_configuration=config, pool_name="pool-5"
            )
        names: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            page = await chime.list_media_pipeline_kinesis_video_stream_pools(
                max_results=2, next_token=token
            )
            names += [p.pool_name or "" for p in page.kinesis_video_stream_pools or []]
            pages += 1
            token = page.next_token
            if token is None:
                break
        assert (names, pages) == ([f"pool-{i}" for i in range(5)], 3)
        with pytest.raises(BadRequestException):
            await chime.list_media_pipeline_kinesis_video_stream_pools(next_token="garbage")


async def test_a_failed_pool_can_be_deleted(emu: Emulator) -> None:
    emu.faults.stream_pool_failure(pool="doomed")
    async with client(emu) as chime:
        await chime.create_media_pipeline_kinesis_video_stream_pool(
            stream_configuration=KinesisVideoStreamConfiguration(region="us-west-2"),
            pool_name="doomed",
        )
        await settle()
        got = await chime.get_media_pipeline_kinesis_video_stream_pool(identifier="doomed")
        assert got.kinesis_video_stream_pool_configuration is not None
        assert got.kinesis_video_stream_pool_configuration.pool_status == "FAILED"
        with pytest.raises(ConflictException):
            await chime.update_media_pipeline_kinesis_video_stream_pool(identifier="doomed")
        await chime.delete_media_pipeline_kinesis_video_stream_pool(identifier="doomed")
        await settle()
        assert "doomed" not in emu.pools.pools


async def test_life_cycle_through_boto3(emu: Emulator) -> None:
    chime = boto(emu, "chime-sdk-media-pipelines")

    def scenario() -> dict[str, Any]:
        config = {"Region": "eu-west-1", "DataRetentionInHours": 2}
        first = chime.create_media_pipeline_kinesis_video_stream_pool(
            StreamConfiguration=config, PoolName="b3", ClientRequestToken="tok-123"
        )["KinesisVideoStreamPoolConfiguration"]
        retry = chime.create_media_pipeline_kinesis_video_stream_pool(
            StreamConfiguration=config, PoolName="b3", ClientRequestToken="tok-123"
        )["KinesisVideoStreamPoolConfiguration"]
        with pytest.raises(ClientError) as conflict:
            chime.create_media_pipeline_kinesis_video_stream_pool(
                StreamConfiguration={**config, "DataRetentionInHours": 3},
                PoolName="b3",
                ClientRequestToken="tok-123",
            )
        for _ in range(50):
            got = chime.get_media_pipeline_kinesis_video_stream_pool(Identifier="b3")
            if got["KinesisVideoStreamPoolConfiguration"]["PoolStatus"] == "ACTIVE":
                break
        chime.update_media_pipeline_kinesis_video_stream_pool(
            Identifier=first["PoolArn"], StreamConfiguration={"DataRetentionInHours": 5}
        )
        chime.tag_resource(ResourceARN=first["PoolArn"], Tags=[{"Key": "k", "Value": "v"}])
        tags = chime.list_tags_for_resource(ResourceARN=first["PoolArn"])["Tags"]
        listed = chime.list_media_pipeline_kinesis_video_stream_pools(MaxResults=1)
        with pytest.raises(ClientError) as missing:
            chime.get_media_pipeline_kinesis_video_stream_pool(Identifier="nope")
        with pytest.raises(ClientError) as invalid:
            chime.create_media_pipeline_kinesis_video_stream_pool(
                StreamConfiguration={"Region": "not a region"}, PoolName="bad"
            )
        with pytest.raises(ClientError) as unsupported:
            chime.list_media_pipelines()
        return {
            "first": first,
            "retry": retry,
            "conflict": conflict.value.response,
            "tags": tags,
            "listed": listed,
            "missing": missing.value.response,
            "invalid": invalid.value.response,
            "unsupported": unsupported.value.response,
        }

    r = await asyncio.to_thread(scenario)
    assert r["first"]["PoolStatus"] == "CREATING"
    assert r["retry"]["PoolId"] == r["first"]["PoolId"]
    assert r["conflict"]["Error"]["Code"] == "ConflictException"
    assert r["conflict"]["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert r["tags"] == [{"Key": "k", "Value": "v"}]
    assert [p["PoolName"] for p in r["listed"]["KinesisVideoStreamPools"]] == ["b3"]
    assert "NextToken" not in r["listed"]
    assert r["missing"]["Error"]["Code"] == "NotFoundException"
    assert r["missing"]["Code"] == "NotFound"  # chime's own error body members
    assert r["invalid"]["Error"]["Code"] == "BadRequestException"
    # An operation the emulator does not serve: a code the chime model defines.
    assert r["unsupported"]["Error"]["Code"] == "BadRequestException"
    assert "ListMediaPipelines" in r["unsupported"]["Error"]["Message"]
    pool = emu.pools.pools["b3"]
    assert pool["StreamConfiguration"]["DataRetentionInHours"] == 5
    assert "tok-123" not in json.dumps(pool)  # the token is sensitive: only a digest is kept


async def test_life_cycle_through_the_aws_cli(emu: Emulator) -> None:
    svc = "chime-sdk-media-pipelines"
    code, out, err = await aws_cli(
        emu,
        svc,
        "create-media-pipeline-kinesis-video-stream-pool",
        "--pool-name",
        "cli-pool",
        "--stream-configuration",
        "Region=us-west-2,DataRetentionInHours=1",
        "--tags",
        "Key=a,Value=b",
    )
    assert code == 0, err
    arn = out["KinesisVideoStreamPoolConfiguration"]["PoolArn"]
    await settle()
    code, out, err = await aws_cli(
        emu, svc, "get-media-pipeline-kinesis-video-stream-pool", "--identifier", "cli-pool"
    )
    assert (code, out["KinesisVideoStreamPoolConfiguration"]["PoolStatus"]) == (0, "ACTIVE")
    code, out, err = await aws_cli(emu, svc, "list-tags-for-resource", "--resource-arn", arn)
    assert (code, out["Tags"]) == (0, [{"Key": "a", "Value": "b"}])
    code, out, err = await aws_cli(emu, svc, "list-media-pipeline-kinesis-video-stream-pools")
    assert [p["PoolName"] for p in out["KinesisVideoStreamPools"]] == ["cli-pool"]
    code, _, err = await aws_cli(
        emu, svc, "delete-media-pipeline-kinesis-video-stream-pool", "--identifier", "missing"
    )
    assert code != 0 and "NotFoundException" in err


async def test_pools_persist_across_restarts(tmp_path: Any) -> None:
    async with Emulator(data_dir=tmp_path, stream_pool_delay=DELAY) as first:
        await first.dispatch(
            "CreateMediaPipelineKinesisVideoStreamPool",
            {"PoolName": "kept", "StreamConfiguration": {"Region": "us-west-2"}},
            service="chime-sdk-media-pipelines",
        )
    async with Emulator(data_dir=tmp_path, stream_pool_delay=DELAY) as second:
        assert second.pools.pools["kept"]["PoolStatus"] == "CREATING"
        await settle()
        assert second.pools.pools["kept"]["PoolStatus"] == "ACTIVE"
