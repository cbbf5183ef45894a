"""A commit status (`chartimpact`) for branch protections that use statuses, not checks."""

from __future__ import annotations

from .client import GitHubClient

CONTEXT = "chartimpact"
STATES = {"fail": "failure", "warn": "success", "pass": "success"}


async def set_status(
    client: GitHubClient, owner: str, repo: str, sha: str, *, state: str, description: str, target_url: str | None
) -> None:
    data = {"state": state, "context": CONTEXT, "description": description[:140]}
    if target_url:
        data["target_url"] = target_url
    await client.post("/repos/{owner}/{repo}/statuses/{sha}", {"owner": owner, "repo": repo, "sha": sha}, data=data)
