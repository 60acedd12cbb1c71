"""mypy --strict accepts generated modules of 24 big and odd botocore services (slow).

iot, quicksight, connect, medialive, lambda, dynamodb, kinesis, rekognition, the services
whose names or patterns needed the new rules, and common json services: 16 MB of source,
about 20-40 s of mypy, so CI runs the whole sample.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus_helpers import ROOT, generate

pytestmark = pytest.mark.slow

FULL_SAMPLE = (
    "iot", "quicksight", "connect", "medialive", "lambda", "dynamodb", "kinesis",
    "rekognition", "apigatewayv2", "outposts", "guardduty", "controlcatalog",
    "chime-sdk-voice", "appflow", "billing", "sqs", "logs", "kms", "ecs",
    "secretsmanager", "events", "stepfunctions", "polly", "firehose",
)  # fmt: skip


def test_generated_modules_pass_mypy_strict(tmp_path: Path) -> None:
    sample = FULL_SAMPLE
    package = tmp_path / "mypysample"
    package.mkdir()
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        results = [generate(service, package) for service in sample]
    finally:
        sys.path.remove(str(tmp_path))
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"]
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--no-error-summary",
            "--hide-error-context",
            "-p",
            "mypysample",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT / "src")},
    )
    elapsed = time.perf_counter() - started
    size = sum(r["bytes"] for r in results) / 1e6
    print(f"mypy --strict: {len(sample)} services ({size:.1f} MB) in {elapsed:.0f}s")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
