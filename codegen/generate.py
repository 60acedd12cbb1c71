"""Orchestration: specs/ -> IR -> formatted modules and data files under src/kvs_async/."""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import SERVICES
from .emit import emit
from .fmt import format_source
from .ir import Service
from .lower import ModelError, lower
from .names import module_name

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
PACKAGE = ROOT / "src" / "kvs_async"

CLIENT_CLASSES: dict[str, str] = {
    "kinesisvideo": "KinesisVideoClient",
    "kinesis-video-media": "KinesisVideoMediaClient",
    "kinesis-video-archived-media": "KinesisVideoArchivedMediaClient",
    "kinesis-video-signaling": "KinesisVideoSignalingClient",
    "kinesis-video-webrtc-storage": "KinesisVideoWebRTCStorageClient",
    "chime-sdk-media-pipelines": "ChimeSDKMediaPipelinesClient",
}

# Operations a hand-written mixin wraps: emitted private, the mixin adds the public method.
PRIVATE_OPS: dict[str, dict[str, str]] = {
    "kinesis-video-media": {"GetMedia": "_get_media"},
    "kinesis-video-archived-media": {"GetMediaForFragmentList": "_get_media_for_fragment_list"},
}
MIXINS: dict[str, tuple[tuple[str, str], ...]] = {
    "kinesis-video-media": (("getmedia", "GetMediaMixin"), ("producer", "PutMediaMixin")),
    "kinesis-video-archived-media": (
        ("getmedia", "ArchivedMediaMixin"),
        ("archive", "ArchiveMixin"),
    ),
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_service(specs: Path, name: str) -> Service:
    """Load stage + lower stage for one service in specs/."""
    folder = specs / name
    model = _load(folder / "service-2.json")
    pages_path = folder / "paginators-1.json"
    pages = _load(pages_path) if pages_path.exists() else None
    return lower_service(name, model, pages, source=f"specs/{name}/service-2.json")


def lower_service(
    name: str, model: Mapping[str, Any], pages: Mapping[str, Any] | None, *, source: str
) -> Service:
    """The lower stage with the project's per-service settings (client names, mixins)."""
    return lower(
        name,
        model,
        pages,
        source=source,
        client_class=CLIENT_CLASSES.get(name),
        private_ops=PRIVATE_OPS.get(name),
        mixins=MIXINS.get(name, ()),
    )


def service_names(specs: Path) -> list[str]:
    """The services to generate: the known six first, then any other folder with a model."""
    extra = sorted(
        p.name
        for p in specs.iterdir()
        if (p / "service-2.json").exists() and p.name not in SERVICES
    )
    return [s for s in SERVICES if (specs / s / "service-2.json").exists()] + extra


def render(specs: Path) -> dict[str, str]:
    """Every output file (path relative to the package dir) -> its content."""
    files: dict[str, str] = {}
    errors: list[ModelError] = []
    for name in service_names(specs):
        try:
            service = load_service(specs, name)
        except ModelError as exc:
            errors.append(exc)
            continue
        for note in service.warnings:
            print(f"codegen: warning: {name}: {note}", file=sys.stderr)
        files[f"{module_name(name)}.py"] = format_source(emit(service), f"{module_name(name)}.py")
        rules = specs / name / "endpoint-rule-set-1.json"
        if rules.exists():
            files[f"_data/{name}/endpoint-rule-set-1.json"] = rules.read_text(encoding="utf-8")
    partitions = specs / "partitions.json"
    if partitions.exists():
        files["_data/partitions.json"] = partitions.read_text(encoding="utf-8")
    if errors:
        raise GenerationError(errors)
    return files


def generate_out(service: str, out_dir: Path, data_dir: Path | None = None) -> Path:
    """``add SERVICE --out DIR``: the installed botocore's model -> DIR/<module>.py, a module
    that imports only the kvs_async runtime (absolute imports). specs/ is left alone."""
    from .sync import (
        UnknownServiceError,
        _latest_version_dir,
        _read_json,
        available_services,
        botocore_data_dir,
    )

    data = data_dir or botocore_data_dir()
    if not (data / service).is_dir():
        raise UnknownServiceError(service, available_services(data))
    version = _latest_version_dir(data / service)
    model = _read_json(version / "service-2.json")
    pages_path = version / "paginators-1.json"
    pages = (
        _read_json(pages_path)
        if pages_path.exists() or pages_path.with_name("paginators-1.json.gz").exists()
        else None
    )
    source = f"botocore {version.parent.name}/{version.name}/service-2.json"
    lowered = lower_service(service, model, pages, source=source)
    for note in lowered.warnings:
        print(f"codegen: warning: {service}: {note}", file=sys.stderr)
    filename = f"{lowered.module}.py"
    text = format_source(emit(lowered, runtime="kvs_async."), filename)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / filename
    target.write_text(text, encoding="utf-8")
    return target


class GenerationError(Exception):
    """One or more models could not be generated; the message lists every problem."""

    def __init__(self, errors: list[ModelError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def write(files: Mapping[str, str], package: Path) -> list[Path]:
    written: list[Path] = []
    for rel, content in files.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def diff(files: Mapping[str, str], package: Path) -> str:
    """Unified diff of committed files against a fresh generation (empty when fresh)."""
    chunks: list[str] = []
    for rel, content in files.items():
        path = package / rel
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != content:
            chunks.extend(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    content.splitlines(keepends=True),
                    fromfile=f"a/{rel}",
                    tofile=f"b/{rel}",
                )
            )
    return "".join(chunks)


_INLINE_COUNTER = [0]


def module_from_model(
    name: str,
    model: Mapping[str, Any],
    paginators: Mapping[str, Any] | None = None,
    *,
    client_class: str | None = None,
    formatted: bool = False,
) -> Any:
    """Generate and import a module for an arbitrary model dict (tests, experiments).

    The module lives under the ``kvs_async`` package (``kvs_async._inline_<n>``) so the
    relative imports of generated code resolve; nothing is written to disk.
    """
    import sys
    import types

    service = lower(
        name, model, paginators, source=f"<inline model {name}>", client_class=client_class
    )
    source = emit(service)
    if formatted:
        source = format_source(source, f"{service.module}.py")
    _INLINE_COUNTER[0] += 1
    modname = f"kvs_async._inline_{service.module}_{_INLINE_COUNTER[0]}"
    module = types.ModuleType(modname)
    module.__package__ = "kvs_async"
    module.__dict__["__source__"] = source
    sys.modules[modname] = module
    exec(compile(source, modname, "exec"), module.__dict__)
    return module
