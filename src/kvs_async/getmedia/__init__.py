"""Resumable GetMedia: the public ``get_media`` that generated media clients inherit.

The generated bindings emit the raw operations as ``_get_media`` and
``_get_media_for_fragment_list``; this package turns their byte streams into
typed chunks through the sans-I/O parser, and reconnects after drops, throttles
and session ends so that every fragment is handed over once, in order.
"""

from .mixins import ArchivedMediaMixin, GetMediaMixin
from .policy import GET_MEDIA_CALLS_PER_SECOND, ResumePolicy
from .stream import MediaStream

__all__ = [
    "GET_MEDIA_CALLS_PER_SECOND",
    "ArchivedMediaMixin",
    "GetMediaMixin",
    "MediaStream",
    "ResumePolicy",
]
