"""The write-behind of audit entries (jobs/audit_writer.py) and their retention (jobs/retention.py),
on a real sqlite store: bounded buffer, batches, drops counted, nothing lost on a clean close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chartimpact_bot.jobs.audit import AuditEntry, AuditQuery
from chartimpact_bot.jobs.audit_writer import AuditWriter
from chartimpact_bot.jobs.retention import DAY_SECONDS, prune_once, retention
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.conftest import FakeClock


def rejected(n: int, at: float) -> AuditEntry:
    return AuditEntry(at=at, outcome="rejected", status=401, delivery_id=f"flood-{n}", event="push")


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteJobStore]:
    opened = await SqliteJobStore.open(str(tmp_path / "jobs.sqlite3"), clock=clock)
    yield opened
    await opened.close()


async def held(store: SqliteJobStore) -> list[str | None]:
    return [e.delivery_id for e in (await store.deliveries(AuditQuery(), limit=200)).items]


async def test_entries_are_written_in_order_in_batches_and_kept_within_the_bound(
    store: SqliteJobStore, clock: FakeClock
) -> None:
    writer = AuditWriter(store, max_entries=100, batch=40, clock=clock)
    for n in range(150):
        writer.record(rejected(n, clock()))
    assert writer.pending == 150 and await held(store) == []  # nothing written by record itself
    await writer.flush()
    assert writer.pending == 0
    assert await held(store) == [f"flood-{n}" for n in reversed(range(50, 150))]


async def test_a_full_buffer_drops_and_counts_instead_of_growing(store: SqliteJobStore, clock: FakeClock) -> None:
    dropped: list[int] = []
    writer = AuditWriter(store, max_entries=1000, capacity=10, on_dropped=dropped.append, clock=clock)
    for n in range(25):
        writer.record(rejected(n, clock()))
    assert writer.pending == 10 and sum(dropped) == 15
    await writer.close()
    assert await held(store) == [f"flood-{n}" for n in reversed(range(10))]


async def test_a_batch_the_store_refuses_is_dropped_and_counted_not_raised(tmp_path: Path, clock: FakeClock) -> None:
    store = await SqliteJobStore.open(str(tmp_path / "gone.sqlite3"), clock=clock)
    dropped: list[int] = []
    writer = AuditWriter(store, max_entries=1000, on_dropped=dropped.append, clock=clock)
    await store.close()  # the store went away
    writer.record(rejected(1, clock()))
    writer.record(rejected(2, clock()))
    await writer.flush()
    assert (writer.pending, dropped) == (0, [2])


async def test_the_background_task_writes_a_full_batch_and_close_writes_the_rest(
    store: SqliteJobStore, clock: FakeClock
) -> None:
    writer = AuditWriter(store, max_entries=1000, batch=5, interval=3600, clock=clock)
    writer.start()
    for n in range(7):
        writer.record(rejected(n, clock()))
    async with asyncio.timeout(30):  # a full batch does not wait for the (hour-long) interval
        while writer.pending:
            await asyncio.sleep(0.01)
    assert await held(store) == [f"flood-{n}" for n in reversed(range(7))]
    writer.record(rejected(7, clock()))  # less than a batch: it would wait for the interval
    await writer.close()  # stops the task and writes it
    assert await held(store) == [f"flood-{n}" for n in reversed(range(8))]


async def test_retention_prunes_the_audit_log_by_its_own_period(store: SqliteJobStore, clock: FakeClock) -> None:
    await store.record_deliveries([rejected(1, clock())], max_entries=1000)
    clock.advance(2 * DAY_SECONDS)
    await store.record_deliveries([rejected(2, clock())], max_entries=1000)
    clock.advance(1)
    await prune_once(store, retention(90, 1000), retention(2, 1000))
    assert await held(store) == ["flood-2"]
    await prune_once(store, retention(90, 1000), retention(30, 100))
    assert await held(store) == ["flood-2"]
