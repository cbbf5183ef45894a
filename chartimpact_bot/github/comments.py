"""The pull request comment: one comment carrying the marker, edited in place on every run,
re-created when someone deleted it, never duplicated (work on one pull request is serialized),
never longer than 65,536 characters.

Ours is the comment that carries the marker and was written by this App (its bot user, or
performed via it): anyone can paste the marker, and a human's comment is never edited."""

from __future__ import annotations

import gidgethub

from ..core.model import Report
from ..core.report.markdown import render_markdown
from ..core.report.safe_text import cut_markdown
from .checks import github_destination
from .client import GitHubClient

MARKER = "<!-- chartimpact:analysis:v1 -->"
MAX_COMMENT_CHARS = 65_536


def comment_body(
    report: Report, *, check_run_url: str | None, max_signals: int | None, page_url: str | None = None
) -> str:
    """`page_url`: the report page's signed link (issue 12); the comment links to it and to each signal on it."""
    budget = MAX_COMMENT_CHARS - len(MARKER) - 1
    destination = github_destination(check_run_url or None, page_url)
    body = MARKER + "\n" + render_markdown(report, max_chars=budget, max_signals=max_signals, destination=destination)
    return cut_markdown(body, MAX_COMMENT_CHARS)


async def find_comment(client: GitHubClient, owner: str, repo: str, number: int) -> int | None:
    """Our comment on the pull request: the marker, written by this App."""
    comments = await client.getall(
        "/repos/{owner}/{repo}/issues/{number}/comments?per_page=100", {"owner": owner, "repo": repo, "number": number}
    )
    marked = [c for c in comments if MARKER in str(c.get("body") or "")]
    if not marked:
        return None
    identity = await client.app_identity()  # only asked for when a comment carries the marker
    for comment in marked:
        if identity.wrote(comment):
            return int(comment["id"])
    return None


async def upsert_comment(
    client: GitHubClient, owner: str, repo: str, number: int, body: str, *, create: bool = True
) -> int | None:
    """Edit our comment, or create it (when `create`); the comment id, or None when none exists."""
    existing = await find_comment(client, owner, repo, number)
    if existing is not None:
        try:
            await client.patch(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                {"owner": owner, "repo": repo, "comment_id": existing},
                data={"body": body},
            )
            return existing
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:  # deleted between listing and editing: create it again
                raise
    if not create:
        return None
    answer = await client.post(
        "/repos/{owner}/{repo}/issues/{number}/comments",
        {"owner": owner, "repo": repo, "number": number},
        data={"body": body},
    )
    return int(answer["id"])
