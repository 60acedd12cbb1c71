"""mypy --strict understands the generated client end to end (a typed usage example)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codegen_helpers import ROOT

SNIPPET = """
from kvs_async.kinesis_video_media import StartSelector
from kvs_async.kinesisvideo import KinesisVideoClient, StreamInfo, Status


async def main() -> None:
    async with KinesisVideoClient(region="us-west-2") as kv:
        info: StreamInfo | None = (await kv.describe_stream(stream_name="s")).stream_info
        reveal_type((await kv.describe_stream(stream_name="s")).stream_info)
        if info is not None:
            status: Status | None = info.status
            reveal_type(info.status)
            reveal_type(info.data_retention_in_hours)
        async for page in kv.paginate_list_streams(max_results=10):
            reveal_type(page.stream_info_list)
        wrong: int = (await kv.describe_stream(stream_name="s")).stream_info
        await kv.describe_stream(stream_nme="s")
    ok = StartSelector(start_selector_type="EARLIEST")
    ok2 = StartSelector(start_selector_type=ok.start_selector_type)
    bad = StartSelector(start_selector_type="EARLIESTX")
    reveal_type(ok2.start_selector_type)
"""


def test_describe_stream_is_typed(tmp_path: Path) -> None:
    snippet = tmp_path / "usage.py"
    snippet.write_text(SNIPPET)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [line.split(": ", 1)[1] for line in proc.stdout.splitlines() if ": " in line]
    assert 'note: Revealed type is "kvs_async.kinesisvideo.StreamInfo | None"' in lines, proc.stdout
    assert 'note: Revealed type is "int | None"' in lines, proc.stdout
    # an output enum field is the enum (completion works), not "str | None"
    assert 'note: Revealed type is "kvs_async.kinesisvideo.Status | None"' in lines, proc.stdout
    assert any("Sequence[kvs_async.kinesisvideo.StreamInfo] | None" in line for line in lines), (
        proc.stdout
    )
    errors = [line for line in lines if line.startswith("error:")]
    # Exactly the three deliberate mistakes are caught, nothing else.
    assert len(errors) == 3, proc.stdout
    assert "StreamInfo | None" in errors[0] and '"int"' in errors[0]
    assert 'Unexpected keyword argument "stream_nme"' in errors[1]
    assert 'note: Revealed type is "kvs_async.kinesis_video_media.StartSelectorType"' in lines, (
        proc.stdout
    )
    # an invalid literal for an input enum is a type error
    assert '"start_selector_type"' in errors[2] and "EARLIESTX" in errors[2], errors[2]
