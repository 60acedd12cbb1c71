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
  client.get_media(..., idle_timeout=30)`` (64 KiB reads, its default), timed until the last
  fragment's Chunk is in hand; the client is created inside the timed part.
- aiobotocore + ebmlite: ``get_media`` then ``Payload.read(65536)``, each read fed to the loop of
  AWS's Python consumer sample as bench_mkv re-implements it (re-parse the whole pending buffer
  with ebmlite, cut at the second EBML header). That loop hands a fragment over only when the
  next one starts, so the last fragment of a finite stream never counts; one round only.
- x200: 200 readers on one event loop, each on its own stream to its end, started together;
  get_media through one client (``max_pool_connections=208``: the default pool of 100 would
  queue half of them), raw aiohttp through one ClientSession; MB/s over the wall time. A plain
  ``async for`` keeps the previous chunk referenced while it waits for the next, so a third row
  has the consumer ``del chunk`` first: the difference is memory the consumer, not the
  library, holds.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


async def _read_ours(client: Any, stream: str, frags: int, drop: bool = False) -> tuple[int, int]:
    """``drop``: let go of each chunk before asking for the next (``async for`` keeps the
    previous one referenced while it waits)."""
    from kvs_async.kinesis_video_media import StartSelector

    chunks = nbytes = 0
    async for chunk in client.get_media(
        stream_name=stream,
        start_selector=StartSelector(start_selector_type="EARLIEST"),
        idle_timeout=30,
    ):
        chunks += 1
        nbytes += len(chunk.raw)
        if drop:
            del chunk
        if chunks >= frags:
            break
    return chunks, nbytes


async def _ours(url: str, stream: str, frags: int) -> Result:
    start = _now()
    async with _client(url) as client:
        chunks, nbytes = await _read_ours(client, stream, frags)
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


async def _many_ours(url: str, frags: int, drop: bool) -> Result:
    start = _now()
    async with _client(url, pool=STREAMS + 8) as client:
        results = await asyncio.gather(
            *(_read_ours(client, f"s{i}", frags, drop) for i in range(STREAMS))
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

    result: Result = (0.0, 0.0, 0, 0)
    if variant != "idle":
        # Untimed warm-up: one fragment of s0 the same way (first-call costs: lazy imports,
        # signing keys, botocore's service model; ~30 ms for get_media) stay out of the rows.
        asyncio.run(_warm_up(variant, url))
    if variant == "ours":
        result = asyncio.run(_ours(url, stream, frags))
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
    """The fastest round, with the largest peak RSS of all rounds."""
    best = dict(min(runs, key=lambda r: r["wall"]))
    best["hwm"] = max(r["hwm"] for r in runs)
    return best


def _rounds(rounds: int, variants: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Run the variants' measurements interleaved, ``rounds`` times each."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            runs[name].append(measure())
    return {name: _best(r) for name, r in runs.items()}


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
    label: str, url: str, stream: str, frags: int, size: int, rounds: int, quick: bool, base: int
) -> None:
    res = _rounds(
        rounds,
        {
            "raw": lambda: _measure("raw", url, stream, expect=size),
            "ours": lambda: _measure("ours", url, stream, frags=frags),
        },
    )
    limit = min(size, 10_000_000) if quick else size
    boto = _measure("botocore", url, stream, limit=limit)
    raw, ours = res["raw"], res["ours"]
    print(f"\n{label}: {size / 1e6:.1f} MB, {frags} fragments, best of {rounds} interleaved rounds")
    print(HEADER)
    _row("raw aiohttp (ceiling)", raw, base, "iter_chunked(65536), no parsing")
    _row("kvs_async get_media", ours, base, "Chunk objects (frames, tags, raw)")
    prefix = "whole stream" if limit >= size else f"first {limit / 1e6:.0f} MB only"
    _row("aiobotocore + ebmlite sample", boto, base, f"{prefix}, 64 KiB reads, 1 round")
    ratio = _rate(ours) / _rate(raw)
    cpu_ratio = (ours["bytes"] / ours["cpu"]) / (raw["bytes"] / raw["cpu"])
    print(
        f"  get_media / ceiling: {ratio:.0%} of the MB/s "
        f"(goal >= 75%: {'met' if ratio >= 0.75 else 'NOT met'}), {cpu_ratio:.0%} of the MB per "
        f"CPU-s; get_media / aiobotocore+ebmlite: {_rate(ours) / _rate(boto):.1f}x"
    )


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
            *(url, "big", len(big_sizes), sizes["big"], rounds, quick, base),
        )
        _table(
            f"1080p 4 Mbit/s, 2 s fragments ({clip.name} loaded {copies} times)",
            *(url, "real", clip_frags * copies, sizes["real"], rounds, quick, base),
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
    peak, dropped = ours["hwm"] * 1024, many["drop"]["hwm"] * 1024
    print(
        f"  peak RSS with {STREAMS} get_media streams: {peak / 1e6:.0f} MB, {dropped / 1e6:.0f} MB "
        f"when the consumer drops chunks (goal < 300 MB: {'met' if peak < 300e6 else 'NOT met'}"
        f"{'' if peak < 300e6 else ', met when dropping' if dropped < 300e6 else ''}); "
        f"{_rate(ours) / _rate(many['raw']):.0%} of the concurrent ceiling's MB/s"
    )


def run(quick: bool) -> None:
    asyncio.run(_main(quick))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _child(sys.argv[2:])
    else:
        run("--quick" in sys.argv)
