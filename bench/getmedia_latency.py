"""Frame latency: from the server writing a frame to ``MediaStream.frames()`` yielding it.

The server (a process of its own) sends a live KVS stream the way GetMedia does while a producer
is still uploading: 2 s fragments at 30 frames/s (~4 Mbit/s, 16 KiB frames), each SimpleBlock
written to the socket when its frame is due, the fragment's tags before its Cluster and the
trailing continuation-token Tags after it (bytes from ``kvs_async.mkv.writer``). The emulator
publishes a fragment only once it is complete, so it cannot show per-frame latency; this
server can. Each frame's first 8 bytes are ``time.monotonic()`` taken just before the write
(CLOCK_MONOTONIC is one clock for every process on the machine); the client subtracts it from
``time.monotonic()`` when the frame is in hand. The same stream read as chunks gives the
latency a consumer of whole fragments sees, for comparison.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import sys
import time

FPS = 30
FRAGMENT_FRAMES = 60
FRAME_SIZE = 16_000
STAMP = struct.Struct(">d")


def _fragment(number: int) -> tuple[bytes, list[int], list[int]]:
    """A fragment's bytes, where each SimpleBlock ends and where each payload starts."""
    from kvs_async.mkv import writer as w

    blocks = [
        w.simple_block(1, i * 33, bytes(FRAME_SIZE), keyframe=i == 0)
        for i in range(FRAGMENT_FRAMES)
    ]
    src = w.SourceFragment(
        info=w.info(),
        tracks=w.tracks(w.track_entry(number=1, width=1920, height=1080)),
        cluster=w.cluster(number * 2000, blocks),
        timecode_ms=number * 2000,
        duration_ms=2000,
        keyframe_start=True,
    )
    token = f"9134385233318143239{number:029d}"
    data = w.kvs_fragment(
        src,
        fragment_number=token,
        server_timestamp=f"{1_700_000_000 + 2 * number}.000",
        producer_timestamp=f"{1_700_000_000 + 2 * number}.000",
        millis_behind_now=0,
        continuation_token=token,
    )
    end = data.index(src.cluster) + len(src.cluster)
    ends = []
    for block in reversed(blocks):
        ends.append(end)
        end -= len(block)
    ends.reverse()
    starts = [e - FRAME_SIZE for e in ends]
    return data, ends, starts


def serve(fragments: int) -> None:
    """``python -m bench.getmedia_latency serve N``: print the URL, serve N fragments per call."""
    import socket

    from aiohttp import web

    async def get_media(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(fragments):
            data, ends, starts = _fragment(n)
            buf = bytearray(data)
            sent = 0
            for i, (end, pay) in enumerate(zip(ends, starts, strict=True)):
                due = start + (n * FRAGMENT_FRAMES + i) / FPS
                await asyncio.sleep(max(0.0, due - loop.time()))
                STAMP.pack_into(buf, pay, time.monotonic())
                await response.write(bytes(buf[sent:end]))
                sent = end
            await response.write(bytes(buf[sent:]))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/getMedia", get_media)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"KVS emulator ready: url=http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


async def measure(url: str, frames: bool) -> list[float]:
    """Latencies in ms of every frame of one call, read with frames() or as chunks."""
    from bench.bench_getmedia import _client
    from kvs_async.kinesis_video_media import StartSelector

    out: list[float] = []
    async with _client(url) as client:
        stream = client.get_media(
            stream_name="live",
            start_selector=StartSelector(start_selector_type="NOW"),
            resume=False,
        )
        async with stream:
            if frames:
                async for event in stream.frames():
                    now = time.monotonic()
                    out.append((now - STAMP.unpack_from(event.frame.payload)[0]) * 1000)
            else:
                async for chunk in stream:
                    now = time.monotonic()
                    out += [(now - STAMP.unpack_from(f.payload)[0]) * 1000 for f in chunk.frames]
    return out


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered):8.2f} ms  p99 {p99:8.2f} ms  "
        f"max {ordered[-1]:8.2f} ms  ({len(ordered)} frames)"
    )


if __name__ == "__main__":
    serve(int(sys.argv[2]))
