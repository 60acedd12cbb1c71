"""An evaluator for AWS endpoint rule sets (``endpoint-rule-set-1.json``).

Endpoints come from each service's rule set and botocore's ``partitions.json``
(copied to ``kvs_async/_data`` by the code generator), evaluated as the Smithy
rules-engine specification describes: conditions call library functions
(``isSet``, ``aws.partition``, ``getAttr`` ...), may ``assign`` their result,
and the first matching endpoint or error rule wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from attrs import define, field

from .errors import EndpointResolutionError

Scope = dict[str, Any]


@define(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A resolved endpoint: URL plus the rule set's properties (auth schemes) and headers."""

    url: str
    properties: Mapping[str, Any] = field(factory=dict)
    headers: Mapping[str, list[str]] = field(factory=dict)


# --- library functions -------------------------------------------------------------------


def _is_set(value: Any) -> bool:
    return value is not None


def _not(value: Any) -> bool:
    return not value


def _boolean_equals(a: Any, b: Any) -> bool:
    return bool(a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b))


def _string_equals(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a == b


def _get_attr(value: Any, path: str) -> Any:
    for part in path.split("."):
        m = re.fullmatch(r"([^\[]*)((?:\[\d+\])*)", part)
        if m is None:
            return None
        name, indexes = m.group(1), m.group(2)
        if name:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        for idx in re.findall(r"\[(\d+)\]", indexes):
            if not isinstance(value, list):
                return None
            i = int(idx)
            value = value[i] if i < len(value) else None
    return value


def _substring(value: Any, start: int, stop: int, reverse: bool) -> str | None:
    if not isinstance(value, str) or not value.isascii():
        return None
    if start >= stop or len(value) < stop:
        return None
    if reverse:
        n = len(value)
        return value[n - stop : n - start]
    return value[start:stop]


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


_HOST_LABEL = re.compile(r"^(?!-)[a-zA-Z\d-]{1,63}(?<!-)$")


def _is_valid_host_label(value: Any, allow_subdomains: bool) -> bool:
    if not isinstance(value, str):
        return False
    labels = value.split(".") if allow_subdomains else [value]
    return all(_HOST_LABEL.match(label) for label in labels)


def _is_virtual_hostable_s3_bucket(value: Any, allow_subdomains: bool) -> bool:
    if not isinstance(value, str) or not 3 <= len(value) <= 63:
        return False
    if value.lower() != value:
        return False
    try:
        ip_address(value)
    except ValueError:
        pass
    else:
        return False
    if allow_subdomains:
        return all(
            _is_virtual_hostable_s3_bucket(label, False) or _HOST_LABEL.match(label) is not None
            for label in value.split(".")
        ) and _is_valid_host_label(value, True)
    return _is_valid_host_label(value, False)


def _parse_url(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value)
    if parts.query or parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = parts.path
    normalized = path if path.endswith("/") else f"{path}/"
    if not normalized.startswith("/"):
        normalized = f"/{normalized}"
    host = parts.hostname or ""
    try:
        ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    return {
        "scheme": parts.scheme,
        "authority": parts.netloc,
        "path": path,
        "normalizedPath": normalized,
        "isIp": is_ip,
    }


def _parse_arn(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, region, account, resource = parts
    if not partition or not service or not resource:
        return None
    return {
        "partition": partition,
        "service": service,
        "region": region,
        "accountId": account,
        "resourceId": re.split(r"[:/]", resource),
    }


class _Partitions:
    """``aws.partition``: exact region, then region regex, then the first (``aws``) partition."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._entries: list[tuple[frozenset[str], re.Pattern[str], dict[str, Any]]] = []
        for p in data["partitions"]:
            outputs = {**p["outputs"], "name": p["id"]}
            self._entries.append((frozenset(p["regions"]), re.compile(p["regionRegex"]), outputs))

    def __call__(self, region: Any) -> dict[str, Any] | None:
        if not isinstance(region, str):
            return None
        for regions, _, outputs in self._entries:
            if region in regions:
                return outputs
        for _, regex, outputs in self._entries:
            if regex.match(region):
                return outputs
        return self._entries[0][2]


# --- the rule-set evaluator --------------------------------------------------------------


class RuleSet:
    """One service's rule set bound to a partitions table; :meth:`resolve` is pure."""

    def __init__(self, ruleset: Mapping[str, Any], partitions: Mapping[str, Any]) -> None:
        self._params: Mapping[str, Mapping[str, Any]] = ruleset["parameters"]
        self._rules: list[Mapping[str, Any]] = ruleset["rules"]
        self._functions: dict[str, Callable[..., Any]] = {
            "isSet": _is_set,
            "not": _not,
            "booleanEquals": _boolean_equals,
            "stringEquals": _string_equals,
            "getAttr": _get_attr,
            "substring": _substring,
            "uriEncode": _uri_encode,
            "parseURL": _parse_url,
            "isValidHostLabel": _is_valid_host_label,
            "aws.partition": _Partitions(partitions),
            "aws.parseArn": _parse_arn,
            "aws.isVirtualHostableS3Bucket": _is_virtual_hostable_s3_bucket,
            "coalesce": lambda *args: next((a for a in args if a is not None), None),
        }

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Any]]:
        return self._params

    def resolve(self, params: Mapping[str, Any]) -> Endpoint:
        """Evaluate the rules for ``params`` (names as in the rule set: Region, UseFIPS ...).

        Raises :class:`EndpointResolutionError` with the rule set's own message for
        error rules, bad parameters, or when no rule matches.
        """
        scope: Scope = {}
        unknown = set(params) - set(self._params)
        if unknown:
            raise EndpointResolutionError(f"unknown endpoint parameters: {sorted(unknown)}")
        for name, spec in self._params.items():
            value = params.get(name)
            if value is None:
                value = spec.get("default")
            if value is None:
                if spec.get("required"):
                    raise EndpointResolutionError(f"endpoint parameter {name} is required")
                continue
            kind = spec.get("type", "string").lower()
            if (kind == "boolean" and not isinstance(value, bool)) or (
                kind == "string" and not isinstance(value, str)
            ):
                raise EndpointResolutionError(
                    f"endpoint parameter {name} must be a {kind}, got {type(value).__name__}"
                )
            scope[name] = value
        result = self._evaluate_rules(self._rules, scope)
        if result is None:
            raise EndpointResolutionError("no endpoint rule matched the given parameters")
        return result

    def _evaluate_rules(self, rules: list[Mapping[str, Any]], scope: Scope) -> Endpoint | None:
        for rule in rules:
            local = dict(scope)
            if not self._conditions_hold(rule.get("conditions", ()), local):
                continue
            kind = rule["type"]
            if kind == "endpoint":
                return self._endpoint(rule["endpoint"], local)
            if kind == "error":
                raise EndpointResolutionError(str(self._value(rule["error"], local)))
            if kind == "tree":
                found = self._evaluate_rules(rule["rules"], local)
                if found is not None:
                    return found
                raise EndpointResolutionError("tree rule exhausted without a matching endpoint")
            raise EndpointResolutionError(f"unknown rule type {kind!r}")
        return None

    def _conditions_hold(self, conditions: Any, scope: Scope) -> bool:
        for cond in conditions:
            value = self._call(cond, scope)
            if value is None or value is False:
                return False
            if "assign" in cond:
                scope[cond["assign"]] = value
        return True

    def _call(self, expr: Mapping[str, Any], scope: Scope) -> Any:
        name = expr["fn"]
        fn = self._functions.get(name)
        if fn is None:
            raise EndpointResolutionError(f"unsupported rule-set function {name!r}")
        args = [self._value(a, scope) for a in expr.get("argv", ())]
        return fn(*args)

    def _value(self, value: Any, scope: Scope) -> Any:
        if isinstance(value, str):
            return self._template(value, scope)
        if isinstance(value, Mapping):
            if "ref" in value:
                return scope.get(value["ref"])
            if "fn" in value:
                return self._call(value, scope)
            return {k: self._value(v, scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, scope) for v in value]
        return value

    def _template(self, text: str, scope: Scope) -> str:
        if "{" not in text and "}" not in text:
            return text
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "{" and text.startswith("{{", i):
                out.append("{")
                i += 2
            elif ch == "}" and text.startswith("}}", i):
                out.append("}")
                i += 2
            elif ch == "{":
                end = text.index("}", i)
                name, _, path = text[i + 1 : end].partition("#")
                value = scope.get(name)
                if path:
                    value = _get_attr(value, path)
                out.append("" if value is None else _stringify(value))
                i = end + 1
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def _endpoint(self, spec: Mapping[str, Any], scope: Scope) -> Endpoint:
        url = self._value(spec["url"], scope)
        properties = self._value(spec.get("properties", {}), scope)
        headers = {
            name: [str(self._value(v, scope)) for v in values]
            for name, values in spec.get("headers", {}).items()
        }
        return Endpoint(url=str(url), properties=properties, headers=headers)


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- loading the copies shipped with the package -----------------------------------------


