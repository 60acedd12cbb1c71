"""Archived media in the emulator: HLS/GetClip serving throughput, concurrent HLS viewers.

Media: ffmpeg encodes 20 s of 1080p30 testsrc2 (x264 asked for 8 Mbit/s; the table prints the
bitrate it reached; a keyframe every 2 s, so 2 s fragments), cached in bench/.cache/. The emulator runs in a child process (its own
event loop and threads, as in use); this process is the load: raw aiohttp over loopback,
SigV4-signed where KVS signs, session URLs unsigned as players fetch them.

Throughput rows (MB/s of body bytes received; interleaved rounds, min/median/max; ratio to
the anchor measured in the same round):

- anchor: GetMediaForFragmentList of the same fragments (stored MKV bytes, no remux).
- HLS getMP4MediaFragment, cold: every fragment remuxed by PyAV (the cache is emptied first).
- HLS getTSFragment, cold: the same as MPEG-TS.
- HLS getMP4MediaFragment, warm: the fragments a previous viewer had remuxed (cache hits).
- GetClip: one MP4 of all 10 fragments (PyAV into a temporary file, then streamed).
- ffmpeg -c copy MKV -> MP4 (a subprocess, file to file): the remux ceiling outside Python.

Concurrency: a live feed of the same media (1080p, real time, looping); R GetMedia readers
(kvs_async's get_media) tail it while N HLS "players" each poll a LIVE media playlist every
second and fetch every new fragment. For each N: the readers' fragment rate against the
feed's, their worst lag (MillisBehindNow), and how many of the players' fragment fetches
came back within one fragment duration. Players that join within the same hour share the
remuxed fragments (the session timeline is hour-aligned), so this measures serving, with
one PyAV remux per fragment. The load runs in one Python process on the same cores: at
the largest N it is the load generator as much as the emulator that runs out of CPU.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_mkv import _video
from kvs_async._http import HttpRequest
from kvs_async.credentials import Credentials
from kvs_async.signing import sign_request

_CHILD = """
import asyncio, json, sys
from kvs_async.emulator import Emulator

