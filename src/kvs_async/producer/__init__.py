"""PutMedia from asyncio: send fragments or frames to a stream, with acks and resumption.

::

    async with KinesisVideoMediaClient(...) as media:
        async with media.put_media(stream_name="cam", fragment_timecode_type="RELATIVE") as p:
            p.set_tracks(tracks)                         # kvs_async.mkv.Track objects
            for pkt in packets:
                await p.put_frame(1, pkt.timecode_ms, pkt.data, keyframe=pkt.is_keyframe)

``put_fragment(data)`` takes whole MKV fragments instead; ``acks()`` yields typed
:class:`FragmentAck` objects. See :mod:`.producer` for the window, resumption and limits.
"""

from __future__ import annotations

from .acks import AckEventType, AckFormatError, AckParser, FragmentAck
from .errors import (
    ACK_ERRORS,
    AckTimeoutError,
    FragmentRejectedError,
    ProducerClosedError,
    PutMediaAckError,
    PutMediaError,
    ack_error,
)
from .fragments import Fragment, FrameMuxer, inspect_fragment
from .limits import PutMediaLimits
from .mixin import PutMediaMixin
from .producer import MediaProducer, ProducerStats

__all__ = [
    "ACK_ERRORS",
    "AckEventType",
    "AckFormatError",
    "AckParser",
    "AckTimeoutError",
    "Fragment",
    "FragmentAck",
    "FragmentRejectedError",
    "FrameMuxer",
    "MediaProducer",
    "ProducerClosedError",
    "ProducerStats",
    "PutMediaAckError",
    "PutMediaError",
    "PutMediaLimits",
    "PutMediaMixin",
    "ack_error",
    "inspect_fragment",
]
