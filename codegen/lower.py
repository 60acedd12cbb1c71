"""Lower a botocore model (plain JSON objects) into the IR, collecting every problem.

A construct the runtime cannot serve is reported as an error naming the shape (or
operation); all errors of a model are gathered and raised together, so one run
shows everything that needs attention.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kvs_async.javaregex import JavaPatternError, compile_java

from .docs import html_to_text
from .ir import Member, Operation, Paginator, Service, Shape
from .names import CLIENT_ATTRIBUTES, class_name, member_name, module_name

SCALAR_TYPES = frozenset(
    {
        "character",
        "string",
        "integer",
        "long",
        "boolean",
        "float",
        "double",
        "timestamp",
        "blob",
        "byte",
        "short",
    }
)
SUPPORTED_TYPES = SCALAR_TYPES | {"structure", "list", "map"}
LOCATIONS = frozenset({"uri", "querystring", "header", "headers", "statusCode"})
TIMESTAMP_FORMATS = frozenset({"iso8601", "unixtimestamp", "rfc822"})
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ModelError(Exception):
    """The model uses constructs the generator cannot handle; ``problems`` names each shape."""

    def __init__(self, service: str, problems: list[str]) -> None:
        self.service = service
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{service}: {len(problems)} unsupported construct(s):\n{lines}")


def _constraint(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"constraint must be a number, got {value!r}")
    return value


class _Lowerer:
    def __init__(self, name: str, model: Mapping[str, Any]) -> None:
        self.name = name
        self.model = model
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # Python class names (structures, enums, exceptions): members must not shadow them.
        self.class_of = {
            n: class_name(n)
            for n, raw in model.get("shapes", {}).items()
            if raw.get("type") == "structure" or (raw.get("type") == "string" and raw.get("enum"))
        }
        self.classes = frozenset(self.class_of.values())
        self.event_streams: dict[str, str] = {}  # structure -> event stream shape it carries

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def shape(self, name: str, raw: Mapping[str, Any]) -> Shape | None:
        kind = raw.get("type")
        if kind not in SUPPORTED_TYPES:
            self.problem(f"shape {name}: unsupported type {kind!r}")
            return None
        if raw.get("eventstream"):
            return None  # the operations using it are left out (see _operation)
        if not IDENT.match(name):
            self.problem(f"shape {name}: not a valid Python identifier")
        fmt = raw.get("timestampFormat")
        if fmt is not None and fmt.lower() not in TIMESTAMP_FORMATS:
            self.problem(f"shape {name}: unknown timestampFormat {fmt!r}")
        pattern = raw.get("pattern")
        if pattern is not None:
            try:
                compile_java(pattern)
            except JavaPatternError as exc:
                self.warn(f"shape {name}: pattern left unchecked ({exc})")
                pattern = None
        try:
            lo, hi = _constraint(raw.get("min")), _constraint(raw.get("max"))
        except TypeError as exc:
            self.problem(f"shape {name}: {exc}")
            lo = hi = None
        error = raw.get("error") or {}
        retryable = raw.get("retryable") or {}
        members: list[Member] = []
        if kind == "structure":
            required = set(raw.get("required", ()))
            unknown_required = required - set(raw.get("members", {}))
            if unknown_required:
                self.problem(
                    f"shape {name}: required names unknown members {sorted(unknown_required)}"
                )
            seen: dict[str, str] = {}
            for wire, m in raw.get("members", {}).items():
                target_raw = self.model["shapes"].get(m.get("shape"), {})
                if target_raw.get("eventstream"):
                    self.event_streams[name] = m["shape"]
                    continue
                member = self.member(name, wire, m, wire in required)
                if member is None:
                    continue
                if member.py_name in seen:
                    self.problem(
                        f"shape {name}: members {seen[member.py_name]} and {wire} both map to "
                        f"Python name {member.py_name!r}"
                    )
                seen[member.py_name] = wire
                members.append(member)
            payload = raw.get("payload")
            if payload is not None and payload not in raw.get("members", {}):
                self.problem(f"shape {name}: payload names unknown member {payload!r}")
        for ref_key in ("member", "key", "value"):
            ref = raw.get(ref_key)
            if ref is not None and ref.get("shape") not in self.model["shapes"]:
                self.problem(f"shape {name}: {ref_key} targets unknown shape {ref.get('shape')!r}")
        payload = raw.get("payload")
        if payload is not None and payload not in {m.wire for m in members}:
            payload = None  # an event stream payload, dropped with its operations
        return Shape(
            name=name,
            py_name=self.class_of.get(name, name),
            type=kind,
            members=tuple(members),
            payload=payload,
            member=(raw.get("member") or {}).get("shape"),
            key=(raw.get("key") or {}).get("shape"),
            value=(raw.get("value") or {}).get("shape"),
            min=lo,
            max=hi,
            pattern=pattern,
            enum=tuple(raw.get("enum", ())),
            timestamp_format=fmt.lower() if fmt else None,
            streaming=bool(raw.get("streaming")),
            document=bool(raw.get("document")),
            union=bool(raw.get("union")),
            exception=bool(raw.get("exception")),
            error_code=error.get("code"),
            error_status=error.get("httpStatusCode"),
            throttling=bool(retryable.get("throttling")),
            sensitive=bool(raw.get("sensitive")),
            doc=html_to_text(raw.get("documentation", "")),
        )

    def member(
        self, owner: str, wire: str, raw: Mapping[str, Any], required: bool
    ) -> Member | None:
        target = raw.get("shape")
        if not isinstance(target, str) or target not in self.model["shapes"]:
            self.problem(f"shape {owner}: member {wire} targets unknown shape {target!r}")
            return None
        # botocore merges a location written on the target shape into the member.
        location = raw.get("location") or self.model["shapes"][target].get("location")
        if location is not None and location not in LOCATIONS:
            self.problem(f"shape {owner}: member {wire} has unsupported location {location!r}")
        fmt = raw.get("timestampFormat")
        if fmt is not None and fmt.lower() not in TIMESTAMP_FORMATS:
            self.problem(f"shape {owner}: member {wire} has unknown timestampFormat {fmt!r}")
        py_name = member_name(wire, self.classes)
        if not IDENT.match(py_name):
            self.problem(f"shape {owner}: member {wire} has no valid Python name ({py_name!r})")
        return Member(
            wire=wire,
            py_name=py_name,
            shape=target,
            location=location,
            location_name=raw.get("locationName"),
            timestamp_format=fmt.lower() if fmt else None,
            jsonvalue=bool(raw.get("jsonvalue")),
            idempotency_token=bool(raw.get("idempotencyToken")),
            host_label=bool(raw.get("hostLabel")),
            required=required,
            doc=html_to_text(raw.get("documentation", "")),
        )


def lower(
    name: str,
    model: Mapping[str, Any],
    paginators: Mapping[str, Any] | None = None,
    *,
    source: str = "",
    client_class: str | None = None,
    private_ops: Mapping[str, str] | None = None,
    mixins: tuple[tuple[str, str], ...] = (),
) -> Service:
    """Turn one service model into IR; raises ModelError listing every problem found."""
    low = _Lowerer(name, model)
    meta = model.get("metadata", {})
    protocol = meta.get("protocol", "")
    if protocol not in ("rest-json", "json"):
        low.problem(
            f"service {name}: protocol {protocol!r} is not supported (rest-json and json only)"
        )
    shapes: dict[str, Shape] = {}
    ref_payloads: dict[str, str] = {}
    for op_raw in model.get("operations", {}).values():
        for role in ("input", "output"):
            ref = op_raw.get(role) or {}
            if "payload" in ref and "shape" in ref:
                ref_payloads[ref["shape"]] = ref["payload"]
    for shape_name, raw in model.get("shapes", {}).items():
        if shape_name in ref_payloads and "payload" not in raw:
            # Legacy models put ``payload`` on the operation's shape reference.
            raw = {**raw, "payload": ref_payloads[shape_name]}
        shape = low.shape(shape_name, raw)
        if shape is not None:
            shapes[shape_name] = shape
    operations: dict[str, Operation] = {}
    pages = (paginators or {}).get("pagination", {})
    private = private_ops or {}
    for op_name, raw in model.get("operations", {}).items():
        op = _operation(low, op_name, raw, shapes, pages.get(op_name), private.get(op_name))
        if op is not None:
            operations[op_name] = op
    for op_name in pages:
        if op_name not in model.get("operations", {}):
            low.problem(f"paginator {op_name}: no such operation")
    names = [op.py_name for op in operations.values()]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        low.problem(f"service {name}: operations collide on method names {sorted(dupes)}")
    if low.problems:
        raise ModelError(name, low.problems)
    return Service(
        name=name,
        module=module_name(name),
        client_class=client_class or _default_client_class(meta),
        source=source,
        full_name=meta.get("serviceFullName", name),
        api_version=meta.get("apiVersion", ""),
        protocol=protocol,
        target_prefix=meta.get("targetPrefix") if protocol == "json" else None,
        json_version=(meta.get("jsonVersion") or "1.0") if protocol == "json" else None,
        query_compatible=protocol == "json" and "awsQueryCompatible" in meta,
        signing_name=meta.get("signingName") or meta.get("endpointPrefix") or name,
        endpoint_prefix=meta.get("endpointPrefix") or name,
        shapes=shapes,
        operations=operations,
        mixins=mixins,
        doc=html_to_text(model.get("documentation", "")),
        warnings=tuple(low.warnings),
    )


def _default_client_class(meta: Mapping[str, Any]) -> str:
    words = re.split(r"[^A-Za-z0-9]+", meta.get("serviceId", "Service"))
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "Client"


def _operation(
    low: _Lowerer,
    op_name: str,
    raw: Mapping[str, Any],
    shapes: Mapping[str, Shape],
    pager: Mapping[str, Any] | None,
    private_name: str | None,
) -> Operation | None:
    http = raw.get("http", {})
    input_name = (raw.get("input") or {}).get("shape")
    output_name = (raw.get("output") or {}).get("shape")
    for role, ref in (("input", input_name), ("output", output_name)):
        if ref is None:
            continue
        target = shapes.get(ref)
        if target is None or target.type != "structure":
            low.problem(f"operation {op_name}: {role} {ref!r} is not a known structure shape")
            return None
    if not IDENT.match(op_name):
        low.problem(f"operation {op_name}: not a valid Python identifier")
        return None
    uri = http.get("requestUri", "/")
    labels = re.findall(r"{([^}]+)}", uri.split("?", 1)[0])
    if labels:
        in_shape = shapes.get(input_name) if input_name else None
        bound = {
            m.location_name or m.wire
            for m in (in_shape.members if in_shape else ())
            if m.location == "uri"
        }
        for label in labels:
            if label.rstrip("+") not in bound:
                low.problem(f"operation {op_name}: URI label {label!r} has no uri member")
    streaming = False
    if output_name:
        out = shapes[output_name]
        if out.payload:
            pm = next((m for m in out.members if m.wire == out.payload), None)
            streaming = pm is not None and shapes[pm.shape].streaming
    paginator = _paginator(low, op_name, pager, shapes, input_name, output_name) if pager else None
    errors = tuple(e["shape"] for e in raw.get("errors", ()))
    for err in errors:
        if err not in shapes:
            low.problem(f"operation {op_name}: error {err!r} is not a known shape")
    for ref in (input_name, output_name):
        if ref in low.event_streams:
            # Decision (issue 13): event streams are refused, per operation, until supported.
            low.warn(
                f"operation {op_name}: left out: {ref} carries the event stream "
                f"{low.event_streams[ref]} (application/vnd.amazon.eventstream is not supported)"
            )
            return None
    return Operation(
        name=op_name,
        py_name=private_name or member_name(op_name, CLIENT_ATTRIBUTES),
        http_method=http.get("method", "POST"),
        request_uri=uri,
        input=input_name,
        output=output_name,
        errors=errors,
        success_code=int(http.get("responseCode", 200)),
        host_prefix=(raw.get("endpoint") or {}).get("hostPrefix"),
        streaming_output=streaming,
        paginator=paginator,
        deprecated=bool(raw.get("deprecated")),
        doc=html_to_text(raw.get("documentation", "")),
    )


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _paginator(
    low: _Lowerer,
    op_name: str,
    raw: Mapping[str, Any],
    shapes: Mapping[str, Shape],
    input_name: str | None,
    output_name: str | None,
) -> Paginator | None:
    problems: list[str] = []
    bad = problems.append
    if input_name is None or output_name is None:
        bad(" operation lacks an input or output shape")
        return None
    in_members = {m.wire: m.py_name for m in shapes[input_name].members}
    out_members = {m.wire: m.py_name for m in shapes[output_name].members}

    def out_path(expr: str) -> str | None:
        # Only plain member names and dotted paths are supported (no JMESPath functions).
        parts = expr.split(".")
        if not all(IDENT.match(p) for p in parts):
            return None
        first = out_members.get(parts[0])
        if first is None:
            return None
        return ".".join([first, *(member_name(p, low.classes) for p in parts[1:])])

    input_token: list[str] = []
    for tok in _as_tuple(raw.get("input_token")):
        if tok not in in_members:
            bad(f" input_token {tok!r} is not an input member")
        else:
            input_token.append(in_members[tok])
    output_token: list[str] = []
    for tok in _as_tuple(raw.get("output_token")):
        path = out_path(tok)
        if path is None:
            bad(f" output_token {tok!r} is not supported")
        else:
            output_token.append(path)
    if len(input_token) != len(output_token):
        bad(" input and output tokens differ in number")
    limit = raw.get("limit_key")
    if limit is not None and limit not in in_members:
        bad(f" limit_key {limit!r} is not an input member")
    results = []
    for key in _as_tuple(raw.get("result_key")):
        path = out_path(key)
        if path is None:
            bad(f" result_key {key!r} is not supported")
        else:
            results.append(path)
    if problems:
        # A paginator we cannot follow leaves the operation without paginate_<op>(), not the
        # service refused; the generator says so.
        low.warn(f"paginator {op_name}: left out ({'; '.join(p.strip() for p in problems)})")
        return None
    return Paginator(
        input_token=tuple(input_token),
        output_token=tuple(output_token),
        limit_key=in_members.get(limit) if limit else None,
        result_key=tuple(results),
    )
