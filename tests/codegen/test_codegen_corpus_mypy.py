"""mypy --strict accepts generated modules of big and odd botocore services (slow).

CI runs ``CI_SAMPLE`` (mypy on the largest modules takes minutes); ``KVS_MYPY_FULL=1``
runs the full sample of 24 (iot, quicksight, connect, medialive, lambda, dynamodb,
kinesis, rekognition and the services whose names or patterns needed the naming rules).
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
CI_SAMPLE = (
    "lambda", "dynamodb", "kinesis", "rekognition", "apigatewayv2", "outposts",
    "guardduty", "controlcatalog", "billing", "sqs",
)  # fmt: skip


def test_generated_modules_pass_mypy_strict(tmp_path: Path) -> None:
    sample = FULL_SAMPLE if os.environ.get("KVS_MYPY_FULL") else CI_SAMPLE
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
