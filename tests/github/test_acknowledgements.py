"""Acknowledgements through the running App against the fake GitHub (issue 12 point 5): comment
commands and the check run's button, the sender's permission asked through the API, the check
and comment published again at once, and a push that changes the signal ending it."""

from __future__ import annotations

from typing import Any

from tests.github.commands_support import comment_created, open_shop_pull, requested_action, shop_files, values
from tests.github.conftest import REPOSITORY, AppUnderTest, MakeApp, Repo, pull_request

PUBLIC = "https://chartimpact.example"
TOKEN = "operator-token"


async def _pull_with_one_failing_signal(make_app: MakeApp, repo: Repo) -> tuple[AppUnderTest, str, str]:
    """A pull request whose only signal that fails the check is the Service turned LoadBalancer."""
    app = await make_app(public_url=PUBLIC, api_token=TOKEN)
    base, head, payload = open_shop_pull(repo, serviceType="LoadBalancer")
    app.fake.pulls[7] = (base, head)
    await app.deliver("pull_request", payload)
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    return app, base, head


def _exposure_id(app: AppUnderTest, head: str) -> str:
    run = app.fake.runs_for(head)[0]
    (annotation,) = [a for a in run["annotations"] if a["title"].startswith("security.exposure.type")]
    return str(annotation["raw_details"].rsplit("#signal-", 1)[1])


async def _comment(app: AppUnderTest, body: str, login: str) -> int:
    comment_id = app.fake.add_comment(REPOSITORY, 7, body, login=login)
    status, _ = await app.deliver("issue_comment", comment_created(body, number=7, comment_id=comment_id, login=login))
    assert status == 202
    await app.settle()
    return comment_id


def _ours(app: AppUnderTest) -> dict[str, Any]:
    (comment,) = [c for c in app.fake.comments.values() if c["author"] is None and "chartimpact:analysis" in c["body"]]
    return comment


