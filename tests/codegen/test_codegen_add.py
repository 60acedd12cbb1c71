"""``python -m codegen add SERVICE [--out DIR]``: pin a service or generate it into your package."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]
from codegen_helpers import ROOT

from codegen.generate import render
from codegen.sync import add, pinned_services, verify_manifest
from kvs_async import protocol


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args], capture_output=True, text=True, cwd=cwd
    )


def test_add_out_writes_an_importable_module_using_only_the_runtime(tmp_path: Path) -> None:
    pkg = tmp_path / "myproject"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    proc = _run("add", "dynamodb", "--out", str(pkg))
    assert proc.returncode == 0, proc.stderr
    source = (pkg / "dynamodb.py").read_text()
    assert "from ." not in source  # no relative import into a package that is not ours
    imported = {
        line.split()[1]
        for line in source.splitlines()
        if line.startswith(("from ", "import ")) and line.split()[1] != "__future__"
    }
    assert {m.split(".")[0] for m in imported} <= {
        "kvs_async",
        "attrs",
        "collections",
        "datetime",
        "typing",
    }
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module("myproject.dynamodb")
    finally:
        sys.path.remove(str(tmp_path))
    op = mod.OPERATIONS["DescribeTable"]
    req = protocol.serialize_request(mod.SERVICE, op, mod.DescribeTableInput(table_name="t"))
    model = ServiceModel(json.loads(_botocore_model("dynamodb")), service_name="dynamodb")
    theirs = create_serializer("json", include_validation=False).serialize_to_request(
        {"TableName": "t"}, model.operation_model("DescribeTable")
    )
    assert req.headers == theirs["headers"]
    assert json.loads(req.body) == json.loads(theirs["body"])
    assert issubclass(mod.DynamoDBClient, importlib.import_module("kvs_async.client").BaseClient)


def _botocore_model(service: str) -> str:
    import gzip

    import botocore  # type: ignore[import-untyped]

    folder = Path(botocore.__file__).parent / "data" / service
    version = sorted(p for p in folder.iterdir() if p.is_dir())[-1]
    return gzip.decompress((version / "service-2.json.gz").read_bytes()).decode()


def test_add_out_makes_module_names_safe(tmp_path: Path) -> None:
    proc = _run("add", "lambda", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "lambda_.py").exists()
    # the event-stream operation is named in a warning, not a traceback
    assert "InvokeWithResponseStream" in proc.stderr and "Traceback" not in proc.stderr


def test_add_unknown_service_is_one_clear_line(tmp_path: Path) -> None:
    proc = _run("add", "dynamodbb", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("codegen: botocore has no service named 'dynamodbb'")
    assert "did you mean dynamodb" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_add_needs_a_service() -> None:
    proc = _run("add")
    assert proc.returncode == 2 and "add needs a SERVICE" in proc.stderr


def test_add_pins_into_specs_and_check_covers_it(tmp_path: Path) -> None:
    import shutil

    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    add(specs, "kinesis")
    assert pinned_services(specs)[-1] == "kinesis"
    assert pinned_services(specs)[:6] == pinned_services(ROOT / "specs")
    assert verify_manifest(specs) == []
    assert (specs / "kinesis" / "service-2.json").exists()
    files = render(specs)
    assert "kinesis.py" in files and "_data/kinesis/endpoint-rule-set-1.json" in files
    # the committed package lacks kinesis.py, so --check against it reports it stale
    proc = _run("--check", "--specs", str(specs))
    assert proc.returncode == 1 and "+++ b/kinesis.py" in proc.stdout
    add(specs, "kinesis")  # idempotent
    assert pinned_services(specs).count("kinesis") == 1


@pytest.mark.parametrize("service", ["kinesis-video-media"])
def test_sync_keeps_the_pinned_list(tmp_path: Path, service: str) -> None:
    import shutil

    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    proc = _run("sync", "--specs", str(specs))
    assert proc.returncode == 0, proc.stderr
    assert pinned_services(specs) == pinned_services(ROOT / "specs")
    assert service in pinned_services(specs)


def test_services_generated_outside_the_package_resolve_endpoints_from_botocore() -> None:
    from kvs_async.endpoints import load_ruleset, resolve_with_builtins

    endpoint = resolve_with_builtins(load_ruleset("dynamodb"), region="eu-west-1")
    assert endpoint.url == "https://dynamodb.eu-west-1.amazonaws.com"
