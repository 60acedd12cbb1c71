"""Convert between generated shape instances and the emulator's wire-form state.

Wire form uses the model's member names and plain JSON values (timestamps as epoch
seconds), which is what the emulator stores and what AWS documents. The generated
shape metadata (``SERVICE.shapes``) drives the conversion, so no shape is hand-mapped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

from .._model import ServiceSpec


def to_wire(service: ServiceSpec, shape_name: str, value: Any) -> Any:
    """A generated instance (or value) as wire-form JSON data."""
    if value is None:
        return None
    shape = service.shapes[shape_name]
    if shape.type == "structure":
        out: dict[str, Any] = {}
        for member in shape.members:
            item = getattr(value, member.name, None)
            if item is not None:
                out[member.wire] = to_wire(service, member.shape, item)
        return out
    if shape.type == "list":
        assert shape.member is not None
        return [to_wire(service, shape.member, item) for item in value]
    if shape.type == "map":
        assert shape.value is not None
        return {str(k): to_wire(service, shape.value, v) for k, v in value.items()}
    if shape.type == "timestamp":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.timestamp()
        return float(value)
    if isinstance(value, Enum):
        return value.value
    return value


def from_wire(service: ServiceSpec, shape_name: str, data: Any) -> Any:
    """Wire-form JSON data as a generated instance (or value)."""
    if data is None:
        return None
    shape = service.shapes[shape_name]
    if shape.type == "structure":
        assert shape.cls is not None, shape_name
        kwargs = {
            member.name: from_wire(service, member.shape, data[member.wire])
            for member in shape.members
            if member.wire in data and data[member.wire] is not None
        }
        return shape.cls(**kwargs)
    if shape.type == "list":
        assert shape.member is not None
        return [from_wire(service, shape.member, item) for item in data]
    if shape.type == "map":
        assert shape.value is not None
        return {k: from_wire(service, shape.value, v) for k, v in data.items()}
    if shape.type == "timestamp":
        if isinstance(data, datetime):
            return data
        return datetime.fromtimestamp(float(data), UTC)
    return data
