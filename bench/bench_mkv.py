"""kvs_async.mkv throughput beside ebmlite, compiled and pure, each measurement in a fresh process.

Media: ffmpeg encodes a short noisy test video (x264; 1080p at a high bitrate so frames are big,
480p with small frames so elements are dense); `writer.split_fragments` + `kvs_fragment` repeat its
clusters as KVS fragments (fresh fragment numbers) up to the target size. Everything is cached in
bench/.cache/. Rows, all on the same bytes, measured in interleaved rounds (the order rotates each
round), each measurement in a fresh `python` process that reads the file in 64 KiB pieces first
(as a socket would hand them over; 1 MiB for one row) and times only the parse, so no earlier allocation warms the
heap:

- ChunkParser compiled / pure: `feed()` of every piece, `close()`; full Chunk objects (frames with
  zero-copy payload views, tags, tracks; `raw` is not joined). Pure = KVS_ASYNC_PURE=1, the
  source of the same install; compiled needs a regular install (`nox -s bench`).
- ChunkParser feed_events (compiled if available): the same, with a FrameEvent per frame.
- ChunkParser compiled, 1 MiB pieces: the same with 1 MiB reads (fewer frames straddle two pieces,
  so fewer are joined: the `copied` column).
- ebmlite walk: each fragment (cut beforehand) parsed from memory, every element visited, every
  leaf value read.

Ratios are taken per round (same round, same machine state) and given as min/median/max.
A last line gives each variant's peak RSS streaming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import kvs_async.mkv as mkv
from kvs_async.mkv import ChunkParser, writer
from kvs_async.mkv.elements import VINT_LENGTH

CACHE = Path(__file__).parent / ".cache"
PIECE = 64 * 1024


def _video(name: str, size: str, seconds: int, noise: int, quality: tuple[str, str]) -> Path:
    path = CACHE / f"{name}.mkv"
    if path.exists():
        return path
    if shutil.which("ffmpeg") is None:
        raise SystemExit("bench_mkv needs ffmpeg")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mkv")
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"),
            *("-i", f"testsrc2=size={size}:rate=30", "-vf", f"noise=alls={noise}:allf=t+u"),
            *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", *quality),
            *("-g", "60", "-pix_fmt", "yuv420p", "-cluster_time_limit", "2000"),
            *("-cluster_size_limit", "200000000", str(tmp)),
        ],
        check=True,
    )
    tmp.rename(path)
    return path


def _stream(name: str, video: Path, target: int, *, unknown_clusters: bool = False) -> Path:
    """`unknown_clusters`: clusters with unknown size, as the KVS C producer SDK writes them."""
    kind = "-unknown-clusters" if unknown_clusters else ""
    path = CACHE / f"{name}-getmedia{kind}-{target // 1_000_000}MB.mkv"
    if path.exists():
        return path
    frags = writer.split_fragments(video.read_bytes())
    tmp = path.with_suffix(".tmp")
    total = 0
    with tmp.open("wb") as out:
        i = 0
        while total < target:
            src = frags[i % len(frags)]
            if unknown_clusters:  # same children, header ID + 01 FF FF FF FF FF FF FF
                header = 4 + VINT_LENGTH[src.cluster[4]]
                cluster = writer.unknown_size(0x1F43B675) + src.cluster[header:]
                src = writer.SourceFragment(
                    info=src.info,
                    tracks=src.tracks,
                    cluster=cluster,
                    timecode_ms=src.timecode_ms,
                    duration_ms=src.duration_ms,
                    keyframe_start=src.keyframe_start,
                )
            fn = str(writer.FIRST_FRAGMENT_NUMBER + i * writer.FRAGMENT_NUMBER_STEP)
            ts = writer.format_timestamp(1_700_000_000_000 + 2000 * i)
            data = writer.kvs_fragment(
                src,
                fragment_number=fn,
                server_timestamp=ts,
                producer_timestamp=ts,
                millis_behind_now=1234,
                continuation_token=fn,
            )
            out.write(data)
            total += len(data)
            i += 1
    tmp.rename(path)
    return path


_CHILD = r"""
import json, sys, time
variant, path, extra = sys.argv[1], sys.argv[2], sys.argv[3]
size = 1 << 20 if variant.endswith("-1m") else 65536
variant = variant.removesuffix("-1m")
pieces = []
with open(path, "rb", buffering=0) as f:
    while piece := f.read(size):
        pieces.append(piece)
nbytes = sum(map(len, pieces))
result = {"bytes": nbytes}
if variant == "ebmlite":
    import io
    import ebmlite.core
    from ebmlite import loadSchema
    schema = loadSchema("matroska.xml")
    data = b"".join(pieces)
    del pieces
    frags = [data[a:b] for a, b in json.loads(open(extra).read())]
    del data
    master = ebmlite.core.MasterElement

    def walk(el):
        n = 0
        for child in el:
            n += 1
            if isinstance(child, master):
                n += walk(child)
            else:
                child.value
        return n

    start = time.perf_counter()
    elements = 0
    for frag in frags:
        elements += walk(schema.load(io.BytesIO(frag), headers=True))
    result.update(seconds=time.perf_counter() - start, elements=elements, chunks=len(frags))
