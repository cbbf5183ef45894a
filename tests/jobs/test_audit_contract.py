"""The audit log of deliveries in the job store (store/base.py, "Audit log"), on sqlite and on Redis."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chartimpact_bot.jobs.audit import AuditEntry, AuditQuery, Outcome
from chartimpact_bot.jobs.store import sqlite_schema
from chartimpact_bot.jobs.store.base import JobStore, Retention
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.conftest import FakeClock, make_job
from tests.jobs.test_store_contract import _commands

LEASE = 30.0
BIG = 100_000


def entry(
    n: int | str,
    at: float,
    *,
    outcome: Outcome = "ignored",
    status: int = 200,
    event: str = "pull_request",
    repository: str | None = "octo/charts",
) -> AuditEntry:
    return AuditEntry(
        at=at,
        outcome=outcome,
        status=status,
        delivery_id=f"delivery-{n}",
        event=event,
        action="opened",
        repository=repository,
        installation_id=42,
        sender="octocat",
    )


async def everything(store: JobStore, query: AuditQuery | None = None) -> list[AuditEntry]:
    page = await store.deliveries(query or AuditQuery(), limit=200)
    assert page.cursor is None
    return page.items


async def test_an_accepted_delivery_is_recorded_with_its_job(store: JobStore, clock: FakeClock) -> None:
    audit = entry(1, clock(), outcome="accepted", status=202)
    added = await store.add(make_job(1), audit=audit)
    assert audit.seq > 0 and audit.job_id == added.job.id
    [stored] = await everything(store)
    assert stored == audit
    assert stored.shown() == {
        "at": "2027-01-15T08:00:00Z",
        "deliveryId": "delivery-1",
        "event": "pull_request",
        "action": "opened",
        "repository": "octo/charts",
        "installation": 42,
        "sender": "octocat",
        "outcome": "accepted",
        "status": 202,
        "jobId": added.job.id,
    }


async def test_a_redelivery_is_recorded_as_a_duplicate_of_the_original_job(store: JobStore, clock: FakeClock) -> None:
    first = await store.add(make_job(1), audit=entry(1, clock(), outcome="accepted", status=202))
    clock.advance(1)
    again = await store.add(make_job(1), audit=entry(1, clock(), outcome="accepted", status=202))
    assert not again.created
    newest, oldest = await everything(store)
    assert (newest.outcome, newest.status, newest.job_id) == ("duplicate", 200, first.job.id)
    assert (oldest.outcome, oldest.status, oldest.job_id) == ("accepted", 202, first.job.id)
    # A dead job's redelivery runs it again: that is an accepted delivery.
    job = await store.claim("w", LEASE)
    assert job is not None
    job.state = "dead"
    assert await store.save(job)
    revived = await store.add(make_job(1), audit=entry(1, clock(), outcome="accepted", status=202))
    assert revived.revived
    latest = (await everything(store))[0]
    assert (latest.outcome, latest.status, latest.job_id) == ("accepted", 202, first.job.id)


async def test_entries_are_listed_newest_first_in_pages(store: JobStore, clock: FakeClock) -> None:
    for n in range(23):
        await store.record_deliveries([entry(n, clock() + n)], max_entries=BIG)
    seen: list[AuditEntry] = []
    cursor = None
    while True:
        page = await store.deliveries(AuditQuery(), limit=10, cursor=cursor)
        assert len(page.items) <= 10
        seen.extend(page.items)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert [e.delivery_id for e in seen] == [f"delivery-{n}" for n in reversed(range(23))]
    assert [e.seq for e in seen] == sorted((e.seq for e in seen), reverse=True)
    with pytest.raises(ValueError, match="cursor"):
        await store.deliveries(AuditQuery(), cursor="1; drop table audit")


async def test_every_filter_narrows_the_listing(store: JobStore, clock: FakeClock) -> None:
    batch = [
        entry("a", clock(), outcome="accepted", status=202),
        entry("b", clock(), event="push", repository="octo/other"),
        entry("c", clock(), outcome="rejected", status=401, repository=None),
        entry("d", clock(), event="push", outcome="duplicate"),
        entry("a", clock() + 1, outcome="duplicate"),
    ]
    batch[3].installation_id = 7
    await store.record_deliveries(batch, max_entries=BIG)

    async def ids(**filters: object) -> list[str | None]:
        return [e.delivery_id for e in await everything(store, AuditQuery(**filters))]  # type: ignore[arg-type]

    assert await ids() == ["delivery-a", "delivery-d", "delivery-c", "delivery-b", "delivery-a"]
    assert await ids(delivery_id="delivery-a") == ["delivery-a", "delivery-a"]
    assert await ids(event="push") == ["delivery-d", "delivery-b"]
    assert await ids(outcome="rejected") == ["delivery-c"]
    assert await ids(repository="octo/charts") == ["delivery-a", "delivery-d", "delivery-a"]
    assert await ids(installation_id=7) == ["delivery-d"]
    assert await ids(repository="octo/charts", event="push", outcome="duplicate") == ["delivery-d"]
    assert await ids(repository="octo/charts", outcome="accepted") == ["delivery-a"]
    assert await ids(repository="nobody/here") == []


async def test_a_batch_keeps_the_newest_entries_within_the_bound(store: JobStore, clock: FakeClock) -> None:
    """An unsigned flood: each batch written behind trims the log back to its bound."""
    for start in range(0, 30, 6):
        await store.record_deliveries([entry(n, clock()) for n in range(start, start + 6)], max_entries=10)
        assert len(await everything(store)) == min(start + 6, 10)
    assert [e.delivery_id for e in await everything(store)] == [f"delivery-{n}" for n in reversed(range(20, 30))]


async def test_prune_removes_old_entries_then_the_oldest_beyond_the_bound(store: JobStore, clock: FakeClock) -> None:
    for n in range(6):
        await store.record_deliveries([entry(n, clock())], max_entries=BIG)
        clock.advance(3600)
    # Now the entries are 6 h, 5 h, … 1 h old: those older than 4.5 h go.
    assert await store.prune_deliveries(Retention(max_age_seconds=4.5 * 3600, max_kept=BIG)) == 2
    assert [e.delivery_id for e in await everything(store)] == [f"delivery-{n}" for n in (5, 4, 3, 2)]
    assert await store.prune_deliveries(Retention(max_age_seconds=10**9, max_kept=3)) == 1
    assert len(await everything(store)) == 3
    assert await store.prune_deliveries(Retention(max_age_seconds=10**9, max_kept=3)) == 0
    assert await store.prune_deliveries(Retention(max_age_seconds=0, max_kept=BIG)) == 3
    assert await everything(store) == []
    # Jobs are pruned by their own retention, not the log's.
    await store.add(make_job(1), audit=entry(1, clock(), outcome="accepted", status=202))
    clock.advance(1)
    assert await store.prune_deliveries(Retention(max_age_seconds=0, max_kept=BIG)) == 1
    assert (await store.counts())["queued"] == 1


async def test_hostile_values_are_stored_bounded_and_escaped(store: JobStore, clock: FakeClock) -> None:
    hostile = AuditEntry(
        at=clock(),
        outcome="rejected",
        status=401,
        delivery_id="x" * 10_000,
        event="pull_request\x1b[31m\r\nforged: line",
        action="\u202eopened",
        repository="octo/" + "\U0001f4a3" * 500,
        installation_id=2**70,
        sender=["not", "a", "string"],  # type: ignore[arg-type]
        job_id="'; drop table jobs; --",
    )
    await store.record_deliveries([hostile], max_entries=BIG)
    [stored] = await everything(store)
    assert stored == hostile and stored.seq > 0
    assert stored.delivery_id is not None and len(stored.delivery_id) == 128 and stored.delivery_id.endswith("…")
    assert stored.event == "pull_request\\x1b[31m\\r\\nforged: line"
    assert dataclasses.replace(stored) == stored  # bounding a stored entry again changes nothing
    assert stored.action == "\\u202eopened"
    assert stored.repository is not None and len(stored.repository) <= 160 and stored.repository.isprintable()
    assert stored.installation_id is None and stored.sender is None
    assert stored.job_id == "'; drop table jobs; --"  # bounded text, stored as a value
    assert [e.event for e in await everything(store, AuditQuery(event=stored.event))] == [stored.event]


# -- intake cost and schema ----------------------------------------------------------------------


async def test_redis_audited_intake_cost_does_not_grow_with_entries_held(redis_url: str, clock: FakeClock) -> None:
    store = await RedisJobStore.open(redis_url, prefix="audit-cost", clock=clock)
    client = aioredis.Redis.from_url(redis_url)
    try:
        costs = []
        for held in (10, 400):
            await store.record_deliveries([entry(f"{held}-{n}", clock()) for n in range(held)], max_entries=BIG)
            await client.config_resetstat()
            await store.add(make_job(f"probe-{held}"), audit=entry(f"probe-{held}", clock(), outcome="accepted"))
            costs.append(await _commands(client))
        assert costs[0] == costs[1], costs
    finally:
        await client.aclose()
        await store.close()


async def test_a_version_2_sqlite_store_is_upgraded_and_keeps_its_jobs(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "v2.sqlite3"
    with sqlite3.connect(path) as conn:
        for script in sqlite_schema.MIGRATIONS[:2]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 2")
    store = await SqliteJobStore.open(str(path), clock=clock)
    try:
        job = (await store.add(make_job(1), audit=entry(1, clock(), outcome="accepted", status=202))).job
        assert (await store.get(job.id)) is not None
        assert [e.job_id for e in await everything(store)] == [job.id]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.SCHEMA_VERSION
