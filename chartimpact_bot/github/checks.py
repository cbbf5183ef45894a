"""The Check Run: created `in_progress` when work starts, completed with the verdict.

Limits (GITHUB.md): summary and text ≤ 65,535 characters; ≤ 50 annotations per request (the
rest in further PATCHes, which accumulate); annotation title ≤ 255 characters, message and
raw_details ≤ 64 KB. Every field is cut to its limit here, where it is built, whatever chart
content it holds; chart text in annotations is plain text without controls or mentions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.acknowledgements import counts
from ..core.model import Report, Signal
from ..core.report.counts import importance_phrase
from ..core.report.environments import SharedSignal, chart_groups
from ..core.report.markdown import Destination, render_diff_markdown, render_markdown
from ..core.report.safe_text import cut_bytes, cut_markdown, cut_plain, md_text, plain
from .client import GitHubClient

CHECK_NAME = "ChartImpact"
MAX_OUTPUT_CHARS = 65_535
MAX_TITLE_CHARS = 255
MAX_MESSAGE_BYTES = 64 * 1024
MAX_PROBLEM_CHARS = 1_000
ANNOTATIONS_PER_REQUEST = 50
CONCLUSIONS = {"fail": "failure", "warn": "neutral", "pass": "success"}
LEVELS = {"fail": "failure", "warn": "warning", "ignore": "notice"}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """A line of `.chartimpact.yml` that is wrong, and which version (base or the change's)."""

    line: int
    message: str
    where: str


@dataclass(slots=True)
class CheckOutput:
    verdict: str  # what the change is judged (published_verdict): the run, status and job say it
    conclusion: str
    title: str
    summary: str
    text: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    details_url: str | None = None  # the report page (issue 12)
    actions: list[dict[str, str]] = field(default_factory=list)  # the run's buttons (requested_action)


def github_destination(check_run_url: str | None = None, page_url: str | None = None) -> Destination:
    """How the Markdown renderer names GitHub's size limit and where the rest is: the report page
    when there is one, else the Check Run."""
    return Destination(
        limit_owner="GitHub", full_report="the Check Run", full_report_url=check_run_url, page_url=page_url
    )


# The buttons of a completed run (check_run requested_action, CONTRACT §5); GitHub allows three,
# labels of 20 characters and descriptions of 40.
REANALYZE = {"label": "Re-analyze", "description": "Run the analysis again", "identifier": "reanalyze"}
ACKNOWLEDGE = {
    "label": "Acknowledge",
    "description": "Accept the signals failing the check",
    "identifier": "acknowledge",
}


def annotation(
    path: str,
    line: int,
    level: str,
    title: str,
    message: str,
    *,
    raw_details: str | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """One annotation within GitHub's limits; `title`, `message` and `raw_details` may hold chart
    text (they are escaped here), `path` is a repository path GitHub matches to a file. `link`
    (ours: the signal on the report page) ends the raw details, unescaped so it stays a URL."""
    out: dict[str, Any] = {
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": level,
        "title": cut_plain(plain(title, multiline=False), MAX_TITLE_CHARS),
        "message": cut_bytes(plain(message), MAX_MESSAGE_BYTES),
    }
    details = cut_bytes(plain(raw_details), MAX_MESSAGE_BYTES - 200 - len(link or "")) if raw_details else ""
    if link:
        details = (details + "\n\n" if details else "") + f"Full report: {link}"
    if details:
        out["raw_details"] = details
    return out


def published_verdict(report: Report, problems: list[ConfigProblem]) -> str:
    """The verdict a delivery publishes: an invalid `.chartimpact.yml` fails the change whatever
    its signals (its policy could not be read, so nothing may pass on it)."""
    return "fail" if problems else report.verdict


def build_output(
    report: Report,
    *,
    head_paths: set[str],
    problems: list[ConfigProblem],
    config_file: str = ".chartimpact.yml",
    page_url: str | None = None,
) -> CheckOutput:
    """`page_url`: the report page's signed link, the run's details_url; annotations link to
    their signal on it."""
    signals = [s for chart in report.charts for s in chart.signals]
    verdict = published_verdict(report, problems)
    summary_counts = importance_phrase(signals, empty="no signals")
    errors = sum(1 for c in report.charts if c.status == "render_error")
    title = f"{verdict}: {summary_counts}" + (
        f"; {errors} chart{'s' if errors != 1 else ''} failed to render" if errors else ""
    )
    if problems:
        title += f"; {config_file} is invalid"
    head = ""
    if problems:
        lines = [f"**{config_file} is invalid** (the analysis used the defaults where the base version failed):", ""]
        lines += [
            f"- {md_text(p.where)} line {p.line}: {md_text(p.message, limit=MAX_PROBLEM_CHARS)}" for p in problems
        ]
        head = cut_markdown("\n".join(lines), MAX_OUTPUT_CHARS // 4) + "\n\n"
    destination = github_destination(page_url=page_url)
    summary = head + render_markdown(
        report, include_diff=False, max_chars=MAX_OUTPUT_CHARS - len(head), destination=destination
    )
    text = (
        render_diff_markdown(report, max_chars=MAX_OUTPUT_CHARS, destination=destination)
        if any(c.diff and c.diff.resources for c in report.charts)
        else ""
    )
    annotations = [
        annotation(config_file, p.line, "failure", f"Invalid {config_file}", p.message)
        for p in problems
        if config_file in head_paths
    ]
    for group in chart_groups(report.charts):
        for shared in group.signals:
            annotations += _annotations(shared, group.several, head_paths, destination)
    counting = any(counts(s) for s in signals)
    return CheckOutput(
        verdict,
        CONCLUSIONS[verdict],
        cut_plain(title, MAX_TITLE_CHARS),
        cut_markdown(summary, MAX_OUTPUT_CHARS),
        cut_markdown(text, MAX_OUTPUT_CHARS),
        annotations,
        details_url=page_url,
        actions=[REANALYZE, ACKNOWLEDGE] if counting else [REANALYZE],
    )


def _annotations(
    shared: SharedSignal, several: bool, head_paths: set[str], destination: Destination
) -> list[dict[str, Any]]:
    """A signal's annotations: one per source line of the head it has in any environment of its
    chart (the chart's template once for all of them; each Application's own line apart),
    naming those environments when the chart has several."""
    signal, rid = shared.signal, shared.signal.resource
    out = []
    for source, environments in shared.sources():
        if source.file not in head_paths:
            continue
        where = f"\n\nEnvironments: {', '.join(environments)}" if several else ""
        out.append(
            annotation(
                source.file,
                # GitHub needs a line; a source without one is about the whole file, shown at its top.
                source.line or 1,
                LEVELS.get(signal.action, "notice"),
                f"{signal.type} · {rid.kind} {rid.name}",
                f"{signal.description}\n\n{signal.explanation}{where}" + _acknowledgement(signal),
                link=destination.signal_url(signal.id),
            )
        )
    return out


def _acknowledgement(signal: Signal) -> str:
    ack = signal.acknowledged
    if ack is None:
        return ""
    return f"\n\nAcknowledged by {ack.by}" + (f": {ack.reason}" if ack.reason else "")


async def create_check_run(
    client: GitHubClient, owner: str, repo: str, head_sha: str, external_id: str
) -> tuple[int, str]:
    answer = await client.post(
        "/repos/{owner}/{repo}/check-runs",
        {"owner": owner, "repo": repo},
        data={"name": CHECK_NAME, "head_sha": head_sha, "status": "in_progress", "external_id": external_id},
    )
    return int(answer["id"]), str(answer.get("html_url") or "")


async def complete_check_run(client: GitHubClient, owner: str, repo: str, run_id: int, output: CheckOutput) -> None:
    """Annotations go 50 at a time; the last request completes the run."""
    url, url_vars = (
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"owner": owner, "repo": repo, "check_run_id": run_id},
    )
    batches = [
        output.annotations[i : i + ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(output.annotations), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    base: dict[str, Any] = {"title": output.title, "summary": output.summary}
    if output.text:
        base["text"] = output.text
    for batch in batches[:-1]:
        await client.patch(url, url_vars, data={"output": {**base, "annotations": batch}})
    last: dict[str, Any] = {
        "status": "completed",
        "conclusion": output.conclusion,
        "output": {**base, "annotations": batches[-1]},
        "actions": output.actions,
    }
    if output.details_url:
        last["details_url"] = output.details_url
    await client.patch(url, url_vars, data=last)


async def _end_check_run(
    client: GitHubClient, owner: str, repo: str, run_id: int, *, conclusion: str, output: dict[str, str]
) -> None:
    """Complete a run that has no analysis to show."""
    await client.patch(
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"owner": owner, "repo": repo, "check_run_id": run_id},
        data={"status": "completed", "conclusion": conclusion, "output": output},
    )


async def fail_check_run(client: GitHubClient, owner: str, repo: str, run_id: int, reason: str) -> None:
    """A job that fails still completes its Check Run, saying what failed."""
    summary = cut_markdown(f"The analysis failed: {md_text(reason, limit=MAX_PROBLEM_CHARS)}", MAX_OUTPUT_CHARS)
    output = {"title": "ChartImpact could not finish", "summary": summary}
    await _end_check_run(client, owner, repo, run_id, conclusion="failure", output=output)


STOPPED_TITLE = "ChartImpact stopped; re-run to analyze"


async def cancel_check_run(client: GitHubClient, owner: str, repo: str, run_id: int, title: str) -> None:
    """A run whose job ended without an analysis (superseded, or stopped and not resumed)."""
    output = {"title": cut_plain(title, MAX_TITLE_CHARS), "summary": md_text(title, limit=MAX_PROBLEM_CHARS)}
    await _end_check_run(client, owner, repo, run_id, conclusion="cancelled", output=output)
