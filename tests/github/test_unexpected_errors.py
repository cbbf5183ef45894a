"""A bug while a job runs is answered with a fixed sentence on GitHub and on the status endpoint,
never with the exception's text; its traceback is in the log. An error raised on purpose keeps
its sentence."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog

from chartimpact_bot.core.errors import ChartError, unexpected_failure
from chartimpact_bot.github.runner import AnalysisRunner
from chartimpact_bot.logs import configure_logging
from tests.conftest import git
from tests.github.conftest import MakeApp, Repo, chart_files, pull_request

SECRET_LOOKING = "ghs_0123456789abcdefSECRET at /home/operator/.config/key.pem"


def _log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


async def _deliver(make_app: MakeApp, repo: Repo) -> tuple[Any, str, str]:
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit(chart_files("web", replicas=1), "one replica")
    configure_logging("info", "json")
    try:
        status, answer = await app.deliver(
            "pull_request", pull_request("opened", number=3, base_sha=base, head_sha=head)
        )
        assert status == 202
        await app.settle()
    finally:
        structlog.reset_defaults()
    return app, head, answer["jobId"]


async def test_a_bug_in_the_analysis_completes_the_run_with_a_fixed_sentence(
    make_app: MakeApp, repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError(SECRET_LOOKING)

    monkeypatch.setattr(AnalysisRunner, "_analyze", broken)
    app, head, job_id = await _deliver(make_app, repo)
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    summary = run["output"]["summary"]
    assert "ChartImpact failed unexpectedly while analyzing this change" in summary and job_id in summary
    assert "ghs_" not in json.dumps(run) and "RuntimeError" not in json.dumps(run)
    job = await app.queue.get(job_id)
    assert job is not None and (job.state, job.error) == ("failed", unexpected_failure(job_id))
    status = await (await app.client.get(f"/api/webhooks/status/{job_id}")).text()
    assert "ghs_" not in status
    (failure,) = [line for line in _log_lines(capsys) if line["event"] == "analysis failed unexpectedly"]
    assert failure["level"] == "error" and failure["job_id"] == job_id
    assert "Traceback" in failure["exception"] and "in broken" in failure["exception"]


async def test_an_analysis_error_keeps_its_sentence_on_the_run(
    make_app: MakeApp, repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def refused(*_: Any, **__: Any) -> None:
        raise ChartError("charts/web is not a Helm chart: " + "x" * 2000)

    monkeypatch.setattr(AnalysisRunner, "_analyze", refused)
    app, head, job_id = await _deliver(make_app, repo)
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    assert "charts/web is not a Helm chart: xxx" in run["output"]["summary"]
    job = await app.queue.get(job_id)
    assert job is not None and job.error is not None and len(job.error) <= 500 and job.error.endswith("…")
    assert not [line for line in _log_lines(capsys) if line["level"] == "error"]


async def test_a_bug_outside_the_runners_handling_is_a_fixed_sentence_too(
    make_app: MakeApp, repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError(SECRET_LOOKING)

    monkeypatch.setattr(AnalysisRunner, "run", broken)
    app, _, job_id = await _deliver(make_app, repo)
    job = await app.queue.get(job_id)
    assert job is not None and (job.state, job.error) == ("failed", unexpected_failure(job_id))
    (crash,) = [line for line in _log_lines(capsys) if line["event"] == "job crashed"]
    assert crash["level"] == "error" and "in broken" in crash["exception"]
    assert "RuntimeError: [redacted] at /home/operator" in crash["exception"]  # the log redacts tokens too
