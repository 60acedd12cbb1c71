"""The installed botocore's models as a test corpus: list, load, generate into a package."""

from __future__ import annotations

import gzip
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import botocore  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codegen.emit import emit  # noqa: E402
from codegen.generate import lower_service  # noqa: E402
from codegen.lower import ModelError  # noqa: E402

DATA = Path(botocore.__file__).parent / "data"
PROTOCOLS = ("rest-json", "json")


def _latest(service: str) -> Path | None:
    folder = DATA / service
    versions = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for version in reversed(versions):
        if (version / "service-2.json.gz").exists():
            return version
    return None


def load_model(service: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    version = _latest(service)
    assert version is not None, service
    model = json.loads(gzip.decompress((version / "service-2.json.gz").read_bytes()))
    pages = None
    for name in ("paginators-1.json", "paginators-1.json.gz"):
        path = version / name
        if path.exists():
            raw = path.read_bytes()
            pages = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    return model, pages


def corpus(protocols: tuple[str, ...] = PROTOCOLS) -> dict[str, str]:
    """service name -> protocol, for every botocore service speaking one of ``protocols``."""
    found: dict[str, str] = {}
    for folder in sorted(p for p in DATA.iterdir() if p.is_dir()):
        version = _latest(folder.name)
        if version is None:
            continue
        meta = json.loads(gzip.decompress((version / "service-2.json.gz").read_bytes()))["metadata"]
        if meta.get("protocol") in protocols:
            found[folder.name] = meta["protocol"]
    return found


def generate(service: str, package_dir: Path) -> dict[str, Any]:
    """Generate ``service`` into ``package_dir`` (a package on sys.path), import it and
    build its codec. Returns what happened; a crash propagates (that is the failure)."""
    from kvs_async import protocol

    started = time.perf_counter()
    model, pages = load_model(service)
    try:
        lowered = lower_service(service, model, pages, source=f"botocore {service}")
    except ModelError as exc:
        return {"service": service, "status": "refused", "problems": exc.problems}
    source = emit(lowered, runtime="kvs_async.")
    path = package_dir / f"{lowered.module}.py"
    path.write_text(source, encoding="utf-8")
    generated = time.perf_counter()
    module = importlib.import_module(f"{package_dir.name}.{lowered.module}")
    imported = time.perf_counter()
    protocol.codec(module.SERVICE)
    return {
        "service": service,
        "module": lowered.module,
        "status": "ok",
        "warnings": list(lowered.warnings),
        "operations": len(module.OPERATIONS),
        "bytes": len(source.encode()),
        "generate_s": generated - started,
        "import_s": imported - generated,
        "codec_s": time.perf_counter() - imported,
    }
