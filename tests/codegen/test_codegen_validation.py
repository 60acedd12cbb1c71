"""Input validation: each constraint kind refuses bad input, naming the member path and rule.

The property test derives the violations from the shape tables (so the rules are
the model's, not a list written here): for every operation it draws a valid input,
breaks one constrained top-level member, and expects that member's path and rule.
"""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from codegen_helpers import strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen import SERVICES
from codegen.names import module_name
from kvs_async import ParamValidationError, protocol
from kvs_async import chime_sdk_media_pipelines as chime
from kvs_async import kinesis_video_media as media
from kvs_async import kinesisvideo as kv
from kvs_async.javaregex import compile_java
from kvs_async.validation import validate


def _refused(service: Any, op_name: str, value: Any) -> ParamValidationError:
    with pytest.raises(ParamValidationError) as info:
        protocol.serialize_request(service, service.operations[op_name], value)
    return info.value


def test_pattern_matches_whole_value() -> None:
    err = _refused(kv.SERVICE, "DescribeStream", kv.DescribeStreamInput(stream_name="cam one"))
    assert (err.path, err.rule) == ("stream_name", "pattern")
    # A valid name passes.
    protocol.serialize_request(
        kv.SERVICE, kv.OPERATIONS["DescribeStream"], kv.DescribeStreamInput(stream_name="cam-1")
    )


def test_required_nested_member() -> None:
    value = media.GetMediaInput(
        stream_name="s",
        start_selector=media.StartSelector(start_selector_type=None),  # type: ignore[arg-type]
    )
    err = _refused(media.SERVICE, "GetMedia", value)
    assert (err.path, err.rule) == ("start_selector.start_selector_type", "required")


def test_enum_deep_path() -> None:
    value = kv.StartEdgeConfigurationUpdateInput(
        stream_name="s",
        edge_config=kv.EdgeConfig(
            hub_device_arn="arn:aws:iot:us-west-2:123456789012:thing/hub",
            recorder_config=kv.RecorderConfig(
                media_source_config=kv.MediaSourceConfig(
                    media_uri_secret_arn="arn:aws:secretsmanager:us-west-2:123456789012:secret:x",
                    media_uri_type="FTP_URI",
                )
            ),
        ),
    )
    err = _refused(kv.SERVICE, "StartEdgeConfigurationUpdate", value)
    assert err.path == "edge_config.recorder_config.media_source_config.media_uri_type"
    assert err.rule == "enum"
    assert "FTP_URI" in str(err)


def test_enum_accepts_member_or_string() -> None:
    for selector in (media.StartSelectorType.NOW, "NOW"):
        value = media.GetMediaInput(
            stream_name="s", start_selector=media.StartSelector(start_selector_type=selector)
        )
        req = protocol.serialize_request(media.SERVICE, media.OPERATIONS["GetMedia"], value)
        assert b'"StartSelectorType": "NOW"' in req.body


@pytest.mark.parametrize(
    ("value", "path", "rule"),
    [
        (kv.CreateStreamInput(stream_name=""), "stream_name", "min_length"),
        (kv.CreateStreamInput(stream_name="a" * 257), "stream_name", "max_length"),
        (
            kv.CreateStreamInput(stream_name="s", data_retention_in_hours=-1),
            "data_retention_in_hours",
            "min_value",
        ),
        (kv.CreateStreamInput(stream_name="s", tags={}), "tags", "min_items"),
        (
            kv.CreateStreamInput(stream_name="s", tags={f"k{i}": "v" for i in range(51)}),
            "tags",
            "max_items",
        ),
        (kv.CreateStreamInput(stream_name="s", tags={"": "v"}), "tags['']", "min_length"),
        (kv.CreateStreamInput(stream_name=5), "stream_name", "type"),  # type: ignore[arg-type]
        (
            kv.CreateStreamInput(stream_name="s", data_retention_in_hours=True),
            "data_retention_in_hours",
            "type",
        ),
        (kv.CreateStreamInput(stream_name=None), "stream_name", "required"),  # type: ignore[arg-type]
    ],
)
def test_constraint_kinds(value: Any, path: str, rule: str) -> None:
    err = _refused(kv.SERVICE, "CreateStream", value)
    assert (err.path, err.rule) == (path, rule)


def test_number_max_value() -> None:
    err = _refused(kv.SERVICE, "ListStreams", kv.ListStreamsInput(max_results=10_001))
    assert (err.path, err.rule) == ("max_results", "max_value")


