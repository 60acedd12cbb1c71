"""GetMedia end to end over loopback: our ``get_media`` beside raw aiohttp and aiobotocore + ebmlite.

Server: the KVS emulator in a process of its own (``python -m kvs_async.emulator --load ...``),
so it does not share the measured client's event loop (2 cores: one for each process). Its
GetMedia limit is raised to 1000 calls/s/stream so that back-to-back rounds on one stream are
never throttled (our client still paces itself to 5 calls/s/stream).

Media, both served by the emulator as KVS does (fresh fragment numbers, continuation tokens,
timestamps), so every reader of a stream gets the same bytes:

- ``big``: bench_mkv's 1080p GetMedia-style stream (x264, noisy test video at ~100 Mbit/s,
  2 s clusters of ~24 MiB): few, huge fragments; bytes dominate.
- ``real``: a 1080p clip at 4 Mbit/s with 2 s fragments (~1 MB each, a camera-like stream),
  loaded again and again into one stream: many fragments; per-chunk costs show.
- ``s0`` .. ``s199``: that clip once each (3 fragments), for the concurrency rows.

Each measurement runs in a child process of its own (``python -m bench.bench_getmedia child
...``); the parent interleaves the rounds of the variants (the machine is noisy) and keeps the
best wall time of each, and the largest peak RSS (VmHWM from /proc/self/status; an idle child
that imports the same modules gives the baseline). Before its timed read, each child reads one
fragment of ``s0`` the same way, untimed, so that first-call costs (lazy imports, signing keys,
botocore's service model) stay out of the rows. "CPU s" is the child's own CPU time over
the timed part: the client's cost, whatever the server and the scheduler did meanwhile.

- raw aiohttp (the ceiling): one SigV4-signed POST /getMedia (signed as bench_emulator does),
  ``resp.content.iter_chunked(65536)``, no parsing; timed until the stream's bytes arrived.
- kvs_async get_media: ``KinesisVideoMediaClient(endpoint_url=emu.url)``, ``async for chunk in
  client.get_media(..., idle_timeout=30)`` (whole pieces as received), timed until the last
  fragment's Chunk is in hand; the client is created inside the timed part. The consumer
  uses frames and tags (``chunk.size`` for the byte count); a second row also reads
  ``chunk.raw``, which is joined from the received pieces on first use. A third row reads the
  body through aiohttp's parser (the fallback when a connection cannot be taken over).
- copies per media byte: an instrumented, untimed run of each (bench.getmedia_copies).
- frame latency: a per-frame live server (bench.getmedia_latency), frames() against chunks.
- imports: fresh-process import of our bindings beside aiobotocore's session
  (bench.getmedia_imports).
- aiobotocore + ebmlite: ``get_media`` then ``Payload.read(65536)``, each read fed to the loop of
  AWS's Python consumer sample as bench_mkv re-implements it (re-parse the whole pending buffer
  with ebmlite, cut at the second EBML header). That loop hands a fragment over only when the
  next one starts, so the last fragment of a finite stream never counts; one round only.
- x200: 200 readers on one event loop, each on its own stream to its end, started together;
  get_media through one client (``max_pool_connections=208``: the default pool of 100 would
  queue half of them), raw aiohttp through one ClientSession; MB/s over the wall time. A plain
  ``async for`` keeps the previous chunk referenced while it waits for the next, so a third row
  has the consumer ``del chunk`` first: the difference is memory the consumer, not the
  library, holds. RSS is set beside what the consumers hold plus the partial fragments in
  flight (``_Held``: body bytes aiohttp received that no delivered chunk accounts for yet).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import getmedia_copies, getmedia_imports, getmedia_latency
from bench.bench_emulator import KEY, SECRET, _signed, _start
from bench.bench_mkv import CACHE, _stream, _video

REGION = "us-west-2"
PIECE = 64 * 1024
ROOT = Path(__file__).resolve().parent.parent
EBML_HEADER = 0x1A45DFA3
STREAMS = 200

# --- child side: one measurement in a process of its own --------------------------------------

Clock = tuple[float, float]
Result = tuple[float, float, int, int]  # wall seconds, CPU seconds of this process, chunks, bytes


def _now() -> Clock:
    return time.perf_counter(), time.process_time()


def _done(start: Clock, chunks: int, nbytes: int) -> Result:
    return time.perf_counter() - start[0], time.process_time() - start[1], chunks, nbytes


def _hwm_kib() -> int:
    # VmHWM, not ru_maxrss: the latter carries the parent's peak across fork+exec.
    status = Path("/proc/self/status").read_text().split("VmHWM:")[1]
    return int(status.split()[0])


def _client(url: str, pool: int | None = None) -> Any:
    from kvs_async.config import ClientConfig
    from kvs_async.credentials import Credentials
    from kvs_async.kinesis_video_media import KinesisVideoMediaClient

    return KinesisVideoMediaClient(
        region=REGION,
        credentials=Credentials(KEY, SECRET),
        endpoint_url=url,
        config=ClientConfig(max_pool_connections=pool) if pool else None,
    )


class _Held:
    """What the consumers of many streams hold plus what is in flight (the RSS yardstick).

    Per stream, its state just before each chunk is handed over (when it is largest): the
    chunk its consumer still references from before (none when it drops them), the chunk
    about to be delivered, and the body bytes received beyond it (the next
    partial fragment, in aiohttp's buffer or in the parser). The peak of the sum over streams
    of their latest states is the yardstick; a finished stream counts nothing.
    """

    def __init__(self) -> None:
        self.per_stream: dict[int, int] = {}
        self.peak = 0

    def sample(self, key: int, stream: Any, before: int, size: int, delivered: int) -> None:
        payload = stream._payload
        received = _received(payload) if payload is not None else delivered
        self.per_stream[key] = before + size + max(0, received - delivered)
        self.peak = max(self.peak, sum(self.per_stream.values()))

    def finished(self, key: int) -> None:
        self.per_stream[key] = 0


def _received(payload: Any) -> int:
    """Body bytes received so far: aiohttp's count, or the taken-over connection's."""
    content = getattr(payload, "_content", None)
    return int(content.total_bytes) if content is not None else int(payload.bytes_received)


async def _read_ours(
    client: Any,
    stream: str,
    frags: int,
    drop: bool = False,
    raw: bool = False,
    held: _Held | None = None,
) -> tuple[int, int]:
    """``drop``: let go of each chunk before asking for the next (``async for`` keeps the
    previous one referenced while it waits). ``raw``: the consumer reads ``chunk.raw`` (built
    on first use from the pieces received); otherwise it uses frames and tags only."""
    from kvs_async.kinesis_video_media import StartSelector

    chunks = nbytes = kept = 0
    media = client.get_media(
        stream_name=stream,
        start_selector=StartSelector(start_selector_type="EARLIEST"),
        idle_timeout=30,
    )
    async for chunk in media:
        chunks += 1
        nbytes += len(chunk.raw) if raw else chunk.size
        if held is not None:
            held.sample(id(media), media, kept, chunk.size, nbytes)
            kept = 0 if drop else chunk.size
        if drop:
            del chunk
        if chunks >= frags:
            break
    if held is not None:
        held.finished(id(media))
    return chunks, nbytes


async def _ours(url: str, stream: str, frags: int, raw: bool = False) -> Result:
    start = _now()
    async with _client(url) as client:
        chunks, nbytes = await _read_ours(client, stream, frags, raw=raw)
    return _done(start, chunks, nbytes)


def _session() -> Any:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))


async def _read_raw(session: Any, url: str, stream: str, expect: int) -> int:
    """Bytes until ``expect`` arrived (the server's idle end after them is not waited for)."""
    target, headers, body = _signed(url, stream)
    got = 0
    async with session.post(target, data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        async for piece in resp.content.iter_chunked(PIECE):
            got += len(piece)
            if got >= expect:
                break
    return got


async def _raw(url: str, stream: str, expect: int) -> Result:
    start = _now()
    async with _session() as session:
        got = await _read_raw(session, url, stream, expect)
    return _done(start, 0, got)


class _SampleLoop:
    """bench_mkv._aws_sample_loop, one read at a time (what the AWS sample does per read)."""

    def __init__(self) -> None:
        from ebmlite import loadSchema

        self.schema = loadSchema("matroska.xml")
        self.buffer = bytearray()
        self.delivered = 0

    def feed(self, piece: bytes) -> None:
        self.buffer.extend(piece)
        doc = self.schema.load(io.BytesIO(self.buffer), headers=True)
        headers = [el for el in doc if el.id == EBML_HEADER]
        if len(headers) > 1:
            first, second = headers[0].offset, headers[1].offset
            fragment = self.buffer[first:second]
            self.schema.load(io.BytesIO(fragment), headers=True)
            self.delivered += 1
            self.buffer = self.buffer[second:]


async def _botocore(url: str, stream: str, limit: int) -> Result:
    """aiobotocore get_media + the sample loop, for ``limit`` bytes of the body."""
    from aiobotocore.session import get_session

    loop = _SampleLoop()
    got = 0
    async with get_session().create_client(
        "kinesis-video-media",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    ) as client:
        # Timed from the call on: creating a botocore client loads its service model (~0.2 s).
        start = _now()
        resp = await client.get_media(
            StreamName=stream, StartSelector={"StartSelectorType": "EARLIEST"}
        )
        body = resp["Payload"]
        try:
            while got < limit and (piece := await body.read(PIECE)):
                got += len(piece)
                loop.feed(piece)
        finally:
            body.close()
        return _done(start, loop.delivered, got)


HELD = _Held()


async def _many_ours(url: str, frags: int, drop: bool) -> Result:
    start = _now()
    async with _client(url, pool=STREAMS + 8) as client:
        results = await asyncio.gather(
            *(_read_ours(client, f"s{i}", frags, drop, held=HELD) for i in range(STREAMS))
        )
    return _done(start, sum(r[0] for r in results), sum(r[1] for r in results))


async def _many_raw(url: str, expect: int) -> Result:
    start = _now()
    async with _session() as session:
        results = await asyncio.gather(
            *(_read_raw(session, url, f"s{i}", expect) for i in range(STREAMS))
        )
    return _done(start, 0, sum(results))


async def _warm_up(variant: str, url: str) -> None:
    if "ours" in variant:
        await _ours(url, "s0", 1)
    elif variant.endswith("raw"):
        await _raw(url, "s0", 1)
    else:
        await _botocore(url, "s0", 1)


def _child(argv: list[str]) -> None:
    variant, url, stream = argv[0], argv[1], argv[2]
    frags, expect, limit = (int(a) for a in argv[3:6])
    # Every child imports the same modules, so the idle child is a fair baseline.
    import aiobotocore.session  # noqa: F401
    import aiohttp  # noqa: F401
    import ebmlite  # noqa: F401

    import kvs_async.kinesis_video_media  # noqa: F401

    if variant == "copies":
        from bench import getmedia_copies

        print(json.dumps(getmedia_copies.child(url, stream, frags, raw=bool(limit))))
        return
    if variant == "latency":
        from bench import getmedia_latency

        print(json.dumps({"lat": asyncio.run(getmedia_latency.measure(url, stream == "frames"))}))
        return
    result: Result = (0.0, 0.0, 0, 0)
    if variant != "idle":
        # Untimed warm-up: one fragment of s0 the same way (first-call costs: lazy imports,
        # signing keys, botocore's service model; ~30 ms for get_media) stay out of the rows.
        asyncio.run(_warm_up(variant, url))
    if variant == "ours-aiohttp":
        # The body read through aiohttp's parser, as before kvs_async.wire took it over.
        from kvs_async import client

        client._TAKEOVER_OPS = frozenset()
        result = asyncio.run(_ours(url, stream, frags))
    elif variant in ("ours", "ours-raw"):
        result = asyncio.run(_ours(url, stream, frags, raw=variant == "ours-raw"))
    elif variant == "raw":
        result = asyncio.run(_raw(url, stream, expect))
    elif variant == "botocore":
        result = asyncio.run(_botocore(url, stream, limit))
    elif variant in ("many-ours", "many-ours-drop"):
        result = asyncio.run(_many_ours(url, frags, variant.endswith("drop")))
    elif variant == "many-raw":
        result = asyncio.run(_many_raw(url, expect))
    elif variant != "idle":
        raise SystemExit(f"unknown variant {variant}")
    wall, cpu, chunks, nbytes = result
    out = {"wall": wall, "cpu": cpu, "chunks": chunks, "bytes": nbytes, "hwm": _hwm_kib()}
    out["held"] = HELD.peak
    print(json.dumps(out))


# --- parent side --------------------------------------------------------------------------------


def _measure(
    variant: str, url: str, stream: str = "", *, frags: int = 0, expect: int = 0, limit: int = 0
) -> dict[str, Any]:
    args = [variant, url, stream, str(frags), str(expect), str(limit)]
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_getmedia", "child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {variant} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest round, with the largest peak RSS of all rounds, and every round kept."""
    best = dict(min(runs, key=lambda r: r["wall"]))
    best["hwm"] = max(r["hwm"] for r in runs)
    best["runs"] = runs
    return best


def _rounds(rounds: int, variants: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Run the variants' measurements interleaved, ``rounds`` times each."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            runs[name].append(measure())
    return {name: _best(r) for name, r in runs.items()}


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[0]:.2f} / {statistics.median(ordered):.2f} / {ordered[-1]:.2f}"


def _round_ratios(ours: dict[str, Any], raw: dict[str, Any]) -> list[float]:
    """Per interleaved round: our MB/s over the ceiling's in the same round."""
    return [_rate(o) / _rate(r) for o, r in zip(ours["runs"], raw["runs"], strict=True)]


def _cpu_per_gb(r: dict[str, Any]) -> list[float]:
    return [run["cpu"] / (run["bytes"] / 1e9) for run in r["runs"]]


async def _probe(url: str, stream: str) -> int:
    """The size of the whole GetMedia body of ``stream`` (read to the server's idle end)."""
    async with _session() as session:
        return await _read_raw(session, url, stream, 1 << 62)


def _chunk_sizes(path: Path) -> list[int]:
    from kvs_async.mkv import ChunkParser

    parser = ChunkParser()
    chunks = parser.feed(path.read_bytes()) + parser.close()
    return [len(c.raw) for c in chunks]


HEADER = (
    f"  {'variant':<30} {'MB/s':>7} {'chunks/s':>8} {'time':>7} {'CPU s':>6} "
    f"{'MB/CPU-s':>8} {'RSS MiB':>7} {'+idle':>6}"
)


def _row(name: str, r: dict[str, Any], base: int, note: str = "") -> None:
    wall, cpu, mb = r["wall"], r["cpu"], r["bytes"] / 1e6
    cps = f"{r['chunks'] / wall:8.1f}" if r["chunks"] else f"{'-':>8}"
    print(
        f"  {name:<30} {mb / wall:7.1f} {cps} {wall:6.2f}s {cpu:6.2f} {mb / cpu:8.1f} "
        f"{r['hwm'] / 1024:7.1f} {(r['hwm'] - base) / 1024:6.1f}  {note}"
    )


def _rate(r: dict[str, Any]) -> float:
    return float(r["bytes"]) / float(r["wall"])


def _table(
    label: str,
    url: str,
    stream: str,
    frags: int,
    size: int,
    rounds: int,
    quick: bool,
    base: int,
    goal: float,
) -> None:
    res = _rounds(
        rounds,
        {
            "raw": lambda: _measure("raw", url, stream, expect=size),
            "ours": lambda: _measure("ours", url, stream, frags=frags),
            "ours-raw": lambda: _measure("ours-raw", url, stream, frags=frags),
            "ours-aiohttp": lambda: _measure("ours-aiohttp", url, stream, frags=frags),
        },
    )
    limit = min(size, 10_000_000) if quick else size
    boto = _measure("botocore", url, stream, limit=limit)
    raw, ours, with_raw = res["raw"], res["ours"], res["ours-raw"]
    print(f"\n{label}: {size / 1e6:.1f} MB, {frags} fragments, best of {rounds} interleaved rounds")
    print(HEADER)
    _row("raw aiohttp (ceiling)", raw, base, "iter_chunked(65536), no parsing")
    _row("kvs_async get_media", ours, base, "Chunk objects: frames, tags (chunk.size)")
    _row("  same, reading chunk.raw", with_raw, base, "raw built on first use")
    _row("  same, body through aiohttp", res["ours-aiohttp"], base, "no take-over (fallback)")
    prefix = "whole stream" if limit >= size else f"first {limit / 1e6:.0f} MB only"
    _row("aiobotocore + ebmlite sample", boto, base, f"{prefix}, 64 KiB reads, 1 round")
    for name, r in (
        ("get_media", ours),
        ("get_media + .raw", with_raw),
        ("get_media via aiohttp", res["ours-aiohttp"]),
    ):
        ratios = _round_ratios(r, raw)
        met = "met" if statistics.median(ratios) >= goal else "NOT met"
        print(
            f"  {name} / ceiling, MB/s per round (min / median / max): {_spread(ratios)} "
            f"(goal >= {goal:.2f}: {met}); CPU s per GB: {_spread(_cpu_per_gb(r))} "
            f"beside the ceiling's {_spread(_cpu_per_gb(raw))}"
        )
    print(f"  get_media / aiobotocore+ebmlite: {_rate(ours) / _rate(boto):.1f}x")
    counts = [_measure("copies", url, stream, frags=frags, limit=flag) for flag in (0, 1)]
    getmedia_copies.report(label.split(" (")[0], *counts)


def _latency(quick: bool) -> None:
    """Frame latency against a live per-frame stream (bench.getmedia_latency)."""
    fragments = 3 if quick else 10
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.getmedia_latency", "serve", str(fragments)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().split("url=")[1]
        got = {mode: _measure("latency", url, mode)["lat"] for mode in ("frames", "chunks")}
    finally:
        server.terminate()
        server.wait()
    print(
        f"\nFrame latency, server writes a frame -> consumer has it ({fragments} fragments of "
        f"{getmedia_latency.FRAGMENT_FRAMES} frames at {getmedia_latency.FPS} fps, own process)"
    )
    print(f"  MediaStream.frames()     {getmedia_latency.summary(got['frames'])}")
    print(f"  chunks (whole fragment)  {getmedia_latency.summary(got['chunks'])}")
    median = statistics.median(got["frames"])
    print(f"  goal: median under 20 ms: {'met' if median < 20 else 'NOT met'}")


async def _main(quick: bool) -> None:
    from kvs_async.mkv import writer

    v1080 = _video("testsrc2-1080p-noise-crf20", "1920x1080", 4, 12, ("-crf", "20"))
    big = _stream("1080p", v1080, (40 if quick else 300) * 1_000_000)
    clip = _video("testsrc2-1080p-4M", "1920x1080", 6, 6, ("-b:v", "4M"))
    copies = 10 if quick else 100
    rounds = 2 if quick else 5
    big_sizes = _chunk_sizes(big)
    clip_frags = len(writer.split_fragments(clip.read_bytes()))
    loads = [("big", big)] + [("real", clip)] * copies + [(f"s{i}", clip) for i in range(STREAMS)]
    emu, url = await _start(
        [
            *(sys.executable, "-m", "kvs_async.emulator", "--access-key", KEY),
            *("--secret-key", SECRET, "--idle-timeout", "0.3"),
            *("--getmedia-calls-per-second", "1000"),
            *(f"--load={name}={path}" for name, path in loads),
        ]
    )
    try:
        sizes = {name: await _probe(url, name) for name in ("big", "real", "s0")}
        base = _measure("idle", url)["hwm"]
        print(
            f"Emulator: own process, {url}; client children import the same modules "
            f"(idle child: {base / 1024:.1f} MiB RSS); cache: {CACHE}"
        )
        _table(
            f"1080p ~100 Mbit/s ({big.name}, largest fragment {max(big_sizes) / 2**20:.1f} MiB)",
            *(url, "big", len(big_sizes), sizes["big"], rounds, quick, base, 0.9),
        )
        _table(
            f"1080p 4 Mbit/s, 2 s fragments ({clip.name} loaded {copies} times)",
            *(url, "real", clip_frags * copies, sizes["real"], rounds, quick, base, 0.75),
        )
        many = _rounds(
            1 if quick else 2,
            {
                "raw": lambda: _measure("many-raw", url, expect=sizes["s0"]),
                "ours": lambda: _measure("many-ours", url, frags=clip_frags),
                "drop": lambda: _measure("many-ours-drop", url, frags=clip_frags),
            },
        )
    finally:
        emu.terminate()
        await emu.wait()
    ours = many["ours"]
    print(
        f"\n{STREAMS} concurrent streams on one event loop, each {clip.name} "
        f"({clip_frags} fragments, {sizes['s0'] / 1e6:.1f} MB)"
    )
    print(HEADER)
    _row(f"raw aiohttp x{STREAMS} (ceiling)", many["raw"], base, "one ClientSession")
    _row(f"kvs_async get_media x{STREAMS}", ours, base, f"one client, {ours['chunks']} chunks")
    _row(
        "  same, consumer drops chunks",
        many["drop"],
        base,
        "`del chunk` in the loop body",
    )
    for name, r in (("get_media x200", ours), ("dropping chunks", many["drop"])):
        above = (r["hwm"] - base) * 1024
        held = r["held"]
        ratio = above / held if held else float("inf")
        print(
            f"  {name}: peak RSS above the idle child {above / 1e6:.0f} MB; consumers' chunks + "
            f"partial fragments in flight peaked at {held / 1e6:.0f} MB: {ratio:.2f}x "
            f"(goal <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'})"
        )
    print(f"  {_rate(ours) / _rate(many['raw']):.0%} of the concurrent ceiling's MB/s")


def run(quick: bool) -> None:
    asyncio.run(_main(quick))
    _latency(quick)
    getmedia_imports.run(5 if quick else 15)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _child(sys.argv[2:])
    else:
        run("--quick" in sys.argv)
