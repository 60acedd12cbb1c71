"""GetClip hands its MP4 body over as a stream: read in pieces as it arrives, never whole."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from kvs_async import Credentials
from kvs_async.kinesis_video_archived_media import (
    ClipFragmentSelector,
    ClipTimestampRange,
    KinesisVideoArchivedMediaClient,
)
from kvs_async.signing import verify_request

CREDS = Credentials(access_key="AKIDCLIP", secret_key="clip-secret")
PIECE = b"\x00\x00\x00\x18ftypmp42" + bytes(65536 - 12)


async def test_get_clip_streams_the_mp4_body() -> None:
    release = asyncio.Event()
    sent = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        body = await request.read()
        verify_request(
            method=request.method,
            path=request.raw_path.split("?", 1)[0],
            query=list(request.query.items()),
            headers=request.headers,
            body=body,
            secret_for={CREDS.access_key: CREDS.secret_key}.get,
            now=datetime.now(UTC),
        )
        assert request.path == "/getClip"
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        await response.prepare(request)
        await response.write(PIECE)
        sent += len(PIECE)
        await release.wait()  # the rest only once the client has seen the first piece
        for _ in range(3):
            await response.write(PIECE)
            sent += len(PIECE)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/getClip", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with KinesisVideoArchivedMediaClient(
            region="us-west-2", credentials=CREDS, endpoint_url=f"http://127.0.0.1:{port}"
        ) as client:
            clip = await client.get_clip(
                stream_name="cam",
                clip_fragment_selector=ClipFragmentSelector(
                    fragment_selector_type="SERVER_TIMESTAMP",
                    timestamp_range=ClipTimestampRange(
                        start_timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                        end_timestamp=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
                    ),
                ),
            )
            assert clip.content_type == "video/mp4"
            assert clip.payload is not None
            first = await clip.payload.read(65536)
            assert first[4:8] == b"ftyp" and sent == len(PIECE)
            release.set()
            rest = await clip.payload.read()
            clip.payload.close()
    finally:
        await runner.cleanup()
    assert len(first) + len(rest) == 4 * len(PIECE)
