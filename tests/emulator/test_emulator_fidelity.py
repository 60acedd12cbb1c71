"""Fidelity: credential scope, deep JSON, default page sizes, operations not emulated.

Each service the emulator serves is tried: a signature scoped to another region or
service is refused with AWS's 403, and every refusal carries a code the model defines.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_testkit import boto, call, send

from kvs_async.emulator import Emulator
from kvs_async.emulator.controlplane import ApiError
from kvs_async.emulator.routing import SERVICES

#: One cheap operation per served service: (boto3 name, method, path, query, JSON body).
PROBES: dict[str, tuple[str, str, list[tuple[str, str]], dict[str, Any]]] = {
    "kinesisvideo": ("POST", "/listStreams", [], {}),
    "kinesis-video-media": (
        "POST",
        "/getMedia",
        [],
        {"StreamName": "missing", "StartSelector": {"StartSelectorType": "NOW"}},
    ),
    "kinesis-video-archived-media": ("POST", "/listFragments", [], {"StreamName": "missing"}),
    "kinesis-video-signaling": (
        "POST",
        "/v1/get-ice-server-config",
        [],
        {"ChannelARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/none/1"},
    ),
    "kinesis-video-webrtc-storage": (
        "POST",
        "/joinStorageSession",
        [],
        {"channelArn": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/none/1"},
    ),
    "chime-sdk-media-pipelines": ("GET", "/media-pipeline-kinesis-video-stream-pools", [], {}),
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_key="AKIDFIDELITY", secret_key="fidelity-secret") as e:
        yield e


def test_every_served_service_has_a_probe() -> None:
    assert sorted(PROBES) == sorted(s.name for s in SERVICES)


@pytest.mark.parametrize("name", sorted(PROBES))
async def test_a_signature_for_another_region_or_service_is_refused(
    emu: Emulator, name: str
) -> None:
    service = next(s for s in SERVICES if s.name == name)
    method, path, query, body = PROBES[name]
    data = json.dumps(body).encode() if method == "POST" else b""

    async def attempt(**scope: str) -> tuple[int, str | None, str]:
        status, headers, resp = await send(emu, method, path, data, query=query, **scope)
        message = json.loads(resp).get("message", "") if resp else ""
        return status, headers.get("x-amzn-ErrorType"), message

    right = await attempt(service=service.signing_name)
    assert right[0] != 403, right  # the probe itself is signed well
    status, code, message = await attempt(service=service.signing_name, region="eu-west-1")
    assert (status, code) == (403, "InvalidSignatureException")
    assert "scoped to a valid region" in message and "eu-west-1" in message
    for other in ("s3", "chime" if service.signing_name != "chime" else "kinesisvideo"):
        status, code, message = await attempt(service=other)
        assert (status, code) == (403, "InvalidSignatureException"), other
        assert f"correct service: '{service.signing_name}'" in message
    # boto3 configured for another region than the emulator's is refused the same way.
    client = boto(emu, name, region="eu-west-1")
    op = next(
        o for o in service.operations.values() if o.http_method == method and o.request_uri == path
    )
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", op.name).lower().replace("d_a_s_h", "dash")
    with pytest.raises(ClientError) as exc:
        await asyncio.to_thread(getattr(client, snake), **body)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("/describeStream", "POST", "InvalidArgumentException"),
        ("/v1/send-alexa-offer-to-master", "POST", "InvalidArgumentException"),
        ("/media-pipeline-kinesis-video-stream-pools", "POST", "BadRequestException"),
    ],
)
async def test_json_nested_100000_levels_is_a_400(
    emu: Emulator, path: str, method: str, code: str
) -> None:
    service = "chime" if path.startswith("/media-") else "kinesisvideo"
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        status, headers, resp = await send(emu, method, path, body, service=service)
        assert (status, headers["x-amzn-ErrorType"]) == (400, code)
        assert "nested" in resp.decode()
    status, _, _ = await call(emu, "/listStreams", {})
    assert status == 200


async def test_list_edge_agent_configurations_defaults_to_pages_of_5(emu: Emulator) -> None:
    from test_emulator_edge import EDGE_CONFIG, HUB

    for i in range(7):
        await emu.create_stream(f"edge-{i}")
        status, _, _ = await call(
            emu,
            "/startEdgeConfigurationUpdate",
            {"StreamName": f"edge-{i}", "EdgeConfig": EDGE_CONFIG},
        )
        assert status == 200
    kv = boto(emu)
    first = await asyncio.to_thread(kv.list_edge_agent_configurations, HubDeviceArn=HUB)
    assert len(first["EdgeConfigs"]) == 5 and first["NextToken"]
    rest = await asyncio.to_thread(
        kv.list_edge_agent_configurations, HubDeviceArn=HUB, NextToken=first["NextToken"]
    )
    assert [c["StreamName"] for c in rest["EdgeConfigs"]] == ["edge-5", "edge-6"]
    assert "NextToken" not in rest


async def test_operations_not_emulated_answer_a_code_their_model_defines(emu: Emulator) -> None:
    """Whatever the emulator does not serve, it refuses in the service's own terms."""
    refused = []
    for service in SERVICES:
        for op in service.operations.values():
            if op.name in ("GetMedia", "GetMediaForFragmentList"):
                continue  # served by the streaming path, not the dispatch tables
            try:
                await emu.dispatch(op.name, {}, service=service.name)
            except ApiError as exc:
                if "not served" in exc.message:
                    assert exc.code in service.errors, (service.name, op.name, exc.code)
                    assert exc.code in {e for e in op.errors} | set(service.errors)
                    refused.append(op.name)
            except (KeyError, TypeError):
                pass  # served: the empty input never reached a valid state
    assert "CreateMediaCapturePipeline" in refused
    assert "CreateMediaPipelineKinesisVideoStreamPool" not in refused
    assert "GetIceServerConfig" not in refused and "JoinStorageSession" not in refused


async def test_unknown_paths_are_404_unknown_operation(emu: Emulator) -> None:
    status, headers, _ = await send(emu, "GET", "/no/such/operation")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


async def test_chime_refusals_use_chime_codes() -> None:
    """The emulator's shared throttle, size and failure answers in chime's own terms."""
    path = "/media-pipeline-kinesis-video-stream-pools"
    async with Emulator(max_requests_per_second=2, max_body_bytes=100) as emu:
        emu.global_limiter.window = 60.0
        emu.faults.http_500(operation="ListMediaPipelineKinesisVideoStreamPools")
        answers = []
        for body in (b"", b"{" + b" " * 200 + b"}", b"", b""):
            status, headers, resp = await send(emu, "GET", path, body, service="chime")
            answers.append((status, headers["x-amzn-ErrorType"], json.loads(resp)["Message"]))
    assert [a[:2] for a in answers] == [
        (500, "ServiceFailureException"),
        (413, "BadRequestException"),
        (429, "ThrottledClientException"),
        (429, "ThrottledClientException"),
    ]
