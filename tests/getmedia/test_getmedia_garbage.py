"""A GetMedia body that is not Matroska ends the iteration with a typed parse error, at once."""

from __future__ import annotations

import pytest
from aiohttp import web

from kvs_async import Credentials, KvsError
from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector
from kvs_async.mkv import MkvParseError

CREDS = Credentials(access_key="AKIDGARBAGE", secret_key="garbage-secret")


async def test_garbage_body_raises_a_parse_error_naming_the_offset() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await response.prepare(request)
        await response.write(b"\x1a\x45\xdf\xa3\x84\x42\x86\x81\x01")  # EBML header start
        await response.write(b"\xff" * 64)  # then an invalid ID
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/getMedia", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with KinesisVideoMediaClient(
            region="us-west-2", credentials=CREDS, endpoint_url=f"http://127.0.0.1:{port}"
        ) as client:
            stream = client.get_media(
                stream_name="cam", start_selector=StartSelector(start_selector_type="EARLIEST")
            )
            with pytest.raises(MkvParseError) as info:
                async for _ in stream:
                    raise AssertionError("no chunk can come out of garbage")
            assert isinstance(info.value, KvsError)  # one root for every error we raise
            assert info.value.offset >= 4 and "byte" in str(info.value)
            assert stream.attempts == 1  # a parse error is not retried
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("frames", [False, True])
async def test_fragments_before_the_garbage_are_handed_over_first(frames: bool) -> None:
    from kvs_async.mkv.writer import synthetic_stream

    good = b"".join(synthetic_stream(2, frame_size=300))

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await response.prepare(request)
        # One write: the bad bytes reach the parser in the same piece as the good fragments.
        await response.write(good + b"\x1a\x45\xdf\xa3\x84\x42\x86\x81\x01" + b"\xff" * 64)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/getMedia", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with KinesisVideoMediaClient(
            region="us-west-2", credentials=CREDS, endpoint_url=f"http://127.0.0.1:{port}"
        ) as client:
            stream = client.get_media(
                stream_name="cam", start_selector=StartSelector(start_selector_type="EARLIEST")
            )
            got: list[object] = []
            with pytest.raises(MkvParseError) as info:
                async for item in stream.frames() if frames else stream:
                    got.append(item)
            assert info.value.offset >= len(good)
            assert stream.chunks == 2 and stream.attempts == 1
            assert len(got) == (stream.frames_delivered if frames else 2) and got
    finally:
        await runner.cleanup()
