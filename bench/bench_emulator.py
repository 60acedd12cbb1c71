"""GetMedia bytes/s the emulator serves over loopback, to 1 and to 50 concurrent readers.

The emulator runs as its own process (``python -m kvs_async.emulator --load ...``) so the
readers (raw aiohttp, ``iter_chunked(65536)``, SigV4-signed) do not share its event loop.
The ceiling row is a bare aiohttp server in a process of its own writing one prebuilt blob
of the same size in 64 KiB pieces: what loopback + aiohttp allow at best.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from kvs_async._http import HttpRequest
from kvs_async.credentials import Credentials
from kvs_async.signing import sign_request

SAMPLE = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "kvs-mkv" / "output_get_media.mkv"
)
KEY, SECRET = "AKIDBENCH", "bench-secret"

_CEILING = r"""
import sys
from aiohttp import web
size = int(sys.argv[1])
blob = bytes(size)
async def handle(request):
    await request.read()
    resp = web.StreamResponse()
    await resp.prepare(request)
    for i in range(0, size, 65536):
        await resp.write(blob[i:i + 65536])
    await resp.write_eof()
    return resp
app = web.Application()
app.router.add_route("*", "/{tail:.*}", handle)
import socket
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
print(f"KVS emulator ready: url=http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
web.run_app(app, sock=sock, print=None, access_log=None)
"""


async def _start(cmd: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        if not line:
            raise RuntimeError(f"{cmd[:3]} exited before it was ready")
        if line.startswith("KVS emulator ready:"):
            return proc, line.split("url=", 1)[1].split()[0]


def _signed(url: str, stream: str) -> tuple[str, dict[str, str], bytes]:
    body = json.dumps(
        {"StreamName": stream, "StartSelector": {"StartSelectorType": "EARLIEST"}}
    ).encode()
    req = HttpRequest(
        method="POST",
        path="/getMedia",
        headers={"Content-Type": "application/json"},
        body=body,
        url_base=url,
    )
    sign_request(
        req,
        credentials=Credentials(KEY, SECRET),
        region="us-west-2",
        service="kinesisvideo",
        now=datetime.now(UTC),
    )
    return url + "/getMedia", req.headers, body


async def _read(
    session: aiohttp.ClientSession, url: str, stream: str, expect: int
) -> tuple[int, float]:
    """Bytes read and seconds until ``expect`` bytes arrived (the idle tail is not timed)."""
    target, headers, body = _signed(url, stream)
    start = time.perf_counter()
    got = 0
    elapsed = 0.0
    async with session.post(target, data=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        async for piece in resp.content.iter_chunked(65536):
            got += len(piece)
            if not elapsed and expect and got >= expect:
                elapsed = time.perf_counter() - start
    return got, elapsed or (time.perf_counter() - start)


async def _round(url: str, readers: int, streams: int, expect: int) -> tuple[float, int]:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_read(session, url, f"bench{i % streams}", expect) for i in range(readers))
        )
        wall = max(r[1] for r in results) or (time.perf_counter() - start)
    total = sum(r[0] for r in results)
    return total / wall, total


async def _main(quick: bool) -> None:
    copies = 2 if quick else 8
    streams = 10
    loads: list[str] = []
    for i in range(streams):
        for _ in range(copies):
            loads += ["--load", f"bench{i}={SAMPLE}"]
    emu, url = await _start(
        [
            sys.executable,
            "-m",
            "kvs_async.emulator",
            "--access-key",
            KEY,
            "--secret-key",
            SECRET,
            "--idle-timeout",
            "0.05",
            "--getmedia-calls-per-second",
            "1000",
            *loads,
        ]
    )
    rows: list[tuple[str, int, float, int]] = []
    try:
        async with aiohttp.ClientSession() as session:
            size, _ = await _read(session, url, "bench0", 0)
        for readers in (1, 50):
            rate, total = await _round(url, readers, streams, size)
            rows.append(("emulator GetMedia", readers, rate, total))
    finally:
        emu.terminate()
        await emu.wait()
    ceiling, curl = await _start([sys.executable, "-c", _CEILING, str(size)])
    try:
        for readers in (1, 50):
            rate, total = await _round(curl, readers, streams, size)
            rows.append(("bare aiohttp blob (ceiling)", readers, rate, total))
    finally:
        ceiling.terminate()
        await ceiling.wait()
    print(f"GetMedia body per read: {size / 1e6:.1f} MB ({copies * 5} fragments)")
    print(f"{'server':<30} {'readers':>7} {'MB/s':>9} {'MB total':>9}")
    for name, readers, rate, total in rows:
        print(f"{name:<30} {readers:>7} {rate / 1e6:>9.1f} {total / 1e6:>9.1f}")


def run(quick: bool) -> None:
    asyncio.run(_main(quick))
