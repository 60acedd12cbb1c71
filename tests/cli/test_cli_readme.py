"""The README as a new user meets it: its walk-through, in order, in a clean environment (no AWS
variables, an empty HOME) against a fresh emulator, then every Python block as a script.

Blocks are chosen by the HTML comment on the line before their fence:
``<!-- readme-test: background -->`` (started and left running; the ``export`` lines it prints
are applied to everything after it, as the user pastes them), ``<!-- readme-test: run -->``
(run with ``bash -e``), ``<!-- readme-test: skip ... -->`` (not run, with a reason). Python blocks
always run unless skipped. The only change made to a block: the emulator's port 4567 becomes a
free one, so that parallel runs on one machine do not collide.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from attrs import define

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*readme-test:\s*(\w+)")

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="the walk-through makes its video with ffmpeg",
)


@define(frozen=True, slots=True)
class Block:
    lang: str
    mark: str | None
    text: str
    line: int


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = _MARK.match(before)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found.append(
            Block(
                fence.group(1),
                mark.group(1) if mark else None,
                "\n".join(lines[i + 1 : end]),
                i + 1,
            )
        )
        i = end + 1
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_marks_what_it_runs() -> None:
    found = blocks(README)
    assert [b.mark for b in found if b.mark is not None][:2] == ["background", "run"]
    assert all(b.mark in (None, "background", "run", "skip") for b in found)
    assert sum(b.lang == "python" for b in found) >= 2


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    found = blocks(README)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    exports: dict[str, str] = {}
    background: list[subprocess.Popen[str]] = []
    ran: list[int] = []
    try:
        for block in found:
            text = block.text.replace("4567", port)
            if block.mark == "skip" or (block.lang != "python" and block.mark is None):
                continue
            where = f"README.md line {block.line}"
            if block.mark == "background":
                proc = subprocess.Popen(
                    ["bash", "-e", "-c", f"exec 2>&1\n{text}"],
                    cwd=work,
                    env={**env, **exports},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
                background.append(proc)
                exports.update(read_exports(proc, where))
                check_printed_exports(found, exports, port)
            elif block.lang == "python":
                script = work / f"readme_{block.line}.py"
                script.write_text(text + "\n")
                result = subprocess.run(
                    [sys.executable, str(script)],
                    cwd=work,
                    env={**env, **exports},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert result.returncode == 0, (where, result.stdout, result.stderr)
            else:
                result = subprocess.run(
                    ["bash", "-e", "-o", "pipefail", "-c", text],
                    cwd=work,
                    env={**env, **exports},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert result.returncode == 0, (where, result.stdout, result.stderr)
                assert "Traceback" not in result.stdout + result.stderr
            ran.append(block.line)
        python_blocks = [b.line for b in found if b.lang == "python" and b.mark != "skip"]
        assert set(python_blocks) <= set(ran)
        # What the walk-through promises: a playable clip of the whole 10 s video.
        probe = subprocess.run(
            [
                *("ffprobe", "-v", "error", "-show_entries", "format=duration"),
                *("-of", "csv=p=0", str(work / "clip.mkv")),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert abs(float(probe.stdout) - 10.0) < 0.5, probe.stdout
    finally:
        for proc in background:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(15)
    assert all(proc.returncode == 130 for proc in background)


def read_exports(proc: subprocess.Popen[str], where: str) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines a background block prints once it is ready."""
    assert proc.stdout is not None
    exports: dict[str, str] = {}
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"{where} ended before it was ready: {seen}")
        seen.append(line)
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value
            if len(exports) == 4:
                return exports
    raise AssertionError(f"{where} printed no exports in time: {seen}")


def check_printed_exports(found: list[Block], exports: dict[str, str], port: str) -> None:
    """The README shows exactly what the emulator prints (the text block after the command)."""
    shown = next(b for b in found if b.lang == "text" and "export AWS_ENDPOINT_URL" in b.text)
    lines = [
        line for line in shown.text.replace("4567", port).splitlines() if line.startswith("export ")
    ]
    assert lines == [f"export {k}={v}" for k, v in exports.items()]
