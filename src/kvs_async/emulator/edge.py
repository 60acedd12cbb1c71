"""Edge configurations of streams: StartEdgeConfigurationUpdate and its life cycle.

SYNCING -> IN_SYNC (or SYNC_FAILED when an ``edge_sync_failure`` fault is armed) and
DELETING -> gone (or DELETE_FAILED) after ``edge_sync_delay`` seconds. A mixin of
:class:`~kvs_async.emulator.controlplane.ControlPlane`, whose lookups it uses.
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING

from .answers import ApiError, Wire, paginate
from .faults import Faults
from .storage import Clock

#: ListEdgeAgentConfigurations' page size without MaxResults.
EDGE_CONFIGS_PAGE = 5


class EdgeConfigurations:
    """The edge-configuration operations; state lives on the streams themselves."""

    clock: Clock
    faults: Faults
    edge_sync_delay: float
    streams: dict[str, Wire]
    _timers: set[asyncio.TimerHandle]
    _tasks: set[asyncio.Task[None]]

    if TYPE_CHECKING:  # provided by ControlPlane

        def stream(
            self, params: Wire, *, name_key: str = "StreamName", arn_key: str = "StreamARN"
        ) -> Wire: ...

        async def save_stream(self, stream: Wire) -> None: ...

        @staticmethod
        def require_retention(stream: Wire, what: str) -> None: ...

    def edge_view(self, stream: Wire, *, agent_status: bool = False) -> Wire:
        edge = stream["EdgeConfiguration"]
        out: Wire = {
            "StreamName": stream["StreamName"],
            "StreamARN": stream["StreamARN"],
            "CreationTime": edge["CreationTime"],
            "LastUpdatedTime": edge["LastUpdatedTime"],
            "SyncStatus": edge["SyncStatus"],
            "EdgeConfig": copy.deepcopy(edge["EdgeConfig"]),
        }
        if edge.get("FailedStatusDetails"):
            out["FailedStatusDetails"] = edge["FailedStatusDetails"]
        return out

    def edge_of(self, stream: Wire) -> Wire:
        edge = stream.get("EdgeConfiguration")
        if edge is None:
            raise ApiError(
                "StreamEdgeConfigurationNotFoundException",
                f"The stream {stream['StreamName']} has no edge configuration.",
                404,
            )
        return dict(edge)

    async def start_edge_configuration_update(self, p: Wire) -> Wire:
        stream = self.stream(p)
        self.require_retention(stream, "An edge configuration")
        edge = stream.get("EdgeConfiguration")
        now = round(self.clock.now(), 3)
        if edge is not None and edge["SyncStatus"] in ("SYNCING", "DELETING"):
            raise ApiError(
                "ResourceInUseException",
                f"The edge configuration of stream {stream['StreamName']} is "
                f"{edge['SyncStatus']}; retry when the update has finished.",
            )
        stream["EdgeConfiguration"] = {
            "CreationTime": edge["CreationTime"] if edge else now,
            "LastUpdatedTime": now,
            "SyncStatus": "SYNCING",
            "EdgeConfig": p["EdgeConfig"],
        }
        await self.save_stream(stream)
        self._schedule_edge(stream)
        return self.edge_view(stream)

    async def describe_edge_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        self.edge_of(stream)
        return self.edge_view(stream)

    async def delete_edge_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        edge = self.edge_of(stream)
        if edge["SyncStatus"] == "DELETING":
            raise ApiError(
                "ResourceInUseException",
                f"The edge configuration of stream {stream['StreamName']} is already being deleted.",
            )
        edge["SyncStatus"] = "DELETING"
        edge["LastUpdatedTime"] = round(self.clock.now(), 3)
        edge.pop("FailedStatusDetails", None)
        stream["EdgeConfiguration"] = edge
        await self.save_stream(stream)
        self._schedule_edge(stream)
        return {}

    async def list_edge_agent_configurations(self, p: Wire) -> Wire:
        hub = p["HubDeviceArn"]
        items = [
            self.edge_view(s)
            for s in self.streams.values()
            if s.get("EdgeConfiguration")
            and s["EdgeConfiguration"]["EdgeConfig"].get("HubDeviceArn") == hub
        ]
        # "The default is 5" (the model's MaxResults documentation; the maximum is 10).
        page, extra = paginate(items, "StreamName", p, EDGE_CONFIGS_PAGE)
        return {"EdgeConfigs": page, **extra}

    def _schedule_edge(self, stream: Wire) -> None:
        loop = asyncio.get_running_loop()
        name = stream["StreamName"]
        started = stream["EdgeConfiguration"]["LastUpdatedTime"]

        timers: list[asyncio.TimerHandle] = []

        def fire() -> None:
            for timer in timers:
                self._timers.discard(timer)
            task = loop.create_task(self._finish_edge(name, started))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        timers.append(loop.call_later(self.edge_sync_delay, fire))
        self._timers.update(timers)

    async def _finish_edge(self, name: str, started: float) -> None:
        stream = self.streams.get(name)
        edge = stream.get("EdgeConfiguration") if stream else None
        if stream is None or edge is None or edge["LastUpdatedTime"] != started:
            return  # deleted or superseded meanwhile
        failure = self.faults.take("edge_sync_failure", None, name)
        now = round(self.clock.now(), 3)
        if edge["SyncStatus"] == "SYNCING":
            edge["SyncStatus"] = "SYNC_FAILED" if failure else "IN_SYNC"
        elif edge["SyncStatus"] == "DELETING":
            if failure is None:
                stream.pop("EdgeConfiguration", None)
                await self.save_stream(stream)
                return
            edge["SyncStatus"] = "DELETE_FAILED"
        else:
            return
        if failure is not None:
            edge["FailedStatusDetails"] = failure.details
        edge["LastUpdatedTime"] = now
        await self.save_stream(stream)
