"""Import time in a fresh process: ``import kvs_async.kinesisvideo`` beside aiobotocore's session.

Each sample is a new interpreter timing one ``import`` statement with ``time.perf_counter()``
(interpreter start-up excluded, the same for both). Bytecode caches are written first into a
private ``PYTHONPYCACHEPREFIX`` so that neither side compiles source during the timed import
(an installed package has its .pyc files; this machine sets PYTHONDONTWRITEBYTECODE). Rounds
interleave the two. ``-X importtime`` of our import is summarised to say where the time goes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

TARGETS = ("aiobotocore.session", "kvs_async.kinesisvideo", "kvs_async.kinesis_video_media")
CODE = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def _env(prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


def _top(module: str, env: dict[str, str], count: int = 6) -> list[tuple[str, float]]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, self_us, _cumulative, name = (p.strip() for p in line.replace(":", "|", 1).split("|"))
        if self_us.isdigit():
            rows.append((name, int(self_us) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:count]


def run(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kvs-pyc-") as prefix:
        env = _env(prefix)
        for module in TARGETS:
            subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
        samples: dict[str, list[float]] = {m: [] for m in TARGETS}
        for _ in range(rounds):
            for module in TARGETS:
                out = subprocess.run(
                    [sys.executable, "-c", CODE.format(module)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                samples[module].append(float(out.stdout) * 1000)
        top = _top("kvs_async.kinesisvideo", env)
    anchor = samples["aiobotocore.session"]
    print(f"\nImport in a fresh process (ms, {rounds} interleaved rounds, min / median / max)")
    for module, values in samples.items():
        ratios = sorted(v / a for v, a in zip(values, anchor, strict=True))
        print(
            f"  import {module:<30} {min(values):7.1f} {statistics.median(values):7.1f} "
            f"{max(values):7.1f}   / aiobotocore, per round: {ratios[0]:.2f} "
            f"{statistics.median(ratios):.2f} {ratios[-1]:.2f}"
        )
    ours = statistics.median(samples["kvs_async.kinesisvideo"]) / statistics.median(anchor)
    print(
        f"  kvs_async.kinesisvideo / aiobotocore.session: {ours:.2f}x of the median "
        f"(goal <= 0.5: {'met' if ours <= 0.5 else 'NOT met'})"
    )
    print("  largest self times in `import kvs_async.kinesisvideo` (-X importtime, ms): ")
    print("    " + ", ".join(f"{name} {ms:.1f}" for name, ms in top))
