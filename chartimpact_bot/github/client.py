"""Requests to GitHub as an installation, with the care GitHub asks for.

- Primary rate limit (403/429, `x-ratelimit-remaining: 0`): the installation is limited until
  `x-ratelimit-reset`. The RateLimitGate shared by every client of the instance remembers it, so
  no job of that installation calls GitHub before the reset: a short wait is slept by the job
  that met it, and every other call of the installation raises RateLimited at once (the queue
  parks the job until the reset without counting an attempt).
- Secondary rate limit (403/429 with `retry-after`, or without it): honour it, else wait 60 s
  and back off exponentially. gidgethub reports these as BadRequest and ignores `retry-after`,
  so it is read from the headers the exception carries.
- 5xx and connection errors: exponential backoff with jitter; a circuit breaker stops calling a
  GitHub that keeps failing; the job is retried later (TransientError), never lost. There is one
  breaker per (API host, installation) (BreakerRegistry): one installation's outage, or one
  GHES host's, never pauses the calls of another.
- 401: the installation token is refreshed once (GitHubClient, around each call it makes).
Waits longer than MAX_WAIT_SECONDS become a TransientError instead of blocking a worker.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import gidgethub
import gidgethub.aiohttp

from ..jobs.model import RateLimited, TransientError
from ..timestamps import iso
from .auth import AppAuth, AppIdentity

USER_AGENT = "chartimpact-bot"
Sleep = Callable[[float], Awaitable[None]]
# Told of every response GitHub gave: (installation id, None for the App's own calls; status;
# headers). The server's /metrics counts requests by status and keeps x-ratelimit-remaining.
ResponseHook = Callable[[int | None, int, Mapping[str, str]], None]
Clock = Callable[[], float]
# Whose calls: the API base URL (github.com or a GHES host) and the installation (None: the App itself).
Scope = tuple[str, int | None]
NO_RESET_WAIT_SECONDS = 60.0  # a primary limit answered without x-ratelimit-reset
MAX_WAIT_SECONDS = 120.0
MAX_ATTEMPTS = 4  # of one request, in all
T = TypeVar("T")


@dataclass(slots=True)
class CircuitBreaker:
    """Open after `threshold` consecutive failures; closed again `cooldown` seconds later."""

    threshold: int = 5
    cooldown: float = 60.0
    failures: int = 0
    opened_at: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic)

    def check(self) -> None:
        if self.opened_at is not None:
            if self.clock() - self.opened_at < self.cooldown:
                raise TransientError("GitHub keeps failing; calls are paused for a minute")
            self.opened_at, self.failures = None, 0

    def success(self) -> None:
        self.failures = 0

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self.clock()


class BreakerRegistry:
    """One CircuitBreaker per (API base URL, installation id), made on first use."""

    def __init__(self, factory: Callable[[], CircuitBreaker] = CircuitBreaker) -> None:
        self._factory = factory
        self._breakers: dict[Scope, CircuitBreaker] = {}

    def get(self, base_url: str, installation_id: int | None) -> CircuitBreaker:
        scope = (base_url.rstrip("/"), installation_id)
        breaker = self._breakers.get(scope)
        if breaker is None:
            breaker = self._breakers[scope] = self._factory()
        return breaker

    def __len__(self) -> int:
        return len(self._breakers)


class RateLimitGate:
    """Which installations have spent their primary rate limit, and until when (epoch seconds).

    Shared by every client of the instance: `check` raises RateLimited before any HTTP call of
    a limited installation, so nothing is sent to GitHub for it before its reset."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._until: dict[Scope, float] = {}

    def until(self, base_url: str, installation_id: int | None) -> float | None:
        """When the installation's limit resets, if it is limited now."""
        scope = (base_url.rstrip("/"), installation_id)
        until = self._until.get(scope)
        if until is not None and until <= self._clock():
            del self._until[scope]
            return None
        return until

    def check(self, base_url: str, installation_id: int | None) -> None:
        until = self.until(base_url, installation_id)
        if until is not None:
            raise RateLimited(
                _limited(installation_id, until), installation_id=installation_id, until=until, now=self._clock()
            )

    def limit(self, base_url: str, installation_id: int | None, until: float) -> None:
        scope = (base_url.rstrip("/"), installation_id)
        self._until[scope] = max(until, self._until.get(scope, 0.0))

    def lift(self, base_url: str, installation_id: int | None, until: float) -> None:
        """The reset `until` has come (the caller slept until it): calls may go out again."""
        scope = (base_url.rstrip("/"), installation_id)
        if self._until.get(scope, until + 1) <= until:
            del self._until[scope]


