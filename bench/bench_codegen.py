"""Generated bindings vs aiobotocore, same machine, same run.

Measured:
- import time of ``kvs_async.kinesisvideo`` vs ``aiobotocore.session`` (fresh interpreter
  per run, median; the interpreter's own start-up is excluded);
- client construction: ours (constructor, and constructor + ``async with`` enter/exit)
  vs aiobotocore's ``create_client`` context (shared session, warm loader);
- per-call request preparation for DescribeStream: ours = build the input object +
  validate + serialize (``serialize_request``); aiobotocore = what ``_make_api_call`` does
  before signing (param events, endpoint rule set, validation, serialization,
  ``prepare_request_dict``);
- full DescribeStream round trip against a local aiohttp server that answers at once
  (signing, HTTP, parsing included), both clients.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

CREDS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}
DESCRIBE_BODY = (
    b'{"StreamInfo":{"StreamName":"s","StreamARN":"arn:aws:kinesisvideo:us-west-2:123456789012:'
    b'stream/s/1","Status":"ACTIVE","CreationTime":1700000000.5,"DataRetentionInHours":24,'
    b'"Version":"v1","MediaType":"video/h264"}}'
)


def _import_time(module: str, runs: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


_COLD_OURS = """
import asyncio, time
t = time.perf_counter()
from kvs_async import Credentials
from kvs_async.kinesisvideo import KinesisVideoClient
async def main():
    async with KinesisVideoClient(region="us-west-2", credentials=Credentials("AKIDEXAMPLE", "s")):
        pass
asyncio.run(main())
print(time.perf_counter() - t)
"""
_COLD_THEIRS = """
import asyncio, time
t = time.perf_counter()
from aiobotocore.session import get_session
async def main():
    async with get_session().create_client(
        "kinesisvideo", region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="s"):
        pass
asyncio.run(main())
print(time.perf_counter() - t)
"""


def _cold(code: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def _per_call(fn: Callable[[], Any], n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best


async def _per_call_async(fn: Callable[[], Any], n: int) -> float:
    await fn()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            await fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best


async def _measure(quick: bool) -> list[tuple[str, float, float]]:
    from aiobotocore.session import get_session
    from aiohttp import web

    from kvs_async import Credentials, protocol
    from kvs_async import kinesisvideo as kv

    rows: list[tuple[str, float, float]] = []
    n = 300 if quick else 3000

    # -- client construction --------------------------------------------------------------------
    creds = Credentials("AKIDEXAMPLE", "secret")

    def make_ours() -> Any:
        return kv.KinesisVideoClient(region="us-west-2", credentials=creds)

    ours_ctor = _per_call(make_ours, 50 if quick else 500)

    async def enter_ours() -> None:
        async with kv.KinesisVideoClient(region="us-west-2", credentials=creds):
            pass

    ours_enter = await _per_call_async(enter_ours, 20 if quick else 200)
    session = get_session()

    async def enter_theirs() -> None:
        async with session.create_client("kinesisvideo", region_name="us-west-2", **CREDS):
            pass

    theirs_enter = await _per_call_async(enter_theirs, 5 if quick else 30)
    rows.append(("client construction (ours: ctor only)", ours_ctor, theirs_enter))
    rows.append(("client ctor+enter+exit", ours_enter, theirs_enter))

    # -- per-call request preparation ---------------------------------------------------------------
    op = kv.OPERATIONS["DescribeStream"]

    def prep_ours() -> Any:
        return protocol.serialize_request(kv.SERVICE, op, kv.DescribeStreamInput(stream_name="s"))

    ours_prep = _per_call(prep_ours, n)
    async with session.create_client("kinesisvideo", region_name="us-west-2", **CREDS) as client:

        async def prep_theirs() -> Any:
            # The part of aiobotocore's _make_api_call before signing/sending.
            operation_model = client._service_model.operation_model("DescribeStream")
            context = {
                "client_region": client.meta.region_name,
                "client_config": client.meta.config,
                "has_streaming_input": operation_model.has_streaming_input,
                "auth_type": operation_model.resolved_auth_type,
                "unsigned_payload": operation_model.unsigned_payload,
                "auth_options": client._service_model.metadata.get("auth"),
            }
            params = await client._emit_api_params(
                api_params={"StreamName": "s"}, operation_model=operation_model, context=context
            )
            endpoint_url, headers, _props = await client._resolve_endpoint_ruleset(
                operation_model, params, context
            )
            return await client._convert_to_request_dict(
                api_params=params,
                operation_model=operation_model,
                endpoint_url=endpoint_url,
                context=context,
                headers=headers,
            )

        theirs_prep = await _per_call_async(prep_theirs, n // 3)
    rows.append(("per-call request prep (DescribeStream)", ours_prep, theirs_prep))

    # -- full round trip against a local server ------------------------------------------------------
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            body=DESCRIBE_BODY,
            headers={"Content-Type": "application/json", "x-amzn-RequestId": "r"},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    calls = 100 if quick else 1000
    try:
        async with kv.KinesisVideoClient(
            region="us-west-2", credentials=creds, endpoint_url=url
        ) as ours:

            async def call_ours() -> Any:
                return await ours.describe_stream(stream_name="s")

            ours_rt = await _per_call_async(call_ours, calls)
        async with session.create_client(
            "kinesisvideo", region_name="us-west-2", endpoint_url=url, **CREDS
        ) as theirs:

            async def call_theirs() -> Any:
                return await theirs.describe_stream(StreamName="s")

            theirs_rt = await _per_call_async(call_theirs, calls)
    finally:
        await runner.cleanup()
    rows.append(("DescribeStream round trip, local server", ours_rt, theirs_rt))
    return rows


def run(quick: bool) -> None:
    runs = 3 if quick else 9
    ours_import = _import_time("kvs_async.kinesisvideo", runs)
    theirs_import = _import_time("aiobotocore.session", runs)
    rows = [("import (kinesisvideo vs aiobotocore.session)", ours_import, theirs_import)]
    rows.append(
        (
            "cold start: import + first client entered",
            _cold(_COLD_OURS, runs),
            _cold(_COLD_THEIRS, runs),
        )
    )
    rows += asyncio.run(_measure(quick))
    print(f"{'measure':52} {'kvs_async':>12} {'aiobotocore':>12} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:52} {_fmt(ours):>12} {_fmt(theirs):>12} {ours / theirs:>7.3f}")
    prep = next(r for r in rows if r[0].startswith("per-call"))
    ctor = rows[2]
    print(
        f"goals: client construction {_fmt(ctor[1])} (< 5 ms: {'met' if ctor[1] < 0.005 else 'MISSED'}); "
        f"per-call prep ratio {prep[1] / prep[2]:.3f} (< 0.333: {'met' if prep[1] / prep[2] < 1 / 3 else 'MISSED'})"
    )


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


if __name__ == "__main__":
    run("--quick" in sys.argv)
