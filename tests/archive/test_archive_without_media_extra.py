"""Without PyAV/Pillow (the ``media`` extra) the media operations name the extra; the rest works."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

MKV = Path(__file__).parent.parent / "data" / "kvs-mkv" / "output_get_media.mkv"

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import UTC, datetime

    class NoMedia:  # the import of av / PIL fails as if they were not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("av", "PIL"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoMedia())
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from kvs_async.emulator import Emulator

    async def main():
        async with Emulator() as emu:
            await emu.create_stream("cam", retention_hours=1)
            frags = await emu.load_media("cam", sys.argv[1])
            def client(service):
                return boto3.client(
                    service, endpoint_url=emu.url, region_name=emu.region,
                    aws_access_key_id=emu.credentials.access_key,
                    aws_secret_access_key=emu.credentials.secret_key,
                    config=Config(retries={"total_max_attempts": 1}),
                )
            am, kv = client("kinesis-video-archived-media"), client("kinesisvideo")
            t0 = datetime.fromtimestamp(frags[0].server_timestamp, UTC)
            t1 = datetime.fromtimestamp(frags[-1].server_timestamp, UTC)
            rng = {"FragmentSelectorType": "SERVER_TIMESTAMP",
                   "TimestampRange": {"StartTimestamp": t0, "EndTimestamp": t1}}
            calls = {
                "GetClip": lambda: am.get_clip(StreamName="cam", ClipFragmentSelector=rng),
                "GetHLSStreamingSessionURL": lambda: am.get_hls_streaming_session_url(StreamName="cam"),
                "GetDASHStreamingSessionURL": lambda: am.get_dash_streaming_session_url(StreamName="cam"),
                "GetImages": lambda: am.get_images(
                    StreamName="cam", ImageSelectorType="SERVER_TIMESTAMP",
                    StartTimestamp=t0, EndTimestamp=t1, Format="JPEG"),
            }
            out = {}
            for name, call in calls.items():
                try:
                    await asyncio.to_thread(call)
                    out[name] = ["ok", ""]
                except ClientError as exc:
                    out[name] = [exc.response["Error"]["Code"], exc.response["Error"]["Message"]]
            listed = await asyncio.to_thread(am.list_fragments, StreamName="cam")
            out["ListFragments"] = len(listed["Fragments"])
            out["ListStreams"] = len((await asyncio.to_thread(kv.list_streams))["StreamInfoList"])
            out["av_loaded"] = "av" in sys.modules
            print(json.dumps(out))

    asyncio.run(main())
    """
)


def test_media_operations_name_the_extra_and_the_rest_works() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(MKV)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for op in ("GetClip", "GetHLSStreamingSessionURL", "GetDASHStreamingSessionURL"):
        code, message = out[op]
        assert code == "UnsupportedStreamMediaTypeException", out[op]
        assert "pip install 'kvs_async[media]'" in message and op in message
    code, message = out["GetImages"]
    assert code == "InvalidArgumentException" and "kvs_async[media]" in message
    assert out["ListFragments"] > 0 and out["ListStreams"] == 1
    assert out["av_loaded"] is False
