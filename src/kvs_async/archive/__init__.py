"""Archived media made easy: clips to disk, image iterators, playable HLS/DASH URLs, the CLI.

The helpers are methods of :class:`~kvs_async.kinesis_video_archived_media.KinesisVideoArchivedMediaClient`
(mixed in by codegen): ``get_clip_to_file``, ``iter_images``, ``hls_url`` and ``dash_url``.
The ``clip``, ``images`` and ``hls`` subcommands of ``kvs-async`` live here too.
"""

from __future__ import annotations

from .mixin import ArchivedImage, ArchiveError, ArchiveMixin, ClipFile

__all__ = ["ArchiveError", "ArchiveMixin", "ArchivedImage", "ClipFile"]
