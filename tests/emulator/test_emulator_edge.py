"""The edge-configuration life cycle through every state and every error, via boto3."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_testkit import boto, call

from kvs_async.emulator import Emulator

HUB = "arn:aws:iot:us-west-2:123456789012:thing/hub-1"
EDGE_CONFIG: dict[str, Any] = {
    "HubDeviceArn": HUB,
    "RecorderConfig": {
        "MediaSourceConfig": {
            "MediaUriSecretArn": "arn:aws:secretsmanager:us-west-2:123456789012:secret:cam-abcdef",
            "MediaUriType": "RTSP_URI",
        }
    },
    "UploaderConfig": {
        "ScheduleConfig": {"ScheduleExpression": "0 0/5 * * * ?", "DurationInSeconds": 60}
    },
    "DeletionConfig": {"EdgeRetentionInHours": 24, "DeleteAfterUpload": True},
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(edge_sync_delay=0.15) as e:
        await e.create_stream("edge", retention_hours=24)
        await e.create_stream("norecord", retention_hours=0)
        yield e


def code_of(fn: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        fn()
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_status(kv: Any, wanted: str, *, gone: bool = False) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            resp = kv.describe_edge_configuration(StreamName="edge")
        except ClientError as exc:
            if gone and exc.response["Error"]["Code"] == "StreamEdgeConfigurationNotFoundException":
                return {}
            raise
        if resp["SyncStatus"] == wanted:
            return dict(resp)
        time.sleep(0.03)
    raise AssertionError(f"edge configuration never reached {wanted}")


async def test_edge_configuration_life_cycle(emu: Emulator) -> None:
    kv = boto(emu)

    def scenario() -> None:
        # No configuration yet.
        assert code_of(lambda: kv.describe_edge_configuration(StreamName="edge")) == (
            "StreamEdgeConfigurationNotFoundException",
            404,
        )
        assert code_of(lambda: kv.delete_edge_configuration(StreamName="edge")) == (
            "StreamEdgeConfigurationNotFoundException",
            404,
        )
        # Errors before any state change.
        assert code_of(
            lambda: kv.start_edge_configuration_update(StreamName="missing", EdgeConfig=EDGE_CONFIG)
        ) == ("ResourceNotFoundException", 404)
        assert code_of(
            lambda: kv.start_edge_configuration_update(
                StreamName="norecord", EdgeConfig=EDGE_CONFIG
            )
        ) == ("NoDataRetentionException", 400)
        # SYNCING, busy while syncing, then IN_SYNC.
        started = kv.start_edge_configuration_update(StreamName="edge", EdgeConfig=EDGE_CONFIG)
        assert started["SyncStatus"] == "SYNCING"
        assert started["EdgeConfig"]["HubDeviceArn"] == HUB
        assert started["StreamARN"].endswith(started["StreamARN"].split("/")[-1])
        assert code_of(
            lambda: kv.start_edge_configuration_update(StreamName="edge", EdgeConfig=EDGE_CONFIG)
        ) == ("ResourceInUseException", 400)
        synced = wait_status(kv, "IN_SYNC")
        assert synced["CreationTime"] == started["CreationTime"]
        assert synced["EdgeConfig"] == started["EdgeConfig"]
        listed = kv.list_edge_agent_configurations(HubDeviceArn=HUB)["EdgeConfigs"]
        assert [c["StreamName"] for c in listed] == ["edge"]
        assert listed[0]["SyncStatus"] == "IN_SYNC"
        assert kv.list_edge_agent_configurations(HubDeviceArn=HUB + "x")["EdgeConfigs"] == []
        # An update that the edge agent fails to apply.
        emu.faults.edge_sync_failure("RTSP source unreachable", stream="edge")
        update = dict(EDGE_CONFIG, DeletionConfig={"EdgeRetentionInHours": 48})
        again = kv.start_edge_configuration_update(StreamName="edge", EdgeConfig=update)
        assert again["SyncStatus"] == "SYNCING"
        assert again["CreationTime"] == started["CreationTime"]
        failed = wait_status(kv, "SYNC_FAILED")
        assert failed["FailedStatusDetails"] == "RTSP source unreachable"
        assert failed["EdgeConfig"]["DeletionConfig"]["EdgeRetentionInHours"] == 48
        # A failed sync can be retried.
        kv.start_edge_configuration_update(StreamName="edge", EdgeConfig=EDGE_CONFIG)
        assert "FailedStatusDetails" not in wait_status(kv, "IN_SYNC")
        # A deletion that fails, then one that succeeds.
        emu.faults.edge_sync_failure("agent offline")
        kv.delete_edge_configuration(StreamName="edge")
        assert kv.describe_edge_configuration(StreamName="edge")["SyncStatus"] == "DELETING"
        assert code_of(
            lambda: kv.start_edge_configuration_update(StreamName="edge", EdgeConfig=EDGE_CONFIG)
        ) == ("ResourceInUseException", 400)
        assert code_of(lambda: kv.delete_edge_configuration(StreamName="edge")) == (
            "ResourceInUseException",
            400,
        )
        assert wait_status(kv, "DELETE_FAILED")["FailedStatusDetails"] == "agent offline"
        kv.delete_edge_configuration(StreamName="edge")
        assert wait_status(kv, "", gone=True) == {}
        assert kv.list_edge_agent_configurations(HubDeviceArn=HUB)["EdgeConfigs"] == []

    await asyncio.to_thread(scenario)
    statuses = [e.status for e in emu.log.calls("StartEdgeConfigurationUpdate")]
    assert statuses == [404, 400, 200, 400, 200, 200, 400]


async def test_edge_config_is_validated_by_the_model(emu: Emulator) -> None:
    bad = {"HubDeviceArn": HUB}  # RecorderConfig is required
    status, headers, body = await call(
        emu, "/startEdgeConfigurationUpdate", {"StreamName": "edge", "EdgeConfig": bad}
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidArgumentException"
    assert b"RecorderConfig" in body or b"recorder_config" in body
    retention = dict(EDGE_CONFIG, DeletionConfig={"EdgeRetentionInHours": 9999})
    status, _, body = await call(
        emu, "/startEdgeConfigurationUpdate", {"StreamName": "edge", "EdgeConfig": retention}
    )
    assert status == 400, body


async def test_list_edge_agent_configurations_pages(emu: Emulator) -> None:
    for i in range(3):
        await emu.create_stream(f"edge-{i}")
        status, _, _ = await call(
            emu,
            "/startEdgeConfigurationUpdate",
            {"StreamName": f"edge-{i}", "EdgeConfig": EDGE_CONFIG},
        )
        assert status == 200
    kv = boto(emu)

    def pages() -> list[list[str]]:
        out = []
        kwargs: dict[str, Any] = {"HubDeviceArn": HUB, "MaxResults": 2}
        while True:
            resp = kv.list_edge_agent_configurations(**kwargs)
            out.append([c["StreamName"] for c in resp["EdgeConfigs"]])
            if "NextToken" not in resp:
                return out
            kwargs["NextToken"] = resp["NextToken"]

    assert await asyncio.to_thread(pages) == [["edge-0", "edge-1"], ["edge-2"]]
