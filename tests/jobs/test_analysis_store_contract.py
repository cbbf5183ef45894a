"""Stored analyses and acknowledgements in the job store (store/base.py, "Stored analyses" and
"Acknowledgements"), on sqlite and on Redis."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chartimpact_bot.jobs.analyses import AckEvent, Acknowledgement, AnalysisLimits, AnalysisRecord, ChartSummary
from chartimpact_bot.jobs.retention import prune_once, retention
from chartimpact_bot.jobs.store import StoreError, sqlite_schema
from chartimpact_bot.jobs.store.analyses_codec import encode_record
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.conftest import FakeClock, OpenStore
from tests.jobs.test_store_contract import _commands

DAY = 24 * 3600.0
ROOMY = AnalysisLimits(max_age_seconds=30 * DAY, max_bytes=10_000_000)
REPO = "octo/charts"
SCOPE = "octo/charts#12"


def aid(n: int) -> str:
    return f"{n:032x}"


def sig(n: int) -> str:
    return f"{n:08x}"


def analysis(
    n: int,
    at: float,
    *,
    repository: str = REPO,
    scope: str = SCOPE,
    head: str | None = None,
    charts: tuple[ChartSummary, ...] = (),
) -> AnalysisRecord:
    return AnalysisRecord(
        id=aid(n),
        installation_id=42,
        repository=repository,
        scope=scope,
        kind="pull_request",
        ref="feature",
        head_sha=head or f"{n:040x}",
        base_sha="b" * 40,
        created_at=at,
        verdict="warn",
        pull_number=12,
        check_run_id=1000 + n,
        charts=charts,
    )


def ack(n: int, at: float, *, fingerprint: str = "f1", reason: str = "") -> Acknowledgement:
    return Acknowledgement(signal_id=sig(n), fingerprint=fingerprint, by="octocat", at=at, reason=reason)


def event(n: int, at: float, *, repository: str = REPO, change: str = "ack") -> AckEvent:
    return AckEvent(
        at=at,
        repository=repository,
        scope=f"{repository}#12",
        signal_id=sig(n),
        change="ack" if change == "ack" else "unack",
        by="octocat",
        via="comment",
        reason=f"reason {n}",
    )


async def history(store: JobStore, repository: str = REPO, limit: int = 2) -> list[str]:
    """Every id of the repository's listing, page by page."""
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        page = await store.analyses(repository, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        ids += [r.id for r in page.items]
        cursor = page.cursor
        if cursor is None:
            return ids
    raise AssertionError("the listing does not end")


# -- analyses ------------------------------------------------------------------------------------


async def test_a_stored_analysis_is_answered_with_its_record_and_payload_by_every_instance(
    open_store: OpenStore, clock: FakeClock
) -> None:
    one, two = await open_store(), await open_store()
    charts = (
        ChartSummary("charts/api", "production", "fail", {"security": 2, "availability": 1}),
        ChartSummary("charts/web", "", "pass", {}),
    )
    record = analysis(1, clock() + 0.25, charts=charts)
    payload = bytes(range(256)) * 3  # binary, NUL bytes included: kept as it is
    assert await one.put_analysis(record, payload, limits=ROOMY)
    stored = await two.get_analysis(aid(1))
    assert stored == (record, payload)
    assert stored[0].charts == charts and stored[0].created_at == 1_800_000_000.25
    assert await two.get_analysis(aid(2)) is None
    with pytest.raises(ValueError, match="not an analysis id"):
        await two.get_analysis("../" + "a" * 29)


async def test_storing_an_id_again_replaces_its_record_payload_and_lookups(store: JobStore, clock: FakeClock) -> None:
    assert await store.put_analysis(analysis(1, clock(), scope="o#1", head="1" * 40), b"old", limits=ROOMY)
    newer = analysis(1, clock() + 5, scope="o#2", head="2" * 40)
    assert await store.put_analysis(newer, b"new", limits=ROOMY)
    assert await store.get_analysis(aid(1)) == (newer, b"new")
    assert await store.latest_analysis(REPO, scope="o#1") is None
    assert await store.latest_analysis(REPO, head_sha="1" * 40) is None
    assert await store.latest_analysis(REPO, scope="o#2") == newer
    assert await store.latest_analysis(REPO, head_sha="2" * 40) == newer
    assert await history(store) == [aid(1)]
    # The bytes are counted once: two analyses of 60 fit under 150 only if the old ones went.
    tight = AnalysisLimits(max_age_seconds=DAY, max_bytes=150)
    assert await store.put_analysis(analysis(1, clock()), b"x" * 60, limits=tight)
    assert await store.put_analysis(analysis(2, clock() + 1), b"y" * 60, limits=tight)
    assert await store.put_analysis(analysis(1, clock() + 2), b"z" * 60, limits=tight)
    assert [(await store.get_analysis(aid(n)) or (None, b""))[1] for n in (1, 2)] == [b"z" * 60, b"y" * 60]


async def test_the_latest_analysis_of_a_scope_or_a_commit_is_the_newest_of_that_repository(
    store: JobStore, clock: FakeClock
) -> None:
    t = clock()
    h1, h2 = "1" * 40, "2" * 40
    records = [
        analysis(1, t, scope="s1", head=h1),
        analysis(2, t + 10, scope="s1", head=h2),
        analysis(3, t + 20, scope="s2", head=h1),
        analysis(4, t + 30, scope="s1", head=h1, repository="other/charts"),  # newest, elsewhere
        analysis(5, t + 5, scope="s3", head="3" * 40),
        analysis(6, t + 5, scope="s3", head="3" * 40),  # same time: the greater id is the newer
    ]
    for record in reversed(records):  # stored out of order: the order is created_at's
        assert await store.put_analysis(record, b"p", limits=ROOMY)
    latest = {
        ("s1", None): aid(2),
        ("s2", None): aid(3),
        ("s3", None): aid(6),
        (None, h1): aid(3),
        (None, h2): aid(2),
    }
    for (scope, head), expected in latest.items():
        found = await store.latest_analysis(REPO, scope=scope, head_sha=head)
        assert found is not None and found.id == expected, (scope, head)
    found = await store.latest_analysis("other/charts", scope="s1")
    assert found is not None and found.id == aid(4)
    assert await store.latest_analysis(REPO, scope="s9") is None
    assert await store.latest_analysis("nobody/here", head_sha=h1) is None
    with pytest.raises(ValueError, match="scope or a head commit"):
        await store.latest_analysis(REPO)
    with pytest.raises(ValueError, match="scope or a head commit"):
        await store.latest_analysis(REPO, scope="s1", head_sha=h1)


async def test_a_repository_s_analyses_are_paged_newest_first(store: JobStore, clock: FakeClock) -> None:
    t = clock()
    # Four at one instant, so a page boundary falls between analyses of the same time.
    times = {1: t, 2: t + 1, 3: t + 2, 4: t + 2, 5: t + 2, 6: t + 2, 7: t + 3}
    for n, at in times.items():
        assert await store.put_analysis(analysis(n, at), b"p%d" % n, limits=ROOMY)
        assert await store.put_analysis(analysis(100 + n, at, repository="other/charts"), b"o", limits=ROOMY)
    expected = [aid(n) for n in (7, 6, 5, 4, 3, 2, 1)]
    for limit in (1, 2, 3, 7, 50):
        assert await history(store, limit=limit) == expected, limit
    first = await store.analyses(REPO, limit=3)
    assert [r.id for r in first.items] == expected[:3] and first.cursor is not None
    second = await store.analyses(REPO, limit=3, cursor=first.cursor)
    assert [r.id for r in second.items] == expected[3:6]
    assert second.items[0] == analysis(4, t + 2)
    assert (await store.analyses("nobody/here")).items == []
    assert await history(store, "other/charts", limit=3) == [aid(100 + n) for n in (7, 6, 5, 4, 3, 2, 1)]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "12",
        "x_" + "a" * 32,
        "1.0_" + "g" * 32,
        "1.0_" + "a" * 31,
        "1.00_" + "a" * 32,  # not a store's own spelling
        "inf_" + "a" * 32,
        "nan_" + "a" * 32,
        "1.0_" + "a" * 32 + "x",
        "1" * 100 + ".0_" + "a" * 32,
    ],
)
async def test_a_cursor_the_store_did_not_write_is_refused(store: JobStore, cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        await store.analyses(REPO, cursor=cursor)


async def test_over_the_byte_bound_the_oldest_analyses_go_and_the_new_one_stays(
    store: JobStore, clock: FakeClock
) -> None:
    limits = AnalysisLimits(max_age_seconds=DAY, max_bytes=250)
    t = clock()
    for n in (1, 2, 3):
        assert await store.put_analysis(analysis(n, t + n), b"a" * 100, limits=limits)
    assert await store.get_analysis(aid(1)) is None
    assert await history(store) == [aid(3), aid(2)]
    # The analysis just stored stays even when it is the oldest of all; the oldest other goes.
    assert await store.put_analysis(analysis(4, t - 100), b"b" * 100, limits=limits)
    assert await history(store) == [aid(3), aid(4)]
    # Larger than the whole bound: not stored, and nothing was evicted for it.
    assert not await store.put_analysis(analysis(5, t + 10), b"c" * 251, limits=limits)
    assert await store.get_analysis(aid(5)) is None
    assert await history(store) == [aid(3), aid(4)]
    assert await store.put_analysis(analysis(6, t + 11), b"d" * 250, limits=limits)
    assert await history(store) == [aid(6)]
    with pytest.raises(ValueError, match="positive"):
        await store.put_analysis(analysis(7, t), b"x", limits=AnalysisLimits(max_age_seconds=0, max_bytes=10))


async def test_prune_removes_old_analyses_then_the_oldest_beyond_the_bytes(store: JobStore, clock: FakeClock) -> None:
    t = clock()
    for n in range(1, 7):
        assert await store.put_analysis(analysis(n, t + n * 3600), b"x" * 10, limits=ROOMY)
    clock.advance(10 * 3600)
    # Older than 7.5 h: created at t + 1 h and t + 2 h (t + 3 h is 7 h old... and stays).
    assert await store.prune_analyses(AnalysisLimits(max_age_seconds=7.5 * 3600, max_bytes=1000)) == 2
    assert await history(store, limit=10) == [aid(n) for n in (6, 5, 4, 3)]
    assert await store.prune_analyses(AnalysisLimits(max_age_seconds=DAY, max_bytes=25)) == 2
    assert await history(store, limit=10) == [aid(6), aid(5)]
    assert await store.prune_analyses(AnalysisLimits(max_age_seconds=DAY, max_bytes=25)) == 0
    # What pruning freed is free: two more of 10 bytes fit beside what is left only if counted out.
    tight = AnalysisLimits(max_age_seconds=DAY, max_bytes=40)
    assert await store.put_analysis(analysis(7, clock()), b"y" * 10, limits=tight)
    assert await store.put_analysis(analysis(8, clock() + 1), b"y" * 10, limits=tight)
    assert await history(store, limit=10) == [aid(8), aid(7), aid(6), aid(5)]
    clock.advance(10)
    assert await store.prune_analyses(AnalysisLimits(max_age_seconds=1, max_bytes=1000)) == 4
    assert await history(store) == []


async def test_retention_prunes_stored_analyses_when_asked(store: JobStore, clock: FakeClock) -> None:
    assert await store.put_analysis(analysis(1, clock()), b"old", limits=ROOMY)
    clock.advance(2 * DAY)
    assert await store.put_analysis(analysis(2, clock()), b"new", limits=ROOMY)
    await prune_once(store, retention(90, 1000), None)
    assert await history(store) == [aid(2), aid(1)]
    await prune_once(store, retention(90, 1000), None, analyses=AnalysisLimits(max_age_seconds=DAY, max_bytes=100))
    assert await history(store) == [aid(2)]


# -- acknowledgements ----------------------------------------------------------------------------


async def test_acknowledgements_are_added_replaced_and_removed(open_store: OpenStore, clock: FakeClock) -> None:
    store, other = await open_store(), await open_store()
    t = clock()
    held = await store.change_acknowledgements(REPO, SCOPE, add=[ack(2, t), ack(1, t)])
    assert held == [ack(1, t), ack(2, t)]  # sorted by signal id
    assert await other.acknowledgements(REPO, SCOPE) == held
    replaced = ack(1, t + 5, fingerprint="f2", reason="known, fixed in #13")
    assert await other.change_acknowledgements(REPO, SCOPE, add=[replaced]) == [replaced, ack(2, t)]
    assert await store.change_acknowledgements(REPO, SCOPE, add=[ack(3, t)], remove=[sig(2), sig(9)]) == [
        replaced,
        ack(3, t),
    ]
    # None removes every acknowledgement of the scope, before the ones added.
    assert await store.change_acknowledgements(REPO, SCOPE, remove=None, add=[ack(4, t)]) == [ack(4, t)]
    assert await store.change_acknowledgements(REPO, SCOPE, remove=None) == []
    assert await other.acknowledgements(REPO, SCOPE) == []


async def test_a_full_scope_takes_no_new_signal_ids_but_replaces_those_it_holds(
    store: JobStore, clock: FakeClock
) -> None:
    t = clock()
    assert await store.change_acknowledgements(REPO, SCOPE, add=[ack(1, t), ack(2, t), ack(3, t)], max_per_scope=2) == [
        ack(1, t),
        ack(2, t),
    ]
    assert await store.change_acknowledgements(REPO, SCOPE, add=[ack(4, t)], max_per_scope=2) == [ack(1, t), ack(2, t)]
    assert await store.change_acknowledgements(REPO, SCOPE, add=[ack(2, t + 1, fingerprint="f9")], max_per_scope=2) == [
        ack(1, t),
        ack(2, t + 1, fingerprint="f9"),
    ]
    # Removed first, then added: the room a removal makes is taken in the same change.
    assert await store.change_acknowledgements(REPO, SCOPE, add=[ack(4, t)], remove=[sig(1)], max_per_scope=2) == [
        ack(2, t + 1, fingerprint="f9"),
        ack(4, t),
    ]
    with pytest.raises(ValueError, match="positive"):
        await store.change_acknowledgements(REPO, SCOPE, add=[ack(5, t)], max_per_scope=0)


async def test_scopes_and_repositories_keep_acknowledgements_apart(store: JobStore, clock: FakeClock) -> None:
    t = clock()
    # Pairs that would name one key if a repository and a scope were only joined by ":".
    pairs = [(REPO, SCOPE), (REPO, "octo/charts#13"), ("other/charts", SCOPE), ("a:b", "c"), ("a", "b:c")]
    for n, (repository, scope) in enumerate(pairs):
        await store.change_acknowledgements(repository, scope, add=[ack(n, t), ack(100, t, fingerprint=f"p{n}")])
    for n, (repository, scope) in enumerate(pairs):
        assert await store.acknowledgements(repository, scope) == [ack(n, t), ack(100, t, fingerprint=f"p{n}")]
    await store.change_acknowledgements("a:b", "c", remove=None)
    await store.change_acknowledgements(REPO, SCOPE, remove=[sig(100)])
    assert await store.acknowledgements("a:b", "c") == []
    assert await store.acknowledgements("a", "b:c") == [ack(4, t), ack(100, t, fingerprint="p4")]
    assert await store.acknowledgements(REPO, SCOPE) == [ack(0, t)]
    assert await store.acknowledgements(REPO, "octo/charts#13") == [ack(1, t), ack(100, t, fingerprint="p1")]
    assert await store.acknowledgements("other/charts", SCOPE) == [ack(2, t), ack(100, t, fingerprint="p2")]


async def test_hostile_texts_are_values_not_code(store: JobStore, clock: FakeClock) -> None:
    t = clock()
    repository, scope = "o/r') redis.call('FLUSHALL') --", "'; DROP TABLE analyses; --\n]]"
    reason = "fine ]] .. redis.call('DEL', KEYS[1]) .. [[ \u202e\x1b[31m"
    held = await store.change_acknowledgements(
        repository, scope, add=[ack(1, t, reason=reason)], events=[event(1, t, repository=repository)]
    )
    assert held == [ack(1, t, reason=reason)]
    assert held[0].reason == "fine ]] .. redis.call('DEL', KEYS[1]) .. [[ \\u202e\\x1b[31m"  # bounded, escaped
    record = analysis(1, t, repository=repository, scope=scope, charts=(ChartSummary("x\n'", "é", "warn", {"'": 1}),))
    assert await store.put_analysis(record, b"p", limits=ROOMY)
    assert await store.latest_analysis(repository, scope=scope) == record
    assert await store.get_analysis(aid(1)) == (record, b"p")
    assert [e.repository for e in (await store.acknowledgement_log(repository)).items] == [repository]


# -- the acknowledgement log ---------------------------------------------------------------------


async def test_the_log_is_paged_newest_first_of_all_or_of_one_repository(
    open_store: OpenStore, clock: FakeClock
) -> None:
    store, other = await open_store(), await open_store()
    t = clock()
    await store.change_acknowledgements(REPO, SCOPE, events=[event(1, t), event(2, t + 1, change="unack")])
    await other.change_acknowledgements(
        "other/charts", "other/charts#12", events=[event(3, t + 2, repository="other/charts")]
    )
    await store.change_acknowledgements(REPO, SCOPE, events=[event(4, t + 3)])
    first = await other.acknowledgement_log(limit=3)
    assert [(e.seq, e.signal_id) for e in first.items] == [(4, sig(4)), (3, sig(3)), (2, sig(2))]
    assert first.items[0] == AckEvent(
        at=t + 3,
        repository=REPO,
        scope=f"{REPO}#12",
        signal_id=sig(4),
        change="ack",
        by="octocat",
        via="comment",
        reason="reason 4",
        seq=4,
    )
    assert first.items[2].change == "unack"
    rest = await other.acknowledgement_log(limit=3, cursor=first.cursor)
    assert [e.seq for e in rest.items] == [1] and rest.cursor is None
    mine = await store.acknowledgement_log(REPO, limit=2)
    assert [e.seq for e in mine.items] == [4, 2] and mine.cursor is not None
    assert [e.seq for e in (await store.acknowledgement_log(REPO, limit=2, cursor=mine.cursor)).items] == [1]
    assert [e.seq for e in (await store.acknowledgement_log("other/charts")).items] == [3]
    assert (await store.acknowledgement_log("nobody/here")).items == []
    with pytest.raises(ValueError, match="not a cursor"):
        await store.acknowledgement_log(cursor="x")


async def test_the_log_keeps_at_most_its_bound_removing_the_oldest(store: JobStore, clock: FakeClock) -> None:
    t = clock()
    await store.change_acknowledgements(REPO, SCOPE, events=[event(n, t + n) for n in range(1, 6)], max_log=3)
    assert [e.seq for e in (await store.acknowledgement_log()).items] == [5, 4, 3]
    await store.change_acknowledgements(
        "other/charts", SCOPE, events=[event(6, t + 6, repository="other/charts")], max_log=3
    )
    assert [e.seq for e in (await store.acknowledgement_log()).items] == [6, 5, 4]
    assert [e.seq for e in (await store.acknowledgement_log(REPO)).items] == [5, 4]


async def test_prune_removes_old_acknowledgements_and_log_entries(store: JobStore, clock: FakeClock) -> None:
    t = clock()
    await store.change_acknowledgements(REPO, SCOPE, add=[ack(1, t), ack(2, t + 5 * 3600)], events=[event(1, t)])
    await store.change_acknowledgements(REPO, "octo/charts#13", add=[ack(3, t)], events=[event(3, t + 1)])
    await store.change_acknowledgements(REPO, SCOPE, events=[event(2, t + 5 * 3600)])
    assert await store.put_analysis(analysis(1, t + 5 * 3600), b"kept", limits=ROOMY)
    clock.advance(8 * 3600)
    assert await store.prune_analyses(AnalysisLimits(max_age_seconds=6 * 3600, max_bytes=1000)) == 0
    assert await store.acknowledgements(REPO, SCOPE) == [ack(2, t + 5 * 3600)]
    assert await store.acknowledgements(REPO, "octo/charts#13") == []
    assert [(e.seq, e.signal_id) for e in (await store.acknowledgement_log()).items] == [(3, sig(2))]
    assert [e.seq for e in (await store.acknowledgement_log(REPO)).items] == [3]
    assert await store.get_analysis(aid(1)) == (analysis(1, t + 5 * 3600), b"kept")


# -- what is read back is untrusted --------------------------------------------------------------


async def test_corrupted_records_on_redis_are_passed_by(redis_url: str, clock: FakeClock) -> None:
    prefix = f"corrupt-{uuid.uuid4().hex[:8]}"
    store = await RedisJobStore.open(redis_url, prefix=prefix, clock=clock)
    raw = aioredis.Redis.from_url(redis_url)
    t = clock()
    try:
        for n in range(1, 6):
            assert await store.put_analysis(analysis(n, t + n, head="1" * 40), b"x" * 10, limits=ROOMY)
        await raw.hset(f"{prefix}:analysis:{aid(5)}", "record", b"\xff\x00 not json")
        await raw.hset(f"{prefix}:analysis:{aid(4)}", "record", b'{"id": 5, "created_at": "soon"}')
        await raw.delete(f"{prefix}:analysis:{aid(3)}")
        await raw.set(f"{prefix}:analysis:{aid(3)}", b"a string where a hash was")
        moved = analysis(1, t + 2)  # a readable record, under another id's key
        await raw.hset(f"{prefix}:analysis:{aid(2)}", "record", encode_record(moved))
        for n in (2, 3, 4, 5):
            assert await store.get_analysis(aid(n)) is None, n
        assert await store.get_analysis(aid(1)) == (analysis(1, t + 1, head="1" * 40), b"x" * 10)
        latest = await store.latest_analysis(REPO, scope=SCOPE)
        assert latest is not None and latest.id == aid(1)
        latest = await store.latest_analysis(REPO, head_sha="1" * 40)
        assert latest is not None and latest.id == aid(1)
        assert await history(store, limit=2) == [aid(1)]
        # Acknowledgements and log entries that do not read back are passed by too.
        await store.change_acknowledgements(REPO, SCOPE, add=[ack(1, t), ack(2, t)], events=[event(1, t), event(2, t)])
        scope_key = f"{prefix}:acks:{len(REPO)}:{REPO}:{SCOPE}"
        await raw.hset(scope_key, sig(2), b"[1, 2")
        await raw.hset(scope_key, sig(3), b'{"signal_id": "%s"}' % sig(3).encode())
        await raw.hset(f"{prefix}:acklog:entry", "2", b"\x00")
        assert await store.acknowledgements(REPO, SCOPE) == [ack(1, t)]
        assert [e.seq for e in (await store.acknowledgement_log()).items] == [1]
        assert [e.seq for e in (await store.acknowledgement_log(REPO)).items] == [1]
        # Eviction and pruning go on past them: the bound is kept, the new analysis stays.
        assert await store.put_analysis(analysis(6, t + 6), b"y" * 20, limits=AnalysisLimits(DAY, 25))
        assert await history(store) == [aid(6)]
        assert await store.get_analysis(aid(6)) == (analysis(6, t + 6), b"y" * 20)
        clock.advance(2 * DAY)
        assert await store.prune_analyses(AnalysisLimits(DAY, 1000)) == 1
        assert await history(store) == []
        assert await store.acknowledgements(REPO, SCOPE) == []
        assert (await store.acknowledgement_log()).items == []
        assert int(await raw.get(f"{prefix}:analysis_bytes") or 0) == 0
        # A key of another type where the store keeps a scope's acknowledgements: a StoreError.
        await raw.set(scope_key, b"x")
        with pytest.raises(StoreError):
            await store.acknowledgements(REPO, SCOPE)
    finally:
        await raw.aclose()
        await store.close()


async def test_corrupted_records_on_sqlite_are_passed_by(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = await SqliteJobStore.open(str(path), clock=clock)
    t = clock()
    try:
        for n in (1, 2, 3):
            assert await store.put_analysis(analysis(n, t + n), b"x", limits=ROOMY)
        await store.change_acknowledgements(REPO, SCOPE, add=[ack(1, t), ack(2, t)], events=[event(1, t), event(2, t)])
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE analyses SET record = 'garbage' WHERE id = ?", (aid(3),))
            conn.execute("UPDATE analyses SET record = ? WHERE id = ?", (f'{{"id": "{aid(1)}"}}', aid(2)))
            conn.execute("UPDATE acknowledgements SET record = x'00ff' WHERE signal_id = ?", (sig(2),))
            conn.execute("UPDATE acknowledgement_log SET record = '{}' WHERE seq = 2")
        assert await store.get_analysis(aid(3)) is None
        assert await store.get_analysis(aid(2)) is None
        latest = await store.latest_analysis(REPO, scope=SCOPE)
        assert latest is not None and latest.id == aid(1)
        assert await history(store) == [aid(1)]
        assert await store.acknowledgements(REPO, SCOPE) == [ack(1, t)]
        assert [e.seq for e in (await store.acknowledgement_log()).items] == [1]
    finally:
        await store.close()


# -- cost and schema -----------------------------------------------------------------------------


async def test_redis_put_cost_does_not_grow_with_analyses_held(redis_url: str, clock: FakeClock) -> None:
    """Commands run by the server for one put under the bound, with 10 and with 300 analyses held."""
    store = await RedisJobStore.open(redis_url, prefix=f"analysis-cost-{uuid.uuid4().hex[:8]}", clock=clock)
    client = aioredis.Redis.from_url(redis_url)
    try:
        costs: list[int] = []
        for held in (10, 300):
            for n in range(len(costs) * 10, held):
                assert await store.put_analysis(analysis(n, clock() + n), b"p" * 100, limits=ROOMY)
            await client.config_resetstat()
            assert await store.put_analysis(analysis(10_000 + held, clock()), b"p" * 100, limits=ROOMY)
            costs.append(await _commands(client))
        assert costs[0] == costs[1], costs
    finally:
        await client.aclose()
        await store.close()


async def test_sqlite_totals_the_bytes_held_from_an_index(tmp_path: Path) -> None:
    """The aggregate each put reads walks analyses_age (which holds `size`), never the table."""
    with sqlite3.connect(tmp_path / "plan.sqlite3") as conn:
        for script in sqlite_schema.MIGRATIONS:
            conn.executescript(script)
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sqlite_schema.ANALYSES_BYTES}")]
    assert plan == ["SCAN analyses USING COVERING INDEX analyses_age"]
    # The statements run per request or per analysis are among those whose plans are read.
    assert {
        "select_analysis",
        "upsert_analysis",
        "latest_of_scope",
        "latest_of_head",
        "history_page",
        "acks_of_scope",
        "count_acks",
        "holds_ack",
        "upsert_ack",
        "delete_ack",
        "insert_ack_event",
        "trim_ack_log",
        "ack_log_page",
        "ack_log_page_of_repository",
    } <= set(sqlite_schema.INDEXED)


async def test_a_version_5_sqlite_store_gains_the_analyses_tables(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "v5.sqlite3"
    with sqlite3.connect(path) as conn:
        for script in sqlite_schema.MIGRATIONS[:5]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 5")
    store = await SqliteJobStore.open(str(path), clock=clock)
    try:
        assert await store.put_analysis(analysis(1, clock()), b"kept", limits=ROOMY)
        assert await store.get_analysis(aid(1)) == (analysis(1, clock()), b"kept")
        assert (await store.counts())["queued"] == 0
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.SCHEMA_VERSION == 6
