"""The shared job store: Redis, for several instances of the App working one queue.

Every change is one Lua script (redis_scripts.py), so it is atomic against every other
instance; reads are single commands or pipelines of them. Keys live under a prefix, so several
deployments (or tests) can share one server.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ...timestamps import iso
from ..analyses import AckEvent, Acknowledgement, AnalysisLimits, AnalysisRecord
from ..audit import AuditEntry, AuditQuery
from ..model import Job
from . import redis_analysis_scripts as analysis_lua
from . import redis_result_scripts as result_lua
from . import redis_scripts as lua
from .analyses_codec import (
    analyses_cursor,
    decode_ack,
    decode_event,
    decode_record,
    encode_ack,
    encode_event,
    encode_record,
    parse_analyses_cursor,
)
from .base import (
    DELIVERY_WINDOW_SECONDS,
    LOST_WORKER,
    RATE_WINDOW_SECONDS,
    STATES,
    Added,
    Clock,
    JobStore,
    Page,
    ResultLimits,
    Retention,
    StoreError,
    copy_stored,
    merge_newest,
)
from .codec import from_record, to_record

# The delivery key outlives the window a little; the scripts compare times themselves, so
# dedup follows the store's clock and Redis only collects what is surely stale.
DELIVERY_TTL_SECONDS = DELIVERY_WINDOW_SECONDS + 3600
PRUNE_BATCH = 500
# A repository's rate key outlives its window; claims compare times themselves (store's clock).
RATE_TTL_SECONDS = int(RATE_WINDOW_SECONDS * 2)
# The audit bound is enforced on each batch written behind; beyond this many (only after the
# bound was lowered) the rest goes over the next batches and the hourly prune.
TRIM_MOST = 5_000
# Entries read per page of a listing at most: a filter without an index of its own (event,
# installation) reads through the entries, and a page stops short (with a cursor) after these.
SCAN_BUDGET = 5_000
SCAN_CHUNK = 200
AUDIT_FIELDS = ("delivery_id", "event", "action", "repository", "installation_id", "sender", "outcome", "job_id")
AUDIT_INDEXED = ("delivery_id", "repository", "outcome")
LATEST_CHUNK = 8  # records read at a time by latest_analysis (more only past unreadable ones)


class RedisJobStore(JobStore):
    def __init__(self, client: aioredis.Redis, *, prefix: str, clock: Clock = time.time, where: str = "redis") -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock
        self._where = where
        self._scripts = {name: client.register_script(getattr(lua, name)) for name in lua.SCRIPTS}
        self._result_scripts = {
            name: client.register_script(getattr(result_lua, name)) for name in ("PUT_RESULT", "PRUNE_RESULTS")
        }
        self._analysis_scripts = {
            name: client.register_script(getattr(analysis_lua, name)) for name in analysis_lua.SCRIPTS
        }

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

    async def add(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        now = self._clock()
        pairs = [str(part) for item in to_record(job).items() for part in item]
        entry = [] if audit is None else [part for item in _audit_record(audit).items() for part in item]
        answer = await self._call(
            "ADD", now, iso(now), DELIVERY_WINDOW_SECONDS, DELIVERY_TTL_SECONDS, len(entry), *entry, *pairs
        )
        outcome, record, superseded = answer[:3]
        stored = _job(record)
        if audit is not None:
            audit.seq, audit.job_id = int(answer[3]), stored.id
            if outcome == b"seen":
                audit.outcome, audit.status = "duplicate", 200
        if outcome == b"created":
            copy_stored(job, stored)
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

    async def _claim_next(self, owner: str, lease: float, installation_cap: int, repository_limit: int) -> Job | None:
        now = self._clock()
        # A token per claim (see sqlite.py): the worker of an earlier claim is not the holder.
        token = f"{owner}/{uuid.uuid4().hex[:12]}"
        record = await self._call(
            "CLAIM",
            now,
            iso(now),
            repr(now + lease),
            token,
            installation_cap,
            repository_limit,
            RATE_WINDOW_SECONDS,
            RATE_TTL_SECONDS,
        )
        return _job(record) if record else None

    async def renew(self, job: Job, lease: float) -> bool:
        until = self._clock() + lease
        renewed = await self._call("RENEW", job.id, job.lease_owner or "", repr(until))
        if renewed == 1:
            job.lease_until = until
        return bool(renewed == 1)

    async def _save_held(self, job: Job) -> bool:
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
        copy_stored(job, _job(record))
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
        copy_stored(job, stored)
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

    async def _hold_closes_due(self, limit: int, hold: float) -> builtins.list[Job]:
        now = self._clock()
        return [_job(r) for r in await self._call("CLOSES_DUE", now, limit, repr(now + hold))]

    async def closed(self, job_id: str) -> bool:
        return bool(await self._call("CLOSED", self._clock(), job_id) == 1)

    async def close_later(self, job_id: str, at: float) -> bool:
        return bool(await self._call("CLOSE_LATER", job_id, repr(at)) == 1)

    async def _list_states(self, states: builtins.list[str], limit: int, before: int | None) -> Page[Job]:
        top = "+inf" if before is None else f"({before}"
        pages = []
        for state in states:
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
        return await self._prune_with("PRUNE", retention)

    async def _get_result(self, digest: str) -> bytes | None:
        payload, expires = await self._do(self._redis.hmget(self._key("result", digest), "payload", "expires"))
        if payload is None or expires is None or float(expires) <= self._clock():
            return None
        return bytes(payload)

    async def _put_result(self, digest: str, payload: bytes, ttl: float, limits: ResultLimits) -> None:
        expires = repr(self._clock() + ttl)
        script = self._result_scripts["PUT_RESULT"]
        # The payload goes to Redis as the bytes it is (the job scripts' arguments are text).
        args: list[str | bytes] = [
            self._prefix,
            digest,
            payload,
            expires,
            str(limits.max_entries),
            str(limits.max_bytes),
        ]
        await self._do(script(keys=[], args=args))

    async def prune_results(self, limits: ResultLimits) -> int:
        script = self._result_scripts["PRUNE_RESULTS"]
        args = [self._prefix, repr(self._clock()), str(limits.max_entries), str(limits.max_bytes), str(PRUNE_BATCH)]
        return await _in_batches(lambda: self._do(script(keys=[], args=args)))

    async def record_deliveries(self, entries: Sequence[AuditEntry], *, max_entries: int) -> None:
        if entries:
            encoded = [json.dumps(_audit_record(e), separators=(",", ":")) for e in entries]
            seqs = await self._call("RECORD_AUDIT", max_entries, TRIM_MOST, *encoded)
            for entry, seq in zip(entries, seqs, strict=True):
                entry.seq = int(seq)

    async def _list_deliveries(self, query: AuditQuery, limit: int, before: int | None) -> Page[AuditEntry]:
        index = await self._narrowest(query)
        top = "+inf" if before is None else f"({before}"
        found: builtins.list[AuditEntry] = []
        scanned = 0
        while scanned < SCAN_BUDGET:
            seqs = await self._do(self._redis.zrevrangebyscore(index, top, "-inf", start=0, num=SCAN_CHUNK))
            if not seqs:
                return Page(found, None)
            raws = await self._do(self._redis.hmget(self._key("audit", "entry"), seqs))
            for seq, raw in zip(seqs, raws, strict=True):
                scanned += 1
                entry = None if raw is None else _audit_entry(int(seq), raw)
                if entry is None or not query.matches(entry):
                    continue
                found.append(entry)
                if len(found) > limit:
                    return Page(found[:limit], str(found[limit - 1].seq))
            top = f"({int(seqs[-1])}"
        # Read through the budget: the page stops here, and the cursor goes on below what was read.
        return Page(found, top[1:])

    async def prune_deliveries(self, retention: Retention) -> int:
        return await self._prune_with("PRUNE_AUDIT", retention)

    async def _put_analysis(self, record: AnalysisRecord, payload: bytes, limits: AnalysisLimits) -> None:
        args: list[str | bytes] = [
            self._prefix,
            record.id,
            encode_record(record),
            payload,  # as the bytes it is
            repr(record.created_at),
            record.repository,
            record.scope,
            record.head_sha,
            str(limits.max_bytes),
        ]
        await self._do(self._analysis_scripts["PUT_ANALYSIS"](keys=[], args=args))

    async def _get_analysis(self, analysis_id: str) -> tuple[AnalysisRecord, bytes] | None:
        (found,) = await self._analysis_records([analysis_id], payload=True)
        if found is None or not isinstance(found[1], bytes):
            return None
        return found[0], found[1]

    async def _latest_analysis(self, repository: str, scope: str | None, head_sha: str | None) -> AnalysisRecord | None:
        if scope is not None:
            key = self._key("analyses", "scope", *_pair(repository, scope))
        else:
            key = self._key("analyses", "head", *_pair(repository, head_sha or ""))
        offset = 0
        while True:
            ids = await self._do(self._redis.zrevrange(key, offset, offset + LATEST_CHUNK - 1))
            if not ids:
                return None
            for found in await self._analysis_records([_text(i) for i in ids], payload=False):
                record = None if found is None else found[0]
                if (
                    record is not None
                    and record.repository == repository
                    and (record.scope == scope if scope is not None else record.head_sha == head_sha)
                ):
                    return record
            offset += len(ids)

    async def _list_analyses(self, repository: str, limit: int, cursor: str | None) -> Page[AnalysisRecord]:
        after = parse_analyses_cursor(cursor)
        key = self._key("analyses", "repo", repository)
        top = "+inf" if after is None else repr(after[0])
        # (id, created_at) below the cursor, newest first: the ids at the cursor's own time that
        # sort after it (read first, the order being by score then by id) are passed by.
        listed: list[tuple[str, float]] = []
        offset = 0
        while len(listed) <= limit:
            chunk = await self._do(
                self._redis.zrevrangebyscore(key, top, "-inf", start=offset, num=limit + 1, withscores=True)
            )
            if not chunk:
                break
            offset += len(chunk)
            for member, score in chunk:
                ident = _text(member)
                if after is None or score < after[0] or (score == after[0] and ident < after[1]):
                    listed.append((ident, float(score)))
        found = await self._analysis_records([ident for ident, _ in listed[:limit]], payload=False)
        records = [f[0] for f in found if f is not None and f[0].repository == repository]
        if len(listed) <= limit:
            return Page(records, None)
        last_id, last_at = listed[limit - 1]
        return Page(records, analyses_cursor(last_at, last_id))

    async def prune_analyses(self, limits: AnalysisLimits) -> int:
        cutoff = repr(self._clock() - limits.max_age_seconds)
        analyses = self._analysis_scripts["PRUNE_ANALYSES"]
        args = [self._prefix, cutoff, str(limits.max_bytes), str(PRUNE_BATCH)]
        removed = await _in_batches(lambda: self._do(analyses(keys=[], args=args)))
        acks = self._analysis_scripts["PRUNE_ACKS"]
        await _in_batches(lambda: self._do(acks(keys=[], args=[self._prefix, cutoff, str(PRUNE_BATCH)])))
        return removed

    async def acknowledgements(self, repository: str, scope: str) -> builtins.list[Acknowledgement]:
        held = await self._do(self._redis.hgetall(self._key("acks", *_pair(repository, scope))))
        return _acknowledgements(held)

    async def _change_acknowledgements(
        self,
        repository: str,
        scope: str,
        *,
        add: builtins.list[Acknowledgement],
        remove: builtins.list[str] | None,
        events: builtins.list[AckEvent],
        max_per_scope: int,
        max_log: int,
    ) -> builtins.list[Acknowledgement]:
        removed = remove or []
        args: list[str | bytes] = [
            self._prefix,
            repository,
            scope,
            str(max_per_scope),
            str(max_log),
            str(TRIM_MOST),
            "1" if remove is None else "0",
            str(len(removed)),
            str(len(add)),
            *removed,
        ]
        for ack in add:
            args += [ack.signal_id, repr(ack.at), encode_ack(ack)]
        for event in events:
            args += [event.repository, encode_event(event)]
        held = await self._do(self._analysis_scripts["CHANGE_ACKS"](keys=[], args=args))
        return _acknowledgements(dict(zip(held[::2], held[1::2], strict=True)))

    async def _list_acknowledgement_log(self, repository: str | None, limit: int, before: int | None) -> Page[AckEvent]:
        index = self._key("acklog", "all") if repository is None else self._key("acklog", "repo", repository)
        top = "+inf" if before is None else f"({before}"
        members = await self._do(self._redis.zrevrangebyscore(index, top, "-inf", start=0, num=limit + 1))
        seqs = [seq for seq in (_seq(m) for m in members) if seq is not None]
        raws = await self._do(self._redis.hmget(self._key("acklog", "entry"), seqs[:limit])) if seqs else []
        events = [
            event
            for seq, raw in zip(seqs[:limit], raws, strict=True)
            if (event := decode_event(raw, seq)) is not None and repository in (None, event.repository)
        ]
        return Page(events, str(seqs[limit - 1]) if len(seqs) > limit else None)

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

    async def _prune_with(self, script: str, retention: Retention) -> int:
        cutoff = repr(self._clock() - retention.max_age_seconds)
        return await _in_batches(lambda: self._call(script, cutoff, retention.max_kept, PRUNE_BATCH))

    async def _narrowest(self, query: AuditQuery) -> str:
        """The index of the query's filters holding the fewest entries (all entries without one)."""
        keys = [
            self._key("audit", "by", name, value)
            for name in AUDIT_INDEXED
            if (value := getattr(query, name)) is not None
        ]
        if not keys:
            return self._key("audit", "all")
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(key)
            sizes = await self._do(pipe.execute())
        return min(zip(sizes, keys, strict=True))[1]

    async def _analysis_records(
        self, ids: builtins.list[str], *, payload: bool
    ) -> builtins.list[tuple[AnalysisRecord, bytes | None] | None]:
        """The stored record of each id (with its payload if asked), None where it is absent or
        unreadable (corrupted, a key of another type)."""
        fields = ("record", "payload") if payload else ("record",)
        async with self._redis.pipeline(transaction=False) as pipe:
            for analysis_id in ids:
                pipe.hmget(self._key("analysis", analysis_id), fields)
            replies = await self._do(pipe.execute(raise_on_error=False))
        found: builtins.list[tuple[AnalysisRecord, bytes | None] | None] = []
        for analysis_id, reply in zip(ids, replies, strict=True):
            if isinstance(reply, ResponseError):  # WRONGTYPE: something else wrote that key
                found.append(None)
                continue
            if isinstance(reply, Exception):
                raise StoreError(f"the job store at {self._where} cannot be used: {reply}")
            record = decode_record(reply[0])
            ok = record is not None and record.id == analysis_id
            found.append((record, reply[1] if payload else None) if ok and record is not None else None)
        return found

    async def _records(self, ids: builtins.list[bytes]) -> builtins.list[Job]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self._key("job", job_id.decode()))
            records = await self._do(pipe.execute())
        # A job pruned between the two reads is left out rather than answered empty.
        return [from_record(_decode(r)) for r in records if r]


