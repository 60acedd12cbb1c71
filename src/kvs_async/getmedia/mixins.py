"""The get_media / get_media_for_fragment_list methods that generated media clients inherit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._http import ByteStream
from ..errors import TransportError
from ..mkv import ChunkParser
from .cursors import _ListCursor, _LiveCursor
from .policy import ResumePolicy
from .stream import _READ_SIZE, MediaStream

if TYPE_CHECKING:
    from .._model import OperationSpec
    from ..config import ClientConfig
    from ..fleet.checkpoints import CheckpointStore
    from ..kinesis_video_archived_media import GetMediaForFragmentListOutput
    from ..kinesis_video_media import GetMediaOutput, StartSelector


def _list_parser() -> ChunkParser:
    # GetMediaForFragmentList fragments carry no trailing Tags: each ends at the next header.
    return ChunkParser(trailing_tags=False)


def _stream_key(stream_name: str | None, stream_arn: str | None) -> str:
    return stream_arn or stream_name or ""


def _policy(resume: bool | ResumePolicy) -> ResumePolicy:
    if isinstance(resume, ResumePolicy):
        return resume
    return ResumePolicy(enabled=resume)


class _MediaOperations:
    """What both mixins share: one unretried call whose body is the media stream."""

    if TYPE_CHECKING:
        _config: ClientConfig

        async def _invoke(self, op: OperationSpec, params: Any, *, retries: bool = True) -> Any: ...

    async def _open_media(self, op: OperationSpec, request: object) -> ByteStream:
        # One attempt per call: MediaStream retries, paced to the per-stream limit.
        output: GetMediaOutput | GetMediaForFragmentListOutput = await self._invoke(
            op, request, retries=False
        )
        if output.payload is None:  # pragma: no cover - the transport always sets it
            raise TransportError(f"{op.name} response carried no body")
        return output.payload


class GetMediaMixin(_MediaOperations):
    """Adds ``get_media`` (typed chunks, resumption) to ``KinesisVideoMediaClient``."""

    def get_media(
        self,
        *,
        stream_name: str | None = None,
        stream_arn: str | None = None,
        start_selector: StartSelector,
        resume: bool | ResumePolicy = True,
        idle_timeout: float | None = None,
        read_size: int = _READ_SIZE,
        parser_factory: Callable[[], ChunkParser] = ChunkParser,
        checkpoint: CheckpointStore | None = None,
        consumer: str | None = None,
    ) -> MediaStream:
        """Chunks of a stream from ``start_selector`` on, resuming after drops.

        ``resume`` turns reconnection off (``False``) or tunes it (a
        :class:`ResumePolicy`). ``idle_timeout`` ends the iteration cleanly when no
        chunk arrives for that many seconds (to drain an archive); without it the
        iteration follows the stream for as long as it lives, like GetMedia itself.
        ``read_size`` is accepted for compatibility and no longer bounds reads: each
        piece aiohttp receives goes to the parser whole (no re-slicing, no copy).
        ``checkpoint`` (a :class:`~kvs_async.CheckpointStore`) with ``consumer`` starts
        after the consumer's saved position, if any, and saves each chunk's position once
        the consumer asks for the next one or calls ``await stream.commit()``.
        """
        from ..kinesis_video_media import OPERATIONS, GetMediaInput

        def call(selector: StartSelector) -> Awaitable[ByteStream]:
            request = GetMediaInput(
                stream_name=stream_name, stream_arn=stream_arn, start_selector=selector
            )
            return self._open_media(OPERATIONS["GetMedia"], request)

        cursor = _LiveCursor(_stream_key(stream_name, stream_arn), start_selector, call)
        checkpointer = None
        if checkpoint is not None:
            from ..fleet.hook import StreamCheckpointer

            checkpointer = StreamCheckpointer(
                checkpoint, consumer, cursor.stream, restore=cursor.restore
            )
        return MediaStream(
            cursor,
            policy=_policy(resume),
            idle_timeout=idle_timeout,
            read_size=read_size,
            parser_factory=parser_factory,
            checkpointer=checkpointer,
            on_retry=self._config.on_retry,
        )


class ArchivedMediaMixin(_MediaOperations):
    """Adds ``get_media_for_fragment_list`` (typed chunks) to the archived-media client."""

    def get_media_for_fragment_list(
        self,
        *,
        fragments: Sequence[str],
        stream_name: str | None = None,
        stream_arn: str | None = None,
        resume: bool | ResumePolicy = True,
        read_size: int = _READ_SIZE,
        parser_factory: Callable[[], ChunkParser] | None = None,
    ) -> MediaStream:
        """Chunks of the listed fragments; after a drop, asks again for the ones not yet received."""
        from ..kinesis_video_archived_media import OPERATIONS, GetMediaForFragmentListInput

        def call(remaining: list[str]) -> Awaitable[ByteStream]:
            request = GetMediaForFragmentListInput(
                stream_name=stream_name, stream_arn=stream_arn, fragments=remaining
            )
            return self._open_media(OPERATIONS["GetMediaForFragmentList"], request)

        cursor = _ListCursor(_stream_key(stream_name, stream_arn), fragments, call)
        return MediaStream(
            cursor,
            policy=_policy(resume),
            read_size=read_size,
            parser_factory=parser_factory or _list_parser,
            on_retry=self._config.on_retry,
        )
