"""Format emitted source with the pinned ruff (``ruff==0.17.6``), run as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

RUFF_VERSION = "0.17.6"
# The project's settings, given explicitly so output does not depend on where it is written.
_SETTINGS = ("--isolated", "--line-length", "100", "--target-version", "py311")


class FormatError(RuntimeError):
    """ruff refused the emitted source (a generator bug); the message carries ruff's output."""


def ruff_executable() -> str:
    local = Path(sys.executable).parent / "ruff"
    if local.exists():
        return str(local)
    found = shutil.which("ruff")
    if found is None:
        raise FormatError(
            f"ruff=={RUFF_VERSION} not found; install it (pip install ruff=={RUFF_VERSION})"
        )
    return found


def check_version(ruff: str) -> None:
    out = subprocess.run([ruff, "--version"], capture_output=True, text=True, check=True).stdout
    if RUFF_VERSION not in out.split():
        raise FormatError(f"codegen needs ruff=={RUFF_VERSION}, found {out.strip()!r}")


def _run(args: list[str], source: str, filename: str) -> str:
    proc = subprocess.run(args, input=source, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FormatError(f"{' '.join(args[:3])} failed on {filename}:\n{proc.stderr}{proc.stdout}")
    return proc.stdout


def format_source(source: str, filename: str = "generated.py") -> str:
    """Sort imports, drop unused ones, then ``ruff format``."""
    ruff = ruff_executable()
    check_version(ruff)
    fixed = _run(
        [
            ruff,
            "check",
            *_SETTINGS,
            "--select",
            "I,F401",
            "--fix",
            "--exit-zero",
            "--stdin-filename",
            filename,
            "-",
        ],
        source,
        filename,
    )
    return _run([ruff, "format", *_SETTINGS, "--stdin-filename", filename, "-"], fixed, filename)