async def test_a_writer_acknowledges_by_comment_and_the_check_goes_green(make_app: MakeApp, repo: Repo) -> None:
    app, _, head = await _pull_with_one_failing_signal(make_app, repo)
    app.fake.permissions["alice"] = "write"
    signal_id = _exposure_id(app, head)
    comment_id = await _comment(app, f"/chartimpact ack {signal_id} planned maintenance", "alice")

    first, second = app.fake.runs_for(head)
    assert (second["status"], second["conclusion"]) == ("completed", "success")
    assert second["details_url"].startswith(PUBLIC + "/reports/")
    ours = _ours(app)
    assert ours["edits"] == 1
    assert "acknowledged by <code>@alice</code>: planned maintenance" in ours["body"]
    assert "1 acknowledged" in ours["body"]
    assert app.fake.reactions == [{"comment_id": comment_id, "content": "+1"}]
    permission_calls = app.fake.operations("repos/get-collaborator-permission-level")
    assert [c.path for c in permission_calls] == [f"/repos/{REPOSITORY}/collaborators/alice/permission"]
    log = await app.queue.store.acknowledgement_log(REPOSITORY)
    assert [(e.signal_id, e.change, e.by, e.via, e.reason) for e in log.items] == [
        (signal_id, "ack", "alice", "comment", "planned maintenance")
    ]
    # The operator API lists it too.
    listed = await app.client.get(
        "/api/jobs/acknowledgements", params={"repository": REPOSITORY}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    entries = (await listed.json())["acknowledgements"]
    assert [(e["signalId"], e["change"], e["by"], e["via"], e["scope"]) for e in entries] == [
        (signal_id, "ack", "alice", "comment", f"{REPOSITORY}#7")
    ]
    # The page shows it acknowledged, and says it no longer counts.
    page = await (await app.client.get(second["details_url"].removeprefix(PUBLIC))).text()
    assert "acknowledged by @alice: planned maintenance" in page

    await _comment(app, f"/chartimpact unack {signal_id}", "alice")
    third = app.fake.runs_for(head)[-1]
    assert third["conclusion"] == "failure"
    assert "acknowledged by" not in _ours(app)["body"]


async def test_a_reader_is_refused_with_a_reply_and_nothing_changes(make_app: MakeApp, repo: Repo) -> None:
    app, _, head = await _pull_with_one_failing_signal(make_app, repo)
    app.fake.permissions["bob"] = "read"
    await _comment(app, "/chartimpact ack all", "bob")
    await _comment(app, "/chartimpact ack all", "mallory")  # no collaborator at all

    assert len(app.fake.runs_for(head)) == 1
    replies = [c["body"] for c in app.fake.comments.values() if c["author"] is None and c["body"].startswith("@")]
    assert replies == [
        "@bob: only people with write access to this repository can acknowledge signals (your access: read).",
        "@mallory: only people with write access to this repository can acknowledge signals (your access: none).",
    ]
    assert (await app.queue.store.acknowledgement_log(REPOSITORY)).items == []
    assert "acknowledged" not in _ours(app)["body"]


async def test_the_acknowledge_button_accepts_the_failing_signals(make_app: MakeApp, repo: Repo) -> None:
    app, base, head = await _pull_with_one_failing_signal(make_app, repo)
    app.fake.permissions["alice"] = "maintain"
    (run,) = app.fake.runs_for(head)
    assert [a["identifier"] for a in run["actions"]] == ["reanalyze", "acknowledge"]
    payload = requested_action(run, "acknowledge", login="alice", number=7, base_sha=base)
    status, _ = await app.deliver("check_run", payload)
    assert status == 202
    await app.settle()
    latest = app.fake.runs_for(head)[-1]
    assert latest["conclusion"] == "success"
    assert [a["identifier"] for a in latest["actions"]] == ["reanalyze"]  # nothing left to acknowledge
    log = await app.queue.store.acknowledgement_log(REPOSITORY)
    assert {(e.change, e.by, e.via) for e in log.items} == {("ack", "alice", "check_run")}


async def test_a_push_that_changes_the_signal_ends_its_acknowledgement(make_app: MakeApp, repo: Repo) -> None:
    app, base, head = await _pull_with_one_failing_signal(make_app, repo)
    app.fake.permissions["alice"] = "admin"
    await _comment(app, "/chartimpact ack all", "alice")
    assert app.fake.runs_for(head)[-1]["conclusion"] == "success"

    # A push that leaves the signal as it was: the acknowledgement holds.
    same = repo.commit(shop_files(values(serviceType="LoadBalancer", mode="c")), "another mode")
    await app.deliver("pull_request", pull_request("synchronize", number=7, base_sha=base, head_sha=same))
    await app.settle()
    assert app.fake.runs_for(same)[-1]["conclusion"] == "success"

    # A push that changes what the signal says (LoadBalancer → NodePort): it counts again.
    changed = repo.commit(shop_files(values(serviceType="NodePort", mode="c")), "NodePort now")
    await app.deliver("pull_request", pull_request("synchronize", number=7, base_sha=base, head_sha=changed))
    await app.settle()
    assert app.fake.runs_for(changed)[-1]["conclusion"] == "failure"
    assert "acknowledged by" not in _ours(app)["body"]


async def test_a_malformed_command_gets_the_usage_and_a_bot_is_never_obeyed(make_app: MakeApp, repo: Repo) -> None:
    app, _, head = await _pull_with_one_failing_signal(make_app, repo)
    app.fake.permissions["alice"] = "write"
    await _comment(app, "/chartimpact approve", "alice")
    (reply,) = [c["body"] for c in app.fake.comments.values() if c["author"] is None and c["body"].startswith("@")]
    assert reply.startswith("@alice: unknown command. ChartImpact understands `/chartimpact ack")
    body = "/chartimpact ack all"
    comment_id = app.fake.add_comment(REPOSITORY, 7, body, login="helper[bot]", bot=True)
    status, answer = await app.deliver(
        "issue_comment", comment_created(body, number=7, comment_id=comment_id, login="helper[bot]", bot=True)
    )
    assert status == 200, answer
    assert len(app.fake.runs_for(head)) == 1


async def test_rerun_by_comment_analyzes_the_pull_request_again(make_app: MakeApp, repo: Repo) -> None:
    app, _, head = await _pull_with_one_failing_signal(make_app, repo)
    app.fake.permissions["alice"] = "write"
    await _comment(app, "/chartimpact rerun", "alice")
    runs = app.fake.runs_for(head)
    assert len(runs) == 2
    assert runs[-1]["conclusion"] == "failure"
    assert app.fake.operations("pulls/get")
