"""``python -m codegen sync`` / ``add``: copy the pinned models out of the installed botocore.

botocore ships its models gzipped; specs/ keeps them as pretty JSON so that a model
change shows up as a readable diff, with a manifest naming the botocore version
and a sha256 per file. The pinned services are the ones ``specs/manifest.json`` lists
(``add`` appends one); a fresh specs/ starts from the six KVS services.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from . import SERVICES

SPEC_FILES: tuple[str, ...] = ("service-2.json", "paginators-1.json", "endpoint-rule-set-1.json")


def botocore_data_dir() -> Path:
    import botocore  # type: ignore[import-untyped]

    return Path(botocore.__file__).parent / "data"


def _read_json(path: Path) -> Any:
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    gz = path.with_name(path.name + ".gz")
    with gzip.open(gz, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def pretty(obj: Any) -> str:
    """The one JSON layout used for every file in specs/ (stable, diff-friendly)."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _latest_version_dir(service_dir: Path) -> Path:
    versions = sorted(p for p in service_dir.iterdir() if p.is_dir())
    if not versions:
        raise FileNotFoundError(f"no API version folder under {service_dir}")
    return versions[-1]


def pinned_services(specs_dir: Path) -> list[str]:
    """The services specs/ pins: the manifest's list, else the six KVS services."""
    manifest = specs_dir / "manifest.json"
    if manifest.exists():
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("services", {})
        if listed:
            return list(listed)
    return list(SERVICES)


def available_services(data_dir: Path | None = None) -> list[str]:
    """Service names the installed botocore has a model for."""
    data = data_dir or botocore_data_dir()
    return sorted(
        p.name
        for p in data.iterdir()
        if p.is_dir() and any((v / "service-2.json.gz").exists() for v in p.iterdir() if v.is_dir())
    )


def add(specs_dir: Path, service: str, data_dir: Path | None = None) -> list[Path]:
    """Pin one more service (idempotent) and re-sync everything pinned."""
    data = data_dir or botocore_data_dir()
    if not (data / service).is_dir():
        raise UnknownServiceError(service, available_services(data))
    services = pinned_services(specs_dir)
    if service not in services:
        services.append(service)
    return sync(specs_dir, data, services=services)


class UnknownServiceError(LookupError):
    """``add`` named a service the installed botocore does not have."""

    def __init__(self, service: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(service, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(f"botocore has no service named {service!r}{hint}")


def sync(
    specs_dir: Path, data_dir: Path | None = None, *, services: list[str] | None = None
) -> list[Path]:
    """Write specs/<service>/<file> for every pinned service, partitions.json and the manifest."""
    import botocore

    data = data_dir or botocore_data_dir()
    if services is None:
        services = pinned_services(specs_dir)
    written: list[Path] = []
    manifest: dict[str, Any] = {
        "botocore_version": botocore.__version__,
        "services": {},
        "files": {},
    }
    for service in services:
        version_dir = _latest_version_dir(data / service)
        manifest["services"][service] = version_dir.name
        out_dir = specs_dir / service
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in SPEC_FILES:
            source = version_dir / name
            if not source.exists() and not source.with_name(name + ".gz").exists():
                continue  # not every service has paginators or a rule set
            target = out_dir / name
            target.write_text(pretty(_read_json(source)), encoding="utf-8")
            written.append(target)
    partitions = specs_dir / "partitions.json"
    partitions.write_text(pretty(_read_json(data / "partitions.json")), encoding="utf-8")
    written.append(partitions)
    for path in written:
        rel = path.relative_to(specs_dir).as_posix()
        manifest["files"][rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    (specs_dir / "manifest.json").write_text(pretty(manifest), encoding="utf-8")
    return written


def verify_manifest(specs_dir: Path) -> list[str]:
    """Files whose sha256 differs from the manifest (empty when specs/ is intact)."""
    manifest = json.loads((specs_dir / "manifest.json").read_text(encoding="utf-8"))
    bad: list[str] = []
    for rel, digest in manifest["files"].items():
        path = specs_dir / rel
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(rel)
    return bad
