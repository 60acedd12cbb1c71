"""The rest of the control plane through boto3: versions, retention, channels, configurations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import MKV_DIR
from emulator_testkit import boto

from kvs_async.emulator import Emulator
from kvs_async.kinesis_video_archived_media import KinesisVideoArchivedMediaClient
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.kinesisvideo import KinesisVideoClient, ResourceNotFoundException


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(idle_timeout=0.2) as e:
        yield e


def error_of(fn: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        fn()
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


async def test_update_stream_and_retention_need_the_current_version(emu: Emulator) -> None:
    kv = boto(emu)

    def scenario() -> None:
        kv.create_stream(StreamName="s", DataRetentionInHours=1)
        v1 = kv.describe_stream(StreamName="s")["StreamInfo"]["Version"]
        assert error_of(
            lambda: kv.update_stream(StreamName="s", CurrentVersion="stale", MediaType="video/h265")
        ) == ("VersionMismatchException", 400)
        kv.update_stream(StreamName="s", CurrentVersion=v1, MediaType="video/h265", DeviceName="d")
        info = kv.describe_stream(StreamName="s")["StreamInfo"]
        assert (info["MediaType"], info["DeviceName"]) == ("video/h265", "d")
        v2 = info["Version"]
        assert v2 != v1 and len(v2) == 20
        kv.update_data_retention(
            StreamName="s",
            CurrentVersion=v2,
            Operation="INCREASE_DATA_RETENTION",
            DataRetentionChangeInHours=5,
        )
        info = kv.describe_stream(StreamName="s")["StreamInfo"]
        assert info["DataRetentionInHours"] == 6
        assert error_of(
            lambda: kv.update_data_retention(
                StreamName="s",
                CurrentVersion=info["Version"],
                Operation="DECREASE_DATA_RETENTION",
                DataRetentionChangeInHours=7,
            )
        ) == ("InvalidArgumentException", 400)
        assert error_of(
            lambda: kv.delete_stream(StreamARN=info["StreamARN"], CurrentVersion=v1)
        ) == ("VersionMismatchException", 400)
        storage = kv.describe_stream_storage_configuration(StreamName="s")
        assert storage["StreamStorageConfiguration"] == {"DefaultStorageTier": "HOT"}
        kv.update_stream_storage_configuration(
            StreamName="s",
            CurrentVersion=info["Version"],
            StreamStorageConfiguration={"DefaultStorageTier": "WARM"},
        )
        storage = kv.describe_stream_storage_configuration(StreamARN=info["StreamARN"])
        assert storage["StreamStorageConfiguration"] == {"DefaultStorageTier": "WARM"}

    await asyncio.to_thread(scenario)


async def test_tag_limits(emu: Emulator) -> None:
    kv = boto(emu)

    def scenario() -> None:
        kv.create_stream(StreamName="t", Tags={f"k{i}": "v" for i in range(49)})
        kv.tag_stream(StreamName="t", Tags={"k49": "v"})
        assert error_of(lambda: kv.tag_stream(StreamName="t", Tags={"one-more": "v"})) == (
            "TagsPerResourceExceededLimitException",
            400,
        )
        assert len(kv.list_tags_for_stream(StreamName="t")["Tags"]) == 50
        assert error_of(
            lambda: kv.list_tags_for_resource(
                ResourceARN="arn:aws:kinesisvideo:us-west-2:123456789012:stream/none/1"
            )
        ) == ("ResourceNotFoundException", 404)

    await asyncio.to_thread(scenario)


async def test_signaling_channels(emu: Emulator) -> None:
    kv = boto(emu)

    def scenario() -> None:
        arn = kv.create_signaling_channel(
            ChannelName="ch", Tags=[{"Key": "team", "Value": "video"}]
        )["ChannelARN"]
        assert arn.startswith("arn:aws:kinesisvideo:us-west-2:123456789012:channel/ch/")
        kv.create_signaling_channel(
            ChannelName="other", SingleMasterConfiguration={"MessageTtlSeconds": 120}
        )
        info = kv.describe_signaling_channel(ChannelName="ch")["ChannelInfo"]
        assert info["ChannelType"] == "SINGLE_MASTER"
        assert info["ChannelStatus"] == "ACTIVE"
        assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 60}
        assert error_of(lambda: kv.create_signaling_channel(ChannelName="ch")) == (
            "ResourceInUseException",
            400,
        )
        listed = kv.list_signaling_channels(
            ChannelNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "o"}
        )["ChannelInfoList"]
        assert [c["ChannelName"] for c in listed] == ["other"]
        kv.update_signaling_channel(
            ChannelARN=arn,
            CurrentVersion=info["Version"],
            SingleMasterConfiguration={"MessageTtlSeconds": 30},
        )
        info2 = kv.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
        assert info2["SingleMasterConfiguration"] == {"MessageTtlSeconds": 30}
        assert info2["Version"] != info["Version"]
        endpoints = kv.get_signaling_channel_endpoint(
            ChannelARN=arn,
            SingleMasterChannelEndpointConfiguration={
                "Protocols": ["WSS", "HTTPS"],
                "Role": "MASTER",
            },
        )["ResourceEndpointList"]
        assert {e["Protocol"]: e["ResourceEndpoint"] for e in endpoints} == {
            "WSS": "ws" + emu.url[4:],
            "HTTPS": emu.url,
        }
        assert kv.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "video"}
        kv.untag_resource(ResourceARN=arn, TagKeyList=["team"])
        assert kv.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}
        # Media storage maps a channel to a stream that keeps data.
        kv.create_stream(StreamName="nodata")
        stream_arn = kv.create_stream(StreamName="kept", DataRetentionInHours=24)["StreamARN"]
        nodata_arn = kv.describe_stream(StreamName="nodata")["StreamInfo"]["StreamARN"]
        assert kv.describe_media_storage_configuration(ChannelARN=arn)[
            "MediaStorageConfiguration"
        ] == {"Status": "DISABLED"}
        assert error_of(
            lambda: kv.update_media_storage_configuration(
                ChannelARN=arn,
                MediaStorageConfiguration={"StreamARN": nodata_arn, "Status": "ENABLED"},
            )
        ) == ("NoDataRetentionException", 400)
        kv.update_media_storage_configuration(
            ChannelARN=arn,
            MediaStorageConfiguration={"StreamARN": stream_arn, "Status": "ENABLED"},
        )
        assert kv.describe_media_storage_configuration(ChannelName="ch")[
            "MediaStorageConfiguration"
        ] == {"StreamARN": stream_arn, "Status": "ENABLED"}
        mapped = kv.describe_mapped_resource_configuration(StreamName="kept")
        assert mapped["MappedResourceConfigurationList"] == [
            {"Type": "MEDIA_STORAGE_CONFIGURATION", "ARN": arn}
        ]
        assert error_of(
            lambda: kv.delete_signaling_channel(ChannelARN=arn, CurrentVersion="x")
        ) == (
            "VersionMismatchException",
            400,
        )
        kv.delete_signaling_channel(ChannelARN=arn)
        assert error_of(lambda: kv.describe_signaling_channel(ChannelARN=arn)) == (
            "ResourceNotFoundException",
            404,
        )

    await asyncio.to_thread(scenario)


async def test_image_generation_and_notification_configurations(emu: Emulator) -> None:
    kv = boto(emu)
    image = {
        "Status": "ENABLED",
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "DestinationConfig": {"Uri": "s3://bucket/prefix", "DestinationRegion": "us-west-2"},
        "SamplingInterval": 3000,
        "Format": "JPEG",
        "WidthPixels": 640,
    }
    notification = {"Status": "ENABLED", "DestinationConfig": {"Uri": "arn:aws:sns:us-west-2:1:t"}}

    def scenario() -> None:
        kv.create_stream(StreamName="img", DataRetentionInHours=1)
        kv.create_stream(StreamName="zero")
        assert "ImageGenerationConfiguration" not in kv.describe_image_generation_configuration(
            StreamName="img"
        )
        kv.update_image_generation_configuration(
            StreamName="img", ImageGenerationConfiguration=image
        )
        got = kv.describe_image_generation_configuration(StreamName="img")
        assert got["ImageGenerationConfiguration"] == image
        assert error_of(
            lambda: kv.update_image_generation_configuration(
                StreamName="zero", ImageGenerationConfiguration=image
            )
        ) == ("NoDataRetentionException", 400)
        kv.update_notification_configuration(
            StreamName="img", NotificationConfiguration=notification
        )
        got = kv.describe_notification_configuration(StreamName="img")
        assert got["NotificationConfiguration"] == notification
        assert error_of(
            lambda: kv.update_notification_configuration(
                StreamName="zero", NotificationConfiguration=notification
            )
        ) == ("NoDataRetentionException", 400)
        assert error_of(lambda: kv.describe_notification_configuration(StreamName="missing")) == (
            "ResourceNotFoundException",
            404,
        )

    await asyncio.to_thread(scenario)


async def test_our_own_clients_work_against_it(emu: Emulator) -> None:
    await emu.load_media("cam", MKV_DIR / "test_mixed_tags.mkv")
    async with KinesisVideoClient(
        region=emu.region, credentials=emu.credentials, endpoint_url=emu.url
    ) as kv:
        created = await kv.create_stream(stream_name="ours", data_retention_in_hours=1)
        described = await kv.describe_stream(stream_name="ours")
        assert described.stream_info is not None
        assert described.stream_info.stream_arn == created.stream_arn
        with pytest.raises(ResourceNotFoundException):
            await kv.describe_stream(stream_name="missing")
    async with KinesisVideoArchivedMediaClient(
        region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
    ) as archived:
        listed = await archived.list_fragments(stream_name="cam")
        assert [f.fragment_number for f in listed.fragments or []] == [
            f.fragment_number for f in emu.fragments("cam")
        ]
    async with KinesisVideoMediaClient(
        region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
    ) as media:
        out = await media._get_media(
            stream_name="cam", start_selector=StartSelector(start_selector_type="EARLIEST")
        )
        assert out.payload is not None
        data = await out.payload.read()
        assert data.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 10
    assert [e.operation for e in emu.log.calls() if e.operation == "GetDataEndpoint"]