def test_list_size_and_item_path() -> None:
    err = _refused(kv.SERVICE, "UntagStream", kv.UntagStreamInput(stream_name="s", tag_key_list=[]))
    assert (err.path, err.rule) == ("tag_key_list", "min_items")
    err = _refused(
        kv.SERVICE, "UntagStream", kv.UntagStreamInput(stream_name="s", tag_key_list=["ok", ""])
    )
    assert (err.path, err.rule) == ("tag_key_list[1]", "min_length")


def test_idempotency_token_filled_when_absent() -> None:
    op = chime.OPERATIONS["CreateMediaCapturePipeline"]
    shape = chime.SHAPES[op.input_shape or ""]
    token = next(m for m in shape.members if m.idempotency_token)
    value = chime.CreateMediaCapturePipelineRequest(
        source_type="ChimeSdkMeeting",
        source_arn="arn:aws:chime::123456789012:meeting/abc",
        sink_type="S3Bucket",
        sink_arn="arn:aws:s3:::bucket",
    )
    assert getattr(value, token.name) is None
    req = protocol.serialize_request(chime.SERVICE, op, value)
    import json

    filled = json.loads(req.body)[token.key]
    assert uuid.UUID(filled).version == 4
    # An explicit token is kept.
    explicit = attrs.evolve(value, **{token.name: "a" * 36})
    req = protocol.serialize_request(chime.SERVICE, op, explicit)
    assert json.loads(req.body)[token.key] == "a" * 36


def test_timestamp_type_checked() -> None:
    value = media.GetMediaInput(
        stream_name="s",
        start_selector=media.StartSelector(
            start_selector_type="SERVER_TIMESTAMP",
            start_timestamp="yesterday",  # type: ignore[arg-type]
        ),
    )
    err = _refused(media.SERVICE, "GetMedia", value)
    assert (err.path, err.rule) == ("start_selector.start_timestamp", "type")
    ok = attrs.evolve(
        value, start_selector=attrs.evolve(value.start_selector, start_timestamp=datetime.now(UTC))
    )
    protocol.serialize_request(media.SERVICE, media.OPERATIONS["GetMedia"], ok)


# -- violations derived from the model ------------------------------------------------------------


def _violations(shapes: Any, shape: Any) -> list[tuple[str, Any, str]]:
    """(member attr, bad value, expected rule) for each constrained top-level member."""
    out: list[tuple[str, Any, str]] = []
    for m in shape.members:
        target = shapes[m.shape]
        if m.wire in shape.required and not m.idempotency_token:
            out.append((m.name, None, "required"))
        if target.type == "string":
            out.append((m.name, 12345, "type"))
            if target.min and target.min > 0:
                out.append((m.name, "", "min_length"))
            if target.max is not None:
                out.append((m.name, "a" * (int(target.max) + 1), "max_length"))
            if target.enum:
                bad = "x" * max(int(target.min or 1), 1)
                if bad not in target.enum:
                    out.append((m.name, bad, "enum"))
            elif target.pattern:
                bad = " " * max(int(target.min or 1), 1)
                if compile_java(target.pattern).fullmatch(bad) is None:
                    out.append((m.name, bad, "pattern"))
        elif target.type in ("integer", "long"):
            out.append((m.name, "1", "type"))
            if target.min is not None:
                out.append((m.name, int(target.min) - 1, "min_value"))
            if target.max is not None:
                out.append((m.name, int(target.max) + 1, "max_value"))
        elif target.type in ("list", "map"):
            if target.min and target.min > 0:
                out.append((m.name, [] if target.type == "list" else {}, "min_items"))
        elif target.type == "structure" and target.cls is not None:
            out.append((m.name, "not a structure", "type"))
    return out


def _ops_with_input() -> list[Any]:
    params = []
    for service in SERVICES:
        mod = importlib.import_module(f"kvs_async.{module_name(service)}")
        for name, op in mod.OPERATIONS.items():
            if op.input_shape:
                params.append(pytest.param(service, name, id=f"{service}.{name}"))
    return params


