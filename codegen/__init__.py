"""The binding generator: botocore JSON models in ``specs/`` -> typed modules in ``src/kvs_async/``.

Stages: ``load`` (plain JSON objects) -> ``lower`` (the attrs IR in ``ir``) -> ``emit``
(Python source) -> ``fmt`` (the pinned ruff). ``sync`` refreshes ``specs/`` from botocore.
"""

from __future__ import annotations

SERVICES: tuple[str, ...] = (
    "kinesisvideo",
    "kinesis-video-media",
    "kinesis-video-archived-media",
    "kinesis-video-signaling",
    "kinesis-video-webrtc-storage",
    "chime-sdk-media-pipelines",
)
