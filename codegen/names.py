"""Python names for model names: deterministic, documented, and never the wire name's job.

Rules (codegen/README.md, "Names"):

- members and operations: ``botocore.xform_name`` (``StreamName`` -> ``stream_name``),
  leading underscores stripped (outposts ``VCPUs`` -> ``vcpus``, not a private ``_vcpus``);
- classes: the shape name as it is;
- modules: the service name with ``-`` turned into ``_``;
- then any name that is a keyword or soft keyword (``lambda``, ``None``, ``match``), a
  builtin, a name the generated module imports or defines (``Sequence``, ``Mapping``,
  ``SHAPES`` ...), a class of the same module (for members, whose names would shadow
  the annotation), or a runtime module of ``kvs_async`` (for modules: ``config``) gets
  ``_`` appended, repeatedly until it is free.

The wire name is kept beside the Python name everywhere (``MemberSpec.wire``,
``ShapeSpec.name``, ``ServiceSpec.name``), so requests are unchanged.
"""

from __future__ import annotations

import keyword
from collections.abc import Collection

from botocore import xform_name  # type: ignore[import-untyped]

# Names a generated module imports or defines at module level.
MODULE_NAMES = frozenset(
    {
        "Any",
        "AsyncIterator",
        "BaseClient",
        "ByteStream",
        "ClassVar",
        "Literal",
        "Mapping",
        "OPERATIONS",
        "SERVICE",
        "SHAPES",
        "Sequence",
        "ServiceError",
        "StrEnum",
        "UnknownEnum",
        "annotations",
        "cast",
        "datetime",
        "define",
    }
)
# Attributes of BaseClient (and what the mixins add) a method must not replace.
CLIENT_ATTRIBUTES = frozenset(
    {"close", "config", "region", "clock_offset", "retry_policy", "data_endpoint_cache"}
)
# Runtime modules of kvs_async a generated module must not overwrite.
RUNTIME_MODULES = frozenset(
    {
        "cli",
        "client",
        "config",
        "credentials",
        "dataplane",
        "demo",
        "emulator",
        "endpoints",
        "errors",
        "getmedia",
        "javaregex",
        "media_errors",
        "mkv",
        "mkvfile",
        "protocol",
        "retries",
        "signing",
        "transport",
        "validation",
        "archive",
        "producer",
        "fleet",
    }
)
# The builtins generated code itself names (annotations, the shape table).
_BUILTINS = frozenset({"bool", "bytes", "dict", "float", "frozenset", "int", "object", "str"})


# Fixed, so output does not depend on the Python running the generator. 3.12's "type"
# is left out on purpose: it stays a plain identifier everywhere, and the shipped
# bindings already have public ``type`` members.
SOFT_KEYWORDS = frozenset({"_", "case", "match"})


def is_reserved(name: str) -> bool:
    return (
        keyword.iskeyword(name)
        or name in SOFT_KEYWORDS
        or name in _BUILTINS
        or name in MODULE_NAMES
        or name in {"self", "cls"}
    )


def free(name: str, taken: Collection[str] = ()) -> str:
    """``name`` with ``_`` appended until it is neither reserved nor in ``taken``."""
    while is_reserved(name) or name in taken:
        name += "_"
    return name


def member_name(wire: str, classes: Collection[str] = ()) -> str:
    """Python attribute/parameter name of a member (or method name of an operation)."""
    return free(xform_name(wire).lstrip("_") or "member", classes)


def class_name(shape: str) -> str:
    return free(shape)


def module_name(service: str) -> str:
    name = service.replace("-", "_")
    while keyword.iskeyword(name) or name in SOFT_KEYWORDS or name in RUNTIME_MODULES:
        name += "_"
    return name