async def _in_batches(prune: Callable[[], Awaitable[Any]]) -> int:
    """Run a pruning script until it removes less than a batch (each run is short, so the
    server's other clients never wait long); answers how many it removed in all."""
    removed = 0
    while True:
        batch = int(await prune())
        removed += batch
        if batch < PRUNE_BATCH:
            return removed


def _split_prefix(url: str, default: str) -> tuple[str, str]:
    """Take our own `prefix` query parameter out of the URL before redis-py reads it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), default)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix or default


def _pair(repository: str, other: str) -> tuple[str, str, str]:
    """The key parts of a (repository, scope or commit) pair, as redis_analysis_scripts.py's `pair`."""
    return str(len(repository.encode())), repository, other


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _seq(member: bytes | str) -> int | None:
    text = _text(member)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None


def _acknowledgements(held: dict[bytes, bytes]) -> list[Acknowledgement]:
    """A scope's hash of acknowledgements: those that read back, sorted by signal id."""
    acks = [
        ack for signal, raw in held.items() if (ack := decode_ack(raw)) is not None and ack.signal_id == _text(signal)
    ]
    return sorted(acks, key=lambda ack: ack.signal_id)


def _decode(record: dict[bytes, bytes]) -> dict[str, bytes]:
    return {k.decode(): v for k, v in record.items()}


