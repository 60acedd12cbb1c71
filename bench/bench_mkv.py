"""kvs_async.mkv throughput and memory on GetMedia-style streams, beside ebmlite and AWS's sample loop.

Media: ffmpeg encodes a short noisy test video (x264; 1080p at a high bitrate so frames are big,
480p with small frames so elements are dense); `writer.split_fragments` + `kvs_fragment` repeat its
clusters as KVS fragments (fresh fragment numbers) up to the target size. Everything is cached in
bench/.cache/. All rows of one table are measured in the same run on the same bytes:

- kvs_async ChunkParser: fed in 64 KiB pieces from memory, full Chunk objects (frames, tags, raw).
- kvs_async EbmlReader: the event level (an object per element, every leaf value decoded).
- ebmlite walk: each fragment (already cut) parsed from memory, every element visited, leaf values read.
- AWS sample loop: what amazon-kinesis-video-streams-consumer-library-for-python does per read -
  re-parse the whole pending buffer with ebmlite, look for a second EBML header, cut - with 64 KiB
  reads and with its default 1 KiB reads, on a prefix (it is too slow for the whole stream).

Peak memory: a child process streams the file from disk through ChunkParser in 64 KiB reads;
its peak RSS (VmHWM) minus that of a child that imports the same modules and reads nothing. Run for half of
the stream and for all of it: the same figure means memory does not grow with stream length.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kvs_async.mkv import ChunkParser, EbmlReader, writer
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


def _timed(fn: Callable[[], tuple[int, int, int]], repeat: int = 1) -> tuple[float, int, int, int]:
    """Best of `repeat` runs (the machine is shared and noisy)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        elements, chunks, nbytes = fn()
        best = min(best, time.perf_counter() - start)
    return best, elements, chunks, nbytes


def _ours(data: bytes) -> tuple[int, int, int]:
    parser = ChunkParser()
    view = memoryview(data)
    chunks = 0
    frames = 0
    for i in range(0, len(data), PIECE):
        for c in parser.feed(view[i : i + PIECE]):
            chunks += 1
            frames += len(c.frames)
    chunks += len(parser.close())
    return parser.elements_parsed, chunks, len(data)


def _ours_events(data: bytes) -> tuple[int, int, int]:
    reader = EbmlReader()
    view = memoryview(data)
    events = 0
    for i in range(0, len(data), PIECE):
        events += len(reader.feed(view[i : i + PIECE]))
    reader.close()
    return reader.elements_parsed, 0, len(data)


def _fragments(data: bytes) -> list[bytes]:
    parser = ChunkParser()
    out = [c.raw for c in parser.feed(data)]
    return out + [c.raw for c in parser.close()]


def _ebmlite_walk(fragments: list[bytes]) -> tuple[int, int, int]:
    import ebmlite.core
    from ebmlite import loadSchema

    schema = loadSchema("matroska.xml")
    master = ebmlite.core.MasterElement

    def walk(el: object) -> int:
        n = 0
        for child in el:  # type: ignore[attr-defined]
            n += 1
            if isinstance(child, master):
                n += walk(child)
            else:
                child.value  # noqa: B018 - reading the value is part of the walk
        return n

    elements = 0
    for frag in fragments:
        elements += walk(schema.load(io.BytesIO(frag), headers=True))
    return elements, len(fragments), sum(map(len, fragments))


def _aws_sample_loop(data: bytes, read_size: int) -> tuple[int, int, int]:
    """The sample's per-read loop (re-implemented): re-parse the pending buffer every read."""
    from ebmlite import loadSchema

    schema = loadSchema("matroska.xml")
    buffer = bytearray()
    delivered = 0
    for i in range(0, len(data), read_size):
        buffer.extend(data[i : i + read_size])
        doc = schema.load(io.BytesIO(buffer), headers=True)
        headers = [el for el in doc if el.id == 0x1A45DFA3]
        if len(headers) > 1:
            first, second = headers[0].offset, headers[1].offset
            fragment = buffer[first:second]
            schema.load(io.BytesIO(fragment), headers=True)
            delivered += 1
            buffer = buffer[second:]
    return 0, delivered, len(data)


_MEMORY_CHILD = """
import sys
from kvs_async.mkv import ChunkParser
path, limit = sys.argv[1], int(sys.argv[2])
parser = ChunkParser()
done = 0
with open(path, "rb", buffering=0) as f:
    while done < limit and (piece := f.read(65536)):
        for chunk in parser.feed(piece):
            pass
        done += len(piece)
# VmHWM, not ru_maxrss: the latter carries the parent's peak across fork+exec.
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(int(status.split()[0]))
"""


