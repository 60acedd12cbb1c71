"""AWS Signature Version 4, as botocore's ``SigV4Auth`` computes it for non-S3 services.

Pure functions over an :class:`~kvs_async._http.HttpRequest`: no clock, no I/O.
The client signs with :func:`sign_request`; the emulator checks with
:func:`verify_request`, which recomputes the same canonical request from what
arrived on the wire.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, urlsplit

from ._http import HttpRequest
from .credentials import Credentials
from .errors import ServiceError

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# botocore never signs these (they change in transit or are added by the HTTP layer).
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class SignatureError(ServiceError):
    """The request's signature was missing, unknown, wrong or out of its time window (HTTP 403)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code, status_code=403, retryable=False, throttling=False)


def amz_date(now: datetime) -> str:
    """``20150830T123600Z`` for an aware (or naive UTC) datetime."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ")


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def normalize_path(path: str) -> str:
    """RFC 3986 dot-segment removal plus collapsing of ``//``, as botocore does."""
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and out else ""
    return first + "/".join(out) + last


def canonical_path(path: str) -> str:
    """The path as signed: normalised, then percent-encoded once more (non-S3 double encoding)."""
    return quote(normalize_path(path), safe="/~")


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    pairs = sorted((_uri_encode(k), _uri_encode(v)) for k, v in query)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_headers(
    headers: Iterable[tuple[str, str]], skip: frozenset[str] = UNSIGNED_HEADERS
) -> tuple[str, str]:
    """(canonical header block, signed header list) over every signable header."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        lname = name.lower()
        if lname in skip:
            continue
        grouped.setdefault(lname, []).append(" ".join(value.split()))
    names = sorted(grouped)
    block = "".join(f"{n}:{','.join(grouped[n])}\n" for n in names)
    return block, ";".join(names)


def host_header(url_base: str) -> str:
    """``host[:port]`` as botocore signs it: the default port for the scheme is dropped."""
    parts = urlsplit(url_base)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        return f"{host}:{port}"
    return host


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    payload_hash: str,
    *,
    skip: frozenset[str] = UNSIGNED_HEADERS,
) -> tuple[str, str]:
    """(canonical request, signed headers)."""
    block, signed = _canonical_headers(headers, skip)
    creq = "\n".join(
        (
            method.upper(),
            canonical_path(path),
            canonical_query(query),
            block,
            signed,
            payload_hash,
        )
    )
    return creq, signed


def string_to_sign(creq: str, timestamp: str, scope: str) -> str:
    digest = hashlib.sha256(creq.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


@lru_cache(maxsize=64)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The derived key, cached per (secret, day, region, service): four HMACs saved per call."""
    key = hmac.new(f"AWS4{secret_key}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signature(secret_key: str, sts: str, date: str, region: str, service: str) -> str:
    key = signing_key(secret_key, date, region, service)
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def _payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256


def _replace_header(headers: dict[str, str], name: str, value: str | None) -> None:
    lname = name.lower()
    for existing in [k for k in headers if k.lower() == lname]:
        del headers[existing]
    if value is not None:
        headers[name] = value


def sign_request(
    request: HttpRequest,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> None:
    """Sign ``request`` in place: sets Host (from ``url_base``, when present), X-Amz-Date,
    X-Amz-Security-Token (when the credentials carry a token) and Authorization."""
    timestamp = amz_date(now)
    date = timestamp[:8]
    headers = request.headers
    _replace_header(headers, "Authorization", None)
    if request.url_base and not any(k.lower() == "host" for k in headers):
        headers["Host"] = host_header(request.url_base)
    _replace_header(headers, "X-Amz-Date", timestamp)
    _replace_header(headers, "X-Amz-Security-Token", credentials.token)
    payload_hash = _get_header(headers, "X-Amz-Content-SHA256") or _payload_hash(request.body)
    creq, signed = canonical_request(
        request.method, request.path, request.query, headers.items(), payload_hash
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = string_to_sign(creq, timestamp, scope)
    signature = _signature(credentials.secret_key, sts, date, region, service)
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


def _get_header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for k, v in headers.items():
        if k.lower() == lname:
            return v
    return None


def _all_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    # multidict proxies keep repeated headers; ``items()`` yields each occurrence.
    return list(headers.items())


_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def _parse_authorization(value: str) -> tuple[str, str, str, str, str, list[str], str]:
    """(access key, date, region, service, terminator, signed headers, signature)."""
    algo, _, rest = value.strip().partition(" ")
    if algo != ALGORITHM:
        raise SignatureError(
            f"Authorization header requires '{ALGORITHM}' algorithm.",
            code="IncompleteSignatureException",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields[k] = v
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise SignatureError(
            f"Authorization header requires {', '.join(missing)} parameter(s).",
            code="IncompleteSignatureException",
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureError(
            "Credential should be scoped to a valid region and service, "
            "in the form <key>/<date>/<region>/<service>/aws4_request.",
            code="IncompleteSignatureException",
        )
    access_key, date, region, service, term = scope
    return (
        access_key,
        date,
        region,
        service,
        term,
        [h for h in fields["SignedHeaders"].split(";") if h],
        fields["Signature"],
    )


#: The x-amz-content-sha256 value of a body that is not part of the signature.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def verify_request(
    *,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = timedelta(minutes=5),
    region: str | None = None,
    service: str | None = None,
) -> str:
    """Check a SigV4-signed request as a service would; returns the access key id.

    ``path`` is the raw path as it arrived on the wire (still percent-encoded),
    ``query`` the decoded query pairs. Raises :class:`SignatureError` with the
    code AWS uses: ``MissingAuthenticationTokenException`` (unsigned),
    ``IncompleteSignatureException`` (malformed), ``UnrecognizedClientException``
    (unknown key) or ``InvalidSignatureException`` (wrong signature, a time
    outside ``max_skew``, or a credential scope naming another ``region`` or
    ``service`` than the ones given).
    """
    auth = _get_header(headers, "Authorization")
    if not auth:
        raise SignatureError(
            "Missing Authentication Token", code="MissingAuthenticationTokenException"
        )
    access_key, date, scope_region, scope_service, _, signed_names, signature = (
        _parse_authorization(auth)
    )
    timestamp = _get_header(headers, "X-Amz-Date")
    if not timestamp:
        raise SignatureError(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            code="IncompleteSignatureException",
        )
    try:
        signed_at = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(
            f"X-Amz-Date {timestamp!r} is not in the form YYYYMMDDTHHMMSSZ.",
            code="IncompleteSignatureException",
        ) from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now_s = amz_date(now)
    if signed_at < now - max_skew:
        limit = amz_date(now - max_skew)
        raise SignatureError(
            f"Signature expired: {timestamp} is now earlier than {limit} "
            f"({now_s} - {_minutes(max_skew)} min.)",
            code="InvalidSignatureException",
        )
    if signed_at > now + max_skew:
        limit = amz_date(now + max_skew)
        raise SignatureError(
            f"Signature not yet current: {timestamp} is still later than {limit} "
            f"({now_s} + {_minutes(max_skew)} min.)",
            code="InvalidSignatureException",
        )
    secret = secret_for(access_key)
    if secret is None:
        raise SignatureError(
            "The security token included in the request is invalid.",
            code="UnrecognizedClientException",
        )
    check_scope(scope_region, scope_service, region=region, service=service)
    if date != timestamp[:8]:
        raise SignatureError(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{date}' != '{timestamp[:8]}', from '{timestamp}'.",
            code="InvalidSignatureException",
        )
    wanted = set(signed_names)
    if "host" not in wanted:
        raise SignatureError(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            code="InvalidSignatureException",
        )
    chosen = [(k, v) for k, v in _all_headers(headers) if k.lower() in wanted]
    present = {k.lower() for k, _ in chosen}
    if present != wanted:
        raise SignatureError(_BAD_SIGNATURE, code="InvalidSignatureException")
    payload_hash = _payload_hash(body)
    claimed = _get_header(headers, "X-Amz-Content-SHA256")
    if claimed:
        # A signed hash must be the body's, unless the client declares the body unsigned.
        if claimed != UNSIGNED_PAYLOAD and claimed != payload_hash:
            raise SignatureError(
                "The x-amz-content-sha256 header does not match the request body.",
                code="InvalidSignatureException",
            )
        payload_hash = claimed
    creq, signed = canonical_request(method, path, query, chosen, payload_hash, skip=frozenset())
    if signed != ";".join(signed_names):
        raise SignatureError(_BAD_SIGNATURE, code="InvalidSignatureException")
    sts = string_to_sign(creq, timestamp, f"{date}/{scope_region}/{scope_service}/aws4_request")
    expected = _signature(secret, sts, date, scope_region, scope_service)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError(_BAD_SIGNATURE, code="InvalidSignatureException")
    return access_key


def check_scope(
    scope_region: str, scope_service: str, *, region: str | None, service: str | None
) -> None:
    """Refuse a credential scoped to another region or service, with AWS's 403 messages."""
    if region is not None and scope_region != region:
        raise SignatureError(
            f"Credential should be scoped to a valid region, not '{scope_region}' "
            f"(this endpoint serves '{region}').",
            code="InvalidSignatureException",
        )
    if service is not None and scope_service != service:
        raise SignatureError(
            f"Credential should be scoped to correct service: '{service}'.",
            code="InvalidSignatureException",
        )


#: The most a presigned URL may live, as SigV4 allows (7 days).
MAX_PRESIGN_EXPIRES = 604800


def is_presigned(query: Sequence[tuple[str, str]]) -> bool:
    """Whether the request carries its SigV4 signature in the query string."""
    return any(k == "X-Amz-Signature" for k, _ in query)


def verify_presigned(
    *,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    secret_for: Callable[[str], str | None],
    now: datetime,
    region: str | None = None,
    service: str | None = None,
) -> str:
    """Check a presigned (query-string SigV4) request, such as a signaling WebSocket URL.

    The payload is unsigned: ``UNSIGNED-PAYLOAD`` (botocore's presigner) and the hash of
    the empty body (the KVS WebRTC SDKs' signers) are both accepted. Returns the access key id.
    """
    params = dict(query)
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise SignatureError(
            f"X-Amz-Algorithm must be '{ALGORITHM}'.", code="IncompleteSignatureException"
        )
    missing = [
        k
        for k in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires")
        if not params.get(k)
    ]
    if missing:
        raise SignatureError(
            f"A presigned URL requires the {', '.join(missing)} parameter(s).",
            code="IncompleteSignatureException",
        )
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureError(
            "Credential should be scoped to a valid region and service, "
            "in the form <key>/<date>/<region>/<service>/aws4_request.",
            code="IncompleteSignatureException",
        )
    access_key, date, scope_region, scope_service, _ = scope
    timestamp = params["X-Amz-Date"]
    try:
        signed_at = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise SignatureError(
            "X-Amz-Date must be YYYYMMDDTHHMMSSZ and X-Amz-Expires a number of seconds.",
            code="IncompleteSignatureException",
        ) from None
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise SignatureError(
            f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds.",
            code="IncompleteSignatureException",
        )
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if now > signed_at + timedelta(seconds=expires):
        raise SignatureError(
            f"Signature expired: {timestamp} + {expires} s is earlier than {amz_date(now)}.",
            code="InvalidSignatureException",
        )
    if signed_at > now + timedelta(minutes=5):
        raise SignatureError(
            f"Signature not yet current: {timestamp} is later than {amz_date(now)} + 5 min.",
            code="InvalidSignatureException",
        )
    secret = secret_for(access_key)
    if secret is None:
        raise SignatureError(
            "The security token included in the request is invalid.",
            code="UnrecognizedClientException",
        )
    check_scope(scope_region, scope_service, region=region, service=service)
    if date != timestamp[:8]:
        raise SignatureError(
            f"Date in Credential scope does not match YYYYMMDD of X-Amz-Date: "
            f"'{date}' != '{timestamp[:8]}'.",
            code="InvalidSignatureException",
        )
    signed_names = [h for h in params["X-Amz-SignedHeaders"].split(";") if h]
    if "host" not in signed_names:
        raise SignatureError(
            "'Host' must be a signed header of a presigned URL.",
            code="InvalidSignatureException",
        )
    wanted = set(signed_names)
    chosen = [(k, v) for k, v in _all_headers(headers) if k.lower() in wanted]
    if {k.lower() for k, _ in chosen} != wanted:
        raise SignatureError(_BAD_SIGNATURE, code="InvalidSignatureException")
    unsigned_query = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    credential_scope = f"{date}/{scope_region}/{scope_service}/aws4_request"
    for payload_hash in (UNSIGNED_PAYLOAD, EMPTY_SHA256):
        creq, signed = canonical_request(
            method, path, unsigned_query, chosen, payload_hash, skip=frozenset()
        )
        sts = string_to_sign(creq, timestamp, credential_scope)
        expected = _signature(secret, sts, date, scope_region, scope_service)
        if signed == ";".join(signed_names) and hmac.compare_digest(
            expected, params["X-Amz-Signature"]
        ):
            return access_key
    raise SignatureError(_BAD_SIGNATURE, code="InvalidSignatureException")


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return str(int(minutes)) if minutes == int(minutes) else f"{minutes:g}"
