"""Run benchmark modules (`bench/bench_<area>.py`, each with `run(quick: bool) -> None`)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def _areas() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("areas", nargs="*", help=f"areas to run (default: all of {_areas()})")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args(argv)
    areas = args.areas or _areas()
    unknown = sorted(set(areas) - set(_areas()))
    if unknown:
        parser.error(f"unknown areas {unknown}; known: {_areas()}")
    for area in areas:
        print(f"\n=== bench {area} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{area}")
        module.run(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
