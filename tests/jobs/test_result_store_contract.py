"""The result cache part of the store contract (store/base.py, "Result cache"), on sqlite and Redis."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chartimpact_bot.jobs.store import ResultLimits
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from chartimpact_bot.jobs.store.sqlite_schema import SCHEMA_VERSION, V1, V2
from tests.jobs.conftest import FakeClock, OpenStore

ROOMY = ResultLimits(max_entries=100, max_bytes=1_000_000)
HOUR = 3600.0


def digest(n: int) -> str:
    return f"{n:064x}"


async def test_a_stored_payload_is_answered_by_every_instance_until_it_expires(
    open_store: OpenStore, clock: FakeClock
) -> None:
    one, two = await open_store(), await open_store()
    payload = bytes(range(256)) * 4  # binary, with NUL bytes: stored as it is
    assert await one.put_result(digest(1), payload, ttl=HOUR, limits=ROOMY)
    assert await two.get_result(digest(1)) == payload
    assert await two.get_result(digest(2)) is None
    clock.advance(HOUR - 1)
    assert await one.get_result(digest(1)) == payload
    clock.advance(1)
    assert await one.get_result(digest(1)) is None


async def test_storing_a_digest_again_replaces_its_payload_and_expiry(store: JobStore, clock: FakeClock) -> None:
    assert await store.put_result(digest(1), b"old", ttl=HOUR, limits=ROOMY)
    clock.advance(HOUR / 2)
    assert await store.put_result(digest(1), b"new", ttl=HOUR, limits=ROOMY)
    clock.advance(HOUR * 0.9)
    assert await store.get_result(digest(1)) == b"new"
    # Replacing counts the bytes once: two entries of 60 fit under 150 only if the old 3 bytes went.
    tight = ResultLimits(max_entries=10, max_bytes=150)
    assert await store.put_result(digest(1), b"x" * 60, ttl=HOUR, limits=tight)
    assert await store.put_result(digest(2), b"y" * 60, ttl=HOUR, limits=tight)
    assert await store.get_result(digest(1)) == b"x" * 60
    assert await store.get_result(digest(2)) == b"y" * 60


async def test_over_the_entry_limit_the_entries_expiring_soonest_go(store: JobStore, clock: FakeClock) -> None:
    limits = ResultLimits(max_entries=3, max_bytes=1_000_000)
    for n in range(1, 6):
        assert await store.put_result(digest(n), b"r%d" % n, ttl=HOUR, limits=limits)
        clock.advance(1)
    held = [n for n in range(1, 6) if await store.get_result(digest(n)) is not None]
    assert held == [3, 4, 5]


async def test_over_the_byte_limit_older_entries_go_and_the_new_one_stays(store: JobStore, clock: FakeClock) -> None:
    limits = ResultLimits(max_entries=100, max_bytes=250)
    for n in range(1, 4):
        assert await store.put_result(digest(n), b"a" * 100, ttl=HOUR, limits=limits)
        clock.advance(1)
    assert await store.get_result(digest(1)) is None
    assert await store.get_result(digest(2)) is not None and await store.get_result(digest(3)) is not None
    # The new entry is kept even when it expires sooner than the others (a shorter ttl).
    assert await store.put_result(digest(4), b"b" * 100, ttl=60, limits=limits)
    assert await store.get_result(digest(4)) == b"b" * 100
    assert await store.get_result(digest(2)) is None and await store.get_result(digest(3)) is not None


async def test_a_payload_larger_than_the_whole_cache_is_not_stored(store: JobStore) -> None:
    limits = ResultLimits(max_entries=10, max_bytes=100)
    assert await store.put_result(digest(1), b"a" * 100, ttl=HOUR, limits=limits)
    assert not await store.put_result(digest(2), b"b" * 101, ttl=HOUR, limits=limits)
    assert await store.get_result(digest(2)) is None
    assert await store.get_result(digest(1)) == b"a" * 100  # nothing was evicted for it


async def test_prune_removes_expired_entries_then_evicts_down_to_the_limits(store: JobStore, clock: FakeClock) -> None:
    for n in range(1, 4):
        assert await store.put_result(digest(n), b"short", ttl=60, limits=ROOMY)
    for n in range(4, 8):
        assert await store.put_result(digest(n), b"long", ttl=HOUR, limits=ROOMY)
        clock.advance(1)
    clock.advance(60)
    # Three expired, then one more evicted to get down to three entries.
    assert await store.prune_results(ResultLimits(max_entries=3, max_bytes=1_000_000)) == 4
    assert [n for n in range(1, 8) if await store.get_result(digest(n)) is not None] == [5, 6, 7]
    assert await store.prune_results(ROOMY) == 0


async def test_digests_are_checked_before_they_name_anything(store: JobStore) -> None:
    for bad in ("", "ABC", "../x", "a:b", "g" * 10, "a" * 129):
        with pytest.raises(ValueError, match="lowercase hex"):
            await store.get_result(bad)
        with pytest.raises(ValueError, match="lowercase hex"):
            await store.put_result(bad, b"x", ttl=HOUR, limits=ROOMY)
    with pytest.raises(ValueError, match="ttl"):
        await store.put_result(digest(1), b"x", ttl=0, limits=ROOMY)


async def test_a_version_2_file_gains_the_results_table_and_keeps_its_jobs(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in (V1, V2):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    store = await SqliteJobStore.open(str(path), clock=clock)
    try:
        assert await store.put_result(digest(1), b"kept", ttl=HOUR, limits=ROOMY)
        assert await store.get_result(digest(1)) == b"kept"
        assert (await store.counts())["queued"] == 0
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
