"""Resumable GetMedia: the public ``get_media`` that generated media clients inherit.

The generated bindings emit the raw operation as ``_get_media``; this module
turns its byte stream into typed chunks and resumes after drops (issue 6).
"""

from __future__ import annotations


class GetMediaMixin:
    """Adds ``get_media`` (chunks, resumption) to ``KinesisVideoMediaClient``."""


class ArchivedMediaMixin:
    """Adds ``get_media_for_fragment_list`` (chunks) to ``KinesisVideoArchivedMediaClient``."""
