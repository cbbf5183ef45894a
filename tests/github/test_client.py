"""Authentication, rate limits, retries and the circuit breaker."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from chartimpact_bot.github.auth import AppAuth
from chartimpact_bot.github.client import BreakerRegistry, CircuitBreaker, RateLimitGate
from chartimpact_bot.jobs.model import RateLimited, TransientError
from tests.conftest import git
from tests.github import conftest
from tests.github.conftest import APP_ID, REPOSITORY, MakeApp, Repo, chart_files, pull_request, release_published


def _head(repo: Repo) -> str:
    return git(repo.path, "rev-parse", "HEAD")


def test_the_app_jwt(app_keys: tuple[str, str]) -> None:
    auth = AppAuth(APP_ID, app_keys[0], fetch_token=None)  # type: ignore[arg-type]
    claims = jwt.decode(auth.app_jwt(), app_keys[1], algorithms=["RS256"])
    now = time.time()
    assert claims["iss"] == APP_ID
    assert now - 62 <= claims["iat"] <= now - 58  # 60 s in the past, against clock skew
    assert claims["exp"] - claims["iat"] <= 600


async def test_installation_tokens_are_cached_until_five_minutes_before_expiry(app_keys: tuple[str, str]) -> None:
    issued: list[tuple[int, str]] = []
    lifetime = {"seconds": 3600}

    async def fetch(installation_id: int, app_jwt: str) -> dict[str, str]:
        issued.append((installation_id, app_jwt))
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + lifetime["seconds"]))
        return {"token": f"ghs_token{len(issued)}", "expires_at": expires}

    auth = AppAuth(APP_ID, app_keys[0], fetch)
    assert await auth.installation_token(1) == "ghs_token1"
    assert await auth.installation_token(1) == "ghs_token1"
    assert await auth.installation_token(2) == "ghs_token2"
    assert await auth.installation_token(1, refresh=True) == "ghs_token3"
    lifetime["seconds"] = 240  # expires within the 5-minute margin: never served from the cache
    assert await auth.installation_token(3) == "ghs_token4"
    assert await auth.installation_token(3) == "ghs_token5"
    assert [i for i, _ in issued] == [1, 2, 1, 3, 3]
    assert "ghs_" not in repr(auth._tokens)


async def test_a_revoked_token_is_refreshed_once(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    first = repo.commit(chart_files("web", tag="1.26"))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=first))
    await app.settle()
    app.fake.tokens.clear()  # GitHub revoked the cached token
    second = repo.commit(chart_files("web", tag="1.27"))
    await app.deliver("pull_request", pull_request("synchronize", number=1, base_sha=base, head_sha=second))
    await app.settle()
    assert app.fake.runs_for(second)[0]["status"] == "completed"
    assert len(app.fake.operations("apps/create-installation-access-token")) == 2


@pytest.mark.parametrize(
    ("operation", "status", "headers", "slept"),
    [
        ("checks/create", 403, {"retry-after": "7"}, 7.0),
        ("checks/create", 429, {"retry-after": "3"}, 3.0),
        ("git/get-blob", 502, {}, None),
    ],
    ids=["secondary limit with retry-after", "429 with retry-after", "5xx"],
)
async def test_rate_limits_and_server_errors_are_retried(
    make_app: MakeApp, repo: Repo, operation: str, status: int, headers: dict[str, str], slept: float | None
) -> None:
    app = await make_app()
    conftest.SLEEPS.clear()
    app.fake.injected.append(
        (
            operation,
            status,
            headers,
            {"message": "You have exceeded a secondary rate limit" if status == 403 else "Bad Gateway"},
        )
    )
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    assert app.fake.runs_for(head)[0]["status"] == "completed"
    assert len(conftest.SLEEPS) == 1
    if slept is not None:
        assert [slept] == conftest.SLEEPS


async def test_the_primary_rate_limit_waits_for_the_reset(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    conftest.SLEEPS.clear()
    reset = int(time.time()) + 20
    app.fake.injected.append(
        (
            "git/get-tree",
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "x-ratelimit-limit": "5000"},
            {"message": "API rate limit exceeded"},
        )
    )
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    assert app.fake.runs_for(head)[0]["status"] == "completed"
    (waited,) = conftest.SLEEPS
    assert 17 <= waited <= 21


async def test_a_long_wait_requeues_the_job_instead_of_blocking(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    app.fake.injected.append(
        ("git/get-tree", 403, {"retry-after": "3600"}, {"message": "You have exceeded a secondary rate limit"})
    )
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    job: Any = None
    for _ in range(200):
        job = await (await app.client.get(answer["statusUrl"])).json()
        if job["attempts"] == 1 and job["state"] == "queued":
            break
        await __import__("asyncio").sleep(0.02)
    assert (job["state"], job["attempts"]) == ("queued", 1)
    assert job["error"] == "GitHub rate limit: retry after 3600 s"
    assert app.fake.runs_for(head)[0]["status"] == "in_progress"  # reused by the retry


def test_the_circuit_breaker_opens_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown=60, clock=lambda: now[0])
    for _ in range(3):
        breaker.check()
        breaker.failure()
    with pytest.raises(TransientError, match="paused"):
        breaker.check()
    now[0] = 61.0
    breaker.check()
    breaker.success()
    assert breaker.failures == 0


def test_breakers_are_per_host_and_installation() -> None:
    breakers = BreakerRegistry()
    one = breakers.get("https://api.github.com", 1)
    assert breakers.get("https://api.github.com/", 1) is one
    assert breakers.get("https://api.github.com", 2) is not one
    assert breakers.get("https://ghes.example/api/v3", 1) is not one
    assert breakers.get("https://api.github.com", None) is not one  # the App's own calls
    assert len(breakers) == 4


def test_the_rate_limit_gate_holds_an_installation_until_its_reset() -> None:
    now = [1000.0]
    gate = RateLimitGate(lambda: now[0])
    gate.limit("https://api.github.com", 1, 1600.0)
    with pytest.raises(RateLimited) as raised:
        gate.check("https://api.github.com", 1)
    assert (raised.value.until, raised.value.retry_after, raised.value.installation_id) == (1600.0, 600.0, 1)
    gate.check("https://api.github.com", 2)  # another installation is not held
    gate.check("https://ghes.example/api/v3", 1)  # nor the same id on another host
    gate.limit("https://api.github.com", 1, 1300.0)  # an earlier reset does not shorten it
    assert gate.until("https://api.github.com", 1) == 1600.0
    now[0] = 1600.0
    gate.check("https://api.github.com", 1)
    assert gate.until("https://api.github.com", 1) is None


def _bot_comments(app: Any, number: int) -> list[dict[str, Any]]:
    return [c for c in app.fake.comments.values() if c["issue"] == number and c.get("author_type", "Bot") == "Bot"]


async def test_a_list_is_read_to_its_last_page(make_app: MakeApp, repo: Repo) -> None:
    """130 comments of people before ours: the App reads both pages of 100 to find its own."""
    app = await make_app()
    for n in range(130):
        app.fake.add_comment(REPOSITORY, 1, f"comment {n}")
    base = _head(repo)
    first = repo.commit(chart_files("web", readiness=False))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=first))
    await app.settle()
    second = repo.commit(chart_files("web", readiness=False, tag="1.27"))
    await app.deliver("pull_request", pull_request("synchronize", number=1, base_sha=base, head_sha=second))
    await app.settle()
    (ours,) = _bot_comments(app, 1)
    assert "1.27" in ours["body"]
    pages = [c.query.get("page", "1") for c in app.fake.operations("issues/list-comments")]
    assert pages == ["1", "2", "1", "2"]
    assert len(app.fake.operations("issues/update-comment")) == 1


async def test_a_token_revoked_while_a_list_is_read_is_refreshed_and_the_list_read_again(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    for n in range(130):
        app.fake.add_comment(REPOSITORY, 1, f"comment {n}")
    revoked: list[Any] = []

    def revoke_on_page_two(call: Any) -> tuple[int, dict[str, str], Any] | None:
        if call.operation == "issues/list-comments" and call.query.get("page") == "2" and not revoked:
            revoked.append(call)
            app.fake.tokens.clear()
            return 401, {}, {"message": "Bad credentials"}
        return None

    app.fake.rules.append(revoke_on_page_two)
    base = _head(repo)
    head = repo.commit(chart_files("web", readiness=False))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    assert len(_bot_comments(app, 1)) == 1
    pages = [c.query.get("page", "1") for c in app.fake.operations("issues/list-comments")]
    assert pages == ["1", "2", "1", "2"]
    assert len(app.fake.operations("apps/create-installation-access-token")) == 2


async def test_the_previous_release_is_found_beyond_the_first_page(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    repo.tag("v1.0.0")
    first = _head(repo)
    second = repo.commit(chart_files("worker", tag="1.27"), "worker image")
    repo.tag("v2.0.0")
    drafts = [
        {"id": 10 + n, "tag_name": f"draft-{n}", "draft": True, "prerelease": False, "published_at": None}
        for n in range(120)
    ]
    app.fake.repos[REPOSITORY].releases = [
        {"id": 2, "tag_name": "v2.0.0", "draft": False, "prerelease": False, "published_at": "2026-11-02T10:00:00Z"},
        *drafts,
        {"id": 1, "tag_name": "v1.0.0", "draft": False, "prerelease": False, "published_at": "2026-11-01T10:00:00Z"},
    ]
    await app.deliver("release", release_published(tag="v2.0.0", release_id=2))
    await app.settle()
    (run,) = app.fake.runs_for(second)
    assert json.loads(run["external_id"]) == {"kind": "release", "base": first}
    assert [c.query.get("page", "1") for c in app.fake.operations("repos/list-releases")] == ["1", "2"]
