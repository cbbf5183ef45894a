"""Whether GitHub accepts the App's credentials, for `/readyz`.

A private key that is not a key stops start-up (settings.py). One that parses but is not the
App's (rotated on GitHub, or GITHUB_APP_ID names another App) only shows when GitHub answers
401 to the App's JWT, and then every delivery fails: the instance is not ready. The check asks
`GET /app` when it knows nothing recent (at most once per RECHECK_SECONDS while rejected, so a
fixed key is noticed soon, and every ACCEPTED_SECONDS otherwise), and hears every answer GitHub
gives to the App's own calls (tokens, `GET /app`, installation lookups) through `observe`.

GitHub failing or unreachable says nothing about the credentials: the instance stays ready
(deliveries are still committed to the store and run when GitHub is back), so only a 401 counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import gidgethub

from ..jobs.model import TransientError

RECHECK_SECONDS = 60.0
ACCEPTED_SECONDS = 600.0
WAIT_SECONDS = 1.5  # of a readiness probe's time (READY_TIMEOUT_SECONDS in web/app.py is 2)
REJECTED = "GitHub rejects the App's credentials (401): check GITHUB_APP_ID and GITHUB_PRIVATE_KEY"


class CredentialCheck:
    def __init__(
        self,
        fetch_app: Callable[[str], Awaitable[dict[str, Any]]],
        app_jwt: Callable[[], str],
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch_app = fetch_app
        self._app_jwt = app_jwt
        self._timer = timer
        self._rejected: bool | None = None  # None: not known yet
        self._checked_at = float("-inf")
        self._asking: asyncio.Task[None] | None = None

    def observe(self, installation_id: int | None, status: int, headers: Mapping[str, str]) -> None:
        """Every GitHub response (client.ResponseHook); only the App's own calls say anything."""
        if installation_id is not None:
            return
        if status == 401:
            self._note(rejected=True)
        elif 200 <= status < 300:
            self._note(rejected=False)

    async def problem(self, wait: float = WAIT_SECONDS) -> str | None:
        """A sentence when GitHub rejects the credentials, else None. When a check is due it
        asks GitHub, waiting up to `wait` seconds for the answer; a slower answer is still
        heard (the call goes on), and probes meanwhile do not ask again."""
        due = RECHECK_SECONDS if self._rejected is not False else ACCEPTED_SECONDS
        if (self._asking is None or self._asking.done()) and self._timer() - self._checked_at >= due:
            self._asking = asyncio.create_task(self._ask(), name="credential-check")
        if self._asking is not None and not self._asking.done():
            await asyncio.wait({self._asking}, timeout=wait)
        return REJECTED if self._rejected else None

    async def close(self) -> None:
        if self._asking is not None:
            self._asking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._asking

    async def _ask(self) -> None:
        try:
            await self._fetch_app(self._app_jwt())
        except gidgethub.BadRequest as exc:
            if exc.status_code == 401:
                self._note(rejected=True)
            else:
                self._checked_at = self._timer()  # GitHub answered, but not about the key
        except (gidgethub.GitHubException, TransientError, aiohttp.ClientError, TimeoutError):
            self._checked_at = self._timer()  # GitHub is failing: nothing learnt, ask again later
        else:
            self._note(rejected=False)

    def _note(self, *, rejected: bool) -> None:
        self._rejected = rejected
        self._checked_at = self._timer()
