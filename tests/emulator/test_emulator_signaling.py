"""Signaling and WebRTC storage: the endpoints GetSignalingChannelEndpoint hands out answer.

A master and viewers connect to the WSS endpoint with presigned URLs (signed by botocore,
not by us) and exchange KVS envelopes; SendAlexaOfferToMaster is answered by a connected
master; GetIceServerConfig, JoinStorageSession(AsViewer) through boto3, the CLI, our client.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError
from emulator_testkit import aws_cli, boto

from kvs_async.emulator import Emulator
from kvs_async.errors import ServiceError
from kvs_async.kinesis_video_signaling import (
    KinesisVideoSignalingClient,
    ResourceNotFoundException,
)
from kvs_async.kinesis_video_webrtc_storage import KinesisVideoWebRTCStorageClient


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_key="AKIDSIGNAL", secret_key="signal-secret") as e:
        yield e


async def make_channel(emu: Emulator, name: str = "door") -> tuple[str, dict[str, str]]:
    """A channel's ARN and its endpoints by protocol, both from boto3."""
    kv = boto(emu)

    def go() -> tuple[str, dict[str, str]]:
        arn = kv.create_signaling_channel(ChannelName=name)["ChannelARN"]
        listed = kv.get_signaling_channel_endpoint(
            ChannelARN=arn,
            SingleMasterChannelEndpointConfiguration={
                "Protocols": ["WSS", "HTTPS", "WEBRTC"],
                "Role": "MASTER",
            },
        )["ResourceEndpointList"]
        return arn, {e["Protocol"]: e["ResourceEndpoint"] for e in listed}

    return await asyncio.to_thread(go)


def presign(
    emu: Emulator,
    endpoint: str,
    arn: str,
    client_id: str | None = None,
    *,
    secret: str | None = None,
    region: str | None = None,
    service: str = "kinesisvideo",
) -> str:
    """The WSS URL a KVS WebRTC SDK builds: channel (and client id) query, SigV4 presigned."""
    url = f"{endpoint}/?X-Amz-ChannelARN={quote(arn, safe='')}"
    if client_id is not None:
        url += f"&X-Amz-ClientId={client_id}"
    request = AWSRequest(method="GET", url=url)
    creds = BotoCredentials(emu.credentials.access_key, secret or emu.credentials.secret_key)
    SigV4QueryAuth(creds, service, region or emu.region, expires=300).add_auth(request)
    return str(request.url)


def envelope(action: str, payload: dict[str, Any], **extra: str) -> str:
    body = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps({"action": action, "messagePayload": body, **extra})


def payload_of(event: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(event["messagePayload"]))


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    event: dict[str, Any] = json.loads(msg.data)
    return event


