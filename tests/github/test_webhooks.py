"""The webhook endpoint: signatures, malformed input, ignore reasons, every real payload."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chartimpact_bot.web.webhooks import signature_valid
from tests.github.conftest import MakeApp, Repo, example, pull_request, sign
from tests.github.material import webhook_examples

HANDLED = (
    "pull_request",
    "push",
    "release",
    "check_run",
    "check_suite",
    "installation",
    "installation_repositories",
    "ping",
)


def test_the_signature_test_vector_from_githubs_docs() -> None:
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_valid("It's a Secret to Everybody", b"Hello, World!", header)
    assert not signature_valid("It's a Secret to Everybody", b"Hello, World?", header)
    assert not signature_valid("another secret", b"Hello, World!", header)
    assert not signature_valid("It's a Secret to Everybody", b"Hello, World!", None)
    assert not signature_valid("It's a Secret to Everybody", b"Hello, World!", header.replace("sha256=", "sha1="))


async def _post(app: Any, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = await app.client.post("/api/webhooks/github", data=body, headers=headers)
    return response.status, await response.json()


def _headers(body: bytes, **overrides: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body),
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v}


async def test_a_bad_or_missing_signature_is_401(make_app: MakeApp) -> None:
    app = await make_app()
    body = json.dumps(example("ping")).encode()
    assert (await _post(app, body, _headers(body, **{"X-Hub-Signature-256": sign(body, "wrong secret")})))[0] == 401
    assert (await _post(app, body, _headers(body, **{"X-Hub-Signature-256": ""})))[0] == 401
    assert (await _post(app, body, _headers(body, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})))[0] == 401


@pytest.mark.parametrize(
    ("body", "overrides", "message"),
    [
        (b'{"zen": "ok"}', {"X-GitHub-Event": ""}, "X-GitHub-Event and X-GitHub-Delivery headers are required"),
        (b'{"zen": "ok"}', {"X-GitHub-Delivery": ""}, "X-GitHub-Event and X-GitHub-Delivery headers are required"),
        (b"{not json", {}, "the body is not valid JSON"),
        (b"\xff\xfe garbage", {}, "the body is not valid JSON"),
        (b"[1, 2, 3]", {}, "the payload is not a JSON object"),
        (b'{"zen": "ok"}', {"Content-Type": "text/plain"}, "unsupported content type text/plain"),
    ],
)
async def test_missing_headers_or_garbage_is_400(
    make_app: MakeApp, body: bytes, overrides: dict[str, str], message: str
) -> None:
    app = await make_app()
    status, answer = await _post(app, body, _headers(body, **overrides))
    assert (status, answer) == (400, {"error": message})


async def test_a_payload_missing_fields_is_400_not_500(make_app: MakeApp) -> None:
    app = await make_app()
    payload = pull_request("opened", number=1, base_sha="a" * 40, head_sha="b" * 40)
    del payload["pull_request"]["head"]
    status, answer = await app.deliver("pull_request", payload)
    assert status == 400
    assert answer["error"].startswith("the pull_request payload is missing or has a malformed field")


async def test_too_large_is_413_and_disabled_is_503(make_app: MakeApp) -> None:
    app = await make_app(max_webhook_bytes=2048)
    body = json.dumps({"zen": "x" * 4096}).encode()
    assert (await _post(app, body, _headers(body)))[0] == 413
    disabled = await make_app(webhook_enabled=False)
    small = b'{"zen": "ok"}'
    assert (await _post(disabled, small, _headers(small))) == (503, {"error": "webhooks are disabled"})


async def test_ignored_deliveries_say_why(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    assert await app.deliver("ping", example("ping")) == (200, {"status": "ignored", "reason": "ping acknowledged"})
    assert await app.deliver("installation", example("installation", "created")) == (
        200,
        {"status": "ignored", "reason": "installation acknowledged"},
    )
    closed = pull_request("closed", number=1, base_sha="a" * 40, head_sha="b" * 40)
    assert await app.deliver("pull_request", closed) == (
        200,
        {"status": "ignored", "reason": "the pull request was closed"},
    )
    edited = pull_request("edited", number=1, base_sha="a" * 40, head_sha="b" * 40)
    edited["changes"] = {"title": {"from": "old"}}
    assert (await app.deliver("pull_request", edited))[1][
        "reason"
    ] == "the pull request was edited without changing its base branch"
    labeled = pull_request("labeled", number=1, base_sha="a" * 40, head_sha="b" * 40)
    assert await app.deliver("pull_request", labeled) == (
        200,
        {"status": "ignored", "reason": "pull_request labeled causes no analysis"},
    )
    orphan = pull_request("opened", number=1, base_sha="a" * 40, head_sha="b" * 40)
    del orphan["installation"]
    assert await app.deliver("pull_request", orphan) == (
        200,
        {"status": "ignored", "reason": "the delivery carries no installation"},
    )
    await app.settle()
    assert app.fake.calls == []


async def test_an_edited_base_branch_is_analyzed(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    edited = pull_request("edited", number=1, base_sha="a" * 40, head_sha="b" * 40)
    edited["changes"] = {"base": {"ref": {"from": "develop"}, "sha": {"from": "c" * 40}}}
    status, _ = await app.deliver("pull_request", edited)
    assert status == 202


async def test_every_example_payload_of_the_handled_events_is_answered_without_a_5xx(make_app: MakeApp) -> None:
    app = await make_app()
    answered = []
    for event in HANDLED:
        for payload in webhook_examples()[event]:
            status, answer = await app.deliver(event, payload)
            answered.append((event, payload.get("action"), status))
            assert status < 500, (event, payload.get("action"), answer)
            assert status in (200, 202), (event, payload.get("action"), answer)
    assert len(answered) == sum(len(webhook_examples()[e]) for e in HANDLED)
    assert any(status == 202 for _, _, status in answered)
    await app.settle()  # the jobs they caused ran against unknown repositories, within the REST description


async def test_status_of_an_unknown_job_is_404(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.client.get("/api/webhooks/status/nope")
    assert response.status == 404


async def test_health_and_readiness(make_app: MakeApp) -> None:
    app = await make_app()
    assert (await app.client.get("/healthz")).status == 200
    ready = await app.client.get("/readyz")
    assert (ready.status, await ready.json()) == (200, {"status": "ready"})
