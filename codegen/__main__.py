"""``python -m codegen [--check] [--specs DIR] [--out DIR]``, ``sync`` and ``add SERVICE``.

- ``python -m codegen``: regenerate every service pinned in specs/ into the package.
- ``python -m codegen --check``: exit 1 with a diff when committed output is stale.
- ``python -m codegen sync``: refresh every pinned service's models from botocore.
- ``python -m codegen add SERVICE``: pin SERVICE's models into specs/ and generate it.
- ``python -m codegen add SERVICE --out DIR``: write DIR/<module>.py from the installed
  botocore's model instead (importing only the kvs_async runtime); specs/ is left alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .fmt import FormatError
from .generate import PACKAGE, SPECS, GenerationError, diff, generate_out, render, write
from .lower import ModelError
from .sync import UnknownServiceError, add, sync, verify_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", nargs="?", choices=["generate", "sync", "add"], default="generate"
    )
    parser.add_argument("service", nargs="?", help="botocore service name (add)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 with a diff if output is stale"
    )
    parser.add_argument("--specs", type=Path, default=SPECS, help="model folder (default: specs/)")
    parser.add_argument("--out", type=Path, default=None, help="package folder to write into")
    args = parser.parse_args(argv)
    if args.command == "add":
        if not args.service:
            parser.error("add needs a SERVICE (a botocore service name, e.g. rekognition)")
        return _add(args.service, args.specs, args.out)
    if args.service:
        parser.error(f"unexpected argument {args.service!r} (only add takes a SERVICE)")
    if args.command == "sync":
        written = sync(args.specs)
        print(f"synced {len(written)} files into {args.specs}")
        return 0
    return _generate(args.specs, args.out or PACKAGE, check=args.check)


def _add(service: str, specs: Path, out: Path | None) -> int:
    try:
        if out is not None:
            target = generate_out(service, out)
            print(f"codegen: wrote {target}")
            return 0
        add(specs, service)
    except UnknownServiceError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    except (ModelError, FormatError) as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    print(f"codegen: pinned {service} in {specs}")
    return _generate(specs, PACKAGE, check=False)


def _generate(specs: Path, out: Path, *, check: bool) -> int:
    manifest = specs / "manifest.json"
    if manifest.exists():
        bad = verify_manifest(specs)
        if bad and check:
            print(f"specs differ from {manifest}: {', '.join(bad)}", file=sys.stderr)
            return 1
    try:
        files = render(specs)
    except GenerationError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    if check:
        text = diff(files, out)
        if text:
            sys.stdout.write(text)
            print("\ncodegen: generated files are stale; run `python -m codegen`", file=sys.stderr)
            return 1
        print(f"codegen: {len(files)} generated files are fresh")
        return 0
    changed = write(files, out)
    print(f"codegen: wrote {len(changed)} of {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
