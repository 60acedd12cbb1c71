"""The ``kinesisvideo`` control plane: streams, signaling channels, configurations (edge
configurations in ``edge``).

State is kept in wire form (the model's member names, timestamps as epoch seconds) so that
it persists as JSON unchanged and matches what AWS returns. Handlers take the validated
input in wire form and return the output in wire form; ``server`` converts both ways.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import string
from collections.abc import Awaitable, Callable

from .answers import (
    ApiError,
    Wire,
    decode_token,
    encode_token,
    invalid,
    not_found,
    paginate,
)
from .edge import EdgeConfigurations
from .faults import Faults
from .storage import Clock, Persistence

__all__ = [
    "DEFAULT_ACCOUNT",
    "ApiError",
    "ControlPlane",
    "Wire",
    "decode_token",
    "encode_token",
    "invalid",
    "not_found",
    "paginate",
]

MAX_TAGS = 50
DEFAULT_ACCOUNT = "123456789012"
_VERSION_ALPHABET = string.ascii_letters + string.digits


def new_version() -> str:
    return "".join(secrets.choice(_VERSION_ALPHABET) for _ in range(20))


class ControlPlane(EdgeConfigurations):
    """Control-plane state and operations of one emulator."""

    def __init__(
        self,
        *,
        region: str,
        account: str,
        clock: Clock,
        persistence: Persistence,
        faults: Faults,
        data_endpoint: Callable[[], str],
        edge_sync_delay: float,
        on_stream_deleted: Callable[[Wire], Awaitable[None]],
    ) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self.persistence = persistence
        self.faults = faults
        self.data_endpoint = data_endpoint
        self.edge_sync_delay = edge_sync_delay
        self.on_stream_deleted = on_stream_deleted
        self.streams: dict[str, Wire] = {}
        self.channels: dict[str, Wire] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- persistence ---------------------------------------------------------------------

    def restore(self, resources: list[Wire]) -> None:
        for body in resources:
            kind = body.pop("_kind", None)
            if kind == "stream":
                self.streams[body["StreamName"]] = body
                edge = body.get("EdgeConfiguration")
                if edge and edge["SyncStatus"] in ("SYNCING", "DELETING"):
                    self._schedule_edge(body)
            elif kind == "channel":
                self.channels[body["ChannelName"]] = body

    async def save_stream(self, stream: Wire) -> None:
        await self.persistence.put_resource(
            stream["StreamARN"], "stream", {**stream, "_kind": "stream"}
        )

    async def save_channel(self, channel: Wire) -> None:
        await self.persistence.put_resource(
            channel["ChannelARN"], "channel", {**channel, "_kind": "channel"}
        )

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- lookups -------------------------------------------------------------------------

    def arn(self, kind: str, name: str, created: float) -> str:
        return (
            f"arn:aws:kinesisvideo:{self.region}:{self.account}:{kind}/{name}/{int(created * 1000)}"
        )

    def stream(
        self, params: Wire, *, name_key: str = "StreamName", arn_key: str = "StreamARN"
    ) -> Wire:
        name = params.get(name_key)
        arn = params.get(arn_key)
        if not name and not arn:
            raise invalid(f"Either {name_key} or {arn_key} must be provided.")
        if name:
            found = self.streams.get(name)
            if found is None or (arn and found["StreamARN"] != arn):
                raise not_found()
            return found
        for candidate in self.streams.values():
            if candidate["StreamARN"] == arn:
                return candidate
        raise not_found()

    def stream_by_name(self, name: str) -> Wire | None:
        return self.streams.get(name)

    def channel(self, params: Wire) -> Wire:
        name = params.get("ChannelName")
        arn = params.get("ChannelARN")
        if not name and not arn:
            raise invalid("Either ChannelName or ChannelARN must be provided.")
        if name:
            found = self.channels.get(name)
            if found is None or (arn and found["ChannelARN"] != arn):
                raise not_found("channel")
            return found
        for candidate in self.channels.values():
            if candidate["ChannelARN"] == arn:
                return candidate
        raise not_found("channel")

    def resource(self, arn: str) -> tuple[str, Wire]:
        for stream in self.streams.values():
            if stream["StreamARN"] == arn:
                return "stream", stream
        for channel in self.channels.values():
            if channel["ChannelARN"] == arn:
                return "channel", channel
        raise ApiError(
            "ResourceNotFoundException", f"The resource {arn} is not found or not active.", 404
        )

    async def save(self, kind: str, body: Wire) -> None:
        if kind == "stream":
            await self.save_stream(body)
        else:
            await self.save_channel(body)

    @staticmethod
    def check_version(resource: Wire, version: str | None) -> None:
        if version is not None and version != resource["Version"]:
            raise ApiError(
                "VersionMismatchException",
                f"The version {version} does not match the current version {resource['Version']}.",
            )

    @staticmethod
    def add_tags(resource: Wire, tags: dict[str, str]) -> None:
        merged = {**resource.get("Tags", {}), **tags}
        if len(merged) > MAX_TAGS:
            raise ApiError(
                "TagsPerResourceExceededLimitException",
                f"A resource can have at most {MAX_TAGS} tags; this request would make {len(merged)}.",
            )
        resource["Tags"] = merged

    @staticmethod
    def stream_info(stream: Wire) -> Wire:
        keys = (
            "DeviceName",
            "StreamName",
            "StreamARN",
            "MediaType",
            "KmsKeyId",
            "Version",
            "Status",
            "CreationTime",
            "DataRetentionInHours",
        )
        return {k: stream[k] for k in keys if stream.get(k) is not None}

    @staticmethod
    def channel_info(channel: Wire) -> Wire:
        keys = (
            "ChannelName",
            "ChannelARN",
            "ChannelType",
            "ChannelStatus",
            "CreationTime",
            "SingleMasterConfiguration",
            "Version",
        )
        return {k: copy.deepcopy(channel[k]) for k in keys if channel.get(k) is not None}

    # -- streams -------------------------------------------------------------------------

    async def create_stream(self, p: Wire) -> Wire:
        name = p["StreamName"]
        if name in self.streams:
            raise ApiError("ResourceInUseException", f"The stream {name} already exists.")
        now = self.clock.now()
        stream: Wire = {
            "DeviceName": p.get("DeviceName"),
            "StreamName": name,
            "StreamARN": self.arn("stream", name, now),
            "MediaType": p.get("MediaType"),
            "KmsKeyId": p.get("KmsKeyId")
            or f"arn:aws:kms:{self.region}:{self.account}:alias/aws/kinesisvideo",
            "Version": new_version(),
            "Status": "ACTIVE",
            "CreationTime": round(now, 3),
            "DataRetentionInHours": int(p.get("DataRetentionInHours") or 0),
            "Tags": {},
            "StreamStorageConfiguration": p.get("StreamStorageConfiguration")
            or {"DefaultStorageTier": "HOT"},
        }
        self.add_tags(stream, dict(p.get("Tags") or {}))
        self.streams[name] = stream
        await self.save_stream(stream)
        return {"StreamARN": stream["StreamARN"]}

    async def describe_stream(self, p: Wire) -> Wire:
        return {"StreamInfo": self.stream_info(self.stream(p))}

    async def list_streams(self, p: Wire) -> Wire:
        items = list(self.streams.values())
        cond = p.get("StreamNameCondition")
        if cond and cond.get("ComparisonValue") is not None:
            prefix = cond["ComparisonValue"]
            items = [s for s in items if s["StreamName"].startswith(prefix)]
        page, extra = paginate(items, "StreamName", p, 10000)
        return {"StreamInfoList": [self.stream_info(s) for s in page], **extra}

    async def delete_stream(self, p: Wire) -> Wire:
        stream = self.stream({"StreamARN": p["StreamARN"]})
        self.check_version(stream, p.get("CurrentVersion"))
        del self.streams[stream["StreamName"]]
        await self.persistence.delete_resource(stream["StreamARN"])
        await self.on_stream_deleted(stream)
        return {}

    async def update_stream(self, p: Wire) -> Wire:
        stream = self.stream(p)
        self.check_version(stream, p["CurrentVersion"])
        for key in ("DeviceName", "MediaType"):
            if p.get(key) is not None:
                stream[key] = p[key]
        stream["Version"] = new_version()
        await self.save_stream(stream)
        return {}

    async def update_data_retention(self, p: Wire) -> Wire:
        stream = self.stream(p)
        self.check_version(stream, p["CurrentVersion"])
        change = int(p["DataRetentionChangeInHours"])
        current = int(stream["DataRetentionInHours"])
        if p["Operation"] == "INCREASE_DATA_RETENTION":
            new = current + change
        else:
            new = current - change
            if new < 0:
                raise invalid(
                    f"Cannot decrease data retention by {change} hours: the stream keeps "
                    f"{current} hours."
                )
        if new > 87600:
            raise invalid(f"Data retention of {new} hours exceeds the maximum of 87600 hours.")
        stream["DataRetentionInHours"] = new
        stream["Version"] = new_version()
        await self.save_stream(stream)
        return {}

    async def get_data_endpoint(self, p: Wire) -> Wire:
        self.stream(p)
        return {"DataEndpoint": self.data_endpoint()}

    async def tag_stream(self, p: Wire) -> Wire:
        stream = self.stream(p)
        self.add_tags(stream, dict(p["Tags"]))
        await self.save_stream(stream)
        return {}

    async def untag_stream(self, p: Wire) -> Wire:
        stream = self.stream(p)
        for key in p["TagKeyList"]:
            stream["Tags"].pop(key, None)
        await self.save_stream(stream)
        return {}

    async def list_tags_for_stream(self, p: Wire) -> Wire:
        return {"Tags": dict(self.stream(p).get("Tags", {}))}

    async def tag_resource(self, p: Wire) -> Wire:
        kind, res = self.resource(p["ResourceARN"])
        self.add_tags(res, {t["Key"]: t["Value"] for t in p["Tags"]})
        await self.save(kind, res)
        return {}

    async def untag_resource(self, p: Wire) -> Wire:
        kind, res = self.resource(p["ResourceARN"])
        for key in p["TagKeyList"]:
            res.get("Tags", {}).pop(key, None)
        await self.save(kind, res)
        return {}

    async def list_tags_for_resource(self, p: Wire) -> Wire:
        _, res = self.resource(p["ResourceARN"])
        return {"Tags": dict(res.get("Tags", {}))}

    # -- stream configurations ---------------------------------------------------------------

    @staticmethod
    def require_retention(stream: Wire, what: str) -> None:
        if int(stream["DataRetentionInHours"]) == 0:
            raise ApiError(
                "NoDataRetentionException",
                f"{what} requires data retention: stream {stream['StreamName']} keeps 0 hours.",
            )

    async def update_image_generation_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        config = p.get("ImageGenerationConfiguration")
        if config and config.get("Status") == "ENABLED":
            self.require_retention(stream, "Image generation")
        stream["ImageGenerationConfiguration"] = config
        await self.save_stream(stream)
        return {}

    async def describe_image_generation_configuration(self, p: Wire) -> Wire:
        config = self.stream(p).get("ImageGenerationConfiguration")
        return {"ImageGenerationConfiguration": config} if config else {}

    async def update_notification_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        config = p.get("NotificationConfiguration")
        if config and config.get("Status") == "ENABLED":
            self.require_retention(stream, "Notifications")
        stream["NotificationConfiguration"] = config
        await self.save_stream(stream)
        return {}

    async def describe_notification_configuration(self, p: Wire) -> Wire:
        config = self.stream(p).get("NotificationConfiguration")
        return {"NotificationConfiguration": config} if config else {}

    async def describe_stream_storage_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        return {
            "StreamName": stream["StreamName"],
            "StreamARN": stream["StreamARN"],
            "StreamStorageConfiguration": stream.get("StreamStorageConfiguration")
            or {"DefaultStorageTier": "HOT"},
        }

    async def update_stream_storage_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        self.check_version(stream, p["CurrentVersion"])
        stream["StreamStorageConfiguration"] = p["StreamStorageConfiguration"]
        stream["Version"] = new_version()
        await self.save_stream(stream)
        return {}

    async def describe_mapped_resource_configuration(self, p: Wire) -> Wire:
        stream = self.stream(p)
        items = [
            {"Type": "MEDIA_STORAGE_CONFIGURATION", "ARN": c["ChannelARN"]}
            for c in self.channels.values()
            if (c.get("MediaStorageConfiguration") or {}).get("StreamARN") == stream["StreamARN"]
            and c["MediaStorageConfiguration"].get("Status") == "ENABLED"
        ]
        page, extra = paginate(items, "ARN", p, 1)
        return {"MappedResourceConfigurationList": page, **extra}

    # -- signaling channels ----------------------------------------------------------------

    async def create_signaling_channel(self, p: Wire) -> Wire:
        name = p["ChannelName"]
        if name in self.channels:
            raise ApiError(
                "ResourceInUseException", f"The signaling channel {name} already exists."
            )
        now = self.clock.now()
        smc = dict(p.get("SingleMasterConfiguration") or {})
        smc.setdefault("MessageTtlSeconds", 60)
        channel: Wire = {
            "ChannelName": name,
            "ChannelARN": self.arn("channel", name, now),
            "ChannelType": p.get("ChannelType") or "SINGLE_MASTER",
            "ChannelStatus": "ACTIVE",
            "CreationTime": round(now, 3),
            "SingleMasterConfiguration": smc,
            "Version": new_version(),
            "Tags": {},
        }
        self.add_tags(channel, {t["Key"]: t["Value"] for t in p.get("Tags") or []})
        self.channels[name] = channel
        await self.save_channel(channel)
        return {"ChannelARN": channel["ChannelARN"]}

    async def describe_signaling_channel(self, p: Wire) -> Wire:
        return {"ChannelInfo": self.channel_info(self.channel(p))}

    async def list_signaling_channels(self, p: Wire) -> Wire:
        items = list(self.channels.values())
        cond = p.get("ChannelNameCondition")
        if cond and cond.get("ComparisonValue") is not None:
            items = [c for c in items if c["ChannelName"].startswith(cond["ComparisonValue"])]
        page, extra = paginate(items, "ChannelName", p, 10000)
        return {"ChannelInfoList": [self.channel_info(c) for c in page], **extra}

    async def update_signaling_channel(self, p: Wire) -> Wire:
        channel = self.channel({"ChannelARN": p["ChannelARN"]})
        self.check_version(channel, p["CurrentVersion"])
        if p.get("SingleMasterConfiguration"):
            channel["SingleMasterConfiguration"] = {
                **channel["SingleMasterConfiguration"],
                **p["SingleMasterConfiguration"],
            }
        channel["Version"] = new_version()
        await self.save_channel(channel)
        return {}

    async def delete_signaling_channel(self, p: Wire) -> Wire:
        channel = self.channel({"ChannelARN": p["ChannelARN"]})
        self.check_version(channel, p.get("CurrentVersion"))
        del self.channels[channel["ChannelName"]]
        await self.persistence.delete_resource(channel["ChannelARN"])
        return {}

    async def get_signaling_channel_endpoint(self, p: Wire) -> Wire:
        self.channel({"ChannelARN": p["ChannelARN"]})
        config = p.get("SingleMasterChannelEndpointConfiguration") or {}
        protocols = config.get("Protocols") or ["WSS", "HTTPS"]
        base = self.data_endpoint()
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        endpoints = {"WSS": ws, "HTTPS": base, "WEBRTC": base}
        return {
            "ResourceEndpointList": [
                {"Protocol": proto, "ResourceEndpoint": endpoints[proto]} for proto in protocols
            ]
        }

    async def update_media_storage_configuration(self, p: Wire) -> Wire:
        channel = self.channel({"ChannelARN": p["ChannelARN"]})
        config = p["MediaStorageConfiguration"]
        if config.get("Status") == "ENABLED":
            if not config.get("StreamARN"):
                raise invalid("MediaStorageConfiguration.StreamARN is required when ENABLED.")
            stream = self.stream({"StreamARN": config["StreamARN"]})
            self.require_retention(stream, "Media storage")
        channel["MediaStorageConfiguration"] = config
        await self.save_channel(channel)
        return {}

    async def describe_media_storage_configuration(self, p: Wire) -> Wire:
        channel = self.channel(p)
        config = channel.get("MediaStorageConfiguration") or {"Status": "DISABLED"}
        return {"MediaStorageConfiguration": config}
