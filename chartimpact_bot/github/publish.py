"""Publishing one analysis on GitHub: the Check Run's output (with its details_url, the report
page, and its buttons), the pull request comment and the commit status.

A job's analysis is published here, and so is the same analysis again when an acknowledgement
changes what counts (acknowledge.py): the report it is handed has the acknowledgements applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.model import Report
from ..settings import Settings
from .checks import ConfigProblem, build_output, complete_check_run
from .client import GitHubClient
from .comments import comment_body, upsert_comment
from .statuses import STATES, set_status


@dataclass(frozen=True, slots=True)
class Target:
    """Where an analysis is published: the head commit, the run to complete (None: checks are
    off), and the pull request that gets the comment (None: a push or a release)."""

    owner: str
    repo: str
    head_sha: str
    check_run_id: int | None = None
    check_run_url: str = ""
    pull_number: int | None = None


@dataclass(frozen=True, slots=True)
class CommentSettings:
    mode: str = "changes"  # `.chartimpact.yml` comment.mode: always, changes, never
    max_signals: int | None = 30


@dataclass(frozen=True, slots=True)
class Published:
    verdict: str
    comment_id: int | None


async def publish_analysis(
    client: GitHubClient,
    settings: Settings,
    target: Target,
    report: Report,
    *,
    problems: list[ConfigProblem],
    head_paths: set[str],
    comment: CommentSettings,
    page_url: str | None,
) -> Published:
    output = build_output(report, head_paths=head_paths, problems=problems, page_url=page_url)
    if target.check_run_id is not None:
        await complete_check_run(client, target.owner, target.repo, target.check_run_id, output)
    comment_id = None
    if target.pull_number is not None and settings.commenting_enabled and comment.mode != "never":
        body = comment_body(
            report, check_run_url=target.check_run_url, max_signals=comment.max_signals, page_url=page_url
        )
        create = comment.mode == "always" or has_changes(report) or bool(problems)
        comment_id = await upsert_comment(client, target.owner, target.repo, target.pull_number, body, create=create)
    if settings.status_enabled:
        await set_status(
            client,
            target.owner,
            target.repo,
            target.head_sha,
            state=STATES[output.verdict],
            description=output.title,
            target_url=page_url or target.check_run_url or None,
        )
    return Published(output.verdict, comment_id)


def has_changes(report: Report) -> bool:
    return any(c.signals or c.error or (c.diff is not None and c.diff.resources) for c in report.charts)
