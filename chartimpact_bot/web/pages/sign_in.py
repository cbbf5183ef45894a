"""`REPORT_AUTH=github` (issue 12 point 3): on top of a valid signed link, the viewer signs in
with GitHub through the App's OAuth client and must be able to read the repository.

A page asked for without a session that covers its repository answers a redirect to GitHub's
authorization page; GitHub sends the viewer back to `GET /auth/callback` with a code, which is
exchanged for a user-to-server token, used to ask whether the viewer can read the repository
(github/user_auth.py), and dropped. What the App keeps is a signed cookie: the login and the
repositories found readable, each for ACCESS_SECONDS, so access is asked again soon after it is
revoked. The `state` of the round trip is signed, expires, names the page to return to (a path
of ours only) and is bound to a nonce cookie, so a sign-in cannot be started for someone else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

from aiohttp import web

from ...github.user_auth import OAuthClient, SignInFailed, exchange_code, viewer
from ..keys import GITHUB
from .context import PAGES
from .templates import message

SESSION_COOKIE = "chartimpact_session"
NONCE_COOKIE = "chartimpact_sign_in"
ACCESS_SECONDS = 600
STATE_SECONDS = 600
MAX_REPOSITORIES = 20
MAX_TOKEN_CHARS = 4096
MAX_SESSION_CHARS = 3500  # with its name and attributes, well within the 4,096 bytes browsers keep
RETURN_PREFIXES = ("/reports/", "/repos/")


def session_key(link_key: bytes) -> bytes:
    return hmac.new(link_key, b"chartimpact viewer sessions v1", hashlib.sha256).digest()


def sign(key: bytes, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    mac = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{body}.{mac}"


def verified(key: bytes, token: str | None) -> dict[str, Any] | None:
    """The payload of a token we signed; None for anything else (never raises)."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    body, mac = token.split(".")
    expected = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def session_token(key: bytes, login: str, readable: dict[str, float]) -> str:
    """The session cookie's value: the newest MAX_REPOSITORIES repositories, fewer when their
    names are long, so it stays within MAX_SESSION_CHARS (and readable back)."""
    newest = sorted(readable.items(), key=lambda item: -item[1])[:MAX_REPOSITORIES]
    token = sign(key, {"login": login, "repos": dict(newest)})
    while len(token) > MAX_SESSION_CHARS and len(newest) > 1:  # the oldest go first
        newest.pop()
        token = sign(key, {"login": login, "repos": dict(newest)})
    return token


def _readable(request: web.Request, key: bytes, now: float) -> dict[str, float]:
    session = verified(key, request.cookies.get(SESSION_COOKIE)) or {}
    repos = session.get("repos")
    if not isinstance(repos, dict):
        return {}
    return {r: float(t) for r, t in repos.items() if isinstance(r, str) and isinstance(t, int | float) and t > now}


def _secure(request: web.Request) -> bool:
    settings = request.app[PAGES].settings
    return (settings.public_url or "").startswith("https://") or request.secure


def _callback_url(request: web.Request) -> str:
    base = request.app[PAGES].settings.public_url or f"{request.scheme}://{request.host}"
    return f"{base}/auth/callback"


def _client(request: web.Request) -> OAuthClient:
    pages = request.app[PAGES]
    settings = pages.settings
    return OAuthClient(pages.web_url, settings.oauth_client_id or "", settings.oauth_client_secret or "")


def require_viewer(request: web.Request, repository: str) -> web.StreamResponse | None:
    """None when no sign-in is needed (REPORT_AUTH=signed) or the session covers `repository`;
    else the redirect that starts one."""
    pages = request.app[PAGES]
    if pages.settings.report_auth != "github":
        return None
    if repository in _readable(request, session_key(pages.links.key), pages.clock()):
        return None
    return start_sign_in(request, repository, return_to=request.path_qs)


def sign_in_available(request: web.Request) -> bool:
    settings = request.app[PAGES].settings
    return bool(settings.oauth_client_id and settings.oauth_client_secret)


def signed_in_login(request: web.Request) -> str | None:
    """The login of a session that is still current (it covers some repository), or None."""
    pages = request.app[PAGES]
    key, now = session_key(pages.links.key), pages.clock()
    session = verified(key, request.cookies.get(SESSION_COOKIE)) or {}
    login = session.get("login")
    return login if isinstance(login, str) and login and _readable(request, key, now) else None


def start_sign_in(request: web.Request, repository: str, *, return_to: str) -> web.StreamResponse:
    """The redirect to GitHub's authorization page, coming back to `return_to` (a path of ours)."""
    pages = request.app[PAGES]
    key, now = session_key(pages.links.key), pages.clock()
    nonce = secrets.token_urlsafe(16)
    state = sign(key, {"to": return_to, "repo": repository, "nonce": nonce, "exp": int(now) + STATE_SECONDS})
    response = web.Response(
        status=302, headers={"Location": _client(request).authorize_url(_callback_url(request), state)}
    )
    secure = _secure(request)
    # One cookie per sign-in under way (named by its nonce), so two tabs signing in at once both
    # come back to theirs; each expires with its state.
    response.set_cookie(
        _nonce_cookie(nonce), nonce, max_age=STATE_SECONDS, path="/auth/", httponly=True, samesite="Lax", secure=secure
    )
    return response


def _nonce_cookie(nonce: str) -> str:
    return f"{NONCE_COOKIE}_{hashlib.sha256(nonce.encode()).hexdigest()[:16]}"


async def callback(request: web.Request) -> web.StreamResponse:
    pages = request.app[PAGES]
    settings = pages.settings
    if not sign_in_available(request):
        return message(request, 404, "Nothing here", "Viewers do not sign in to this App (no OAuth client is set).")
    key, now = session_key(pages.links.key), pages.clock()
    state = verified(key, request.query.get("state"))
    state_nonce = (state or {}).get("nonce")
    nonce = request.cookies.get(_nonce_cookie(state_nonce)) if isinstance(state_nonce, str) else None
    to, repository = (state or {}).get("to"), (state or {}).get("repo")
    if (
        state is None
        or not isinstance(to, str)
        or not to.startswith(RETURN_PREFIXES)
        or not isinstance(repository, str)
        or not isinstance(state.get("exp"), int)
        or state["exp"] <= now
        or not nonce
        or not hmac.compare_digest(str(state.get("nonce")), nonce)
    ):
        return message(request, 403, "Sign-in not accepted", "Start again from the report's link.")
    code = request.query.get("code", "")[:200]
    session = request.app[GITHUB].session
    try:
        token = await exchange_code(session, _client(request), code, _callback_url(request))
        who = await viewer(session, settings.api_url, token, repository)
    except SignInFailed as exc:
        return message(request, 403, "Sign-in failed", str(exc))
    if not who.can_read:
        return message(request, 403, "Not allowed", f"@{who.login} cannot read {repository} through this App.")
    readable = _readable(request, key, now)
    readable[repository] = now + ACCESS_SECONDS
    session = session_token(key, who.login, readable)
    response = web.Response(status=302, headers={"Location": to})
    response.set_cookie(
        SESSION_COOKIE,
        session,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
    )
    response.del_cookie(_nonce_cookie(nonce), path="/auth/")
    return response
