"""WebRTC signaling: the channel WebSocket, GetIceServerConfig and SendAlexaOfferToMaster.

The WSS endpoint GetSignalingChannelEndpoint hands out is served here (``ws://`` on
loopback: the emulator speaks no TLS). Clients connect as KVS documents, with a SigV4
presigned URL carrying ``X-Amz-ChannelARN`` (and ``X-Amz-ClientId`` for a viewer), then
exchange the KVS envelope: they send ``{"action", "recipientClientId", "messagePayload",
"correlationId"}`` and receive ``{"senderClientId", "messageType", "messagePayload"}``
events, or a ``STATUS_RESPONSE`` naming the failure of a message that carried a
``correlationId``. Messages for a master that is not connected wait until the channel's
``MessageTtlSeconds`` pass, a newer offer from the same sender replacing an older one.

SendAlexaOfferToMaster delivers its offer to the master this way and answers with the
master's ``SDP_ANSWER``. GetIceServerConfig hands out TURN credentials in the TURN REST
API form AWS cites (``username = expiry:user``, ``password = base64(HMAC-SHA1(secret,
username))``): the emulator runs no TURN relay, but a coturn started with
``--use-auth-secret --static-auth-secret=<hub.turn_secret>`` at ``hub.turn_host:turn_port``
accepts them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from attrs import define, field

from ..kinesis_video_signaling import SERVICE as SIGNALING
from ..signing import SignatureError, verify_presigned
from .controlplane import ApiError, ControlPlane, Wire, invalid, not_found
from .requestlog import LogEntry, RequestLog
from .storage import Clock

SIGNING_NAME = SIGNALING.signing_name
CLIENT_ACTIONS = frozenset({"SDP_OFFER", "SDP_ANSWER", "ICE_CANDIDATE"})
_ID = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
_BASE64 = re.compile(r"[a-zA-Z0-9+/=]{1,10000}")
#: What GetIceServerConfig's credentials live for (AWS: 300 s).
ICE_TTL_SECONDS = 300
#: How long a connection lives before the service closes it (KVS: 45 minutes).
SESSION_SECONDS = 45 * 60.0
MAX_MESSAGE_BYTES = 64 * 1024
#: Messages kept per channel for a master that is not connected.
MAX_PENDING = 1000


@define(slots=True, kw_only=True, eq=False)
class _Pending:
    """A message waiting for its recipient to connect."""

    expires_at: float
    sender: str | None
    event: Wire


@define(slots=True, kw_only=True, eq=False)
class ChannelState:
    """Who is connected to one channel, and what waits for its master."""

    master: web.WebSocketResponse | None = None
    viewers: dict[str, web.WebSocketResponse] = field(factory=dict)
    to_master: list[_Pending] = field(factory=list)
    expired: set[str] = field(factory=set)  # client ids whose session ran out
    #: SendAlexaOfferToMaster calls waiting for the master's answer, by sender client id.
    answers: dict[str, asyncio.Future[str]] = field(factory=dict)


class SignalingHub:
    """Signaling state of one emulator: connections per channel ARN."""

    def __init__(
        self,
        *,
        control: ControlPlane,
        clock: Clock,
        turn_host: str,
        region: str,
        secret_for: Callable[[str], str | None],
        verify_signatures: Callable[[], bool],
        log: RequestLog,
    ) -> None:
        self.control = control
        self.clock = clock
        self.region = region
        self.secret_for = secret_for
        self.verify_signatures = verify_signatures
        self.log = log
        self.turn_host = turn_host
        self.turn_port = 3478
        #: The TURN REST API shared secret; never logged or returned.
        self.turn_secret = secrets.token_urlsafe(24)
        #: The longest a SendAlexaOfferToMaster call waits (besides the channel's TTL).
        self.max_answer_wait = 60.0
        self.session_seconds = SESSION_SECONDS
        self.channels: dict[str, ChannelState] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._expired: set[web.WebSocketResponse] = set()

    def handlers(self) -> dict[str, Callable[[Wire], Awaitable[Wire]]]:
        return {
            "GetIceServerConfig": self.get_ice_server_config,
            "SendAlexaOfferToMaster": self.send_alexa_offer_to_master,
            # Replaces the control plane's entry: deleting a channel also ends its sessions.
            "DeleteSignalingChannel": self.delete_signaling_channel,
        }

    async def delete_signaling_channel(self, p: Wire) -> Wire:
        result = await self.control.delete_signaling_channel(p)
        state = self.channels.pop(p["ChannelARN"], None)
        if state is not None:
            for ws in [state.master, *state.viewers.values()]:
                if ws is not None and not ws.closed:
                    with contextlib.suppress(ConnectionError):
                        await ws.send_str(json.dumps({"messageType": "GO_AWAY"}))
                    await ws.close(code=1000, message=b"signaling channel deleted")
            for fut in state.answers.values():
                if not fut.done():
                    fut.set_exception(not_found("signaling channel"))
        return result

    def state(self, arn: str) -> ChannelState:
        return self.channels.setdefault(arn, ChannelState())

    def ttl(self, channel: Wire) -> float:
        return float((channel.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds", 60))

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"emulator shutting down")
        for state in self.channels.values():
            for fut in state.answers.values():
                fut.cancel()

    # -- HTTP operations ---------------------------------------------------------------

    async def get_ice_server_config(self, p: Wire) -> Wire:
        channel = self.control.channel({"ChannelARN": p["ChannelARN"]})
        client = p.get("ClientId")
        state = self.state(channel["ChannelARN"])
        if client and client in state.expired and client not in state.viewers:
            raise ApiError(
                "SessionExpiredException",
                f"The session of client {client} on this channel has expired; reconnect to "
                "the channel to continue.",
            )
        user = p.get("Username") or client or "master"
        expiry = int(self.clock.now()) + ICE_TTL_SECONDS
        username = f"{expiry}:{user}"
        digest = hmac.new(self.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
        host = f"[{self.turn_host}]" if ":" in self.turn_host else self.turn_host
        hostport = f"{host}:{self.turn_port}"
        return {
            "IceServerList": [
                {
                    "Uris": [
                        f"turn:{hostport}?transport=udp",
                        f"turns:{hostport}?transport=udp",
                        f"turns:{hostport}?transport=tcp",
                    ],
                    "Username": username,
                    "Password": base64.b64encode(digest).decode(),
                    "Ttl": ICE_TTL_SECONDS,
                }
            ]
        }

    async def send_alexa_offer_to_master(self, p: Wire) -> Wire:
        channel = self.control.channel({"ChannelARN": p["ChannelARN"]})
        sender = p["SenderClientId"]
        _check_payload(p["MessagePayload"], "MessagePayload")
        state = self.state(channel["ChannelARN"])
        wait = min(self.ttl(channel), self.max_answer_wait)
        previous = state.answers.pop(sender, None)
        if previous is not None:
            previous.cancel()
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        state.answers[sender] = answer
        event = {"senderClientId": sender, "messageType": "SDP_OFFER"}
        event["messagePayload"] = p["MessagePayload"]
        await self.to_master(channel, state, sender, "SDP_OFFER", event)
        try:
            payload = await asyncio.wait_for(answer, wait)
        except TimeoutError:
            what = "did not answer" if state.master is not None else "is not connected"
            raise ApiError(
                "ResourceNotFoundException",
                f"The master of signaling channel {channel['ChannelName']} {what}: the offer "
                f"expired after {wait:g} s.",
                404,
            ) from None
        finally:
            if state.answers.get(sender) is answer:
                del state.answers[sender]
        return {"Answer": payload}

    # -- delivery ------------------------------------------------------------------------

    async def to_master(
        self, channel: Wire, state: ChannelState, sender: str | None, action: str, event: Wire
    ) -> None:
        """Deliver now if the master is connected, else keep until the message TTL."""
        if state.master is not None and not state.master.closed:
            await state.master.send_str(json.dumps(event))
            return
        now = self.clock.now()
        state.to_master = [
            m
            for m in state.to_master
            if m.expires_at > now
            and not (action == "SDP_OFFER" and m.sender == sender and _is_offer(m.event))
        ]
        state.to_master.append(
            _Pending(expires_at=now + self.ttl(channel), sender=sender, event=event)
        )
        del state.to_master[:-MAX_PENDING]  # bounded: the oldest give way

    async def _flush(self, state: ChannelState, ws: web.WebSocketResponse) -> None:
        now = self.clock.now()
        pending, state.to_master = state.to_master, []
        for message in pending:
            if message.expires_at > now:
                await ws.send_str(json.dumps(message.event))

    # -- the WebSocket endpoint ---------------------------------------------------------

    def _verify(self, request: web.Request) -> None:
        """The presigned URL's SigV4 signature, scoped to this region and kinesisvideo."""
        if not self.verify_signatures():
            return
        try:
            verify_presigned(
                method=request.method,
                path=request.rel_url.raw_path,
                query=list(request.rel_url.query.items()),
                headers=request.headers,
                secret_for=self.secret_for,
                now=datetime.now(UTC),
                region=self.region,
                service=SIGNING_NAME,
            )
        except SignatureError as exc:
            raise ApiError(exc.code, exc.message, 403) from None

    async def connect(self, request: web.Request) -> web.StreamResponse:
        """ConnectAsMaster / ConnectAsViewer: checks, then the message loop."""
        query = request.rel_url.query
        arn = query.get("X-Amz-ChannelARN", "")
        client = query.get("X-Amz-ClientId")
        operation = "ConnectAsMaster" if client is None else "ConnectAsViewer"
        request_id = str(uuid.uuid4())
        try:
            self._verify(request)
            channel = self.control.channel({"ChannelARN": arn}) if arn else None
            if channel is None:
                raise invalid("X-Amz-ChannelARN is required to connect to a signaling channel.")
            if client is not None and not _ID.fullmatch(client):
                raise invalid(f"X-Amz-ClientId {client[:80]!r} must match [a-zA-Z0-9_.-]{{1,256}}.")
        except ApiError as exc:
            self._log(operation, exc.status, request_id, exc.code)
            return _error(exc, request_id)
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30.0)
        await ws.prepare(request)
        self._log(operation, 101, request_id, None)
        self._sockets.add(ws)
        state = self.state(channel["ChannelARN"])
        previous = state.master if client is None else state.viewers.get(client)
        if client is None:
            state.master = ws
        else:
            state.viewers[client] = ws
            state.expired.discard(client)
        if previous is not None and not previous.closed:
            await previous.close(code=1000, message=b"replaced by a newer connection")
        expiry = asyncio.get_running_loop().call_later(
            self.session_seconds, lambda: asyncio.ensure_future(self._expire(ws))
        )
        try:
            if client is None:
                await self._flush(state, ws)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_message(channel, state, client, ws, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await ws.close(code=1003, message=b"signaling messages are JSON text")
        finally:
            expiry.cancel()
            self._sockets.discard(ws)
            if client is None and state.master is ws:
                state.master = None
            elif client is not None and state.viewers.get(client) is ws:
                del state.viewers[client]
                if ws in self._expired:
                    state.expired.add(client)
            self._expired.discard(ws)
        return ws

    def _log(self, operation: str, status: int, request_id: str, code: str | None) -> None:
        self.log.add(
            LogEntry(
                kind="call",
                time=self.clock.now(),
                operation=operation,
                stream=None,
                status=status,
                request_id=request_id,
                error_code=code,
            )
        )

    async def _expire(self, ws: web.WebSocketResponse) -> None:
        self._expired.add(ws)
        with contextlib.suppress(ConnectionError):
            await ws.send_str(json.dumps({"messageType": "GO_AWAY"}))
        await ws.close(code=1000, message=b"session expired")

    async def _on_message(
        self,
        channel: Wire,
        state: ChannelState,
        client: str | None,
        ws: web.WebSocketResponse,
        data: str,
    ) -> None:
        correlation: str | None = None
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict):
                raise invalid("A signaling message is a JSON object.")
            raw_corr = doc.get("correlationId")
            if isinstance(raw_corr, str) and _ID.fullmatch(raw_corr):
                correlation = raw_corr
            action = doc.get("action")
            if action not in CLIENT_ACTIONS:
                raise invalid(f"action must be one of {', '.join(sorted(CLIENT_ACTIONS))}.")
            payload = _check_payload(doc.get("messagePayload"), "messagePayload")
            recipient = doc.get("recipientClientId")
            if client is not None:  # a viewer: always to the master; recipient is ignored
                event = {"senderClientId": client, "messageType": action}
                event["messagePayload"] = payload
                await self.to_master(channel, state, client, action, event)
                return
            if not isinstance(recipient, str) or not _ID.fullmatch(recipient):
                raise invalid("recipientClientId is required when the master sends a message.")
            waiting = state.answers.get(recipient)
            if action == "SDP_ANSWER" and waiting is not None and not waiting.done():
                waiting.set_result(payload)
                return
            viewer = state.viewers.get(recipient)
            if viewer is None or viewer.closed:
                raise ApiError(
                    "ResourceNotFoundException",
                    f"Client {recipient} is not connected to this signaling channel.",
                    404,
                )
            await viewer.send_str(json.dumps({"messageType": action, "messagePayload": payload}))
        except (ApiError, ValueError) as exc:
            if correlation is None:
                return  # KVS reports errors only for messages that carry a correlationId
            code, status, text = (
                (exc.code, exc.status, exc.message)
                if isinstance(exc, ApiError)
                else ("InvalidArgumentException", 400, f"A signaling message is JSON: {exc}")
            )
            status_response = {
                "correlationId": correlation,
                "errorType": code,
                "statusCode": str(status),
                "description": text,
            }
            await ws.send_str(
                json.dumps({"messageType": "STATUS_RESPONSE", "statusResponse": status_response})
            )


def _is_offer(event: Wire) -> bool:
    return event.get("messageType") == "SDP_OFFER"


def _check_payload(payload: Any, name: str) -> str:
    if not isinstance(payload, str) or not _BASE64.fullmatch(payload):
        raise invalid(f"{name} must be base64, 1 to 10000 characters.")
    try:
        base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise invalid(f"{name} is not valid base64.") from None
    return payload


def _error(exc: ApiError, request_id: str) -> web.Response:
    body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
    headers = {
        "x-amzn-ErrorType": exc.code,
        "x-amzn-RequestId": request_id,
        "Content-Type": "application/json",
    }
    return web.Response(status=exc.status, body=body, headers=headers)
