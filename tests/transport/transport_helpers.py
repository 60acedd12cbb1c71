"""Local aiohttp servers and fixtures shared by the transport tests (real loopback HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web
from attrs import define

from kvs_async.protocol import encode_error
from kvs_async.signing import SignatureError, verify_request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """Run ``handler`` for every request on 127.0.0.1 (ephemeral port); yields the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    """An error as AWS rest-json services send it."""
    return web.json_response(
        {"__type": code, "message": message},
        status=status,
        headers={
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/",
            "x-amzn-RequestId": "req-1",
            **headers,
        },
    )


@define
class Seen:
    """One request the fake service accepted (signature verified)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    access_key: str
    at: float


Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]

DESCRIBE_STREAM = {
    "StreamInfo": {
        "StreamName": "s",
        "StreamARN": "arn:aws:kinesisvideo:us-west-2:123456789012:stream/s/1",
        "Status": "ACTIVE",
        "CreationTime": 1700000000.5,
        "DataRetentionInHours": 2,
        "Version": "v1",
    }
}


class FakeKvs:
    """A loopback KVS that checks every SigV4 signature and answers from a per-path script.

    ``script[path]`` is a list of responders used one per request (then the default
    answer for that path). ``clock_offset`` shifts the server's clock (for skew tests).
    """

    def __init__(self, secrets: dict[str, str], clock_offset: timedelta = timedelta(0)) -> None:
        self.secrets = secrets
        self.clock_offset = clock_offset
        self.script: dict[str, list[Responder]] = {}
        self.seen: list[Seen] = []
        self.rejected: list[str] = []
        self.url = ""

    def count(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path == path)

    def _now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    async def handler(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            key = verify_request(
                method=request.method,
                path=request.raw_path.split("?", 1)[0],
                query=list(request.query.items()),
                headers=request.headers,
                body=body,
                secret_for=self.secrets.get,
                now=self._now(),
            )
        except SignatureError as exc:
            self.rejected.append(exc.code)
            status, headers, payload = encode_error(exc)
            headers["Date"] = format_datetime(self._now(), usegmt=True)
            return web.Response(status=status, headers=headers, body=payload)
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), body, key, time.monotonic())
        )
        queue = self.script.get(request.path)
        if queue:
            return await queue.pop(0)(request)
        return await self.default(request)

    async def default(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/describeStream":
            return web.json_response(DESCRIBE_STREAM)
        if request.path == "/getDataEndpoint":
            return web.json_response({"DataEndpoint": self.url})
        if request.path == "/getSignalingChannelEndpoint":
            wanted = json.loads(await request.read())["SingleMasterChannelEndpointConfiguration"]
            return web.json_response(
                {
                    "ResourceEndpointList": [
                        {"Protocol": "WSS", "ResourceEndpoint": "wss://127.0.0.1:1"},
                        *(
                            {"Protocol": p, "ResourceEndpoint": self.url}
                            for p in wanted["Protocols"]
                            if p != "WSS"
                        ),
                    ]
                }
            )
        if request.path == "/v1/get-ice-server-config":
            return web.json_response({"IceServerList": [{"Uris": ["turn:x"], "Ttl": 300}]})
        if request.path in ("/joinStorageSession", "/joinStorageSessionAsViewer"):
            return web.Response(status=200)
        if request.path == "/listFragments":
            return web.json_response({"Fragments": []})
        if request.path == "/getMedia":
            return web.Response(body=b"\x1a\x45\xdf\xa3media", content_type="video/webm")
        return json_error(404, "ResourceNotFoundException", f"no route {request.path}")


def reply(status: int, code: str, message: str = "") -> Responder:
    async def respond(request: web.Request) -> web.StreamResponse:
        return json_error(status, code, message or code)

    return respond


@asynccontextmanager
async def fake_kvs(
    secrets: dict[str, str], clock_offset: timedelta = timedelta(0)
) -> AsyncIterator[FakeKvs]:
    kvs = FakeKvs(secrets, clock_offset)
    async with serve(kvs.handler) as url:
        kvs.url = url
        yield kvs
