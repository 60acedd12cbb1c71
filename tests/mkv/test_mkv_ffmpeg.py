"""Real encoder output: ffmpeg makes a video, we cut it into KVS fragments, ffprobe agrees."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kvs_async.mkv import ChunkParser, writer

pytestmark = [
    pytest.mark.media,
    pytest.mark.skipif(
        shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
        reason="needs ffmpeg and ffprobe (.ci/run installs them)",
    ),
]


def count_packets(path: Path) -> int:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(out.stdout.strip())


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ffmpeg") / "testsrc.mkv"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-cluster_time_limit",
            "1000",
            str(path),
        ],
        check=True,
        timeout=120,
    )
    return path


def test_ffmpeg_video_cut_into_kvs_fragments(video: Path, tmp_path: Path) -> None:
    packets = count_packets(video)
    assert packets == 100
    frags = writer.split_fragments(video.read_bytes())
    assert len(frags) == 4 and all(f.keyframe_start for f in frags)
    stream = b"".join(
        writer.kvs_fragment(
            f,
            fragment_number=str(writer.FIRST_FRAGMENT_NUMBER + i),
            server_timestamp=writer.format_timestamp(1_700_000_000_000 + f.timecode_ms),
            producer_timestamp=writer.format_timestamp(1_700_000_000_000 + f.timecode_ms),
            millis_behind_now=0,
            continuation_token=str(writer.FIRST_FRAGMENT_NUMBER + i),
        )
        for i, f in enumerate(frags)
    )
    parser = ChunkParser()
    chunks = [c for i in range(0, len(stream), 4096) for c in parser.feed(stream[i : i + 4096])]
    chunks += parser.close()
    assert len(chunks) == 4
    assert sum(len(c.frames) for c in chunks) == packets
    assert chunks[0].tracks[0].codec_id == "V_MPEG4/ISO/AVC"
    assert (chunks[0].tracks[0].width, chunks[0].tracks[0].height) == (320, 240)
    # One chunk's raw bytes are a file that ffprobe reads, with the chunk's frame count.
    one = tmp_path / "fragment2.mkv"
    one.write_bytes(chunks[1].raw)
    assert count_packets(one) == len(chunks[1].frames) == 25
    # And the whole GetMedia-style stream is one ffprobe accepts too (multiple EBML headers).
    whole = tmp_path / "stream.mkv"
    whole.write_bytes(b"".join(c.raw for c in chunks))
    assert count_packets(whole) == packets