def _read_data(*parts: str) -> Any:
    node = resources.files("kvs_async").joinpath("_data", *parts)
    try:
        text = node.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EndpointResolutionError(
            f"endpoint data kvs_async/_data/{'/'.join(parts)} is missing from the package"
        ) from None
    return json.loads(text)


def _botocore_ruleset(service_name: str) -> Any:
    """The installed botocore's rule set (newest API version), for services generated into
    a user's own package (``python -m codegen add SERVICE --out DIR``) that ship no data."""
    import gzip

    import botocore  # type: ignore[import-untyped]

    folder = Path(botocore.__file__).parent / "data" / service_name
    versions = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for version in reversed(versions):
        plain = version / "endpoint-rule-set-1.json"
        if plain.exists():
            return json.loads(plain.read_text(encoding="utf-8"))
        packed = plain.with_name(plain.name + ".gz")
        if packed.exists():
            return json.loads(gzip.decompress(packed.read_bytes()))
    raise EndpointResolutionError(
        f"no endpoint rule set for {service_name}: neither kvs_async/_data nor botocore has one"
    )


@cache
def load_ruleset(service_name: str) -> RuleSet:
    """The packaged rule set for a botocore service name (``kinesis-video-media``), cached;
    botocore's own for services generated outside the package."""
    if resources.files("kvs_async").joinpath("_data", service_name).is_dir():
        rules = _read_data(service_name, "endpoint-rule-set-1.json")
    else:
        rules = _botocore_ruleset(service_name)
    return RuleSet(rules, _read_data("partitions.json"))


