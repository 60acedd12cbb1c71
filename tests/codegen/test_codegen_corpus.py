"""Every rest-json and json service of the installed botocore generates, imports and builds
its codec, or is refused with named ModelErrors; none crashes (slow; runs in CI).

Two worker processes share the corpus; counts, the corpus time and the largest module's
size and import time are printed (``pytest -s``).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from corpus_helpers import corpus, generate

pytestmark = pytest.mark.slow

_PACKAGE: Path | None = None


def _init(parent: str) -> None:
    global _PACKAGE
    sys.path.insert(0, parent)
    _PACKAGE = Path(parent) / "corpuspkg"


def _one(service: str) -> dict[str, Any]:
    assert _PACKAGE is not None
    try:
        return generate(service, _PACKAGE)
    except Exception as exc:  # a crash is the failure this test looks for: report it
        return {"service": service, "status": "crash", "error": f"{type(exc).__name__}: {exc}"}


def test_every_service_generates_or_is_refused_by_name(tmp_path: Path) -> None:
    services = corpus()
    (tmp_path / "corpuspkg").mkdir()
    (tmp_path / "corpuspkg" / "__init__.py").write_text("")
    started = time.perf_counter()
    workers = min(2, os.cpu_count() or 1)
    # Big services first, so the two workers finish together.
    order = sorted(services, key=lambda s: -_model_size(s))
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(str(tmp_path),)) as pool:
        results = list(pool.map(_one, order))
    elapsed = time.perf_counter() - started
    counts: Counter[tuple[str, str]] = Counter()
    for r in results:
        counts[(services[r["service"]], r["status"])] += 1
    for proto in ("rest-json", "json"):
        total = sum(1 for p in services.values() if p == proto)
        print(
            f"corpus {proto}: {counts[(proto, 'ok')]}/{total} generated, imported, codec "
            f"built; {counts[(proto, 'refused')]} refused by name; {counts[(proto, 'crash')]} crashed"
        )
    ok = [r for r in results if r["status"] == "ok"]
    largest = max(ok, key=lambda r: r["bytes"])
    print(
        f"corpus: {len(results)} services in {elapsed:.1f}s on {workers} workers; "
        f"{sum(r['operations'] for r in ok)} operations; {sum(len(r['warnings']) for r in ok)} "
        f"warnings; largest module {largest['module']}.py {largest['bytes'] / 1e6:.2f} MB, "
        f"import {largest['import_s']:.2f}s, codec {largest['codec_s'] * 1000:.0f} ms"
    )
    print(
        "corpus cpu: lower+emit {:.0f}s, import {:.0f}s, codec {:.0f}s".format(
            sum(r["generate_s"] for r in ok),
            sum(r["import_s"] for r in ok),
            sum(r["codec_s"] for r in ok),
        )
    )
    crashes = [f"{r['service']}: {r['error']}" for r in results if r["status"] == "crash"]
    assert not crashes, "\n".join(crashes)
    for r in results:
        if r["status"] == "refused":
            assert r["problems"] and all(isinstance(p, str) and p for p in r["problems"])
    for r in ok:
        for note in r["warnings"]:
            assert note.split(":", 1)[0].split()[0] in ("shape", "operation", "paginator"), note


def _model_size(service: str) -> int:
    from corpus_helpers import _latest

    version = _latest(service)
    return (version / "service-2.json.gz").stat().st_size if version else 0