else:
    from kvs_async.mkv import COMPILED, ChunkParser
    parser = ChunkParser()
    feed = parser.feed_events if variant == "events" else parser.feed
    chunks = frames = 0
    start = time.perf_counter()
    for piece in pieces:
        for item in feed(piece):
            if hasattr(item, "frames"):
                chunks += 1
                frames += len(item.frames)
    chunks += len(parser.close())
    result.update(
        seconds=time.perf_counter() - start, elements=parser.elements_parsed, chunks=chunks,
        frames=frames, compiled=COMPILED, copied=parser.bytes_copied,
    )
if extra == "rss":
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    result["rss_kib"] = int(status.split()[0])
print(json.dumps(result))
"""


def _measure(variant: str, path: Path, extra: str) -> dict[str, float]:
    env = dict(os.environ)
    env["KVS_ASYNC_PURE"] = "1" if variant == "pure" else "0"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            "events" if variant == "events" else variant,
            str(path),
            extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, float] = json.loads(out.stdout)
    if variant.startswith("compiled") and not result.get("compiled"):
        raise SystemExit("bench_mkv: the compiled parser did not load")
    return result


def _fragment_spans(path: Path) -> Path:
    spans_path = path.with_suffix(".fragments.json")
    if not spans_path.exists():
        parser = ChunkParser()
        data = path.read_bytes()
        chunks = parser.feed(data) + parser.close()
        spans_path.write_text(json.dumps([[c.offset, c.offset + c.size] for c in chunks]))
    return spans_path


def _spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def _table(label: str, path: Path, rounds: int, metric: str) -> None:
    size = path.stat().st_size
    spans = str(_fragment_spans(path))
    variants = ["compiled", "pure", "events", "compiled-1m", "ebmlite"]
    if not mkv.COMPILED:
        variants = [v for v in variants if not v.startswith("compiled")]
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for v in order:
            results[v].append(_measure(v, path, spans if v == "ebmlite" else "-"))
    print(
        f"\n{label}: {path.name}, {size / 1e6:.1f} MB, {rounds} interleaved rounds, min / median / max"
    )
    print(f"  {'variant':<34} {'MB/s':>22} {'elements/s (k)':>24}  elements  copied")
    names = {
        "compiled": "ChunkParser.feed, compiled",
        "pure": "ChunkParser.feed, pure Python",
        "events": f"ChunkParser.feed_events, {'compiled' if mkv.COMPILED else 'pure'}",
        "compiled-1m": "ChunkParser.feed, compiled, 1 MiB",
        "ebmlite": "ebmlite walk, per fragment",
    }
    for v in variants:
        rs = results[v]
        mbs = [x["bytes"] / x["seconds"] / 1e6 for x in rs]
        eps = [x["elements"] / x["seconds"] / 1e3 for x in rs]
        copied = f"{rs[0]['copied'] / rs[0]['bytes']:.2f}x" if "copied" in rs[0] else "-"
        print(
            f"  {names[v]:<34} {_spread(mbs):>22} {_spread(eps, '{:.0f}'):>24}  {int(rs[0]['elements']):>8}  {copied}"
        )
    anchor = results["ebmlite"]
    for v in variants[:-1]:
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(anchor, results[v], strict=True)]
        print(f"  {names[v]} vs ebmlite ({metric}, same bytes): {_spread(ratios, '{:.2f}x')}")


def _memory(path: Path) -> None:
    """Peak RSS of a child streaming the file (pieces held, so compare variants, not to zero)."""
    rows = []
    for v in (["compiled"] if mkv.COMPILED else []) + ["pure"]:
        rows.append(f"{v} {_measure(v, path, 'rss')['rss_kib'] / 1024:.0f} MiB")
    print(f"  peak RSS of the measuring child (all pieces held + parse): {', '.join(rows)}")


def run(quick: bool) -> None:
    # 1080p: ~400 kB frames (~100 Mbit/s); 480p: ~3 kB frames (700 kbit/s), dense in elements.
    v1080 = _video("testsrc2-1080p-noise-crf20", "1920x1080", 4, 12, ("-crf", "20"))
    v480 = _video("testsrc2-480p-700k", "854x480", 10, 0, ("-b:v", "700k"))
    s480 = _stream("480p", v480, (20 if quick else 100) * 1_000_000)
    s1080 = _stream("1080p", v1080, (60 if quick else 200) * 1_000_000)
    rounds = 3 if quick else 5
    if not mkv.COMPILED:
        print(
            "  (kvs_async.mkv is not compiled in this install: `nox -s bench` installs it compiled)"
        )
    _table("480p GetMedia-style stream (elements/s)", s480, rounds, "elements/s")
    _table("1080p GetMedia-style stream (MB/s)", s1080, rounds, "MB/s")
    _memory(s1080)
