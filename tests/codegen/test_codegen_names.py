"""The naming rule (codegen.names): every model name becomes a safe Python name, wire names kept."""

from __future__ import annotations

import json

import pytest

from codegen.generate import module_from_model
from codegen.names import class_name, member_name, module_name
from kvs_async import protocol


@pytest.mark.parametrize(
    ("wire", "py"),
    [
        ("StreamName", "stream_name"),
        ("VCPUs", "vcpus"),  # outposts: xform_name gives "_vcpus"
        ("HITs", "hits"),
        ("Lambda", "lambda_"),
        ("Match", "match_"),  # soft keyword
        ("Type", "type"),  # 3.12's soft keyword stays: a plain identifier, a public name
        ("Str", "str_"),  # a builtin generated code names
        ("Datetime", "datetime_"),  # the module's own import
        ("Self", "self_"),
    ],
)
def test_member_names(wire: str, py: str) -> None:
    assert member_name(wire) == py


def test_member_name_never_shadows_a_class_of_the_module() -> None:
    assert member_name("Widget", classes={"widget"}) == "widget_"


@pytest.mark.parametrize(
    ("shape", "py"),
    [("None", "None_"), ("Sequence", "Sequence_"), ("Mapping", "Mapping_"), ("Stream", "Stream")],
)
def test_class_names(shape: str, py: str) -> None:
    assert class_name(shape) == py


@pytest.mark.parametrize(
    ("service", "py"),
    [
        ("lambda", "lambda_"),
        ("config", "config_"),  # json service vs the runtime's config.py
        ("kinesis-video-media", "kinesis_video_media"),
        ("dynamodb", "dynamodb"),
    ],
)
def test_module_names(service: str, py: str) -> None:
    assert module_name(service) == py


MODEL = {
    "metadata": {"protocol": "rest-json", "apiVersion": "1", "serviceId": "Names"},
    "operations": {
        "Close": {
            "name": "Close",
            "http": {"method": "POST", "requestUri": "/c"},
            "input": {"shape": "None"},
            "output": {"shape": "Sequence"},
        }
    },
    "shapes": {
        "None": {
            "type": "structure",
            "members": {
                "VCPUs": {"shape": "Int"},
                "Lambda": {"shape": "Mapping"},
                "Str": {"shape": "Str"},
            },
        },
        "Sequence": {"type": "structure", "members": {"Mapping": {"shape": "Mapping"}}},
        "Mapping": {"type": "string", "enum": ["A", "B"]},
        "Int": {"type": "integer"},
        "Str": {"type": "string"},
    },
}


def test_unsafe_names_generate_and_keep_wire_names() -> None:
    mod = module_from_model("names", MODEL, formatted=True)
    assert "class None_:" in mod.__source__
    value = mod.None_(vcpus=2, lambda_=mod.Mapping_.A, str_="s")
    req = protocol.serialize_request(mod.SERVICE, mod.OPERATIONS["Close"], value)
    assert json.loads(req.body) == {"VCPUs": 2, "Lambda": "A", "Str": "s"}
    # an operation named like a BaseClient method does not replace it
    assert (
        hasattr(mod.NamesClient, "close_") and mod.NamesClient.close is not mod.NamesClient.close_
    )
    out = protocol.parse_response(
        mod.SERVICE, mod.OPERATIONS["Close"], 200, {}, b'{"Mapping": "B"}'
    )
    assert out == mod.Sequence_(mapping=mod.Mapping_.B)
