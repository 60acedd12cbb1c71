"""Helpers shared by the emulator tests: signed raw requests, boto3 clients, media bytes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import boto3
import yarl
from botocore.config import Config

from kvs_async._http import HttpRequest
from kvs_async.emulator import Emulator
from kvs_async.signing import sign_request


def boto(
    emu: Emulator,
    service: str = "kinesisvideo",
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    **config: Any,
) -> Any:
    """A boto3 client pointed at the emulator (or ``endpoint_url``), signing with its
    credentials for its region (or ``region``)."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url or emu.url,
        region_name=region or emu.region,
        aws_access_key_id=emu.credentials.access_key,
        aws_secret_access_key=emu.credentials.secret_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


def signed(
    emu: Emulator,
    path: str,
    body: bytes | dict[str, Any] = b"",
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    secret: str | None = None,
    access_key: str | None = None,
    region: str | None = None,
    service: str = "kinesisvideo",
) -> tuple[str, dict[str, str], bytes]:
    """URL, headers and body of a SigV4-signed request (optionally with the wrong key, or
    scoped to another region or service)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    request = HttpRequest(method=method, path=path, headers=hdrs, body=data, url_base=emu.url)
    from kvs_async.credentials import Credentials

    creds = Credentials(
        access_key or emu.credentials.access_key, secret or emu.credentials.secret_key
    )
    sign_request(
        request,
        credentials=creds,
        region=region or emu.region,
        service=service,
        now=datetime.now(UTC),
    )
    return emu.url + path, request.headers, data


async def call(
    emu: Emulator,
    path: str,
    body: bytes | dict[str, Any] = b"",
    **kwargs: Any,
) -> tuple[int, dict[str, str], bytes]:
    """One signed request over loopback; returns status, headers, whole body."""
    url, headers, data = signed(emu, path, body, **kwargs)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def get_media_bytes(emu: Emulator, stream: str, selector: dict[str, Any]) -> bytes:
    """The whole body of a GetMedia call (until the emulator ends the session)."""
    status, _, body = await call(
        emu, "/getMedia", {"StreamName": stream, "StartSelector": selector}
    )
    assert status == 200, body
    return body


async def put_media(emu: Emulator, stream: str, mkv: bytes) -> list[dict[str, Any]]:
    status, _, body = await call(
        emu,
        "/putMedia",
        mkv,
        headers={"x-amzn-stream-name": stream, "Content-Type": "application/octet-stream"},
    )
    assert status == 200, body
    return [json.loads(line) for line in body.decode().splitlines() if line]


def parse_chunks(body: bytes) -> list[Any]:
    """Our parser's view of a GetMedia body: one chunk per fragment (or error tag)."""
    try:
        from kvs_async.mkv import ChunkParser
    except ImportError:  # until the package exports it
        from kvs_async.mkv.chunks import ChunkParser
    parser = ChunkParser()
    return list(parser.feed(body)) + list(parser.close())


def parse_archived_chunks(body: bytes) -> list[Any]:
    """GetMediaForFragmentList bodies carry no trailing Tags, so the last chunk ends at EOF."""
    from kvs_async.mkv import MkvTruncatedError

    try:
        from kvs_async.mkv import ChunkParser
    except ImportError:  # until the package exports it
        from kvs_async.mkv.chunks import ChunkParser
    parser = ChunkParser()
    chunks = list(parser.feed(body))
    try:
        chunks += parser.close()
    except MkvTruncatedError as exc:
        chunks += list(exc.chunks)
        if exc.partial is not None:
            chunks.append(exc.partial)
    return chunks


async def put_media_streaming(
    emu: Any,
    stream: str,
    pieces: AsyncIterator[bytes],
    *,
    on_ack: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """PutMedia with an unsigned, streamed body; acks are read while the body is still sent."""
    url, hdrs, _ = signed(
        emu,
        "/putMedia",
        b"",
        headers={
            "x-amzn-stream-name": stream,
            "Content-Type": "application/octet-stream",
            "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
            **(headers or {}),
        },
    )
    acks: list[dict[str, Any]] = []
    timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=pieces, headers=hdrs) as resp,
    ):
        if resp.status != 200:
            return resp.status, [json.loads(await resp.read())]
        async for line in resp.content:
            if line.strip():
                ack = json.loads(line)
                acks.append(ack)
                if on_ack is not None:
                    await on_ack(ack)
        return resp.status, acks


async def aws_cli(emu: Emulator, *args: str, endpoint: str | None = None) -> tuple[int, Any, str]:
    """Run the AWS CLI (the test extra's, by this interpreter) against the emulator.

    Returns (exit code, parsed JSON output or None, stderr).
    """
    import asyncio
    import os
    import sys

    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": emu.credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": emu.credentials.secret_key,
        "AWS_DEFAULT_REGION": emu.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awscli",
        "--endpoint-url",
        endpoint or emu.url,
        "--output",
        "json",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    return proc.returncode or 0, json.loads(text) if text.strip() else None, err.decode()


async def send(
    emu: Emulator,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    query: list[tuple[str, str]] | None = None,
    region: str | None = None,
    service: str = "kinesisvideo",
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Any method, path and decoded query, signed for ``region``/``service``; one response."""
    from urllib.parse import urlencode

    from kvs_async.credentials import Credentials

    request = HttpRequest(
        method=method,
        path=path,
        query=list(query or []),
        headers={"Content-Type": "application/json"},
        body=body,
        url_base=emu.url,
    )
    sign_request(
        request,
        credentials=Credentials(emu.credentials.access_key, emu.credentials.secret_key),
        region=region or emu.region,
        service=service,
        now=datetime.now(UTC),
    )
    url = emu.url + path + ("?" + urlencode(request.query) if request.query else "")
    own = session is None
    active = session or aiohttp.ClientSession()
    try:
        async with active.request(
            method, yarl.URL(url, encoded=True), data=body, headers=request.headers
        ) as resp:
            return resp.status, dict(resp.headers), await resp.read()
    finally:
        if own:
            await active.close()
