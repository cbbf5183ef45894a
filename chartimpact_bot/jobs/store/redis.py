"""The shared job store: Redis, for several instances of the App working one queue.

Every change is one Lua script (redis_scripts.py), so it is atomic against every other
instance; reads are single commands or pipelines of them. Keys live under a prefix, so several
deployments (or tests) can share one server.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..model import Job, iso
from . import redis_scripts as lua
from .base import (
    DELIVERY_WINDOW_SECONDS,
    STATES,
    Added,
    Clock,
    Page,
    Retention,
    StoreError,
    check_saved_state,
    check_states,
    merge_newest,
    parse_cursor,
)
from .codec import from_record, to_record

LOST_WORKER = "the worker running this job stopped; queued again"
# The delivery key outlives the window a little; the scripts compare times themselves, so
# dedup follows the store's clock and Redis only collects what is surely stale.
DELIVERY_TTL_SECONDS = DELIVERY_WINDOW_SECONDS + 3600
PRUNE_BATCH = 500


class RedisJobStore:
    def __init__(self, client: aioredis.Redis, *, prefix: str, clock: Clock = time.time, where: str = "redis") -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock
        self._where = where
        self._scripts = {name: client.register_script(getattr(lua, name)) for name in lua.SCRIPTS}

    @classmethod
    async def open(cls, url: str, *, prefix: str, clock: Clock = time.time) -> RedisJobStore:
        url, prefix = _split_prefix(url, prefix)
        parts = urlsplit(url)
        where = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"  # no password
        store = cls(aioredis.Redis.from_url(url), prefix=prefix, clock=clock, where=where)
        try:
            await store.ping()
        except BaseException:
            await store.close()
            raise
        return store

    # -- the protocol ---------------------------------------------------------------------

    async def add(self, job: Job) -> Added:
        now = self._clock()
        pairs = [str(part) for item in to_record(job).items() for part in item]
        outcome, record, superseded = await self._call(
            "ADD", now, iso(now), DELIVERY_WINDOW_SECONDS, DELIVERY_TTL_SECONDS, *pairs
        )
        stored = _job(record)
        if outcome == b"created":
            _copy_into(job, stored)
            stored = job
        return Added(
            stored,
            created=outcome == b"created",
            revived=outcome == b"revived",
            superseded=[_job(r) for r in superseded],
        )

    async def get(self, job_id: str) -> Job | None:
        record = await self._do(self._redis.hgetall(self._key("job", job_id)))
        return from_record(_decode(record)) if record else None

    async def for_delivery(self, delivery_id: str) -> Job | None:
        seen = await self._do(self._redis.get(self._key("delivery", delivery_id)))
        if seen is None:
            return None
        job_id, _, at = bytes(seen).decode().partition("|")
        if float(at) <= self._clock() - DELIVERY_WINDOW_SECONDS:
            return None
        return await self.get(job_id)

    async def claim(self, owner: str, lease: float, *, installation_cap: int | None = None) -> Job | None:
        now = self._clock()
        # A token per claim (see sqlite.py): the worker of an earlier claim is not the holder.
        token = f"{owner}/{uuid.uuid4().hex[:12]}"
        record = await self._call("CLAIM", now, iso(now), repr(now + lease), token, installation_cap or 0)
        return _job(record) if record else None

    async def renew(self, job: Job, lease: float) -> bool:
        until = self._clock() + lease
        renewed = await self._call("RENEW", job.id, job.lease_owner or "", repr(until))
        if renewed == 1:
            job.lease_until = until
        return bool(renewed == 1)

    async def save(self, job: Job) -> bool:
        check_saved_state(job)
        now = self._clock()
        record = await self._call(
            "SAVE",
            now,
            iso(now),
            job.id,
            job.lease_owner or "",
            job.state,
            *_writable(job),
            *_optional(job.finished_at),
            *_optional(job.close_owed if job.state != "running" else None),
        )
        if not record:
            return False
        _copy_into(job, _job(record))
        return True

    async def requeue(self, job: Job, *, not_before: float | None, error: str | None) -> Job | None:
        now = self._clock()
        job.error = error
        record = await self._call(
            "REQUEUE",
            now,
            iso(now),
            job.id,
            job.lease_owner or "",
            *_writable(job),
            "" if not_before is None else repr(not_before),
        )
        if not record:
            return None
        stored = _job(record)
        _copy_into(job, stored)
        return stored

    async def revive(self, job_id: str) -> Added | None:
        now = self._clock()
        answer = await self._call("REVIVE", now, iso(now), job_id)
        if not answer:
            return None
        _, record, superseded = answer
        return Added(_job(record), created=False, revived=True, superseded=[_job(r) for r in superseded])

    async def recover(self) -> builtins.list[Job]:
        now = self._clock()
        return [_job(r) for r in await self._call("RECOVER", now, iso(now), LOST_WORKER)]

    async def closes_due(self, limit: int, hold: float) -> builtins.list[Job]:
        now = self._clock()
        return [_job(r) for r in await self._call("CLOSES_DUE", now, max(1, limit), repr(now + hold))]

    async def closed(self, job_id: str) -> bool:
        return bool(await self._call("CLOSED", self._clock(), job_id) == 1)

    async def close_later(self, job_id: str, at: float) -> bool:
        return bool(await self._call("CLOSE_LATER", job_id, repr(at)) == 1)

    async def list(self, states: Sequence[str], *, limit: int = 50, cursor: str | None = None) -> Page:
        wanted, before = check_states(states), parse_cursor(cursor)
        limit = max(1, limit)
        top = "+inf" if before is None else f"({before}"
        pages = []
        for state in wanted:
            ids = await self._do(
                self._redis.zrevrangebyscore(self._key("state", state), top, "-inf", start=0, num=limit + 1)
            )
            pages.append(await self._records(ids))
        return merge_newest(pages, limit)

    async def counts(self) -> dict[str, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for state in STATES:
                pipe.zcard(self._key("state", state))
            sizes = await self._do(pipe.execute())
        return {state: int(size) for state, size in zip(STATES, sizes, strict=True)}

    async def prune(self, retention: Retention) -> int:
        cutoff = repr(self._clock() - retention.max_age_seconds)
        removed = 0
        while True:
            batch = int(await self._call("PRUNE", cutoff, retention.max_jobs, PRUNE_BATCH))
            removed += batch
            if batch < PRUNE_BATCH:
                return removed

    async def ping(self) -> None:
        await self._do(self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()

    # -- plumbing ----------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    async def _call(self, script: str, *args: Any) -> Any:
        argv = [self._prefix, *(repr(a) if isinstance(a, float) else str(a) for a in args)]
        return await self._do(self._scripts[script](keys=[], args=argv))

    async def _do(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RedisError as exc:
            raise StoreError(f"the job store at {self._where} cannot be used: {exc}") from exc

    async def _records(self, ids: builtins.list[bytes]) -> builtins.list[Job]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self._key("job", job_id.decode()))
            records = await self._do(pipe.execute())
        # A job pruned between the two reads is left out rather than answered empty.
        return [from_record(_decode(r)) for r in records if r]


def _split_prefix(url: str, default: str) -> tuple[str, str]:
    """Take our own `prefix` query parameter out of the URL before redis-py reads it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), default)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix or default


def _decode(record: dict[bytes, bytes]) -> dict[str, bytes]:
    return {k.decode(): v for k, v in record.items()}


def _job(flat: list[bytes]) -> Job:
    """A record a script answered as HGETALL does: field, value, field, value…"""
    return from_record({flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)})


def _optional(value: str | None) -> tuple[str, str]:
    return ("0", "") if value is None else ("1", value)


def _writable(job: Job) -> list[str]:
    """What a holder may change, in the order SAVE and REQUEUE read them."""
    record = to_record(job)
    return [str(record["result"]), str(record["params"]), str(job.attempts), *_optional(job.error)]


def _copy_into(job: Job, stored: Job) -> None:
    for name in (
        "state",
        "seq",
        "attempts",
        "started_at",
        "finished_at",
        "lease_owner",
        "lease_until",
        "not_before",
        "superseded_by",
        "error",
        "close_owed",
        "close_due",
    ):
        setattr(job, name, getattr(stored, name))
