"""The shared pagination loop behind every generated ``paginate_*`` method."""

from __future__ import annotations

from typing import Any

from kvs_async import kinesis_video_archived_media as am
from kvs_async import kinesisvideo as kv


class _Pages:
    """Stands in for BaseClient._invoke: answers ListStreams from a list of pages."""

    def __init__(self, tokens: list[str | None]) -> None:
        self.tokens = tokens
        self.calls: list[Any] = []

    async def _invoke(self, op: Any, params: Any) -> Any:
        self.calls.append(params)
        i = len(self.calls) - 1
        return kv.ListStreamsOutput(
            stream_info_list=[kv.StreamInfo(stream_name=f"s{i}")], next_token=self.tokens[i]
        )


async def test_follows_tokens_until_absent() -> None:
    pages = _Pages(["t1", "t2", None])
    got = [p async for p in kv.KinesisVideoClient.paginate_list_streams(pages, max_results=1)]  # type: ignore[arg-type]
    assert [p.stream_info_list[0].stream_name for p in got] == ["s0", "s1", "s2"]
    assert [c.next_token for c in pages.calls] == [None, "t1", "t2"]
    assert all(c.max_results == 1 for c in pages.calls)


async def test_stops_when_service_repeats_a_token() -> None:
    pages = _Pages(["t1", "t1", "t1", None])
    got = [p async for p in kv.KinesisVideoClient.paginate_list_streams(pages)]  # type: ignore[arg-type]
    assert len(got) == 2


async def test_empty_token_ends_and_spec_matches_model() -> None:
    pages = _Pages([""])
    got = [p async for p in kv.KinesisVideoClient.paginate_list_streams(pages)]  # type: ignore[arg-type]
    assert len(got) == 1
    spec = am.OPERATIONS["ListFragments"].paginator
    assert spec is not None
    assert (spec.input_token, spec.output_token, spec.limit_key, spec.result_key) == (
        ("next_token",),
        ("next_token",),
        "max_results",
        ("fragments",),
    )
