"""The viewer's side of `REPORT_AUTH=github` (issue 12 point 3): the App's OAuth web flow
(user-to-server), and whether the signed-in person can read a repository.

A user-to-server token of a GitHub App reaches only what both the App's installation and the
person may, so `GET /repos/{owner}/{repo}` answering 200 with it is exactly "this person can read
this repository through this App". The token is used for these two calls and then forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import gidgethub
from gidgethub.aiohttp import GitHubAPI

TIMEOUT = aiohttp.ClientTimeout(total=15)


class SignInFailed(Exception):
    """GitHub did not give a token for the code (expired, reused, or not ours); one sentence."""


@dataclass(frozen=True, slots=True)
class Viewer:
    login: str
    can_read: bool


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """The App's OAuth client (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET) on GitHub's web host."""

    web_url: str
    client_id: str
    client_secret: str

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {"client_id": self.client_id, "redirect_uri": redirect_uri, "state": state, "allow_signup": "false"}
        )
        return f"{self.web_url}/login/oauth/authorize?{query}"


async def exchange_code(session: aiohttp.ClientSession, client: OAuthClient, code: str, redirect_uri: str) -> str:
    data = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }
    url = f"{client.web_url}/login/oauth/access_token"
    try:
        async with session.post(url, data=data, headers={"Accept": "application/json"}, timeout=TIMEOUT) as answer:
            body: Any = await answer.json(content_type=None) if answer.status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise SignInFailed(f"GitHub could not be asked for a token ({type(exc).__name__})") from exc
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise SignInFailed("GitHub gave no token for this sign-in: start again from the report's link")
    return token


async def viewer(session: aiohttp.ClientSession, api_url: str, token: str, repository: str) -> Viewer:
    api = GitHubAPI(session, "chartimpact-bot", oauth_token=token, base_url=api_url)
    try:
        user = await api.getitem("/user")
    except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError) as exc:
        raise SignInFailed("GitHub did not say who signed in") from exc
    login = str(user.get("login") or "") if isinstance(user, dict) else ""
    owner, name = repository.split("/", 1)
    try:
        await api.getitem("/repos/{owner}/{repo}", {"owner": owner, "repo": name})
    except gidgethub.BadRequest as exc:
        if exc.status_code in (401, 403, 404):
            return Viewer(login, False)
        raise SignInFailed(f"GitHub refused to say whether @{login} can read {repository}") from exc
    except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError) as exc:
        raise SignInFailed(f"GitHub could not say whether @{login} can read {repository}") from exc
    return Viewer(login, True)