def resolve_with_builtins(
    ruleset: RuleSet,
    *,
    region: str | None,
    use_fips: bool = False,
    use_dualstack: bool = False,
    endpoint_url: str | None = None,
) -> Endpoint:
    """Resolve with the builtins every AWS SDK passes (AWS::Region, AWS::UseFIPS ...)."""
    builtins = {
        "AWS::Region": region,
        "AWS::UseFIPS": use_fips,
        "AWS::UseDualStack": use_dualstack,
        "SDK::Endpoint": endpoint_url,
    }
    params = {
        name: builtins[spec["builtIn"]]
        for name, spec in ruleset.parameters.items()
        if spec.get("builtIn") in builtins
    }
    return ruleset.resolve(params)


def resolve_endpoint(
    service_name: str,
    *,
    region: str | None,
    use_fips: bool = False,
    use_dualstack: bool = False,
    endpoint_url: str | None = None,
) -> Endpoint:
    """:func:`resolve_with_builtins` over the packaged rule set (reads files on first use)."""
    return resolve_with_builtins(
        load_ruleset(service_name),
        region=region,
        use_fips=use_fips,
        use_dualstack=use_dualstack,
        endpoint_url=endpoint_url,
    )


def signing_overrides(endpoint: Endpoint) -> tuple[str | None, str | None]:
    """(signing region, signing name) from a ``sigv4`` auth scheme, when the rule set sets one."""
    for scheme in endpoint.properties.get("authSchemes", ()) or ():
        if isinstance(scheme, Mapping) and scheme.get("name") == "sigv4":
            return scheme.get("signingRegion"), scheme.get("signingName")
    return None, None