def _limited(installation_id: int | None, until: float) -> str:
    who = f"installation {installation_id}" if installation_id is not None else "the App"
    return f"GitHub's rate limit of {who} is used up until {iso(until)}; waiting for the reset"


class _API(gidgethub.aiohttp.GitHubAPI):
    """gidgethub's client, taking the care above over every HTTP request it makes, through
    gidgethub's two extension points: `_request`, the transport a GitHubAPI subclass implements
    (gidgethub.abc), and `handle_rate_limit_error`, asked whether an answer that failed is tried
    again. Credentials are not its own: each call passes its token (`oauth_token=`, `jwt=`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        breaker: CircuitBreaker,
        sleep: Sleep,
        installation_id: int | None = None,
        on_response: ResponseHook | None = None,
        gate: RateLimitGate | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(session, USER_AGENT, base_url=base_url)
        self._base_url = base_url
        self._breaker = breaker
        self._sleep = sleep
        self._installation_id = installation_id
        self._on_response = on_response
        self._gate = gate
        self._clock = clock

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self._gate is not None:
                self._gate.check(self._base_url, self._installation_id)
            self._breaker.check()
            try:
                status, response_headers, data = await super()._request(method, url, headers, body)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self._breaker.failure()
                if attempt == MAX_ATTEMPTS:
                    raise TransientError(f"GitHub is unreachable ({type(exc).__name__})") from exc
                await self._sleep(_backoff(attempt))
                continue
            if self._on_response is not None:
                self._on_response(self._installation_id, status, response_headers)
            self._note_spent_limit(status, response_headers)
            if status >= 500:
                self._breaker.failure()
            else:
                self._breaker.success()
            return status, response_headers, data
        raise TransientError("GitHub is unreachable")  # pragma: no cover - the loop always returns or raises

    def _note_spent_limit(self, status: int, headers: Mapping[str, str]) -> None:
        """An answer that spent the last request of the limit closes the gate until the reset."""
        if self._gate is not None and status < 400 and headers.get("x-ratelimit-remaining") == "0":
            self._gate.limit(self._base_url, self._installation_id, self._reset(headers))

    def _reset(self, headers: Mapping[str, str]) -> float:
        try:
            reset = float(headers.get("x-ratelimit-reset", "") or 0)
        except ValueError:
            reset = 0.0
        now = self._clock()
        return reset if reset > now else now + (1.0 if reset else NO_RESET_WAIT_SECONDS)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        status, headers = exception.status_code, exception.headers
        wait: float | None = None
        if isinstance(exception, gidgethub.RateLimitExceeded) or (
            status in (403, 429) and headers.get("x-ratelimit-remaining") == "0"
        ):
            return await self._primary_limit(headers, exception, attempt)
        if status in (403, 429) and ("retry-after" in headers or status == 429 or _secondary(exception)):
            retry_after = headers.get("retry-after")
            wait = float(retry_after) if retry_after and retry_after.isdigit() else 60.0 * 2 ** (attempt - 1)
        elif status >= 500:
            if attempt >= MAX_ATTEMPTS:
                raise TransientError(f"GitHub answered {int(status)} to {method} {_path(url)}") from exception
            await self._sleep(_backoff(attempt))
            return True
        if wait is None:
            return False
        if wait > MAX_WAIT_SECONDS or attempt >= MAX_ATTEMPTS:
            raise TransientError(f"GitHub rate limit: retry after {int(wait)} s", retry_after=wait) from exception
        await self._sleep(wait)
        return True

    async def _primary_limit(
        self, headers: Mapping[str, str], exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        """Close the installation's gate until the reset; sleep until it when it is near, else
        raise RateLimited (the queue parks the job until the reset, not counting the attempt)."""
        now, until = self._clock(), self._reset(headers)
        if self._gate is not None:
            self._gate.limit(self._base_url, self._installation_id, until)
        if until - now > MAX_WAIT_SECONDS or attempt >= MAX_ATTEMPTS:
            raise RateLimited(
                _limited(self._installation_id, until), installation_id=self._installation_id, until=until, now=now
            ) from exception
        await self._sleep(until - now)
        if self._gate is not None:
            self._gate.lift(self._base_url, self._installation_id, until)
        return True


def _secondary(exception: gidgethub.HTTPException) -> bool:
    return "secondary rate limit" in str(exception).lower()


def _backoff(attempt: int) -> float:
    return min(2.0**attempt, 30.0) * random.uniform(0.5, 1.0)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]


class GitHubClient:
    """Calls made as one installation."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: AppAuth,
        installation_id: int,
        *,
        base_url: str,
        breaker: CircuitBreaker,
        sleep: Sleep = asyncio.sleep,
        on_response: ResponseHook | None = None,
        gate: RateLimitGate | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._api = _API(
            session,
            base_url=base_url,
            breaker=breaker,
            sleep=sleep,
            installation_id=installation_id,
            on_response=on_response,
            gate=gate,
            clock=clock,
        )
        self._auth = auth
        self._installation_id = installation_id
        self._base_url, self._gate = base_url, gate

    async def getitem(self, url: str, url_vars: Mapping[str, Any] | None = None) -> Any:
        return await self._as_installation(lambda token: self._api.getitem(url, url_vars, oauth_token=token))

    async def getall(self, url: str, url_vars: Mapping[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list (gidgethub follows each page's `link` to the next)."""

        async def pages(token: str) -> list[Any]:
            return [item async for item in self._api.getiter(url, url_vars, oauth_token=token)]

        return await self._as_installation(pages)

    async def post(self, url: str, url_vars: Mapping[str, Any] | None = None, *, data: Any) -> Any:
        return await self._as_installation(lambda token: self._api.post(url, url_vars, data=data, oauth_token=token))

    async def patch(self, url: str, url_vars: Mapping[str, Any] | None = None, *, data: Any) -> Any:
        return await self._as_installation(lambda token: self._api.patch(url, url_vars, data=data, oauth_token=token))

    async def app_identity(self) -> AppIdentity:
        """Who this App is (read once per process)."""
        return await self._auth.identity()

    async def _as_installation(self, call: Callable[[str], Awaitable[T]]) -> T:
        """One call of gidgethub's with the installation's token. A 401 means the cached token
        was revoked or expired early: fetch a new one and make the call once more (a list is
        then read again from its first page). Retries of what GitHub asks to retry, and the rate
        limits, are _API's, for each request the call makes."""
        if self._gate is not None:  # a limited installation fails fast, before even its token is fetched
            self._gate.check(self._base_url, self._installation_id)
        try:
            return await call(await self._auth.installation_token(self._installation_id))
        except gidgethub.BadRequest as exc:
            if exc.status_code != 401:
                raise
        return await call(await self._auth.installation_token(self._installation_id, refresh=True))


class AppClient:
    """Calls made as the App itself, with its JWT (not as an installation): its installations'
    tokens (AppAuth's fetcher), its own description, and which installation reads a repository."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        breaker: CircuitBreaker,
        sleep: Sleep = asyncio.sleep,
        on_response: ResponseHook | None = None,
    ) -> None:
        self._api = _API(session, base_url=base_url, breaker=breaker, sleep=sleep, on_response=on_response)

    async def access_token(self, installation_id: int, app_jwt: str) -> dict[str, str]:
        """`POST /app/installations/{id}/access_tokens`: a new token of the installation."""
        answer: dict[str, str] = await self._api.post(
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": installation_id},
            data={},
            jwt=app_jwt,
        )
        return answer

    async def app(self, app_jwt: str) -> dict[str, Any]:
        """`GET /app`: the App's own description."""
        answer: dict[str, Any] = await self._api.getitem("/app", jwt=app_jwt)
        return answer

    async def getitem(self, url: str, url_vars: Mapping[str, Any], app_jwt: str) -> Any:
        return await self._api.getitem(url, url_vars, jwt=app_jwt)
