"""The webhook endpoint: signatures, malformed input, ignore reasons, every real payload."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
import structlog
from gidgethub.routing import Router

from chartimpact_bot.github import events
from chartimpact_bot.logs import configure_logging
from chartimpact_bot.web import webhooks
from chartimpact_bot.web.webhooks import signature_valid
from tests.conftest import git
from tests.github.conftest import (
    MakeApp,
    Repo,
    chart_files,
    example,
    point_at_repository,
    pull_request,
    sign,
)
from tests.github.conftest import push as push_payload
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


async def test_during_a_rotation_the_previous_secret_is_accepted_too(
    make_app: MakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps(example("ping")).encode()
    old_signed = _headers(body, **{"X-Hub-Signature-256": sign(body, "the old secret")})
    rotating = await make_app(previous_webhook_secret="the old secret")
    assert (await _post(rotating, body, _headers(body)))[0] == 200  # the new secret
    assert (await _post(rotating, body, old_signed | {"X-GitHub-Delivery": str(uuid.uuid4())}))[0] == 200
    assert "delivery signed with GITHUB_WEBHOOK_SECRET_PREVIOUS" in capsys.readouterr().out
    other = _headers(body, **{"X-Hub-Signature-256": sign(body, "a third secret")})
    assert (await _post(rotating, body, other))[0] == 401
    # Without the variable, the old secret is refused.
    settled = await make_app()
    assert (await _post(settled, body, old_signed | {"X-GitHub-Delivery": str(uuid.uuid4())}))[0] == 401


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


# --- the body, however it arrives ------------------------------------------------------------


def _padded_pull_request(repo: Repo, size: int) -> bytes:
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit(chart_files("web", tag="1.26"), "new image")
    payload = pull_request("opened", number=5, base_sha=base, head_sha=head)
    payload["pull_request"]["body"] = "x" * size
    return json.dumps(payload).encode()


async def test_a_signed_delivery_sent_in_chunks_without_a_length_is_accepted(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    body = _padded_pull_request(repo, 1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]
            await asyncio.sleep(0.005)

    headers = _headers(body, **{"X-GitHub-Event": "pull_request"})
    response = await app.client.post("/api/webhooks/github", data=chunks(), headers=headers)
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request_info.headers
    assert response.status == 202, await response.text()
    await app.settle()


async def _raw_post(app: Any, head: bytes, pieces: list[bytes]) -> tuple[int, dict[str, Any]]:
    """The request written to the socket piece by piece, with pauses, as a real network does."""
    server = app.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head)
        for piece in pieces:
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(piece)
        await writer.drain()
        lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
        answer = await reader.readexactly(length)
    finally:
        writer.close()
    return int(lines[0].split()[1]), json.loads(answer)


def _request_head(body: bytes, **headers: str) -> bytes:
    lines = [
        "POST /api/webhooks/github HTTP/1.1",
        "Host: localhost",
        "Connection: close",
        *(f"{name}: {value}" for name, value in _headers(body, **headers).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_signed_delivery_whose_body_arrives_in_pieces_is_accepted(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    body = _padded_pull_request(repo, 1024 * 1024)
    head = _request_head(body, **{"X-GitHub-Event": "pull_request", "Content-Length": str(len(body))})
    third = len(body) // 3
    status, answer = await _raw_post(app, head, [body[:third], body[third : 2 * third], body[2 * third :]])
    assert status == 202, answer
    await app.settle()


async def test_a_chunked_body_over_the_limit_is_413(make_app: MakeApp) -> None:
    app = await make_app(max_webhook_bytes=4096)
    body = json.dumps({"zen": "x" * 10_000}).encode()
    head = _request_head(body, **{"Transfer-Encoding": "chunked"})
    pieces = [f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:3000], body[3000:])] + [b"0\r\n\r\n"]
    assert await _raw_post(app, head, pieces) == (413, {"error": "the delivery is larger than 4096 bytes"})


async def test_a_body_that_stops_arriving_is_408_and_a_sender_that_leaves_is_no_error(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(webhooks, "BODY_TIMEOUT_SECONDS", 0.5)
    app = await make_app()
    body = b'{"zen": "ok"}'
    head = _request_head(body, **{"Content-Length": "100"})
    assert await _raw_post(app, head, [body]) == (408, {"error": "the body did not arrive within 0.5 seconds"})
    server = app.client.server
    configure_logging("info", "json")
    try:
        _, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(head + body)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()
        await asyncio.sleep(0.6)
    finally:
        structlog.reset_defaults()
    assert '"level": "error"' not in capsys.readouterr().out


async def test_a_form_encoded_delivery_is_read_from_its_payload_field(make_app: MakeApp) -> None:
    app = await make_app()
    body = urlencode({"payload": json.dumps(example("ping"))}).encode()
    status, answer = await _post(app, body, _headers(body, **{"Content-Type": "application/x-www-form-urlencoded"}))
    assert (status, answer) == (200, {"status": "ignored", "reason": "ping acknowledged"})


# --- malformed payloads are 400s that name the field; our bugs are 500s -------------------


def _with(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return payload


_DELETE = object()
_PR = ("pull_request", lambda: pull_request("opened", number=1, base_sha="a" * 40, head_sha="b" * 40))
_PUSH = ("push", lambda: push_payload(before="a" * 40, after="b" * 40))


@pytest.mark.parametrize(
    ("kind", "path", "value", "reason"),
    [
        (_PR, "installation", "abc", "installation must be an object, not a string"),
        (_PR, "installation", [1], "installation must be an object, not a list"),
        (_PR, "installation", 5, "installation must be an object, not a number"),
        (_PR, "installation.id", "4242", "installation.id must be a positive integer, not a string"),
        (_PR, "installation.id", True, "installation.id must be a positive integer, not a boolean"),
        (_PR, "installation.id", -1, "installation.id must be a positive integer, not a number"),
        (_PR, "action", ["opened"], "action must be a string, not a list"),
        (_PR, "pull_request", [], "pull_request must be an object, not a list"),
        (_PR, "pull_request", _DELETE, "pull_request is missing"),
        (_PR, "repository", "acme/charts", "repository must be an object, not a string"),
        (_PR, "repository.full_name", 5, "repository.full_name must be a string, not a number"),
        (_PR, "repository.full_name", "no-slash", "repository.full_name is not an owner/name"),
        (_PR, "number", "x", "number must be a positive integer, not a string"),
        (_PR, "pull_request.number", "x", "pull_request.number must be a positive integer, not a string"),
        (_PR, "pull_request.number", 1.5, "pull_request.number must be a positive integer, not a number"),
        (_PR, "pull_request.head", None, "pull_request.head must be an object, not null"),
        (_PR, "pull_request.base.sha", 5, "pull_request.base.sha must be a string, not a number"),
        (_PR, "pull_request.head.sha", "../../../user", "pull_request.head.sha is not a commit SHA"),
        (_PR, "pull_request.head.ref", {}, "pull_request.head.ref must be a string, not an object"),
        (_PR, "changes", "base", "changes must be an object, not a string"),
        (_PUSH, "before", "main", "before is not a commit SHA"),
        (_PUSH, "ref", None, "ref must be a string, not null"),
        (_PUSH, "created", "yes", "created must be a boolean, not a string"),
        (_PUSH, "repository.default_branch", 1, "repository.default_branch must be a string, not a number"),
    ],
)
async def test_a_malformed_payload_is_400_naming_the_field(
    make_app: MakeApp, kind: tuple[str, Any], path: str, value: Any, reason: str
) -> None:
    app = await make_app()
    event, build = kind
    status, answer = await app.deliver(event, _with(build(), path, value))
    assert (status, answer) == (400, {"error": f"the {event} payload is missing or has a malformed field: {reason}"})


@pytest.mark.parametrize(
    ("event", "path", "value", "reason"),
    [
        ("release", "release", None, "release must be an object, not null"),
        ("release", "release.id", "1", "release.id must be a positive integer, not a string"),
        ("release", "release.tag_name", ["v1"], "release.tag_name must be a string, not a list"),
        ("check_run", "check_run.head_sha", None, "check_run.head_sha must be a string, not null"),
        ("check_run", "check_run.pull_requests", "1", "check_run.pull_requests must be a list, not a string"),
        ("check_run", "check_run.pull_requests", [5], "check_run.pull_requests[0] must be an object, not a number"),
        ("check_run", "check_run.name", 5, "check_run.name must be a string, not a number"),
        ("check_suite", "check_suite", [], "check_suite must be an object, not a list"),
        ("check_suite", "check_suite.before", 0, "check_suite.before must be a string, not a number"),
        (
            "check_suite",
            "check_suite.pull_requests",
            [{"number": 1, "base": {"sha": "a" * 40}, "head": None}],
            "check_suite.pull_requests[0].head must be an object, not null",
        ),
    ],
)
async def test_malformed_release_and_check_payloads_are_400(
    make_app: MakeApp, event: str, path: str, value: Any, reason: str
) -> None:
    app = await make_app()
    action = {"release": "published"}.get(event, "rerequested")
    payload = point_at_repository(example(event, action))
    status, answer = await app.deliver(event, _with(payload, path, value))
    assert (status, answer) == (400, {"error": f"the {event} payload is missing or has a malformed field: {reason}"})


async def test_a_body_nested_100000_deep_is_400(make_app: MakeApp) -> None:
    app = await make_app()
    body = b'{"zen": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert await _post(app, body, _headers(body)) == (400, {"error": "the body is nested too deeply"})
    body = b'{"zen": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}"
    assert await _post(app, body, _headers(body)) == (400, {"error": "the body is nested too deeply"})


async def test_answers_never_echo_what_the_sender_wrote_at_length(make_app: MakeApp) -> None:
    app = await make_app()
    long_ref = "refs/heads/" + "<b>x</b>'" * 1000
    status, answer = await app.deliver("push", push_payload(before="a" * 40, after="b" * 40, ref=long_ref))
    assert status == 200
    assert len(answer["reason"]) < 120
    assert answer["reason"].startswith("the push is to refs/heads/<b>x</b>\\'<b>x</b>\\'")
    body = b'{"zen": "ok"}'
    status, answer = await _post(app, body, _headers(body, **{"Content-Type": "text/" + "p" * 500}))
    assert status == 400
    assert len(answer["error"]) < 120
    body = b'{"installation": {"id": 1}}'
    status, answer = await _post(app, body, _headers(body, **{"X-GitHub-Event": "e\u00e9" * 500}))
    assert status == 200
    assert answer["reason"] == "e\\xe9" * 12 + "… causes no analysis"
    status, answer = await _post(app, body, _headers(body, **{"X-GitHub-Delivery": "d" * 129}))
    assert (status, answer) == (400, {"error": "X-GitHub-Delivery is not a delivery id"})


async def test_a_bug_in_a_handler_is_a_500_with_its_traceback_in_the_log(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = Router()

    @broken.register("pull_request", action="opened")
    async def deciding_bug(event: Any, decision: Any, payload: Any) -> None:
        fields: dict[str, int] = {}
        decision.accept("acme/charts", "pull_request", {"number": fields["number"]}, key="k")  # a KeyError, once a 400

    monkeypatch.setattr(events, "ROUTER", broken)
    app = await make_app()
    configure_logging("info", "json")
    try:
        status, answer = await app.deliver(
            "pull_request", pull_request("opened", number=1, base_sha="a" * 40, head_sha="b" * 40), delivery_id="bug-1"
        )
    finally:
        structlog.reset_defaults()
    assert (status, answer) == (500, {"error": "the delivery could not be handled because of an error in the App"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (failure,) = [line for line in lines if line["event"] == "the delivery could not be handled"]
    assert failure["level"] == "error"
    assert failure["delivery_id"] == "bug-1"
    assert "Traceback" in failure["exception"]
    assert "deciding_bug" in failure["exception"]
    assert "KeyError: 'number'" in failure["exception"]