async def test_master_and_viewer_exchange_offer_answer_candidates(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    assert endpoints["WSS"].startswith("ws://127.0.0.1:")  # loopback speaks no TLS
    async with aiohttp.ClientSession() as session:
        master = await session.ws_connect(presign(emu, endpoints["WSS"], arn))
        viewer = await session.ws_connect(presign(emu, endpoints["WSS"], arn, "viewer-1"))
        # A viewer's recipientClientId is ignored: its messages go to the master.
        await viewer.send_str(
            envelope("SDP_OFFER", {"type": "offer", "sdp": "v=0"}, recipientClientId="x")
        )
        offer = await receive(master)
        assert (offer["messageType"], offer["senderClientId"]) == ("SDP_OFFER", "viewer-1")
        assert payload_of(offer) == {"type": "offer", "sdp": "v=0"}
        await master.send_str(
            envelope("SDP_ANSWER", {"type": "answer", "sdp": "v=0"}, recipientClientId="viewer-1")
        )
        answer = await receive(viewer)
        assert answer["messageType"] == "SDP_ANSWER"
        assert payload_of(answer) == {"type": "answer", "sdp": "v=0"}
        await master.send_str(
            envelope("ICE_CANDIDATE", {"candidate": "c1"}, recipientClientId="viewer-1")
        )
        assert payload_of(await receive(viewer)) == {"candidate": "c1"}

        # Errors come back as STATUS_RESPONSE only for messages with a correlationId.
        await master.send_str(envelope("SDP_OFFER", {}, recipientClientId="nobody"))
        await master.send_str(
            envelope("SDP_OFFER", {}, recipientClientId="nobody", correlationId="c-42")
        )
        status = await receive(master)
        assert status["messageType"] == "STATUS_RESPONSE"
        assert status["statusResponse"]["correlationId"] == "c-42"
        assert status["statusResponse"]["statusCode"] == "404"
        await master.send_str(json.dumps({"action": "HELLO", "correlationId": "c-43"}))
        status = await receive(master)
        assert status["statusResponse"]["errorType"] == "InvalidArgumentException"
        await master.send_str(envelope("SDP_OFFER", {}, correlationId="c-44"))  # no recipient
        assert (await receive(master))["statusResponse"]["correlationId"] == "c-44"
        await master.close()
        await viewer.close()


async def test_messages_wait_for_the_master_and_newer_offers_replace_older(
    emu: Emulator,
) -> None:
    arn, endpoints = await make_channel(emu)
    async with aiohttp.ClientSession() as session:
        viewer = await session.ws_connect(presign(emu, endpoints["WSS"], arn, "early"))
        await viewer.send_str(envelope("SDP_OFFER", {"n": 1}))
        await viewer.send_str(envelope("SDP_OFFER", {"n": 2}))
        await viewer.send_str(envelope("ICE_CANDIDATE", {"n": 3}))
        await asyncio.sleep(0.05)
        master = await session.ws_connect(presign(emu, endpoints["WSS"], arn))
        first, second = await receive(master), await receive(master)
        assert [payload_of(first), payload_of(second)] == [{"n": 2}, {"n": 3}]
        await master.close()
        await viewer.close()


async def test_the_websocket_checks_its_presigned_url(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    wss = endpoints["WSS"]
    async with aiohttp.ClientSession() as session:
        for url, status in (
            (presign(emu, wss, arn, secret="wrong"), 403),
            (presign(emu, wss, arn, region="eu-west-1"), 403),
            (presign(emu, wss, arn, service="s3"), 403),
            (f"{wss}/?X-Amz-ChannelARN={quote(arn, safe='')}", 403),  # unsigned
            (presign(emu, wss, arn.replace("/door/", "/nope/")), 404),
            (presign(emu, wss, arn, "bad id!"), 400),
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await session.ws_connect(url)
            assert exc.value.status == status, url
    refused = [e for e in emu.log.calls() if e.operation.startswith("ConnectAs")]
    assert [e.status for e in refused] == [403, 403, 403, 403, 404, 400]
    assert refused[0].error_code == "InvalidSignatureException"


async def test_send_alexa_offer_is_answered_by_the_connected_master(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    signaling = boto(emu, "kinesis-video-signaling", endpoint_url=None)
    offer = base64.b64encode(b'{"type":"offer","sdp":"v=0 alexa"}').decode()

    async with aiohttp.ClientSession() as session:
        master = await session.ws_connect(presign(emu, endpoints["WSS"], arn))

        async def answer_one() -> dict[str, Any]:
            event = await receive(master)
            reply = base64.b64encode(b'{"type":"answer","sdp":"v=0 master"}').decode()
            await master.send_str(
                json.dumps(
                    {
                        "action": "SDP_ANSWER",
                        "recipientClientId": event["senderClientId"],
                        "messagePayload": reply,
                    }
                )
            )
            return event

        answering = asyncio.create_task(answer_one())
        result = await asyncio.to_thread(
            signaling.send_alexa_offer_to_master,
            ChannelARN=arn,
            SenderClientId="alexa-1",
            MessagePayload=offer,
        )
        event = await answering
        assert (event["messageType"], event["senderClientId"]) == ("SDP_OFFER", "alexa-1")
        assert event["messagePayload"] == offer
        assert base64.b64decode(result["Answer"]) == b'{"type":"answer","sdp":"v=0 master"}'

        # Our own client finds the HTTPS endpoint through GetSignalingChannelEndpoint.
        answering = asyncio.create_task(answer_one())
        async with KinesisVideoSignalingClient(
            region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
        ) as ours:
            out = await ours.send_alexa_offer_to_master(
                channel_arn=arn, sender_client_id="alexa-2", message_payload=offer
            )
        assert (await answering)["senderClientId"] == "alexa-2"
        assert out.answer is not None and base64.b64decode(out.answer).endswith(b'master"}')
        await master.close()


async def test_send_alexa_offer_without_a_master_expires(emu: Emulator) -> None:
    arn, _ = await make_channel(emu)
    emu.signaling.max_answer_wait = 0.2
    async with KinesisVideoSignalingClient(
        region=emu.region, credentials=emu.credentials, endpoint_url=emu.url
    ) as ours:
        with pytest.raises(ResourceNotFoundException) as exc:
            await ours.send_alexa_offer_to_master(
                channel_arn=arn, sender_client_id="alexa", message_payload="b2ZmZXI="
            )
    assert "not connected" in exc.value.message


async def test_get_ice_server_config(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    signaling = boto(emu, "kinesis-video-signaling", endpoint_url=endpoints["HTTPS"])
    before = int(time.time())
    servers = (
        await asyncio.to_thread(
            signaling.get_ice_server_config, ChannelARN=arn, ClientId="viewer-9", Service="TURN"
        )
    )["IceServerList"]
    assert len(servers) == 1
    server = servers[0]
    assert server["Ttl"] == 300
    assert all(u.split(":", 1)[0] in ("turn", "turns") for u in server["Uris"])
    expiry, user = server["Username"].split(":", 1)
    assert user == "viewer-9" and before + 300 <= int(expiry) <= before + 302
    # The TURN REST API check a coturn with --use-auth-secret makes:
    digest = hmac.new(emu.signaling.turn_secret.encode(), server["Username"].encode(), "sha1")
    assert base64.b64decode(server["Password"]) == digest.digest()
    assert emu.signaling.turn_secret not in json.dumps(servers)

    def errors() -> list[tuple[str, int]]:
        out = []
        for kwargs in (
            {"ChannelARN": arn.replace("/door/", "/gone/")},
            {"ChannelARN": arn, "Service": "STUN"},
            {"ChannelARN": "arn:not-a-channel"},
        ):
            with pytest.raises(ClientError) as exc:
                signaling.get_ice_server_config(**kwargs)
            r = exc.value.response
            out.append((r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]))
        return out

    assert await asyncio.to_thread(errors) == [
        ("ResourceNotFoundException", 404),
        ("InvalidArgumentException", 400),
        ("InvalidArgumentException", 400),
    ]
    code, out, err = await aws_cli(
        emu,
        "kinesis-video-signaling",
        "get-ice-server-config",
        "--channel-arn",
        arn,
        endpoint=endpoints["HTTPS"],
    )
    assert code == 0, err
    assert out["IceServerList"][0]["Username"].endswith(":master")


async def test_an_expired_session_is_reported(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    emu.signaling.session_seconds = 0.2
    async with aiohttp.ClientSession() as session:
        viewer = await session.ws_connect(presign(emu, endpoints["WSS"], arn, "sleepy"))
        assert (await receive(viewer))["messageType"] == "GO_AWAY"
        closing = await asyncio.wait_for(viewer.receive(), 5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await viewer.close()
    await asyncio.sleep(0.05)
    signaling = boto(emu, "kinesis-video-signaling")
    with pytest.raises(ClientError) as exc:
        await asyncio.to_thread(signaling.get_ice_server_config, ChannelARN=arn, ClientId="sleepy")
    assert exc.value.response["Error"]["Code"] == "SessionExpiredException"


async def test_join_storage_session(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    storage = boto(emu, "kinesis-video-webrtc-storage", endpoint_url=endpoints["WEBRTC"])
    kv = boto(emu)

    def scenario() -> list[Any]:
        out: list[Any] = []
        for call in (
            lambda: storage.join_storage_session(channelArn=arn),  # no media storage yet
            lambda: storage.join_storage_session(channelArn=arn.replace("/door/", "/x/")),
            lambda: storage.join_storage_session_as_viewer(channelArn=arn, clientId="bad id"),
        ):
            with pytest.raises(ClientError) as exc:
                call()
            r = exc.value.response
            out.append((r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]))
        stream_arn = kv.create_stream(StreamName="webrtc-rec", DataRetentionInHours=1)["StreamARN"]
        kv.update_media_storage_configuration(
            ChannelARN=arn,
            MediaStorageConfiguration={"StreamARN": stream_arn, "Status": "ENABLED"},
        )
        out.append(storage.join_storage_session(channelArn=arn)["ResponseMetadata"])
        storage.join_storage_session_as_viewer(channelArn=arn, clientId="viewer-a")
        return out

    results = await asyncio.to_thread(scenario)
    assert results[:3] == [
        ("InvalidArgumentException", 400),
        ("ResourceNotFoundException", 404),
        ("InvalidArgumentException", 400),
    ]
    assert results[3]["HTTPStatusCode"] == 200
    session = emu.storage_sessions.sessions[arn]
    assert session.master_joined is not None and list(session.viewers) == ["viewer-a"]
    code, _, err = await aws_cli(
        emu,
        "kinesis-video-webrtc-storage",
        "join-storage-session",
        "--channel-arn",
        arn,
        endpoint=endpoints["WEBRTC"],
    )
    assert code == 0, err
    assert session.joins == 2
    # Our client finds the WEBRTC endpoint through GetSignalingChannelEndpoint.
    async with KinesisVideoWebRTCStorageClient(
        region=emu.region, credentials=emu.credentials, control_endpoint_url=emu.url
    ) as ours:
        await ours.join_storage_session_as_viewer(channel_arn=arn, client_id="viewer-b")
        with pytest.raises(ServiceError) as gone:  # endpoint discovery already finds no channel
            await ours.join_storage_session(channel_arn=arn.replace("/door/", "/gone/"))
        assert (gone.value.code, gone.value.status_code) == ("ResourceNotFoundException", 404)
    assert sorted(session.viewers) == ["viewer-a", "viewer-b"]


class _EmptyBodyQueryAuth(SigV4QueryAuth):
    """Presigns as the KVS WebRTC SDKs do: the hash of the empty body, not UNSIGNED-PAYLOAD."""

    def payload(self, request: Any) -> str:
        return hashlib.sha256(b"").hexdigest()


async def test_sdk_style_presigned_urls_and_channel_deletion(emu: Emulator) -> None:
    arn, endpoints = await make_channel(emu)
    url = f"{endpoints['WSS']}/?X-Amz-ChannelARN={quote(arn, safe='')}&X-Amz-ClientId=sdk"
    request = AWSRequest(method="GET", url=url)
    creds = BotoCredentials(emu.credentials.access_key, emu.credentials.secret_key)
    _EmptyBodyQueryAuth(creds, "kinesisvideo", emu.region, expires=60).add_auth(request)
    kv = boto(emu)
    async with aiohttp.ClientSession() as session:
        viewer = await session.ws_connect(str(request.url))
        version = (await asyncio.to_thread(kv.describe_signaling_channel, ChannelARN=arn))[
            "ChannelInfo"
        ]["Version"]
        await asyncio.to_thread(kv.delete_signaling_channel, ChannelARN=arn, CurrentVersion=version)
        assert (await receive(viewer))["messageType"] == "GO_AWAY"
        closing = await asyncio.wait_for(viewer.receive(), 5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await session.ws_connect(str(request.url))
        assert exc.value.status == 404


def test_presigned_urls_expire_and_name_their_scope() -> None:
    from datetime import UTC, datetime, timedelta
    from urllib.parse import parse_qsl, urlsplit

    from kvs_async.signing import SignatureError, verify_presigned

    url = "http://127.0.0.1:4567/?X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Ax"
    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(BotoCredentials("AKIDX", "secret-x"), "kinesisvideo", "us-west-2", 60).add_auth(
        request
    )
    parts = urlsplit(str(request.url))
    kwargs: dict[str, Any] = {
        "method": "GET",
        "path": parts.path,
        "query": parse_qsl(parts.query),
        "headers": {"Host": parts.netloc},
        "secret_for": {"AKIDX": "secret-x"}.get,
    }
    now = datetime.now(UTC)
    assert (
        verify_presigned(now=now, region="us-west-2", service="kinesisvideo", **kwargs) == "AKIDX"
    )
    with pytest.raises(SignatureError, match="expired") as late:
        verify_presigned(now=now + timedelta(seconds=120), **kwargs)
    assert late.value.status_code == 403
    with pytest.raises(SignatureError, match="valid region, not 'us-west-2'"):
        verify_presigned(now=now, region="eu-west-1", **kwargs)
    with pytest.raises(SignatureError, match="correct service: 'chime'"):
        verify_presigned(now=now, service="chime", **kwargs)
    tampered = {
        **kwargs,
        "query": [(k, v + "x" if k == "X-Amz-ChannelARN" else v) for k, v in kwargs["query"]],
    }
    with pytest.raises(SignatureError, match="does not match"):
        verify_presigned(now=now, **tampered)


async def test_messages_kept_for_an_absent_master_are_bounded(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kvs_async.emulator import signaling

    monkeypatch.setattr(signaling, "MAX_PENDING", 3)
    arn, endpoints = await make_channel(emu)
    async with aiohttp.ClientSession() as session:
        viewer = await session.ws_connect(presign(emu, endpoints["WSS"], arn, "chatty"))
        for n in range(6):
            await viewer.send_str(envelope("ICE_CANDIDATE", {"n": n}))
        await asyncio.sleep(0.05)
        assert len(emu.signaling.channels[arn].to_master) == 3
        master = await session.ws_connect(presign(emu, endpoints["WSS"], arn))
        got = [payload_of(await receive(master)) for _ in range(3)]
        assert got == [{"n": 3}, {"n": 4}, {"n": 5}]
        await master.close()
        await viewer.close()
