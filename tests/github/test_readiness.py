"""/readyz (web/app.py, github/credentials.py): ready means the store answers, the queue runs,
and GitHub accepts the App's credentials; GitHub merely failing does not make it unready."""

from __future__ import annotations

import http
from typing import Any

import gidgethub

from chartimpact_bot.github.credentials import RECHECK_SECONDS, REJECTED, CredentialCheck
from tests.github.conftest import MakeApp, generate_app_keys
from tests.github.fake_github import Call


async def _ready(app: Any) -> tuple[int, dict[str, Any]]:
    response = await app.client.get("/readyz")
    return response.status, await response.json()


async def test_ready_when_github_accepts_the_credentials_and_asks_it_once(make_app: MakeApp) -> None:
    app = await make_app()
    assert await _ready(app) == (200, {"status": "ready"})
    assert await _ready(app) == (200, {"status": "ready"})
    assert len(app.fake.operations("apps/get-authenticated")) == 1  # the answer is kept, not asked per probe


async def test_not_ready_when_github_rejects_the_apps_key(make_app: MakeApp) -> None:
    someone_elses_key, _ = generate_app_keys()  # a well-formed key, but not the App's
    app = await make_app(private_key=someone_elses_key)

    status, answer = await _ready(app)

    assert status == 503
    assert answer["problems"] == [REJECTED]
    assert "GITHUB_PRIVATE_KEY" in REJECTED


async def test_github_failing_does_not_make_the_instance_unready(make_app: MakeApp) -> None:
    app = await make_app()

    def broken(call: Call) -> tuple[int, dict[str, str], Any] | None:
        return 502, {}, {"message": "Server Error"}

    app.fake.rules.append(broken)
    assert await _ready(app) == (200, {"status": "ready"})


class _Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_rejection_seen_on_any_app_call_is_rechecked_until_github_accepts_again() -> None:
    answers: list[Exception | None] = []
    asked: list[str] = []

    async def fetch_app(jwt: str) -> dict[str, Any]:
        asked.append(jwt)
        outcome = answers.pop(0)
        if outcome is not None:
            raise outcome
        return {"id": 1}

    timer = _Timer()
    check = CredentialCheck(fetch_app, lambda: "jwt", timer=timer)
    answers.append(None)
    assert await check.problem() is None
    check.observe(None, 401, {})  # a token request was refused: the key was revoked meanwhile
    check.observe(4242, 200, {})  # an installation's answer says nothing about the App's key
    assert await check.problem() == REJECTED
    assert len(asked) == 1  # just learnt: not asked again at once
    timer.now += RECHECK_SECONDS
    answers.append(gidgethub.BadRequest(http.HTTPStatus.UNAUTHORIZED))
    assert await check.problem() == REJECTED
    timer.now += RECHECK_SECONDS
    answers.append(None)  # the operator fixed the key
    assert await check.problem() is None
    assert len(asked) == 3


async def test_not_ready_while_webhook_intake_is_disabled(make_app: MakeApp) -> None:
    app = await make_app(webhook_enabled=False)

    status, answer = await _ready(app)

    assert status == 503
    assert answer["problems"] == ["webhook intake is disabled (WEBHOOK_ENABLED=false)"]