def _job(flat: list[bytes]) -> Job:
    """A record a script answered as HGETALL does: field, value, field, value…"""
    return from_record({flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)})


def _audit_record(entry: AuditEntry) -> dict[str, str]:
    """The entry as the scripts store it: every present value a string (Lua's numbers have 14 digits)."""
    record = {"at": repr(entry.at), "status": str(entry.status)}
    for name in AUDIT_FIELDS:
        value = getattr(entry, name)
        if value is not None:
            record[name] = str(value)
    return record


def _audit_entry(seq: int, raw: bytes) -> AuditEntry:
    record = json.loads(raw)
    installation = record.get("installation_id")
    return AuditEntry(
        at=float(record["at"]),
        outcome=record["outcome"],
        status=int(record["status"]),
        delivery_id=record.get("delivery_id"),
        event=record.get("event"),
        action=record.get("action"),
        repository=record.get("repository"),
        installation_id=None if installation is None else int(installation),
        sender=record.get("sender"),
        job_id=record.get("job_id"),
        seq=seq,
    )


def _optional(value: str | None) -> tuple[str, str]:
    return ("0", "") if value is None else ("1", value)


def _writable(job: Job) -> list[str]:
    """What a holder may change, in the order SAVE and REQUEUE read them."""
    record = to_record(job)
    return [str(record["result"]), str(record["params"]), str(job.attempts), *_optional(job.error)]
