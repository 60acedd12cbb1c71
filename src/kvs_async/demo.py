"""``kvs-async demo``: the main job, needing nothing but this package.

It starts the embedded emulator, loads a generated test stream, and reads it
with ``get_media`` through the real stack (SigV4 over loopback HTTP, data
endpoint discovery, the chunk parser) while the emulator cuts connections at
seeded random byte offsets; then it checks that every fragment arrived once,
in order, and that the reader resumed once per cut.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from .cli.get_media import consume
from .cli.status import Status
from .config import ClientConfig
from .emulator import Emulator
from .getmedia import ResumePolicy
from .kinesis_video_media import KinesisVideoMediaClient, StartSelector
from .mkv import Chunk
from .mkv.writer import synthetic_mkv

STREAM = "kvs-async-demo"


async def run_demo(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    media = synthetic_mkv(args.fragments)
    async with Emulator() as emu:
        loaded = await emu.load_media(STREAM, media)
        expected = [f.fragment_number for f in loaded]
        fragment_bytes = max(1, len(media) // max(1, len(loaded)))
        # Each cut lands somewhere in the first few fragments a connection sends, so every
        # connection makes some progress and loses the fragment it was in the middle of.
        faults = max(0, min(args.faults, (len(loaded) - 1) // 4))
        cuts = [rng.randrange(fragment_bytes // 2, 3 * fragment_bytes) for _ in range(faults)]
        for offset in cuts:
            emu.faults.cut_after(offset, stream=STREAM)
        print(
            f"demo: emulator at {emu.url}; stream {STREAM!r} holds {len(loaded)} fragments "
            f"({len(media)} bytes); cutting GetMedia connections after {cuts} bytes",
            file=sys.stderr,
        )
        received: list[str | None] = []

        def note(chunk: Chunk) -> None:
            received.append(chunk.fragment_number)

        status = Status(verbose=args.verbose, as_json=args.json, prog="kvs-async demo")
        async with KinesisVideoMediaClient(
            region=emu.region,
            credentials=emu.credentials,
            control_endpoint_url=emu.url,
            config=ClientConfig(on_retry=status.retry),
        ) as client:
            stream = client.get_media(
                stream_name=STREAM,
                start_selector=StartSelector(start_selector_type="EARLIEST"),
                resume=ResumePolicy(),
                idle_timeout=10.0,
            )
            await consume(
                stream,
                status=status,
                max_chunks=len(expected),
                output=args.output,
                name=STREAM,
                start="EARLIEST",
                on_chunk=note,
            )
        calls = len(emu.log.calls(operation="GetMedia", stream=STREAM))
        fired = len(cuts) - len(emu.faults.armed)
    ok = received == expected
    summary = {
        "fragments_expected": len(expected),
        "fragments_received": len(received),
        "in_order_each_once": ok,
        "cuts_injected": fired,
        "resumes": stream.resumes,
        "getmedia_calls": calls,
        "bytes_received": stream.bytes_received,
    }
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        verdict = "every fragment once, in order" if ok else "MISMATCH"
        print(
            f"demo: received {len(received)}/{len(expected)} fragments ({verdict}); "
            f"the emulator cut {fired} connections and the reader resumed {stream.resumes} "
            f"times ({calls} GetMedia calls, {stream.bytes_received} bytes)"
        )
    return 0 if ok and stream.resumes == fired else 1
