"""POST /api/compare (web/compare.py, CONTRACT §4): the App's own analysis of two refs, with the
installation's credentials, answered as the report JSON `analyze --repo` prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chartimpact_bot.web.keys import RUNNER
from tests.conftest import git
from tests.github.conftest import REPOSITORY, AppUnderTest, MakeApp, Repo, chart_files
from tests.github.fake_github import Call
from tests.github.test_fairness import LIMITED

TOKEN = "compare-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEY = "a fingerprint key both sides share"
ROOT = Path(__file__).resolve().parents[2]


async def _compare(app: AppUnderTest, body: Any, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await app.client.post("/api/compare", data=data, headers={**AUTH, **kwargs})
    return response.status, await response.json(), dict(response.headers)


def _cli_report(repo: Repo, base: str, head: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "chartimpact_bot", "analyze", "--repo", str(repo.path)]
    done = subprocess.run(
        [*command, "--base", base, "--head", head, "--format", "json", *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "CHARTIMPACT_FINGERPRINT_KEY": KEY},
        cwd=ROOT,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "generatedAt"}


def _signals(report: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(chart["path"], chart["signals"]) for chart in report["charts"]]


async def test_a_comparison_answers_the_report_analyze_repo_prints_for_the_same_commits(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app(api_token=TOKEN, fingerprint_secret=KEY)
    repo.tag("v1")
    repo.commit({**chart_files("web", replicas=1, readiness=False), **chart_files("api", tag="1.26")})
    repo.tag("v2")

    status, report, _ = await _compare(app, {"repository": REPOSITORY, "base": "v1", "head": "v2"})

    assert status == 200, report
    expected = _cli_report(repo, "v1", "v2")
    assert _signals(report) == _signals(expected)
    assert any(signals for _, signals in _signals(report))  # the change has signals to compare
    assert _without_time(report) == _without_time(expected)  # the whole report, not only its signals
    assert report["base"]["ref"] == "v1" and report["head"]["ref"] == "v2"
    # Nothing was published: a comparison is not a delivery.
    assert not app.fake.check_runs and not app.fake.comments
    assert app.fake.violations == []


async def test_charts_limits_the_comparison_to_those_chart_directories(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN, fingerprint_secret=KEY)
    repo.tag("v1")
    repo.commit({**chart_files("web", replicas=1), **chart_files("api", tag="1.26")})
    git(repo.path, "branch", "feature/web")  # a ref with a slash, as most branch names have

    status, report, _ = await _compare(
        app, {"repository": REPOSITORY, "base": "v1", "head": "feature/web", "charts": ["charts/web/"]}
    )

    assert status == 200, report
    assert [c["path"] for c in report["charts"]] == ["charts/web"]
    assert report["head"]["ref"] == "feature/web"
    expected = _cli_report(repo, "v1", "feature/web", "--chart", "charts/web")
    assert _without_time(report) == _without_time(expected)


async def test_charts_naming_no_chart_answer_422_not_an_empty_pass(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN)
    body = {"repository": REPOSITORY, "base": "main", "head": "main", "charts": ["charts/web", "charts/nope"]}
    status, answer, _ = await _compare(app, body)
    assert status == 422, answer
    assert answer["error"] == "no chart (a directory with a Chart.yaml) at 'charts/nope' on either side"


async def test_a_comparison_reports_configuration_problems_instead_of_ignoring_them(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app(api_token=TOKEN)
    repo.commit({".chartimpact.yml": "thresholds: {fail: sometimes}\n"})
    repo.tag("v1")
    repo.commit(chart_files("web", replicas=1))

    status, report, _ = await _compare(app, {"repository": REPOSITORY, "base": "v1", "head": "main"})

    assert status == 200, report
    problems = report["configProblems"]
    assert problems and problems[0]["file"] == ".chartimpact.yml" and problems[0]["in"] == "base branch"


async def test_a_comparison_works_while_webhooks_are_disabled(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN, webhook_enabled=False)
    repo.tag("v1")
    repo.commit(chart_files("web", replicas=1))

    status, report, _ = await _compare(app, {"repository": REPOSITORY, "base": "v1", "head": "main"})

    assert status == 200, report
    assert [c["status"] for c in report["charts"] if c["path"] == "charts/web"] == ["analyzed"]


async def test_a_repository_the_app_is_not_installed_on_answers_404(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN)
    app.fake.add_repo("acme/elsewhere", repo.path)  # exists, but no installation of the App reads it

    for repository in ("acme/elsewhere", "acme/missing"):
        status, answer, _ = await _compare(app, {"repository": repository, "base": "main", "head": "main"})
        assert status == 404, answer
        assert repository in answer["error"]
    assert app.fake.violations == []


async def test_an_unknown_ref_answers_422_naming_it(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN)

    status, answer, _ = await _compare(app, {"repository": REPOSITORY, "base": "main", "head": "no-such-branch"})

    assert status == 422, answer
    assert "no-such-branch" in answer["error"]


async def test_malformed_requests_answer_400_with_a_reason_and_reach_no_github(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN)
    ok = {"repository": REPOSITORY, "base": "main", "head": "main"}
    cases: list[tuple[Any, str]] = [
        (b"{not json", "not JSON"),
        ([1, 2], "object"),
        ({**ok, "extra": 1}, "unknown field"),
        ({**ok, "repository": "no-slash"}, "owner/name"),
        ({**ok, "repository": "acme/../etc"}, "owner/name"),
        ({**ok, "base": "a..b"}, "ref"),
        ({**ok, "head": "-x"}, "ref"),
        ({**ok, "head": "x\u202ey"}, "ref"),
        ({**ok, "base": 7}, "base"),
        ({**ok, "charts": "charts/web"}, "list"),
        ({**ok, "charts": ["../secrets"]}, "plain path"),
        ({**ok, "charts": ["x"] * 201}, "at most"),
    ]
    for body, reason in cases:
        status, answer, _ = await _compare(app, body)
        assert status == 400, (body, answer)
        assert reason in answer["error"], (body, answer)
    status, answer, _ = await _compare(app, b'{"repository": "' + b"a" * 70_000 + b'"}')
    assert status == 413, answer
    assert app.fake.calls == []  # not even the installation was looked up


async def test_a_spent_rate_limit_answers_503_with_the_wait_and_no_further_calls(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN)
    reset = int(time.time()) + 600

    def primary_limit(call: Call) -> tuple[int, dict[str, str], Any] | None:
        if call.operation == "git/get-tree":
            return 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, LIMITED
        return None

    app.fake.rules.append(primary_limit)
    status, answer, headers = await _compare(app, {"repository": REPOSITORY, "base": "main", "head": "main"})

    assert status == 503, answer
    assert 500 <= int(headers["Retry-After"]) <= 600
    calls = len(app.fake.calls)
    status, _, _ = await _compare(app, {"repository": REPOSITORY, "base": "main", "head": "main"})
    assert status == 503
    # The second comparison may ask which installation reads the repository (a call as the App,
    # not the installation) but sends nothing on the installation's spent limit.
    assert all(c.operation == "apps/get-repo-installation" for c in app.fake.calls[calls:])


async def test_a_second_comparison_of_the_same_inputs_comes_from_the_result_cache(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app(api_token=TOKEN)
    repo.tag("v1")
    repo.commit(chart_files("web", replicas=1))
    body = {"repository": REPOSITORY, "base": "v1", "head": "main"}

    first = await _compare(app, body)
    only_web = await _compare(app, {**body, "charts": ["charts/web"]})  # other charts asked: another report
    second = await _compare(app, body)

    assert first[0] == second[0] == only_web[0] == 200
    assert second[1] == first[1]
    assert len(only_web[1]["charts"]) == 1 < len(first[1]["charts"])
    metrics = await app.client.get("/metrics")
    text = await metrics.text()
    assert 'chartimpact_result_cache_total{outcome="hit"} 1.0' in text
    assert 'chartimpact_result_cache_total{outcome="miss"} 2.0' in text


async def test_a_bug_answers_a_fixed_sentence_and_never_the_exceptions_text(
    make_app: MakeApp, repo: Repo, monkeypatch: Any
) -> None:
    app = await make_app(api_token=TOKEN)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("password=hunter2 in a template")

    monkeypatch.setattr(app.client.app[RUNNER], "compare", broken)
    status, answer, _ = await _compare(app, {"repository": REPOSITORY, "base": "main", "head": "main"})

    assert status == 500
    assert answer == {"error": "ChartImpact failed unexpectedly while comparing; the operator's logs have the details"}
