"""Whole deliveries through the running App against the fake GitHub."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from tests.conftest import git
from tests.github.conftest import (
    AppUnderTest,
    MakeApp,
    Repo,
    chart_files,
    check_run_rerequested,
    pull_request,
    push,
    release_published,
)

MARKER = "<!-- chartimpact:analysis:v1 -->"


async def test_pull_request_opened_publishes_a_check_run_and_one_comment(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit(chart_files("web", readiness=False), "web loses its readiness probe")
    status, answer = await app.deliver("pull_request", pull_request("opened", number=7, base_sha=base, head_sha=head))
    assert status == 202
    assert answer["statusUrl"] == f"/api/webhooks/status/{answer['jobId']}"
    await app.settle()

    creates = app.fake.operations("checks/create")
    assert [(c.body["name"], c.body["head_sha"], c.body["status"]) for c in creates] == [
        ("ChartImpact", head, "in_progress")
    ]
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"].startswith("fail: 1 high")
    readiness = [a for a in run["annotations"] if a["title"].startswith("availability.probe.readiness")]
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in readiness] == [
        ("charts/web/values.yaml", 3, "failure")
    ]

    (comment,) = app.fake.comments.values()
    assert comment["issue"] == 7
    assert comment["body"].startswith(MARKER)
    assert "Readiness probe removed" in comment["body"]

    job = await app.client.get(answer["statusUrl"])
    status_body = await job.json()
    assert status_body["state"] == "succeeded"
    result = status_body["result"]
    assert re.fullmatch("[0-9a-f]{32}", result.pop("analysisId"))  # the stored analysis behind the report page
    assert result.pop("publicUrl") == str(app.client.make_url("/")).rstrip("/")  # where the delivery came
    assert result == {"verdict": "fail", "checkRunIds": [run["id"]], "commentId": comment["id"]}
    assert status_body["event"] == "pull_request"
    assert status_body["repository"] == "acme/charts"


async def test_synchronize_edits_the_comment_and_checks_the_new_head(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    first = repo.commit(chart_files("web", readiness=False), "web loses its readiness probe")
    await app.deliver("pull_request", pull_request("opened", number=7, base_sha=base, head_sha=first))
    await app.settle()
    (comment,) = app.fake.comments.values()
    second = repo.commit(chart_files("web", readiness=False, replicas=1), "and one replica")
    status, _ = await app.deliver("pull_request", pull_request("synchronize", number=7, base_sha=base, head_sha=second))
    assert status == 202
    await app.settle()
    assert list(app.fake.comments) == [comment["id"]]
    assert app.fake.comments[comment["id"]]["edits"] == 1
    assert "Replicas of Deployment" in app.fake.comments[comment["id"]]["body"]
    (new_run,) = app.fake.runs_for(second)
    assert new_run["status"] == "completed"
    assert len(app.fake.check_runs) == 2


def _head(repo: Repo) -> str:
    return git(repo.path, "rev-parse", "HEAD")


async def test_a_redelivered_delivery_causes_no_new_work(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "new image")
    payload = pull_request("opened", number=3, base_sha=base, head_sha=head)
    status, first = await app.deliver("pull_request", payload, delivery_id="d-1")
    assert status == 202
    await app.settle()
    calls = len(app.fake.calls)
    status, again = await app.deliver("pull_request", payload, delivery_id="d-1")
    await app.settle()
    assert status == 200
    assert again == {"jobId": first["jobId"], "statusUrl": first["statusUrl"], "status": "duplicate"}
    assert len(app.fake.calls) == calls


async def test_a_deleted_comment_is_created_again(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "new image")
    await app.deliver("pull_request", pull_request("opened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    (deleted,) = list(app.fake.comments)
    del app.fake.comments[deleted]  # a user deleted it
    newer = repo.commit(chart_files("web", tag="1.27"), "newer image")
    await app.deliver("pull_request", pull_request("synchronize", number=3, base_sha=base, head_sha=newer))
    await app.settle()
    (recreated,) = app.fake.comments.values()
    assert recreated["id"] != deleted
    assert "1.27" in recreated["body"]


POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: pod-{i}}}
spec:
  containers: [{{name: app, image: 'nginx:1.25'{extra}}}]
"""


