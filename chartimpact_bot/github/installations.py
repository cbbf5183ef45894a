"""Which installation of the App can read a repository, for work no webhook delivered:
`POST /api/compare` names a repository, and the App must find the installation whose token
reads it (`GET /repos/{owner}/{repo}/installation`, with the App's JWT).

Answers are cached for a few minutes: an installation rarely moves, and an operator comparing
refs in a loop should not cost a call to GitHub each time. A repository the App cannot see
(not installed there, or the installation does not include it) is `NotInstalled`; that answer
is cached for less long, so installing the App takes effect soon.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gidgethub
from cachetools import TTLCache

from .auth import AppAuth
from .client import AppClient

FOUND_TTL_SECONDS = 300.0
MISSING_TTL_SECONDS = 30.0
MAX_CACHED = 10_000


class NotInstalled(Exception):
    """The App is not installed on the repository (or the repository does not exist)."""


class InstallationDirectory:
    def __init__(self, app: AppClient, auth: AppAuth, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._auth = auth
        self._found: TTLCache[str, int] = TTLCache(MAX_CACHED, FOUND_TTL_SECONDS, timer=timer)
        self._missing: TTLCache[str, bool] = TTLCache(MAX_CACHED, MISSING_TTL_SECONDS, timer=timer)

    async def installation_of(self, owner: str, repo: str) -> int:
        """The installation id for `owner/repo`; NotInstalled when the App cannot read it."""
        key = f"{owner}/{repo}".lower()  # GitHub's names are case-insensitive
        found = self._found.get(key)
        if found is not None:
            return found
        if key in self._missing:
            raise NotInstalled(f"the App is not installed on {owner}/{repo}")
        try:
            answer = await self._app.getitem(
                "/repos/{owner}/{repo}/installation", {"owner": owner, "repo": repo}, self._auth.app_jwt()
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code in (403, 404):  # 403: a repository the App may not see at all
                self._missing[key] = True
                raise NotInstalled(f"the App is not installed on {owner}/{repo}") from exc
            raise
        installation_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(installation_id, int) or isinstance(installation_id, bool):
            raise NotInstalled(f"GitHub named no installation for {owner}/{repo}")
        self._found[key] = installation_id
        return installation_id
