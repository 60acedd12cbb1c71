"""Output enums are enums at runtime, unknown values included (pseudo-members)."""

from __future__ import annotations

import json

import pytest

from kvs_async import ParamValidationError, protocol
from kvs_async.kinesis_video_media import StartSelector, StartSelectorType
from kvs_async.kinesisvideo import OPERATIONS, SERVICE, Status


def _describe(status: str) -> object:
    body = json.dumps({"StreamInfo": {"StreamName": "s", "Status": status}}).encode()
    out = protocol.parse_response(SERVICE, OPERATIONS["DescribeStream"], 200, {}, body)
    return out.stream_info.status  # type: ignore[attr-defined]


def test_known_value_is_the_member() -> None:
    assert _describe("ACTIVE") is Status.ACTIVE


def test_unknown_value_is_a_pseudo_member() -> None:
    status = _describe("HIBERNATING")
    assert isinstance(status, Status) and status == "HIBERNATING"
    assert not status.known and Status.ACTIVE.known
    assert status not in list(Status)  # iteration lists the model's values only
    assert _describe("HIBERNATING") is status  # repeated values are one object


def test_pseudo_members_are_bounded() -> None:
    made = [Status(f"X{i}") for i in range(500)]
    assert all(isinstance(m, Status) for m in made)
    assert len(Status._value2member_map_) <= len(Status._member_map_) + 64


def test_inputs_take_the_literal_and_refuse_unknown_values() -> None:
    sel = StartSelector(start_selector_type="EARLIEST")
    assert sel.start_selector_type is StartSelectorType.EARLIEST
    bad = StartSelector(start_selector_type="EARLIESTX")  # type: ignore[arg-type]
    from kvs_async.kinesis_video_media import OPERATIONS as MEDIA_OPS
    from kvs_async.kinesis_video_media import SERVICE as MEDIA
    from kvs_async.kinesis_video_media import GetMediaInput

    with pytest.raises(ParamValidationError) as info:
        protocol.serialize_request(
            MEDIA, MEDIA_OPS["GetMedia"], GetMediaInput(stream_name="s", start_selector=bad)
        )
    assert "start_selector.start_selector_type" in str(info.value)
