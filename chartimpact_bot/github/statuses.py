"""A commit status (`chartimpact`) for branch protections that use statuses, not checks.

The description is plain text of at most 140 characters, cut here whatever it holds."""

from __future__ import annotations

from ..core.report.safe_text import cut_plain, plain
from .client import GitHubClient

CONTEXT = "chartimpact"
MAX_DESCRIPTION_CHARS = 140
STATES = {"fail": "failure", "warn": "success", "pass": "success"}


async def set_status(
    client: GitHubClient, owner: str, repo: str, sha: str, *, state: str, description: str, target_url: str | None
) -> None:
    data = {
        "state": state,
        "context": CONTEXT,
        "description": cut_plain(plain(description, multiline=False), MAX_DESCRIPTION_CHARS),
    }
    if target_url:
        data["target_url"] = target_url
    await client.post("/repos/{owner}/{repo}/statuses/{sha}", {"owner": owner, "repo": repo, "sha": sha}, data=data)
