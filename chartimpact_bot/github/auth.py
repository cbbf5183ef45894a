"""GitHub App authentication: the App's JWT, and installation tokens cached until 5 minutes
before they expire (refreshed once when GitHub answers 401). Tokens are never logged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import jwt
from cachetools import TLRUCache

TOKEN_MARGIN_SECONDS = 300
Fetcher = Callable[[int, str], Awaitable[dict[str, str]]]


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
    def __init__(self, app_id: str, private_key: str, fetch_token: Fetcher, *, max_installations: int = 10_000) -> None:
        self.app_id = app_id
        self._private_key = private_key
        self._fetch = fetch_token
        self._tokens: TLRUCache[int, InstallationToken] = TLRUCache(
            maxsize=max_installations, ttu=_expiry, timer=time.monotonic
        )
        self._locks: dict[int, asyncio.Lock] = {}

    def app_jwt(self) -> str:
        """RS256, issued 60 s in the past against clock skew, valid for 9 minutes (GitHub allows 10)."""
        now = int(time.time())
        return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": self.app_id}, self._private_key, algorithm="RS256")

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
