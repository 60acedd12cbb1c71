"""PutMedia over loopback: our producer beside a raw aiohttp chunked POST of the same bytes.

Server: the KVS emulator in a process of its own (``python -m kvs_async.emulator``), the same
for both variants, so the ceiling includes what the server does (cutting, storing, acking).
Media: ffmpeg-made H.264 (testsrc2 with a little noise, 2 s GOP) at 1080p/4 Mbit/s and
480p/700 kbit/s, cut once into KVS fragments by our muxer (one per keyframe, ~2 s). Each
measurement runs in a child process (``python -m bench.bench_putmedia child ...``); the parent
interleaves the rounds of the variants and reports min/median/max MB/s and fragments/s over
the rounds, the ratio of medians to the ceiling, the child's peak RSS (VmHWM) above an
idle child's, and the child's CPU time per MB (whole run, including the untimed setup calls
and stream creation): the client's own cost, whatever the shared machine does meanwhile. The fragments are generated lazily in both variants (the source's Cluster
bodies are kept once; every repetition re-stamps the Cluster timecode), so a longer input
costs no more memory unless the sender holds what it sent.

- raw aiohttp (ceiling): one SigV4-signed chunked POST /putMedia (UNSIGNED-PAYLOAD) whose body
  is an async generator of the fragments; timed until the response (the acks) ends.
- kvs_async put_media: ``put_fragment`` per fragment through ``MediaProducer`` (window 32,
  limits off: the KVS quota of 12.5 MB/s would otherwise be the figure), timed until leaving
  the context, i.e. until every fragment is acknowledged PERSISTED.
- memory: put_media of an input, then of one 4x as long: peak RSS should not grow with it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_emulator import KEY, SECRET, _start
from bench.bench_mkv import _video

REGION = "us-west-2"
ROOT = Path(__file__).resolve().parent.parent


def _hwm_kib() -> int:
    status = Path("/proc/self/status").read_text().split("VmHWM:")[1]
    return int(status.split()[0])


def _clusters(path: Path) -> tuple[bytes, list[tuple[int, list[bytes]]], int]:
    """(head bytes, [(timecode, blocks)], duration ms) of the video cut at keyframes."""
    from kvs_async.mkv import ChunkParser, writer

    data = path.read_bytes()
    parser = ChunkParser(max_buffer_size=2 * len(data) + (1 << 20))
    chunks = parser.feed(data) + parser.close()
    tracks = chunks[0].tracks
    from kvs_async.producer.fragments import tracks_element

    head = writer.ebml_header() + writer.unknown_size(0x18538067) + writer.info()
    head += tracks_element(tracks)
    out: list[tuple[int, list[bytes]]] = []
    for f in (f for c in chunks for f in c.frames):
        if (f.keyframe and f.track_number == 1) or not out:
            out.append((f.timecode_ms, []))
        tc0 = out[-1][0]
        out[-1][1].append(
            writer.simple_block(
                f.track_number, f.timecode_ms - tc0, bytes(f.payload), keyframe=f.keyframe
            )
        )
    last = max(f.timecode_ms for c in chunks for f in c.frames)
    return head, out, last + 34


def _fragments(
    head: bytes, clusters: list[tuple[int, list[bytes]]], span: int, reps: int
) -> Iterator[bytes]:
    from kvs_async.mkv import writer

    for r in range(reps):
        for tc, blocks in clusters:
            yield head + writer.cluster(tc + r * span, blocks)


async def _make_stream(url: str, name: str) -> None:
    from kvs_async.credentials import Credentials
    from kvs_async.kinesisvideo import KinesisVideoClient

    async with KinesisVideoClient(
        region=REGION, credentials=Credentials(KEY, SECRET), endpoint_url=url
    ) as control:
        await control.create_stream(stream_name=name, data_retention_in_hours=1)


async def _drop_stream(url: str, name: str) -> None:
    from kvs_async.credentials import Credentials
    from kvs_async.kinesisvideo import KinesisVideoClient

    async with KinesisVideoClient(
        region=REGION, credentials=Credentials(KEY, SECRET), endpoint_url=url
    ) as control:
        info = (await control.describe_stream(stream_name=name)).stream_info
        assert info is not None and info.stream_arn
        await control.delete_stream(stream_arn=info.stream_arn)


async def _raw(url: str, stream: str, frags: Iterator[bytes]) -> tuple[float, int, int]:
    import aiohttp

    from kvs_async._http import HttpRequest
    from kvs_async.credentials import Credentials
    from kvs_async.signing import sign_request

    req = HttpRequest(
        method="POST",
        path="/putMedia",
        headers={
            "x-amzn-stream-name": stream,
            "x-amzn-fragment-timecode-type": "RELATIVE",
            "x-amzn-producer-start-timestamp": f"{time.time():.3f}",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
        url_base=url,
    )
    sign_request(
        req, credentials=Credentials(KEY, SECRET), region=REGION, service="kinesisvideo",
        now=datetime.now(UTC),
    )  # fmt: skip
    sent = 0
    count = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent, count
        for doc in frags:
            sent += len(doc)
            count += 1
            yield doc

    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        async with session.post(url + "/putMedia", headers=req.headers, data=body()) as resp:
            assert resp.status == 200, resp.status
            acks = (await resp.read()).count(b'"PERSISTED"')
        wall = time.perf_counter() - start
    assert acks == count, (acks, count)
    return wall, sent, count


async def _ours(url: str, stream: str, frags: Iterator[bytes]) -> tuple[float, int, int]:
    from kvs_async.credentials import Credentials
    from kvs_async.kinesis_video_media import KinesisVideoMediaClient
    from kvs_async.producer import PutMediaLimits

    sent = 0
    async with KinesisVideoMediaClient(
        region=REGION, credentials=Credentials(KEY, SECRET), control_endpoint_url=url
    ) as media:
        producer = media.put_media(
            stream_name=stream,
            fragment_timecode_type="RELATIVE",
            limits=PutMediaLimits.unlimited(),
            wait_for_persisted=True,
        )
        await producer.start()
        start = time.perf_counter()
        async with producer:
            for doc in frags:
                sent += len(doc)
                await producer.put_fragment(doc)
                del doc
        wall = time.perf_counter() - start
    assert producer.stats.persisted == producer.stats.put
    return wall, sent, producer.stats.put


def _child(argv: list[str]) -> None:
    variant, url, stream, video, reps = argv[0], argv[1], argv[2], Path(argv[3]), int(argv[4])
    if variant == "idle":
        import kvs_async.kinesis_video_media
        import kvs_async.producer  # noqa: F401

        print(json.dumps({"hwm": _hwm_kib()}))
        return
    head, clusters, span = _clusters(video)
    base = _hwm_kib()
    asyncio.run(_make_stream(url, stream))
    fn = _raw if variant == "raw" else _ours
    cpu0 = time.process_time()
    wall, sent, count = asyncio.run(fn(url, stream, _fragments(head, clusters, span, reps)))
    cpu = time.process_time() - cpu0
    hwm = _hwm_kib()
    asyncio.run(_drop_stream(url, stream))
    print(
        json.dumps(
            {"wall": wall, "cpu": cpu, "bytes": sent, "fragments": count, "hwm": hwm, "base": base}
        )
    )


def _spawn(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_putmedia", "child", *args],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _stats(values: list[float]) -> str:
    return f"{min(values):7.1f} {statistics.median(values):7.1f} {max(values):7.1f}"


async def _main(quick: bool) -> None:
    seconds = 6 if quick else 20
    videos = {
        "1080p": _video(f"putmedia-1080p-4M-{seconds}s", "1920x1080", seconds, 4, ("-b:v", "4M")),
        "480p": _video(f"putmedia-480p-700k-{seconds}s", "854x480", seconds, 4, ("-b:v", "700k")),
    }
    emu, url = await _start(
        [sys.executable, "-m", "kvs_async.emulator", "--access-key", KEY, "--secret-key", SECRET]
    )
    rounds = 2 if quick else 3
    target = (8 if quick else 40) * 1_000_000  # bytes per round
    reps_of = {k: max(1, -(-target // v.stat().st_size)) for k, v in videos.items()}
    n = 0
    try:
        idle = _spawn("idle", url, "-", "-", "0")["hwm"]
        print(f"{'media':6} {'variant':18} {'MB/s min/med/max':>25} {'frag/s med':>11} "
              f"{'% of ceiling':>13} {'peak RSS MB':>12} {'CPU ms/MB':>10}")  # fmt: skip
        for label, video in videos.items():
            results: dict[str, list[dict[str, float]]] = {"raw": [], "ours": []}
            for _ in range(rounds):
                for variant in ("raw", "ours"):
                    n += 1
                    results[variant].append(
                        _spawn(variant, url, f"b{n}", str(video), str(reps_of[label]))
                    )
            med = {}
            for variant, name in (("raw", "raw aiohttp (ceil)"), ("ours", "kvs_async put_media")):
                rs = results[variant]
                mbs = [r["bytes"] / 1e6 / r["wall"] for r in rs]
                fps = [r["fragments"] / r["wall"] for r in rs]
                med[variant] = statistics.median(mbs)
                peak = max(r["hwm"] for r in rs) - idle
                ratio = f"{100 * med[variant] / med['raw']:12.0f}%"
                cpu = statistics.median(1000 * r["cpu"] / (r["bytes"] / 1e6) for r in rs)
                print(f"{label:6} {name:18} {_stats(mbs):>25} {statistics.median(fps):11.1f} "
                      f"{ratio:>13} {peak / 1024:12.1f} {cpu:10.2f}")  # fmt: skip
        # Memory against input length: the same video, 4x longer.
        video = videos["1080p"]
        for k in (reps_of["1080p"], 4 * reps_of["1080p"]):
            n += 1
            r = _spawn("ours", url, f"m{n}", str(video), str(k))
            print(f"memory: put_media of {r['bytes'] / 1e6:6.1f} MB ({k}x): peak RSS "
                  f"{(r['hwm'] - idle) / 1024:6.1f} MB above idle, source frames held "
                  f"{(r['base'] - idle) / 1024:6.1f} MB")  # fmt: skip
    finally:
        emu.terminate()
        await emu.wait()


def run(quick: bool) -> None:
    asyncio.run(_main(quick))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _child(sys.argv[2:])
    else:
        run("--quick" in sys.argv)
