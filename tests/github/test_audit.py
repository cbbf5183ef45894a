"""The audit log of deliveries (issue 8 point 9) through the App: every delivery to the webhook is
recorded with its outcome, unsigned ones with their headers only, and `GET /api/jobs/deliveries`
answers it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chartimpact_bot.jobs.audit import AuditQuery
from chartimpact_bot.jobs.store import open_store
from chartimpact_bot.web.keys import AUDIT
from chartimpact_bot.web.metrics import METRICS
from tests.github.conftest import (
    INSTALLATION,
    REPOSITORY,
    AppUnderTest,
    MakeApp,
    Repo,
    chart_files,
    example,
    pull_request,
    sign,
)
from tests.github.test_deliveries import _head
from tests.jobs.conftest import FakeClock

TOKEN = "audit-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SENDER = "Codertocat"  # the sender of GitHub's example payloads


async def _post(app: AppUnderTest, body: bytes, event: str, delivery: str, signature: str) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
    }
    response = await app.client.post("/api/webhooks/github", data=body, headers=headers)
    return response.status


async def _deliveries(app: AppUnderTest, query: str = "") -> tuple[int, dict[str, Any]]:
    await app.client.app[AUDIT].flush()
    response = await app.client.get(f"/api/jobs/deliveries{query}", headers=AUTH)
    return response.status, await response.json()


async def test_every_delivery_is_recorded_with_its_outcome(make_app: MakeApp, repo: Repo) -> None:
    clock = FakeClock(1_800_000_000.0)
    app = await make_app(api_token=TOKEN, max_webhook_bytes=65_536, clock=clock)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    opened = pull_request("opened", number=1, base_sha=base, head_sha=head)
    status, accepted = await app.deliver("pull_request", opened, delivery_id="d-accepted")
    assert status == 202
    assert (await app.deliver("pull_request", opened, delivery_id="d-accepted"))[0] == 200
    assert (await app.deliver("ping", example("ping"), delivery_id="d-ping"))[0] == 200
    # Unsigned: its body names a repository and a sender, which must not reach the log.
    forged = json.dumps(pull_request("opened", number=2, base_sha=base, head_sha=head)).encode()
    assert await _post(app, forged, "pull_request", "d-forged", sign(forged, "not the secret")) == 401
    garbage = b"{not json"
    assert await _post(app, garbage, "push", "d-garbage", sign(garbage)) == 400
    huge = json.dumps({"zen": "x" * 70_000}).encode()
    assert await _post(app, huge, "pull_request", "d-huge", sign(huge)) == 413
    await app.settle()

    status, answer = await _deliveries(app)
    assert status == 200 and answer["nextCursor"] is None
    rows = [(d["deliveryId"], d["outcome"], d["status"]) for d in answer["deliveries"]]
    assert rows == [
        ("d-huge", "rejected", 413),
        ("d-garbage", "rejected", 400),
        ("d-forged", "rejected", 401),
        ("d-ping", "ignored", 200),
        ("d-accepted", "duplicate", 200),
        ("d-accepted", "accepted", 202),
    ]
    by_delivery = {(d["deliveryId"], d["outcome"]): d for d in answer["deliveries"]}
    assert by_delivery["d-accepted", "accepted"] == {
        "at": "2027-01-15T08:00:00Z",
        "deliveryId": "d-accepted",
        "event": "pull_request",
        "action": "opened",
        "repository": REPOSITORY,
        "installation": INSTALLATION,
        "sender": SENDER,
        "outcome": "accepted",
        "status": 202,
        "jobId": accepted["jobId"],
    }
    assert by_delivery["d-accepted", "duplicate"]["jobId"] == accepted["jobId"]
    assert by_delivery["d-forged", "rejected"] == {
        "at": "2027-01-15T08:00:00Z",
        "deliveryId": "d-forged",
        "event": "pull_request",
        "action": None,
        "repository": None,
        "installation": None,
        "sender": None,
        "outcome": "rejected",
        "status": 401,
        "jobId": None,
    }
    assert by_delivery["d-ping", "ignored"]["jobId"] is None


async def test_an_accepted_deliverys_entry_is_stored_before_the_answer(make_app: MakeApp, repo: Repo) -> None:
    """Nothing written behind: another store object on the App's file (a restarted instance
    after kill -9) finds the entry as soon as the 202 came back."""
    app = await make_app(api_token=TOKEN)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    status, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    assert status == 202 and app.client.app[AUDIT].pending == 0
    store = await open_store(app.settings.queue_url)
    try:
        [entry] = (await store.deliveries(AuditQuery(outcome="accepted"))).items
    finally:
        await store.close()
    assert (entry.job_id, entry.repository, entry.sender) == (answer["jobId"], REPOSITORY, SENDER)
    await app.settle()


async def test_deliveries_are_filtered_and_paged(make_app: MakeApp) -> None:
    app = await make_app(api_token=TOKEN)
    for n in range(5):
        assert (await app.deliver("ping", example("ping"), delivery_id=f"ping-{n}"))[0] == 200
    body = b"{}"
    for n in range(3):
        assert await _post(app, body, "push", f"bad-{n}", "sha256=" + "0" * 64) == 401
    status, page = await _deliveries(app, "?outcome=ignored&limit=3")
    assert status == 200 and [d["deliveryId"] for d in page["deliveries"]] == ["ping-4", "ping-3", "ping-2"]
    status, rest = await _deliveries(app, f"?outcome=ignored&limit=3&cursor={page['nextCursor']}")
    assert (status, [d["deliveryId"] for d in rest["deliveries"]], rest["nextCursor"]) == (
        200,
        ["ping-1", "ping-0"],
        None,
    )
    for query, expected in (
        ("?event=push", ["bad-2", "bad-1", "bad-0"]),
        ("?delivery=ping-3", ["ping-3"]),
        ("?outcome=rejected&event=push&delivery=bad-1", ["bad-1"]),
        ("?repository=Octocoders/Hello-World&outcome=ignored&limit=1", ["ping-4"]),
        ("?installation=1&event=ping", []),
        ("?event=%1b%5b31m", []),
    ):
        status, answer = await _deliveries(app, query)
        assert (status, [d["deliveryId"] for d in answer["deliveries"]]) == (200, expected), query


async def test_bad_parameters_of_the_audit_listing_answer_400(make_app: MakeApp) -> None:
    app = await make_app(api_token=TOKEN)
    for query in (
        "outcome=lost",
        "outcome=accepted&outcome=ignored",
        "limit=0",
        "limit=201",
        "cursor=abc",
        "cursor=" + "9" * 30,
        "installation=-1",
        "installation=%D9%A3",
        "installation=" + "9" * 30,
        "repository=" + "a" * 161,
        "delivery=" + "d" * 129,
        "event=",
        "colour=red",
    ):
        status, answer = await _deliveries(app, f"?{query}")
        assert status == 400 and answer["error"], query
    assert (await app.client.get("/api/jobs/deliveries")).status == 401  # behind the token, like /api/jobs
    unconfigured = await make_app()
    assert (await unconfigured.client.get("/api/jobs/deliveries", headers=AUTH)).status == 403


async def test_a_store_that_cannot_be_used_answers_503_and_the_entry_is_counted_as_dropped(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app(api_token=TOKEN)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    await app.queue.store.close()  # as if the disk went away
    payload = pull_request("opened", number=1, base_sha=base, head_sha=head)
    body = json.dumps(payload).encode()
    response = await app.client.post(
        "/api/webhooks/github",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body),
        },
    )
    assert response.status == 503 and response.headers["Retry-After"]
    assert "job store" in (await response.json())["error"]
    status, answer = await _deliveries(app)
    assert status == 503 and answer["error"]
    metrics = app.client.app[METRICS]
    assert metrics.audit_dropped._value.get() == 1
    assert metrics.deliveries.labels("pull_request", "rejected", "503")._value.get() == 1


async def test_an_unsigned_flood_keeps_the_audit_log_within_its_bound(make_app: MakeApp) -> None:
    app = await make_app(api_token=TOKEN, max_audit_entries=100)
    body = json.dumps(example("ping")).encode()
    for n in range(150):
        assert await _post(app, body, "ping", f"flood-{n}", "sha256=" + "0" * 64) == 401
    await app.client.app[AUDIT].flush()
    store = await open_store(app.settings.queue_url)
    try:
        held = [e.delivery_id for e in (await store.deliveries(AuditQuery(), limit=200)).items]
    finally:
        await store.close()
    assert held == [f"flood-{n}" for n in reversed(range(50, 150))]
