"""WebRTC ingestion sessions: JoinStorageSession and JoinStorageSessionAsViewer.

The emulator checks what KVS checks (the channel exists, media storage is enabled for it
with a stream that keeps data) and records who joined, the newest request taking
precedence as documented. It has no WebRTC media stack, so it sends no SDP offer and
stores no media from a session: record media with PutMedia instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from attrs import define, field

from .controlplane import ControlPlane, Wire, invalid
from .storage import Clock


@define(slots=True, kw_only=True, eq=False)
class StorageSession:
    """One channel's ingestion session: its producing master and its viewers."""

    channel_arn: str
    stream_arn: str
    started: float
    master_joined: float | None = None
    joins: int = 0
    viewers: dict[str, float] = field(factory=dict)  # client id -> when it joined


class StorageSessions:
    """The WebRTC storage sessions of one emulator, by channel ARN."""

    def __init__(self, *, control: ControlPlane, clock: Clock) -> None:
        self.control = control
        self.clock = clock
        self.sessions: dict[str, StorageSession] = {}

    def handlers(self) -> dict[str, Callable[[Wire], Awaitable[Wire]]]:
        return {
            "JoinStorageSession": self.join_storage_session,
            "JoinStorageSessionAsViewer": self.join_storage_session_as_viewer,
        }

    def _session(self, arn: str) -> StorageSession:
        channel = self.control.channel({"ChannelARN": arn})
        config = channel.get("MediaStorageConfiguration") or {}
        if config.get("Status") != "ENABLED":
            raise invalid(
                f"Signaling channel {channel['ChannelName']} has no media storage enabled: "
                "call UpdateMediaStorageConfiguration with a stream first."
            )
        stream = self.control.stream({"StreamARN": config["StreamARN"]})
        if int(stream["DataRetentionInHours"]) == 0:  # the model has no NoDataRetention here
            raise invalid(
                f"Stream {stream['StreamName']} keeps no data: WebRTC ingestion needs retention."
            )
        session = self.sessions.get(arn)
        if session is None or session.stream_arn != stream["StreamARN"]:
            session = StorageSession(
                channel_arn=arn, stream_arn=stream["StreamARN"], started=self.clock.now()
            )
            self.sessions[arn] = session
        return session

    async def join_storage_session(self, p: Wire) -> Wire:
        session = self._session(p["channelArn"])
        session.master_joined = self.clock.now()
        session.joins += 1
        return {}

    async def join_storage_session_as_viewer(self, p: Wire) -> Wire:
        session = self._session(p["channelArn"])
        session.viewers[p["clientId"]] = self.clock.now()
        return {}
