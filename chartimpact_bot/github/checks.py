"""The Check Run: created `in_progress` when work starts, completed with the verdict.

Limits (GITHUB.md): summary and text ≤ 65,535 characters; ≤ 50 annotations per request (the
rest in further PATCHes, which accumulate); annotation title ≤ 255 characters, message ≤ 64 KB.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..analysis.model import IMPORTANCES, Report
from ..analysis.report.markdown import render_diff_markdown, render_markdown
from ..analysis.report.values import md_text
from .client import GitHubClient

CHECK_NAME = "ChartImpact"
MAX_OUTPUT_CHARS = 65_535
MAX_TITLE_CHARS = 255
MAX_MESSAGE_BYTES = 64 * 1024
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
    conclusion: str
    title: str
    summary: str
    text: str
    annotations: list[dict[str, Any]] = field(default_factory=list)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 3].decode("utf-8", "ignore") + "…"


def build_output(
    report: Report, *, head_paths: set[str], problems: list[ConfigProblem], config_file: str = ".chartimpact.yml"
) -> CheckOutput:
    signals = [s for chart in report.charts for s in chart.signals]
    counts = Counter(s.importance for s in signals)
    verdict = "fail" if problems else report.verdict
    summary_counts = ", ".join(f"{counts[i]} {i}" for i in IMPORTANCES if counts[i]) or "no signals"
    errors = sum(1 for c in report.charts if c.status == "render_error")
    title = f"{verdict}: {summary_counts}" + (
        f"; {errors} chart{'s' if errors != 1 else ''} failed to render" if errors else ""
    )
    if problems:
        title += f"; {config_file} is invalid"
    head = ""
    if problems:
        lines = [f"**{config_file} is invalid** (the analysis used the defaults where the base version failed):", ""]
        lines += [f"- {md_text(p.where)} line {p.line}: {md_text(p.message)}" for p in problems]
        head = "\n".join(lines) + "\n\n"
    summary = head + render_markdown(report, include_diff=False, max_chars=MAX_OUTPUT_CHARS - len(head))
    text = (
        render_diff_markdown(report, max_chars=MAX_OUTPUT_CHARS)
        if any(c.diff and c.diff.resources for c in report.charts)
        else ""
    )
    annotations = [
        {
            "path": config_file,
            "start_line": p.line,
            "end_line": p.line,
            "annotation_level": "failure",
            "title": f"Invalid {config_file}",
            "message": _cut_bytes(p.message, MAX_MESSAGE_BYTES),
        }
        for p in problems
        if config_file in head_paths
    ]
    for signal in signals:
        if signal.source is None or signal.source.file not in head_paths:
            continue
        rid = signal.resource
        annotations.append(
            {
                "path": signal.source.file,
                "start_line": signal.source.line,
                "end_line": signal.source.line,
                "annotation_level": LEVELS.get(signal.action, "notice"),
                "title": _cut(f"{signal.type} · {rid.kind} {rid.name}", MAX_TITLE_CHARS),
                "message": _cut_bytes(f"{signal.description}\n\n{signal.explanation}", MAX_MESSAGE_BYTES),
            }
        )
    return CheckOutput(
        CONCLUSIONS[verdict],
        _cut(title, MAX_TITLE_CHARS),
        _cut(summary, MAX_OUTPUT_CHARS),
        _cut(text, MAX_OUTPUT_CHARS),
        annotations,
    )


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
    await client.patch(
        url,
        url_vars,
        data={"status": "completed", "conclusion": output.conclusion, "output": {**base, "annotations": batches[-1]}},
    )


async def fail_check_run(client: GitHubClient, owner: str, repo: str, run_id: int, reason: str) -> None:
    """A job that fails still completes its Check Run, saying what failed."""
    await client.patch(
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"owner": owner, "repo": repo, "check_run_id": run_id},
        data={
            "status": "completed",
            "conclusion": "failure",
            "output": {
                "title": "ChartImpact could not finish",
                "summary": _cut(f"The analysis failed: {md_text(reason)}", MAX_OUTPUT_CHARS),
            },
        },
    )
