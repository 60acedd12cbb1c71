"""Hostile bodies to every operation of every served service: 4xx with a model-defined code.

Deep nesting, huge numbers, wrong types, invalid UTF-8, huge strings and garbage go to
each operation of the six models, properly signed; no answer may be a 5xx, every refusal
must carry an error code the service's model defines, and the emulator keeps serving.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from emulator_testkit import send
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async._model import OperationSpec, ServiceSpec
from kvs_async.emulator import Emulator
from kvs_async.emulator.jsonlimits import MAX_JSON_DEPTH, json_depth
from kvs_async.emulator.routing import SERVICES

OPS: list[tuple[ServiceSpec, OperationSpec]] = [
    (service, op) for service in SERVICES for op in service.operations.values()
]
#: Kinds of body no operation may accept.
ALWAYS_BAD = frozenset({"deep", "utf8", "truncated"})


def target(op: OperationSpec) -> tuple[str, list[tuple[str, str]]]:
    """The operation's path with every label filled, and its constant query."""
    path, _, const = op.request_uri.partition("?")
    query = [(k, v) for k, _, v in (p.partition("=") for p in const.split("&") if p)]
    return re.sub(r"\{[^}]+\}", "x", path), query


def body_members(service: ServiceSpec, op: OperationSpec) -> list[str]:
    if op.input_shape is None:
        return []
    shape = service.shapes[op.input_shape]
    return [m.key for m in shape.members if m.location is None] or ["Unmodeled"]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(
        access_key="AKIDHOSTILE", secret_key="hostile-secret", idle_timeout=0.2
    ) as e:
        e.signaling.max_answer_wait = 0.05
        yield e


async def check(
    emu: Emulator,
    session: aiohttp.ClientSession,
    service: ServiceSpec,
    op: OperationSpec,
    kind: str,
    body: bytes,
) -> None:
    path, query = target(op)
    status, headers, resp = await send(
        emu,
        op.http_method,
        path,
        body,
        query=query,
        service=service.signing_name,
        session=session,
    )
    where = (service.name, op.name, kind, body[:80])
    assert status < 500, (where, resp[:300])
    if status >= 400:
        code = headers.get("x-amzn-ErrorType")
        assert code in service.errors, (where, code, resp[:300])
    if kind in ALWAYS_BAD:
        assert 400 <= status < 500, where


def fixed_bodies(service: ServiceSpec, op: OperationSpec) -> list[tuple[str, bytes]]:
    member = body_members(service, op)[0].encode()
    return [
        ("deep", b"[" * 100_000 + b"]" * 100_000),
        ("deep", b'{"a":' * 50_000 + b"0" + b"}" * 50_000),
        ("utf8", b'{"' + member + b'": "\xff\xfe\xc3\x28"}'),
        ("truncated", b'{"' + member + b'": [1, 2'),
        ("number", b'{"' + member + b'": 1e999999}'),
        ("number", b'{"' + member + b'": ' + b"9" * 5000 + b"}"),
        ("type", b'{"' + member + b'": [[{"x": []}]]}'),
        ("string", b'{"' + member + b'": "' + b"x" * 300_000 + b'"}'),
        ("garbage", b"\x00\x01not json at all"),
    ]


async def test_every_operation_refuses_fixed_hostile_bodies(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        for service, op in OPS:
            for kind, body in fixed_bodies(service, op):
                await check(emu, session, service, op, kind, body)
        status, _, _ = await send(emu, "POST", "/listStreams", b"{}", session=session)
        assert status == 200


_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@st.composite
def hostile(draw: st.DrawFn) -> tuple[ServiceSpec, OperationSpec, str, bytes]:
    service, op = draw(st.sampled_from(OPS))
    member = draw(st.sampled_from(body_members(service, op))).encode()
    kind = draw(
        st.sampled_from(["deep", "utf8", "truncated", "number", "type", "string", "garbage"])
    )
    if kind == "deep":
        n = draw(st.integers(MAX_JSON_DEPTH + 1, 100_000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"k":', b"}")]))
        inner = b"[]" if opener == b"[" else b"1"
        body = b'{"' + member + b'": ' + opener * n + inner + closer * n + b"}"
    elif kind == "utf8":
        raw = draw(st.binary(max_size=40))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        body = b'{"' + member + b'": "' + raw.replace(b'"', b"") + bad + b'"}'
    elif kind == "truncated":
        doc = json.dumps({member.decode(): draw(_JSON_VALUES)}).encode()
        body = doc[: draw(st.integers(1, len(doc) - 1))]
    elif kind == "number":
        text = draw(
            st.sampled_from(
                [b"1e999999", b"-1e999999", b"9" * 5000, b"-0", b"1.7976931348623157e309", b"NaN"]
            )
            | st.integers().map(lambda i: str(i * 10**400).encode())
        )
        body = b'{"' + member + b'": ' + text + b"}"
    elif kind == "type":
        body = json.dumps({member.decode(): draw(_JSON_VALUES)}).encode()
    elif kind == "string":
        size = draw(st.integers(1025, 500_000))
        body = json.dumps({member.decode(): draw(st.characters()) * size}).encode()
    else:
        body = draw(st.binary(max_size=300))
    return service, op, kind, body


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=hostile())
async def test_hostile_bodies_get_model_defined_4xx(
    emu: Emulator, case: tuple[ServiceSpec, OperationSpec, str, bytes]
) -> None:
    service, op, kind, body = case
    async with aiohttp.ClientSession() as session:
        await check(emu, session, service, op, kind, body)
        status, _, _ = await send(emu, "POST", "/listStreams", b"{}", session=session)
        assert status == 200  # still serving


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_TRICKY = st.text(alphabet='[]{}"\\ab', max_size=8)
_DOCS = st.recursive(
    st.none() | st.integers() | _TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(doc=_DOCS)
def test_json_depth_is_exact_beyond_the_limit(doc: Any) -> None:
    body = json.dumps(doc).encode()
    assert json_depth(body, limit=0) == _depth(doc)
    assert (json_depth(body, limit=3) > 3) == (_depth(doc) > 3)