def _peak_kib(path: Path, limit: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(path), str(limit)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def _row(name: str, result: tuple[float, int, int, int], note: str = "") -> None:
    seconds, elements, chunks, nbytes = result
    mbs = nbytes / seconds / 1e6
    els = f"{elements / seconds / 1e3:9.0f}k" if elements else f"{'-':>10}"
    cps = f"{chunks / seconds:9.1f}" if chunks else f"{'-':>9}"
    print(f"  {name:<34} {mbs:9.1f} {els} {cps}  {seconds:7.2f}s  {note}")


def _unknown_table(path: Path) -> None:
    data = path.read_bytes()
    print(f"\n480p with unknown-size clusters (C producer SDK style): {path.name}")
    print(f"  {'parser':<34} {'MB/s':>9} {'elements/s':>10} {'chunks/s':>9}  {'time':>8}")
    _row("kvs_async ChunkParser (64 KiB)", _timed(lambda: _ours(data), 3), "full Chunk objects")
    prefix = data[:2_000_000]
    _row(
        "AWS sample loop, 64 KiB reads",
        _timed(lambda: _aws_sample_loop(prefix, 65536)),
        "first 2 MB",
    )
    small = data[:200_000]
    _row(
        "AWS sample loop, 1 KiB reads",
        _timed(lambda: _aws_sample_loop(small, 1024)),
        "first 0.2 MB",
    )


def _table(label: str, path: Path, quick: bool) -> None:
    data = path.read_bytes()
    print(f"\n{label}: {path.name}, {len(data) / 1e6:.1f} MB")
    print(f"  {'parser':<34} {'MB/s':>9} {'elements/s':>10} {'chunks/s':>9}  {'time':>8}")
    print(f"  {'':<34} (kvs_async and ebmlite-walk rows: best of 3)")
    ours = _timed(lambda: _ours(data), 3)
    _row("kvs_async ChunkParser (64 KiB)", ours, "full Chunk objects")
    _row(
        "kvs_async EbmlReader (64 KiB)",
        _timed(lambda: _ours_events(data), 3),
        "an event per element",
    )
    frags = _fragments(data)
    walk = _timed(lambda: _ebmlite_walk(frags), 3)
    _row("ebmlite walk (per fragment, memory)", walk)
    prefix = data[: (8 if quick else 40) * 1_000_000]
    _row(
        "AWS sample loop, 64 KiB reads",
        _timed(lambda: _aws_sample_loop(prefix, 65536)),
        f"first {len(prefix) / 1e6:.0f} MB",
    )
    small = data[: (1 if quick else 3) * 1_000_000]
    _row(
        "AWS sample loop, 1 KiB reads",
        _timed(lambda: _aws_sample_loop(small, 1024)),
        f"first {len(small) / 1e6:.0f} MB",
    )
    if walk[1] and ours[1]:
        ratio = (ours[1] / ours[0]) / (walk[1] / walk[0])
        print(
            f"  ChunkParser elements/s vs ebmlite walk: {ratio:.1f}x (same elements: {ours[1]} vs {walk[1]})"
        )
    base = _peak_kib(path, 0)
    half = _peak_kib(path, len(data) // 2)
    full = _peak_kib(path, len(data))
    largest = max(map(len, frags))
    print(
        f"  peak RSS (VmHWM) above an idle child: {(half - base) / 1024:.1f} MiB after half the stream, "
        f"{(full - base) / 1024:.1f} MiB after all of it (largest fragment {largest / 2**20:.1f} MiB)"
    )


def run(quick: bool) -> None:
    # 1080p: ~400 kB frames (~100 Mbit/s); 480p: ~3 kB frames (700 kbit/s), dense in elements.
    v1080 = _video("testsrc2-1080p-noise-crf20", "1920x1080", 4, 12, ("-crf", "20"))
    v480 = _video("testsrc2-480p-700k", "854x480", 10, 0, ("-b:v", "700k"))
    s1080 = _stream("1080p", v1080, (40 if quick else 300) * 1_000_000)
    s480 = _stream("480p", v480, (10 if quick else 100) * 1_000_000)
    _table("1080p GetMedia-style stream", s1080, quick)
    _table("480p GetMedia-style stream", s480, quick)
    _unknown_table(_stream("480p", v480, 10_000_000, unknown_clusters=True))