def _breakable(
    shapes: Any, shape_name: str, value: Any, path: str
) -> list[tuple[str, Any, str, Any]]:
    """(member path, bad value, rule, rebuild) for every constrained member at any depth.

    ``rebuild(bad)`` returns the whole input with that one member replaced.
    """
    out: list[tuple[str, Any, str, Any]] = []
    shape = shapes[shape_name]
    for attr, bad, rule in _violations(shapes, shape):
        out.append(
            (
                f"{path}.{attr}" if path else attr,
                bad,
                rule,
                lambda b, a=attr: attrs.evolve(value, **{a: b}),
            )
        )
    for m in shape.members:
        child = getattr(value, m.name)
        target = shapes[m.shape]
        child_path = f"{path}.{m.name}" if path else m.name
        if target.type == "structure" and target.cls is not None and child is not None:
            for sub_path, bad, rule, rebuild in _breakable(shapes, m.shape, child, child_path):
                out.append(
                    (
                        sub_path,
                        bad,
                        rule,
                        lambda b, r=rebuild, a=m.name: attrs.evolve(value, **{a: r(b)}),
                    )
                )
        elif target.type == "list" and child:
            item_shape = shapes[target.member]
            if item_shape.type == "structure" and item_shape.cls is not None:
                for sub_path, bad, rule, rebuild in _breakable(
                    shapes, target.member, child[0], f"{child_path}[0]"
                ):
                    out.append(
                        (
                            sub_path,
                            bad,
                            rule,
                            lambda b, r=rebuild, a=m.name, c=child: attrs.evolve(
                                value, **{a: [r(b), *c[1:]]}
                            ),
                        )
                    )
    return out


@pytest.mark.parametrize(("service", "op_name"), _ops_with_input())
def test_model_rules_refuse_violations(service: str, op_name: str) -> None:
    """Break one constrained member (top level or nested) of a valid input: refused, path named."""
    mod = importlib.import_module(f"kvs_async.{module_name(service)}")
    op = mod.OPERATIONS[op_name]
    shapes = mod.SERVICE.shapes
    shape = shapes[op.input_shape]
    if not _violations(shapes, shape) and not any(
        shapes[m.shape].type in ("structure", "list") for m in shape.members
    ):
        pytest.skip("no constrained member")

    @settings(
        max_examples=10,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(valid=strategy(shapes, shape.name), data=st.data())
    def check(valid: Any, data: st.DataObject) -> None:
        validate(mod.SERVICE, shape.name, valid)  # the drawn input is valid
        options = _breakable(shapes, shape.name, valid, "")
        if not options:
            return
        path, bad, rule, rebuild = data.draw(st.sampled_from(options))
        with pytest.raises(ParamValidationError) as info:
            protocol.serialize_request(mod.SERVICE, op, rebuild(bad))
        assert (info.value.path, info.value.rule) == (path, rule)

    check()


def test_sensitive_members_stay_out_of_repr_and_errors() -> None:
    secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:camera-password"
    config = kv.MediaSourceConfig(media_uri_secret_arn=secret, media_uri_type="RTSP_URI")
    assert "camera-password" not in repr(config)
    bad = kv.MediaSourceConfig(
        media_uri_secret_arn="x" * 20 + " hunter2", media_uri_type="RTSP_URI"
    )
    with pytest.raises(ParamValidationError) as info:
        validate(kv.SERVICE, "MediaSourceConfig", bad)
    assert info.value.rule == "pattern"
    assert "hunter2" not in str(info.value)


def test_header_values_cannot_inject_lines() -> None:
    from codegen.generate import module_from_model

    model = {
        "metadata": {"protocol": "rest-json", "apiVersion": "1"},
        "operations": {
            "Op": {
                "name": "Op",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "In"},
            }
        },
        "shapes": {
            "In": {
                "type": "structure",
                "members": {
                    "Note": {"shape": "S", "location": "header", "locationName": "X-Note"},
                    "Meta": {"shape": "M", "location": "headers", "locationName": "X-Meta-"},
                },
            },
            "S": {"type": "string"},
            "M": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "S"}},
        },
    }
    mod = module_from_model("inject", model)
    op = mod.OPERATIONS["Op"]
    ok = protocol.serialize_request(mod.SERVICE, op, mod.In(note="fine", meta={"a": "b"}))
    assert ok.headers == {"X-Note": "fine", "X-Meta-a": "b"}
    for bad in (
        mod.In(note="x\r\nX-Evil: 1"),
        mod.In(meta={"a\nb": "c"}),
        mod.In(meta={"a": "c\r"}),
    ):
        with pytest.raises(ParamValidationError) as info:
            protocol.serialize_request(mod.SERVICE, op, bad)
        assert info.value.rule == "header_value"