async def test_120_signals_go_in_three_annotation_batches_and_the_comment_stays_under_the_limit(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    pods = lambda extra: "---\n".join(POD.format(i=i, extra=extra) for i in range(60))  # noqa: E731
    base = repo.commit(
        {
            "charts/many/Chart.yaml": "apiVersion: v2\nname: many\nversion: 0.1.0\n",
            "charts/many/templates/pods.yaml": pods(""),
        }
    )
    head = repo.commit({"charts/many/templates/pods.yaml": pods(", securityContext: {privileged: true}")})
    await app.deliver("pull_request", pull_request("opened", number=9, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    updates = app.fake.operations("checks/update")
    assert [len(u.body["output"]["annotations"]) for u in updates] == [50, 50, 20]
    assert [u.body.get("status") for u in updates] == [None, None, "completed"]
    assert len(run["annotations"]) == 120
    (comment,) = app.fake.comments.values()
    assert len(comment["body"]) <= 65_536


async def test_check_run_rerequested_runs_the_analysis_again(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "new image")
    await app.deliver("pull_request", pull_request("opened", number=4, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    status, _ = await app.deliver("check_run", check_run_rerequested(run, number=4, base_sha=base))
    assert status == 202
    await app.settle()
    runs = app.fake.runs_for(head)
    assert len(runs) == 2
    assert all(r["status"] == "completed" for r in runs)
    assert json.loads(runs[1]["external_id"]) == {"kind": "pull_request", "base": base}


async def test_push_to_the_default_branch_checks_after_and_comments_nowhere(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    before = _head(repo)
    after = repo.commit(chart_files("api", replicas=1), "api down to one replica")
    status, _ = await app.deliver("push", push(before=before, after=after))
    assert status == 202
    await app.settle()
    (run,) = app.fake.runs_for(after)
    assert run["conclusion"] == "failure"
    assert app.fake.comments == {}
    assert app.fake.operations("issues/list-comments") == []


async def test_pushes_elsewhere_are_ignored(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    head = _head(repo)
    status, answer = await app.deliver("push", push(before=head, after=head, ref="refs/heads/feature"))
    assert (status, answer) == (
        200,
        {"status": "ignored", "reason": "the push is to refs/heads/feature, not the default branch"},
    )
    status, answer = await app.deliver("push", push(before="0" * 40, after=head))
    assert (status, answer["reason"]) == (200, "the push creates or deletes the branch")


def _two_releases(app: AppUnderTest, repo: Repo) -> tuple[str, str]:
    """Releases v1.0.0 and v1.1.0 (which changes the worker's image): their commits."""
    repo.tag("v1.0.0")
    first = _head(repo)
    second = repo.commit(chart_files("worker", tag="1.27"), "worker image")
    repo.tag("v1.1.0")
    app.fake.repos["acme/charts"].releases = [
        {"id": 2, "tag_name": "v1.1.0", "draft": False, "prerelease": False, "published_at": "2026-11-02T10:00:00Z"},
        {"id": 1, "tag_name": "v1.0.0", "draft": False, "prerelease": False, "published_at": "2026-11-01T10:00:00Z"},
    ]
    return first, second


async def test_release_published_is_compared_with_the_previous_release(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    first, second = _two_releases(app, repo)
    status, answer = await app.deliver("release", release_published(tag="v1.1.0", release_id=2))
    assert status == 202
    await app.settle()
    (run,) = app.fake.runs_for(second)
    assert run["status"] == "completed"
    assert json.loads(run["external_id"]) == {"kind": "release", "base": first}
    assert "nginx:1.27" in run["output"]["summary"]


async def test_a_re_run_of_a_release_check_run_compares_the_same_commits(make_app: MakeApp, repo: Repo) -> None:
    """Its external_id names the release's kind and base; the head is the run's own commit."""
    app = await make_app()
    first, second = _two_releases(app, repo)
    await app.deliver("release", release_published(tag="v1.1.0", release_id=2))
    await app.settle()
    (run,) = app.fake.runs_for(second)
    rerun = check_run_rerequested(run, number=1, base_sha=first)
    rerun["check_run"]["pull_requests"] = []
    status, answer = await app.deliver("check_run", rerun)
    assert status == 202
    await app.settle()
    assert (await (await app.client.get(answer["statusUrl"])).json())["state"] == "succeeded"
    again = app.fake.runs_for(second)[1]
    assert (again["status"], again["conclusion"]) == ("completed", run["conclusion"])
    assert "nginx:1.27" in again["output"]["summary"]
    assert json.loads(again["external_id"]) == {"kind": "release", "base": first}


async def test_the_first_release_gets_a_completed_check_run_with_every_chart_added(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    repo.tag("v1.0.0")
    first = _head(repo)
    app.fake.repos["acme/charts"].releases = [
        {"id": 1, "tag_name": "v1.0.0", "draft": False, "prerelease": False, "published_at": "2026-11-01T10:00:00Z"},
    ]
    status, answer = await app.deliver("release", release_published(tag="v1.0.0", release_id=1))
    assert status == 202
    await app.settle()
    (run,) = app.fake.runs_for(first)
    assert run["status"] == "completed"
    assert json.loads(run["external_id"]) == {"kind": "release", "base": None}
    job = await (await app.client.get(answer["statusUrl"])).json()
    assert job["state"] == "succeeded"
    summary = run["output"]["summary"] + run["output"].get("text", "")
    for chart in ("charts/api", "charts/web", "charts/worker"):
        assert chart in summary
    assert "added" in summary


async def test_a_chart_that_fails_to_render_completes_the_check_run_saying_so(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit({"charts/web/templates/broken.yaml": '{{ fail "web.database is required" }}\n'}, "break web")
    await app.deliver("pull_request", pull_request("opened", number=5, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"
    assert run["conclusion"] == "neutral"  # chart.render is high in "other", which warns by default
    assert "1 chart failed to render" in run["output"]["title"]
    assert "web.database is required" in run["output"]["summary"]
    (annotation,) = [a for a in run["annotations"] if a["title"].startswith("chart.render")]
    assert (annotation["path"], annotation["start_line"]) == ("charts/web/templates/broken.yaml", 1)


async def test_an_invalid_config_in_the_pull_request_fails_with_an_annotation_on_its_line(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit({".chartimpact.yml": "version: 1\ncomment:\n  mode: sometimes\n"}, "configure")
    await app.deliver("pull_request", pull_request("opened", number=6, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    (annotation,) = [a for a in run["annotations"] if a["path"] == ".chartimpact.yml"]
    assert (annotation["start_line"], annotation["annotation_level"]) == (3, "failure")
    assert "'comment.mode' must be one of always, changes, never" in annotation["message"]


async def test_the_base_branch_config_applies_and_the_comment_mode_is_honoured(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = repo.commit(
        {".chartimpact.yml": "comment: {mode: never}\nthresholds: {availability: {high: warn}}\n"}, "configure"
    )
    head = repo.commit(chart_files("web", readiness=False), "web loses its readiness probe")
    await app.deliver("pull_request", pull_request("opened", number=8, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "neutral"
    assert app.fake.comments == {}


async def test_feature_flags_turn_publishing_off_and_statuses_on(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(checks_enabled=False, commenting_enabled=False, status_enabled=True)
    base = _head(repo)
    head = repo.commit(chart_files("web", readiness=False), "web loses its readiness probe")
    await app.deliver("pull_request", pull_request("opened", number=8, base_sha=base, head_sha=head))
    await app.settle()
    assert app.fake.check_runs == {}
    assert app.fake.comments == {}
    assert [(s["state"], s["context"]) for s in app.fake.statuses] == [
        ("pending", "chartimpact"),
        ("failure", "chartimpact"),
    ]


async def test_a_synchronize_that_changes_one_values_file_is_economical(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    first = repo.commit(chart_files("web", tag="1.26"), "web image")
    await app.deliver("pull_request", pull_request("opened", number=2, base_sha=base, head_sha=first))
    await app.settle()
    before = len(app.fake.calls)
    second = repo.commit(chart_files("web", tag="1.27"), "web image again")
    status, answer = await app.deliver(
        "pull_request", pull_request("synchronize", number=2, base_sha=base, head_sha=second)
    )
    await app.settle()
    calls = app.fake.calls[before:]
    trees = [c.path.rsplit("/", 1)[-1] for c in calls if c.operation == "git/get-tree"]
    assert trees == [second]  # the base tree is known; one call for the new head
    blobs = [c.path.rsplit("/", 1)[-1] for c in app.fake.calls if c.operation == "git/get-blob"]
    assert len(blobs) == len(set(blobs))  # no blob is ever fetched twice
    new_blobs = [c.path.rsplit("/", 1)[-1] for c in calls if c.operation == "git/get-blob"]
    assert new_blobs == [git(repo.path, "rev-parse", f"{second}:charts/web/values.yaml")]
    summary = app.fake.runs_for(second)[0]["output"]["summary"]
    assert summary.count("| analyzed |") == 1
    assert "| unchanged |" not in summary  # the unchanged charts are one line after the table
    assert "2 charts unchanged: <code>charts/api</code>, <code>charts/worker</code>" in summary


async def test_github_enterprise_server_through_its_api_path(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(base_path="/api/v3")
    assert app.settings.api_url.endswith("/api/v3")
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "web image")
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"
    assert all(c.path.startswith("/repos/") or c.path.startswith("/app/") for c in app.fake.calls)


async def test_a_job_that_fails_still_completes_its_check_run(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "web image")
    app.fake.injected.append(("git/get-tree", 404, {}, {"message": "Not Found"}))
    status, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"] == "ChartImpact could not finish"
    state: Any = await (await app.client.get(answer["statusUrl"])).json()
    assert state["state"] == "failed"
    assert "404" in state["error"]


async def test_deliveries_are_answered_before_the_work(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    app.fake.latency = 0.3
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "web image")
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    answered = loop.time() - started
    state: Any = await (await app.client.get(answer["statusUrl"])).json()
    assert status == 202
    assert state["state"] in ("queued", "running")
    assert answered < 0.3  # GitHub's answers take 0.3 s each: none was awaited before the 202
    await app.settle()


async def test_truncated_trees_are_walked(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    app.fake.truncate_trees = True
    base = _head(repo)
    head = repo.commit(chart_files("web", readiness=False), "web loses its readiness probe")
    await app.deliver("pull_request", pull_request("opened", number=7, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    assert "Readiness probe removed" in run["output"]["summary"]
    assert any(c.operation == "git/get-tree" and "recursive" not in c.query for c in app.fake.calls)


async def test_synchronous_processing_answers_after_the_work(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(async_processing=False)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "web image")
    status, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    assert status == 202
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"  # before the answer came back
    state: Any = await (await app.client.get(answer["statusUrl"])).json()
    assert state["state"] == "succeeded"


async def test_check_suite_rerequested_runs_the_pull_request_analysis_again(make_app: MakeApp, repo: Repo) -> None:
    from tests.github.conftest import example, point_at_repository  # noqa: PLC0415

    app = await make_app()
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "web image")
    payload = point_at_repository(example("check_suite", "rerequested"))
    payload["check_suite"].update(
        {
            "head_sha": head,
            "before": base,
            "pull_requests": [
                {"number": 11, "base": {"ref": "main", "sha": base}, "head": {"ref": "feature", "sha": head}}
            ],
        }
    )
    status, _ = await app.deliver("check_suite", payload)
    assert status == 202
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"
    (comment,) = app.fake.comments.values()
    assert comment["issue"] == 11
