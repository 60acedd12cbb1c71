"""``python -m codegen [--check] [--specs DIR] [--out DIR]`` and ``python -m codegen sync``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generate import PACKAGE, SPECS, GenerationError, diff, render, write
from .sync import sync, verify_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["generate", "sync"], default="generate")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 with a diff if output is stale"
    )
    parser.add_argument("--specs", type=Path, default=SPECS, help="model folder (default: specs/)")
    parser.add_argument("--out", type=Path, default=PACKAGE, help="package folder to write into")
    args = parser.parse_args(argv)
    if args.command == "sync":
        written = sync(args.specs)
        print(f"synced {len(written)} files into {args.specs}")
        return 0
    manifest = args.specs / "manifest.json"
    if manifest.exists():
        bad = verify_manifest(args.specs)
        if bad and args.check:
            print(f"specs differ from {manifest}: {', '.join(bad)}", file=sys.stderr)
            return 1
    try:
        files = render(args.specs)
    except GenerationError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    if args.check:
        text = diff(files, args.out)
        if text:
            sys.stdout.write(text)
            print("\ncodegen: generated files are stale; run `python -m codegen`", file=sys.stderr)
            return 1
        print(f"codegen: {len(files)} generated files are fresh")
        return 0
    changed = write(files, args.out)
    print(f"codegen: wrote {len(changed)} of {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
