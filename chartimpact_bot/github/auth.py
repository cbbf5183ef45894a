"""GitHub App authentication: the App's JWT, and installation tokens cached until 5 minutes
before they expire (refreshed once when GitHub answers 401). Tokens are never logged.

The App's identity (id, client id, slug: what tells its own comments from a human's) is read
once with `GET /app` and kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cachetools import TLRUCache

TOKEN_MARGIN_SECONDS = 300
Fetcher = Callable[[int, str], Awaitable[dict[str, str]]]
AppFetcher = Callable[[str], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """Who this App is on GitHub. `GITHUB_APP_ID` may be the numeric id or the client id."""

    id: int | None = None
    client_id: str | None = None
    slug: str | None = None

    @classmethod
    def from_setting(cls, app_id: str) -> AppIdentity:
        return cls(id=int(app_id)) if app_id.isdigit() else cls(client_id=app_id or None)

    def wrote(self, item: Mapping[str, Any]) -> bool:
        """Whether this App wrote a comment (or any item with `user` and `performed_via_github_app`):
        its bot user did, or GitHub says it was performed via this App. A human's never counts."""
        user = item.get("user") or {}
        if not isinstance(user, Mapping) or user.get("type") != "Bot":
            return False
        if self.slug and user.get("login") == f"{self.slug}[bot]":
            return True
        app = item.get("performed_via_github_app") or {}
        if not isinstance(app, Mapping):
            return False
        return (
            (self.id is not None and app.get("id") == self.id)
            or (self.client_id is not None and app.get("client_id") == self.client_id)
            or (self.slug is not None and app.get("slug") == self.slug)
        )


@dataclass(frozen=True, slots=True)
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds

    def __repr__(self) -> str:
        return f"InstallationToken(expires_at={self.expires_at})"


def _expiry(key: int, value: InstallationToken, now: float) -> float:
    # TLRUCache's clock is time.monotonic; translate the wall-clock expiry into it.
    return now + (value.expires_at - time.time() - TOKEN_MARGIN_SECONDS)


class AppAuth:
    def __init__(
        self,
        app_id: str,
        private_key: str,
        fetch_token: Fetcher,
        *,
        max_installations: int = 10_000,
        fetch_app: AppFetcher | None = None,
    ) -> None:
        self.app_id = app_id
        self._private_key = private_key
        self._fetch = fetch_token
        self._fetch_app = fetch_app
        self._identity: AppIdentity | None = None
        self._identity_lock = asyncio.Lock()
        self._tokens: TLRUCache[int, InstallationToken] = TLRUCache(
            maxsize=max_installations, ttu=_expiry, timer=time.monotonic
        )
        self._locks: dict[int, asyncio.Lock] = {}

    def app_jwt(self) -> str:
        """RS256, issued 60 s in the past against clock skew, valid for 9 minutes (GitHub allows 10)."""
        now = int(time.time())
        return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": self.app_id}, self._private_key, algorithm="RS256")

    async def identity(self) -> AppIdentity:
        """The App's id, client id and slug from `GET /app` (once); from the setting alone when
        there is no fetcher."""
        async with self._identity_lock:
            if self._identity is None:
                if self._fetch_app is None:
                    self._identity = AppIdentity.from_setting(self.app_id)
                else:
                    answer = await self._fetch_app(self.app_jwt())
                    known = AppIdentity.from_setting(self.app_id)
                    app_id = answer.get("id")
                    self._identity = AppIdentity(
                        id=app_id if isinstance(app_id, int) else known.id,
                        client_id=str(answer.get("client_id") or "") or known.client_id,
                        slug=str(answer.get("slug") or "") or None,
                    )
            return self._identity

    async def installation_token(self, installation_id: int, *, refresh: bool = False) -> str:
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            if refresh:
                self._tokens.pop(installation_id, None)
            cached = self._tokens.get(installation_id)
            if cached is not None:
                return cached.token
            answer = await self._fetch(installation_id, self.app_jwt())
            expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00")).timestamp()
            entry = InstallationToken(answer["token"], expires)
            if expires - time.time() > TOKEN_MARGIN_SECONDS:
                self._tokens[installation_id] = entry
            return entry.token
