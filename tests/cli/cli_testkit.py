"""Running ``kvs-async`` as a user would: a subprocess with a clean environment."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from kvs_async.emulator import Emulator


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No AWS variables and an empty HOME: what a new user's machine gives the CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(home)
    env.pop("PYTHONWARNINGS", None)
    env.update(extra)
    return env


def emulator_env(home: Path, emu: Emulator) -> dict[str, str]:
    """What the lines `kvs-async emulator` prints export."""
    return clean_env(
        home,
        AWS_ENDPOINT_URL=emu.url,
        AWS_REGION=emu.region,
        AWS_ACCESS_KEY_ID=emu.credentials.access_key,
        AWS_SECRET_ACCESS_KEY=emu.credentials.secret_key,
    )


async def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60, cwd: Path | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kvs_async.cli",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
