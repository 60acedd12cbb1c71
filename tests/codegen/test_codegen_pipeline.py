"""The generator end to end: freshness, model changes, refusals, and a client from an inline model."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from codegen_helpers import ROOT

from codegen.__main__ import main as codegen_main
from codegen.emit import HEADER
from codegen.generate import module_from_model, render, write
from codegen.lower import ModelError, lower
from kvs_async import Credentials, ServiceError, protocol


def test_committed_bindings_are_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen_main(["--check"]) == 0, capsys.readouterr().out


def test_generated_header_and_names() -> None:
    from kvs_async import kinesis_video_archived_media as am
    from kvs_async import kinesis_video_media as media
    from kvs_async import kinesisvideo as kv

    text = (ROOT / "src/kvs_async/kinesisvideo.py").read_text()
    assert text.startswith(
        HEADER.format(source="specs/kinesisvideo/service-2.json", again="python -m codegen")
    )
    assert kv.KinesisVideoClient.SERVICE is kv.SERVICE
    assert "stream_arn" in _fields(kv.DescribeStreamInput)
    assert "max_local_media_size_in_mb" in _fields(kv.LocalSizeConfig)
    assert "api_name" in _fields(kv.GetDataEndpointInput)
    assert issubclass(kv.ResourceNotFoundException, ServiceError)
    assert kv.SERVICE.errors["ResourceNotFoundException"] is kv.ResourceNotFoundException
    assert hasattr(kv.KinesisVideoClient, "paginate_list_streams")
    assert hasattr(media.KinesisVideoMediaClient, "_get_media")
    assert not hasattr(media.KinesisVideoMediaClient, "paginate_get_media")
    assert hasattr(am.KinesisVideoArchivedMediaClient, "_get_media_for_fragment_list")
    assert "GetMediaMixin" in [c.__name__ for c in media.KinesisVideoMediaClient.__mro__]
    assert kv.APIName.GET_MEDIA == "GET_MEDIA"
    assert kv.StrategyOnFullSize("DELETE_OLDEST_MEDIA") is kv.StrategyOnFullSize.DELETE_OLDEST_MEDIA


def _fields(cls: type) -> set[str]:
    import attrs

    return {f.name for f in attrs.fields(cls)}


def _import_file(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"kvs_async.{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_model_change_appears_in_bindings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    (specs / "manifest.json").unlink()  # the copy is deliberately edited
    model_path = specs / "kinesisvideo" / "service-2.json"
    model = json.loads(model_path.read_text())
    model["shapes"]["DescribeStreamInput"]["members"]["IncludeDeleted"] = {
        "shape": "Boolean",
        "documentation": "<p>Also show deleted streams.</p>",
    }
    model["shapes"].setdefault("Boolean", {"type": "boolean"})
    model["shapes"]["FrobnicateStreamInput"] = {
        "type": "structure",
        "required": ["StreamName"],
        "members": {"StreamName": {"shape": "StreamName"}, "Level": {"shape": "FrobLevel"}},
    }
    model["shapes"]["FrobLevel"] = {"type": "string", "enum": ["LOW", "HIGH"]}
    model["shapes"]["FrobnicateStreamOutput"] = {
        "type": "structure",
        "members": {"Frobbed": {"shape": "Boolean"}},
    }
    model["operations"]["FrobnicateStream"] = {
        "name": "FrobnicateStream",
        "http": {"method": "POST", "requestUri": "/frobnicateStream"},
        "input": {"shape": "FrobnicateStreamInput"},
        "output": {"shape": "FrobnicateStreamOutput"},
        "errors": [{"shape": "ResourceNotFoundException"}],
        "documentation": "<p>Frobnicates a stream.</p>",
    }
    model_path.write_text(json.dumps(model, indent=2))

    # The committed bindings are now stale: --check fails and shows the new method.
    assert codegen_main(["--check", "--specs", str(specs)]) == 1
    out = capsys.readouterr().out
    assert "+    async def frobnicate_stream(" in out
    assert "+    include_deleted: bool | None = None" in out

    # Regenerate into a scratch package folder and import the result.
    outdir = tmp_path / "out"
    write(render(specs), outdir)
    mod = _import_file(outdir / "kinesisvideo.py", "_changed_kinesisvideo")
    assert "include_deleted" in _fields(mod.DescribeStreamInput)
    assert hasattr(mod.KinesisVideoClient, "frobnicate_stream")
    assert mod.FrobLevel.HIGH == "HIGH"
    op = mod.OPERATIONS["FrobnicateStream"]
    req = protocol.serialize_request(
        mod.SERVICE, op, mod.FrobnicateStreamInput(stream_name="s", level=mod.FrobLevel.LOW)
    )
    assert (req.path, json.loads(req.body)) == (
        "/frobnicateStream",
        {"StreamName": "s", "Level": "LOW"},
    )
    req = protocol.serialize_request(
        mod.SERVICE,
        mod.OPERATIONS["DescribeStream"],
        mod.DescribeStreamInput(stream_name="s", include_deleted=True),
    )
    assert json.loads(req.body) == {"StreamName": "s", "IncludeDeleted": True}


def test_unsupported_constructs_are_named_together() -> None:
    model = {
        "metadata": {"protocol": "rest-json", "apiVersion": "1"},
        "operations": {
            "Op": {
                "name": "Op",
                "http": {"method": "GET", "requestUri": "/x/{Id}"},
                "input": {"shape": "OpInput"},
            }
        },
        "shapes": {
            "OpInput": {
                "type": "structure",
                "members": {
                    "Events": {"shape": "EventStream"},
                    "Ghost": {"shape": "NoSuchShape"},
                    "Where": {"shape": "Str", "location": "cookie"},
                },
            },
            "EventStream": {"type": "structure", "eventstream": True, "members": {}},
            "Str": {"type": "string"},
            "Weird": {"type": "bignum"},
        },
    }
    with pytest.raises(ModelError) as info:
        lower("svc", model)
    text = str(info.value)
    for needle in ("NoSuchShape", "Where", "Weird", "URI label 'Id'"):
        assert needle in text, needle
    assert len(info.value.problems) == 4


def test_event_stream_operations_are_left_out_with_a_warning() -> None:
    """Event streams are refused per operation (named), the rest of the service generates."""
    model = {
        "metadata": {"protocol": "rest-json", "apiVersion": "1"},
        "operations": {
            "Subscribe": {
                "name": "Subscribe",
                "http": {"method": "POST", "requestUri": "/s"},
                "output": {"shape": "SubscribeOutput"},
            },
            "Ping": {"name": "Ping", "http": {"method": "POST", "requestUri": "/p"}},
        },
        "shapes": {
            "SubscribeOutput": {
                "type": "structure",
                "members": {"Events": {"shape": "Events"}},
                "payload": "Events",
            },
            "Events": {
                "type": "structure",
                "eventstream": True,
                "members": {"Tick": {"shape": "Tick"}},
            },
            "Tick": {"type": "structure", "members": {}, "event": True},
        },
    }
    service = lower("svc", model)
    assert list(service.operations) == ["Ping"]
    assert service.warnings == (
        "operation Subscribe: left out: SubscribeOutput carries the event stream Events "
        "(application/vnd.amazon.eventstream is not supported)",
    )


# -- a client generated from a small inline model, against a loopback server ------------------------

INLINE_MODEL: dict[str, Any] = {
    "metadata": {
        "protocol": "rest-json",
        "apiVersion": "2024-01-01",
        "endpointPrefix": "kinesisvideo",
        "signingName": "kinesisvideo",
        "serviceId": "Widgets",
        "serviceFullName": "Widget Service",
    },
    "operations": {
        "PutWidget": {
            "name": "PutWidget",
            "http": {
                "method": "PUT",
                "requestUri": "/widgets/{WidgetId}?op=put",
                "responseCode": 201,
            },
            "input": {"shape": "PutWidgetInput"},
            "output": {"shape": "PutWidgetOutput"},
            "errors": [{"shape": "WidgetConflict"}],
        },
        "ListWidgets": {
            "name": "ListWidgets",
            "http": {"method": "GET", "requestUri": "/widgets"},
            "input": {"shape": "ListWidgetsInput"},
            "output": {"shape": "ListWidgetsOutput"},
        },
    },
    "shapes": {
        "PutWidgetInput": {
            "type": "structure",
            "required": ["WidgetId", "Color"],
            "members": {
                "WidgetId": {"shape": "WidgetId", "location": "uri", "locationName": "WidgetId"},
                "Color": {"shape": "Color", "location": "querystring", "locationName": "color"},
                "Labels": {"shape": "Labels", "location": "header", "locationName": "X-Labels"},
                "Size": {"shape": "Size"},
                "MadeAt": {"shape": "Time"},
            },
        },
        "PutWidgetOutput": {
            "type": "structure",
            "members": {
                "WidgetArn": {"shape": "WidgetId"},
                "Etag": {"shape": "WidgetId", "location": "header", "locationName": "ETag"},
            },
        },
        "ListWidgetsInput": {
            "type": "structure",
            "members": {
                "MaxResults": {"shape": "Size", "location": "querystring", "locationName": "max"},
                "NextToken": {
                    "shape": "WidgetId",
                    "location": "querystring",
                    "locationName": "next",
                },
            },
        },
        "ListWidgetsOutput": {
            "type": "structure",
            "members": {"Widgets": {"shape": "WidgetList"}, "NextToken": {"shape": "WidgetId"}},
        },
        "WidgetList": {"type": "list", "member": {"shape": "Widget"}},
        "Widget": {
            "type": "structure",
            "members": {
                "WidgetId": {"shape": "WidgetId"},
                "Color": {"shape": "Color"},
                "MadeAt": {"shape": "Time"},
            },
        },
        "WidgetConflict": {
            "type": "structure",
            "members": {"Message": {"shape": "WidgetId"}},
            "error": {"httpStatusCode": 409},
            "exception": True,
        },
        "WidgetId": {"type": "string", "min": 1, "max": 64},
        "Color": {"type": "string", "enum": ["RED", "BLUE"]},
        "Labels": {"type": "list", "member": {"shape": "WidgetId"}},
        "Size": {"type": "integer", "min": 1, "max": 100},
        "Time": {"type": "timestamp"},
    },
}
INLINE_PAGINATORS = {
    "pagination": {
        "ListWidgets": {
            "input_token": "NextToken",
            "output_token": "NextToken",
            "limit_key": "MaxResults",
            "result_key": "Widgets",
        }
    }
}


async def test_client_generated_from_inline_model() -> None:
    mod = module_from_model(
        "kinesisvideo", INLINE_MODEL, INLINE_PAGINATORS, client_class="WidgetClient", formatted=True
    )
    assert mod.__source__.startswith("# generated by codegen from <inline model kinesisvideo>")
    service = mod.SERVICE
    widgets: dict[str, Any] = {}
    seen: list[tuple[str, str, list[tuple[str, str]]]] = []

    async def handle(request: web.Request) -> web.Response:
        query = list(request.query.items())
        path = request.raw_path.split("?", 1)[0]
        seen.append((request.method, path, query))
        found = protocol.match_operation(service, request.method, path, query=query)
        assert found is not None, (request.method, path)
        op, labels = found
        value = protocol.decode_request(
            service,
            op,
            path_labels=labels,
            query=query,
            headers=request.headers,
            body=await request.read(),
        )
        if op.name == "PutWidget":
            if value.widget_id in widgets:
                status, headers, body = protocol.encode_error(
                    mod.WidgetConflict("exists", status_code=409, request_id="req-1")
                )
                return web.Response(status=status, headers=headers, body=body)
            widgets[value.widget_id] = mod.Widget(
                widget_id=value.widget_id, color=value.color, made_at=value.made_at
            )
            output = mod.PutWidgetOutput(
                widget_arn=f"arn:{value.widget_id}", etag="|".join(value.labels or ())
            )
        else:
            ids = sorted(widgets)
            start = ids.index(value.next_token) if value.next_token else 0
            page = ids[start : start + (value.max_results or 2)]
            rest = ids[start + len(page) :]
            output = mod.ListWidgetsOutput(
                widgets=[widgets[i] for i in page], next_token=rest[0] if rest else None
            )
        status, headers, body = protocol.encode_response(service, op, output)
        return web.Response(status=status, headers=headers, body=body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with mod.WidgetClient(
            region="us-west-2",
            credentials=Credentials("AKIDEXAMPLE", "secret"),
            endpoint_url=f"http://127.0.0.1:{port}",
        ) as client:
            from datetime import UTC, datetime

            made = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
            out = await client.put_widget(
                widget_id="w/1 ä", color=mod.Color.RED, labels=["a", "b,c"], made_at=made
            )
            assert out.widget_arn == "arn:w/1 ä"
            assert out.etag == "a|b,c"
            assert seen[-1][1] == "/widgets/w%2F1%20%C3%A4"
            for i in range(4):
                await client.put_widget(widget_id=f"x{i}", color="BLUE", size=3)
            with pytest.raises(mod.WidgetConflict) as info:
                await client.put_widget(widget_id="x0", color="BLUE")
            assert (info.value.code, info.value.status_code) == ("WidgetConflict", 409)
            pages = [page async for page in client.paginate_list_widgets(max_results=2)]
            assert [len(p.widgets) for p in pages] == [2, 2, 1]
            listed = [w for p in pages for w in p.widgets]
            assert listed[0].color is mod.Color.RED and listed[0].made_at == made
            assert [q for (_m, _p, q) in seen if _m == "GET"][1] == [("max", "2"), ("next", "x1")]
    finally:
        await runner.cleanup()