async def main(path):
    async with Emulator(max_requests_per_second=100000, getmedia_calls_per_second=1000) as emu:
        await emu.create_stream("vod", retention_hours=24)
        frags = await emu.load_media("vod", path)
        await emu.create_stream("live", retention_hours=24)
        print(json.dumps({"url": emu.url, "access": emu.credentials.access_key,
                          "secret": emu.credentials.secret_key, "region": emu.region,
                          "fragments": [[f.fragment_number, f.server_timestamp, f.size]
                                        for f in frags]}), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if line.strip() == "clear":
                emu.archived.clear_cache()
            elif line.strip() == "live":
                await emu.start_live("live", path)
            print("ok", flush=True)

asyncio.run(main(sys.argv[1]))
"""


class Child:
    """The emulator process and a line protocol to it (clear the remux cache, start live)."""

    def __init__(self, media: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(media)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.url: str = self.info["url"]
        self.creds = Credentials(self.info["access"], self.info["secret"])

    def command(self, text: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


async def _post(
    session: aiohttp.ClientSession, child: Child, path: str, body: dict[str, Any]
) -> tuple[int, bytes]:
    data = json.dumps(body).encode()
    request = HttpRequest(
        method="POST",
        path=path,
        headers={"Content-Type": "application/json"},
        body=data,
        url_base=child.url,
    )
    sign_request(
        request,
        credentials=child.creds,
        region=child.info["region"],
        service="kinesisvideo",
        now=datetime.now(UTC),
    )
    async with session.post(child.url + path, data=data, headers=request.headers) as resp:
        return resp.status, await resp.read()


def _range(child: Child) -> dict[str, Any]:
    frags = child.info["fragments"]
    return {
        "FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": frags[0][1], "EndTimestamp": frags[-1][1]},
    }


async def _segments(session: aiohttp.ClientSession, child: Child, container: str) -> list[str]:
    status, body = await _post(
        session,
        child,
        "/getHLSStreamingSessionURL",
        {
            "StreamName": "vod",
            "PlaybackMode": "ON_DEMAND",
            "ContainerFormat": container,
            "HLSFragmentSelector": _range(child),
        },
    )
    assert status == 200, body
    master = json.loads(body)["HLSStreamingSessionURL"]
    base = master.split("getHLSMasterPlaylist")[0]
    media = master.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")
    async with session.get(media) as resp:
        text = await resp.text()
    return [base + ln for ln in text.splitlines() if ln.startswith("get") and "Fragment" in ln]


async def _fetch_all(session: aiohttp.ClientSession, urls: list[str]) -> int:
    total = 0
    for url in urls:
        async with session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            total += len(await resp.read())
    return total


async def _round(child: Child) -> dict[str, float]:
    """One round of every throughput variant: MB/s of each."""
    out: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        numbers = [f[0] for f in child.info["fragments"]]
        t = time.perf_counter()
        status, body = await _post(
            session,
            child,
            "/getMediaForFragmentList",
            {"StreamName": "vod", "Fragments": numbers},
        )
        assert status == 200
        out["anchor"] = len(body) / 1e6 / (time.perf_counter() - t)
        for container, key in (("FRAGMENTED_MP4", "hls_mp4_cold"), ("MPEG_TS", "hls_ts_cold")):
            urls = await _segments(session, child, container)
            child.command("clear")
            t = time.perf_counter()
            total = await _fetch_all(session, urls)
            out[key] = total / 1e6 / (time.perf_counter() - t)
        urls = await _segments(session, child, "FRAGMENTED_MP4")
        await _fetch_all(session, urls)  # a first viewer
        t = time.perf_counter()
        total = await _fetch_all(session, urls)
        out["hls_mp4_warm"] = total / 1e6 / (time.perf_counter() - t)
        t = time.perf_counter()
        status, body = await _post(
            session, child, "/getClip", {"StreamName": "vod", "ClipFragmentSelector": _range(child)}
        )
        assert status == 200, body[:200]
        out["getclip"] = len(body) / 1e6 / (time.perf_counter() - t)
    return out


def _ffmpeg_copy(media: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.mp4"
        t = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(media), "-c", "copy", str(target)],
            check=True,
        )
        return target.stat().st_size / 1e6 / (time.perf_counter() - t)


_ROWS = [
    ("anchor", "GetMediaForFragmentList (stored bytes, anchor)"),
    ("hls_mp4_cold", "HLS getMP4MediaFragment, cold (PyAV remux)"),
    ("hls_ts_cold", "HLS getTSFragment, cold (PyAV remux)"),
    ("hls_mp4_warm", "HLS getMP4MediaFragment, warm (cached)"),
    ("getclip", "GetClip, one MP4 of 10 fragments"),
    ("ffmpeg", "ffmpeg -c copy MKV -> MP4 (subprocess)"),
]


def _throughput(child: Child, media: Path, rounds: int) -> None:
    results: list[dict[str, float]] = []
    for _ in range(rounds):
        r = asyncio.run(_round(child))
        r["ffmpeg"] = _ffmpeg_copy(media)
        results.append(r)
    size = sum(f[2] for f in child.info["fragments"]) / 1e6
    seconds = 2 * len(child.info["fragments"])
    print(
        f"\n1080p30 {size * 8 / seconds:.0f} Mbit/s, {len(child.info['fragments'])} fragments "
        f"of 2 s ({size:.1f} MB); "
        f"{rounds} interleaved rounds; MB/s min / median / max (ratio to anchor, median of rounds)"
    )
    for key, label in _ROWS:
        values = sorted(r[key] for r in results)
        ratio = statistics.median(r[key] / r["anchor"] for r in results)
        print(
            f"  {label:48s} {values[0]:8.1f} {statistics.median(values):8.1f} "
            f"{values[-1]:8.1f}   x{ratio:.3f}"
        )


# -- concurrency ----------------------------------------------------------------------------


async def _reader(child: Child, seconds: float, stats: dict[str, Any]) -> None:
    from kvs_async.kinesis_video_media import KinesisVideoMediaClient, StartSelector

    async with KinesisVideoMediaClient(
        credentials=child.creds, region=child.info["region"], control_endpoint_url=child.url
    ) as media:
        stream = media.get_media(
            stream_name="live", start_selector=StartSelector(start_selector_type="NOW")
        )
        end = time.monotonic() + seconds
        async with stream:
            async for chunk in stream:
                stats["fragments"] += 1
                stats["times"].append(time.monotonic())
                stats["lag"] = max(stats["lag"], chunk.millis_behind_now or 0)
                if time.monotonic() >= end:
                    break


async def _player(
    session: aiohttp.ClientSession, child: Child, seconds: float, stats: dict[str, Any]
) -> None:
    status, body = await _post(
        session,
        child,
        "/getHLSStreamingSessionURL",
        {"StreamName": "live", "PlaybackMode": "LIVE", "MaxMediaPlaylistFragmentResults": 3},
    )
    assert status == 200, body
    master = json.loads(body)["HLSStreamingSessionURL"]
    base = master.split("getHLSMasterPlaylist")[0]
    media = master.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")
    seen: set[str] = set()
    end = time.monotonic() + seconds
    first = True
    while time.monotonic() < end:
        tick = time.monotonic()
        async with session.get(media) as resp:
            text = await resp.text()
        for line in text.splitlines():
            if not line.startswith("getMP4MediaFragment") or line in seen:
                continue
            seen.add(line)
            if first:
                continue  # the window at join time is the backlog, not live fetches
            t = time.monotonic()
            async with session.get(base + line) as resp:
                await resp.read()
                ok = resp.status == 200
            took = time.monotonic() - t
            stats["fetches"] += 1
            stats["on_time"] += int(ok and took < 2.0)
            stats["worst"] = max(stats["worst"], took)
        first = False
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


async def _load(child: Child, readers: int, players: int, seconds: float) -> dict[str, Any]:
    rstats: list[dict[str, Any]] = [{"fragments": 0, "lag": 0, "times": []} for _ in range(readers)]
    pstats = {"fetches": 0, "on_time": 0, "worst": 0.0}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [_reader(child, seconds, s) for s in rstats]
        tasks += [_player(session, child, seconds, pstats) for _ in range(players)]
        await asyncio.gather(*tasks)

    def rate(times: list[float]) -> float:
        """Fragments per feed fragment (2 s each) between the first and the last received."""
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) * 2.0 / (times[-1] - times[0])

    return {
        "players": players,
        "reader_rate": min(rate(s["times"]) for s in rstats),
        "reader_lag_ms": max(s["lag"] for s in rstats),
        **pstats,
    }


def _concurrency(child: Child, quick: bool) -> None:
    child.command("live")
    time.sleep(6)  # a few live fragments, so LIVE sessions can start
    readers = 4
    seconds = 10.0 if quick else 30.0
    steps = [0, 10, 40] if quick else [0, 25, 50, 100, 200, 300, 400]
    print(
        f"\nlive 1080p feed (2 s fragments); {readers} GetMedia readers from NOW for {seconds:.0f} s "
        "beside N HLS LIVE players (playlist every 1 s, every new fragment fetched)"
    )
    print(
        "  players   reader rate (vs feed)   worst reader lag   player fetches   "
        "within 2 s   worst fetch"
    )
    best = 0
    for n in steps:
        r = asyncio.run(_load(child, readers, n, seconds))
        fine = (
            r["reader_rate"] >= 0.9
            and r["reader_lag_ms"] < 4000
            and (r["fetches"] == 0 or r["on_time"] == r["fetches"])
        )
        best = n if fine else best
        print(
            f"  {n:7d}   {r['reader_rate']:20.2f}   {r['reader_lag_ms']:13d} ms   "
            f"{r['fetches']:14d}   {r['on_time']:10d}   {r['worst']:9.2f} s"
        )
        if not fine:
            break  # past the limit: larger N only takes longer to say the same
    print(f"  largest N with readers at rate and every player fetch on time: {best}")


def run(quick: bool) -> None:
    if shutil.which("ffmpeg") is None:
        raise SystemExit("bench_archive needs ffmpeg")
    media = _video("testsrc2-1080p-8M-gop2s", "1920x1080", 20, 0, ("-b:v", "8M"))
    child = Child(media)
    try:
        _throughput(child, media, 2 if quick else 5)
        _concurrency(child, quick)
    finally:
        child.close()
