"""Chime SDK media pipelines: Kinesis Video stream pools and their tags.

A pool is created ``CREATING`` and turns ``ACTIVE`` after ``transition_delay`` seconds
(``FAILED`` when a ``stream_pool_failure`` fault is armed); an update goes ``UPDATING``
-> ``ACTIVE`` and a delete ``DELETING`` -> gone the same way. A pool that is changing
refuses updates and deletes with ``ConflictException``. ``ClientRequestToken`` makes
Create idempotent: the same token with the same input answers the same pool, with other
input a ``ConflictException``. State is kept in wire form and persisted like streams.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable

from .answers import ApiError, Wire, decode_token, encode_token
from .faults import Faults
from .storage import Clock, Persistence

KIND = "stream_pool"
#: Pools one account may have (the emulator's quota; AWS's is adjustable).
MAX_POOLS = 100
#: Tags one pool may carry (the Chime SDK's limit).
MAX_TAGS = 50
DEFAULT_PAGE = 100
_BUSY = ("CREATING", "UPDATING", "DELETING")


def _conflict(message: str) -> ApiError:
    return ApiError("ConflictException", message, 409)


def _bad(message: str) -> ApiError:
    return ApiError("BadRequestException", message, 400)


class StreamPools:
    """The Kinesis Video stream pools of one emulator, by pool name."""

    def __init__(
        self,
        *,
        region: str,
        account: str,
        clock: Clock,
        persistence: Persistence,
        faults: Faults,
        transition_delay: float,
    ) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self.persistence = persistence
        self.faults = faults
        self.transition_delay = transition_delay
        self.max_pools = MAX_POOLS
        self.pools: dict[str, Wire] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Callable[[Wire], Awaitable[Wire]]]:
        return {
            "CreateMediaPipelineKinesisVideoStreamPool": self.create,
            "GetMediaPipelineKinesisVideoStreamPool": self.get,
            "UpdateMediaPipelineKinesisVideoStreamPool": self.update,
            "DeleteMediaPipelineKinesisVideoStreamPool": self.delete,
            "ListMediaPipelineKinesisVideoStreamPools": self.list_pools,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # -- persistence and life cycle ---------------------------------------------------------

    def restore(self, resources: list[Wire]) -> None:
        for body in resources:
            if body.get("_kind") == KIND:
                pool = {k: v for k, v in body.items() if k != "_kind"}
                self.pools[pool["PoolName"]] = pool
                if pool["PoolStatus"] in _BUSY:
                    self._schedule(pool)

    async def _save(self, pool: Wire) -> None:
        await self.persistence.put_resource(pool["PoolArn"], KIND, {**pool, "_kind": KIND})

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _schedule(self, pool: Wire) -> None:
        loop = asyncio.get_running_loop()
        name, since = pool["PoolName"], pool["UpdatedTimestamp"]

        def fire() -> None:
            self._timers.discard(timer)
            task = loop.create_task(self._settle(name, since))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        timer = loop.call_later(self.transition_delay, fire)
        self._timers.add(timer)

    async def _settle(self, name: str, since: float) -> None:
        pool = self.pools.get(name)
        if pool is None or pool["UpdatedTimestamp"] != since:
            return  # deleted or changed again meanwhile
        if pool["PoolStatus"] == "DELETING":
            del self.pools[name]
            await self.persistence.delete_resource(pool["PoolArn"])
            return
        failed = self.faults.take("stream_pool_failure", None, name) is not None
        pool["PoolStatus"] = "FAILED" if failed else "ACTIVE"
        await self._save(pool)

    def _touch(self, pool: Wire, status: str) -> None:
        # Strictly increasing, so a timer armed by an older change never settles a newer one.
        now = max(round(self.clock.now(), 3), round(pool["UpdatedTimestamp"] + 0.001, 3))
        pool["UpdatedTimestamp"] = now
        pool["PoolStatus"] = status

    # -- lookups and views --------------------------------------------------------------------

    def find(self, identifier: str) -> Wire:
        """A pool by name or ARN (as the Identifier label allows)."""
        pool = self.pools.get(identifier)
        if pool is None:
            pool = next((p for p in self.pools.values() if p["PoolArn"] == identifier), None)
        if pool is None:
            raise ApiError(
                "NotFoundException",
                f"No Kinesis Video stream pool is named or has the ARN {identifier[:200]!r}.",
                404,
            )
        return pool

    @staticmethod
    def view(pool: Wire) -> Wire:
        keys = (
            "PoolArn",
            "PoolName",
            "PoolId",
            "PoolStatus",
            "PoolSize",
            "StreamConfiguration",
            "CreatedTimestamp",
            "UpdatedTimestamp",
        )
        return {"KinesisVideoStreamPoolConfiguration": {k: copy.deepcopy(pool[k]) for k in keys}}

    # -- operations ------------------------------------------------------------------------------

    async def create(self, p: Wire) -> Wire:
        name = p["PoolName"]
        token = p.get("ClientRequestToken")
        request = json.dumps(
            {k: p.get(k) for k in ("PoolName", "StreamConfiguration", "Tags")}, sort_keys=True
        )
        if token:
            # Only a digest of the token is kept: it is sensitive in the model.
            token = hashlib.sha256(token.encode()).hexdigest()
            for existing in self.pools.values():
                if existing.get("ClientRequestToken") == token:
                    if existing["Request"] != request:
                        raise _conflict(
                            "The ClientRequestToken was already used for a request with "
                            "different parameters."
                        )
                    return self.view(existing)
        if name in self.pools:
            raise _conflict(f"A Kinesis Video stream pool named {name} already exists.")
        if len(self.pools) >= self.max_pools:
            raise ApiError(
                "ResourceLimitExceededException",
                f"The account already has {len(self.pools)} Kinesis Video stream pools, "
                f"the most allowed.",
            )
        tags = self._merge_tags([], p.get("Tags") or [])
        now = round(self.clock.now(), 3)
        config = dict(p["StreamConfiguration"])
        config.setdefault("DataRetentionInHours", 0)
        pool: Wire = {
            "PoolArn": f"arn:aws:chime:{self.region}:{self.account}:"
            f"media-pipeline-kinesis-video-stream-pool/{name}",
            "PoolName": name,
            "PoolId": f"ChimeMediaPipelines-{name}-{uuid.uuid4()}",
            "PoolStatus": "CREATING",
            "PoolSize": 0,
            "StreamConfiguration": config,
            "CreatedTimestamp": now,
            "UpdatedTimestamp": now,
            "Tags": tags,
            "ClientRequestToken": token,
            "Request": request,
        }
        self.pools[name] = pool
        await self._save(pool)
        self._schedule(pool)
        return self.view(pool)

    async def get(self, p: Wire) -> Wire:
        return self.view(self.find(p["Identifier"]))

    async def update(self, p: Wire) -> Wire:
        pool = self.find(p["Identifier"])
        if pool["PoolStatus"] != "ACTIVE":
            raise _conflict(
                f"The pool {pool['PoolName']} is {pool['PoolStatus']}; it can be "
                "updated when ACTIVE."
            )
        change = p.get("StreamConfiguration") or {}
        if change.get("DataRetentionInHours") is not None:
            pool["StreamConfiguration"]["DataRetentionInHours"] = change["DataRetentionInHours"]
        self._touch(pool, "UPDATING")
        await self._save(pool)
        self._schedule(pool)
        return self.view(pool)

    async def delete(self, p: Wire) -> Wire:
        pool = self.find(p["Identifier"])
        if pool["PoolStatus"] in _BUSY:
            raise _conflict(
                f"The pool {pool['PoolName']} is {pool['PoolStatus']}; it can be "
                "deleted when ACTIVE or FAILED."
            )
        self._touch(pool, "DELETING")
        await self._save(pool)
        self._schedule(pool)
        return {}

    async def list_pools(self, p: Wire) -> Wire:
        pools = sorted(self.pools.values(), key=lambda x: str(x["PoolName"]))
        token = p.get("NextToken")
        if token:
            try:
                after = decode_token(token)
            except ApiError:
                raise _bad(f"NextToken {token[:40]!r} is not a token this service issued") from None
            pools = [x for x in pools if x["PoolName"] > after]
        limit = int(p.get("MaxResults") or DEFAULT_PAGE)
        page = pools[:limit]
        out: Wire = {
            "KinesisVideoStreamPools": [
                {k: x[k] for k in ("PoolName", "PoolId", "PoolArn")} for x in page
            ]
        }
        if len(pools) > limit and page:
            out["NextToken"] = encode_token(page[-1]["PoolName"])
        return out

    # -- tags ----------------------------------------------------------------------------------

    def _by_arn(self, arn: str) -> Wire:
        pool = next((x for x in self.pools.values() if x["PoolArn"] == arn), None)
        if pool is None:
            raise ApiError("NotFoundException", f"No resource has the ARN {arn[:200]!r}.", 404)
        return pool

    @staticmethod
    def _merge_tags(current: list[Wire], new: list[Wire]) -> list[Wire]:
        merged = {t["Key"]: t["Value"] for t in current}
        merged.update({t["Key"]: t["Value"] for t in new})
        if len(merged) > MAX_TAGS:
            raise _bad(
                f"A resource can have at most {MAX_TAGS} tags; this would make {len(merged)}."
            )
        return [{"Key": k, "Value": v} for k, v in merged.items()]

    async def tag_resource(self, p: Wire) -> Wire:
        pool = self._by_arn(p["ResourceARN"])
        pool["Tags"] = self._merge_tags(pool["Tags"], p["Tags"])
        await self._save(pool)
        return {}

    async def untag_resource(self, p: Wire) -> Wire:
        pool = self._by_arn(p["ResourceARN"])
        drop = set(p["TagKeys"])
        pool["Tags"] = [t for t in pool["Tags"] if t["Key"] not in drop]
        await self._save(pool)
        return {}

    async def list_tags_for_resource(self, p: Wire) -> Wire:
        return {"Tags": copy.deepcopy(self._by_arn(p["ResourceARN"])["Tags"])}
