"""Helpers for the archived-media tests: small synthetic H.264 media, boto3, ffprobe, the AWS CLI."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kvs_async.emulator import Emulator

FPS = 25
#: Frames per fragment: one GOP, one Matroska Cluster, one KVS fragment.
GOP = 25
SECONDS = 6

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="needs ffmpeg and ffprobe (.ci/run installs them)",
)


def make_media(
    path: Path,
    *,
    audio: bool,
    size: str = "320x240",
    video_codec: str = "libx264",
    preset: str = "ultrafast",
    audio_codec: str = "aac",
    seconds: int = SECONDS,
) -> Path:
    """``seconds`` of testsrc at FPS, a keyframe (and a Cluster) every second; audio if asked.

    x264's ultrafast preset makes no B-frames; ``preset="veryfast"`` (and x265) do.
    """
    rate = 8000 if audio_codec == "pcm_alaw" else 48000
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={FPS}"]
    if audio:
        cmd += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate={rate}:duration={seconds - 0.2}",
        ]
    cmd += ["-t", str(seconds), "-c:v", video_codec, "-preset", preset]
    if video_codec == "libx265":
        cmd += ["-x265-params", f"keyint={GOP}:min-keyint={GOP}:scenecut=0:log-level=error"]
    else:
        cmd += ["-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0"]
    cmd += ["-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", audio_codec] + (["-b:a", "48k"] if audio_codec == "aac" else [])
    # a new Cluster at every video keyframe (and only there): KVS-style fragments
    cmd += ["-cluster_time_limit", "5000", "-cluster_size_limit", "100000000", str(path)]
    subprocess.run(cmd, check=True, timeout=120)
    return path


def has_encoder(name: str) -> bool:
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    )
    return f" {name} " in out.stdout


async def decoded_frames(url: str, *options: str) -> int:
    """Video frames ``ffmpeg -i URL -f null -`` decodes (ffprobe undercounts DASH with B-frames)."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-nostats", "-v", "error", "-i", url, *options, "-map", "0:v:0",
        "-f", "null", "-progress", "pipe:1", "-",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    frames = [line for line in out.decode().splitlines() if line.startswith("frame=")]
    return int(frames[-1].split("=", 1)[1])


def boto(emu: Emulator, service: str = "kinesis-video-archived-media") -> Any:
    return boto3.client(
        service,
        endpoint_url=emu.url,
        region_name=emu.region,
        aws_access_key_id=emu.credentials.access_key,
        aws_secret_access_key=emu.credentials.secret_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def selector(
    kind: str, start: float, end: float | None, *, producer: bool = False
) -> dict[str, Any]:
    rng: dict[str, Any] = {"StartTimestamp": when(start)}
    if end is not None:
        rng["EndTimestamp"] = when(end)
    return {
        f"{kind}FragmentSelector" if kind else "ClipFragmentSelector": {
            "FragmentSelectorType": "PRODUCER_TIMESTAMP" if producer else "SERVER_TIMESTAMP",
            "TimestampRange": rng,
        }
    }


async def ffprobe(target: str | Path, *extra: str) -> dict[str, Any]:
    """ffprobe's JSON for a file or URL, counting every frame it decodes."""
    proc = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-count_frames",
        "-show_entries",
        "stream=codec_type,codec_name,nb_read_frames,width,height:format=duration,format_name",
        "-of",
        "json",
        *extra,
        str(target),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out))


def video_frames(probe: dict[str, Any]) -> int:
    return sum(
        int(s.get("nb_read_frames") or 0) for s in probe["streams"] if s["codec_type"] == "video"
    )


async def aws_cli(emu: Emulator, *args: str) -> tuple[int, str, str]:
    """The AWS CLI (installed with the test extra) run by this interpreter against ``emu``."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": emu.credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": emu.credentials.secret_key,
        "AWS_DEFAULT_REGION": emu.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.pop("AWS_PROFILE", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awscli",
        "--endpoint-url",
        emu.url,
        *args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()
