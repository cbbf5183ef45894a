"""Setup mode: register the App through GitHub's manifest flow, then keep its credentials.

With no App credentials the server serves `/`, a page whose button sends `app-manifest.yml`
(with this server's URLs filled in) to GitHub; GitHub creates the App and redirects to
`/setup/callback?code=…`, where the code is exchanged for the App's id, private key and webhook
secret. Those are written to the credentials file (mode 0600), never shown, and read at the
next start.
"""

from __future__ import annotations

import html
import json
import os
import secrets
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yaml
from aiohttp import web

from ..settings import Settings
from .keys import SETTINGS

STATE = web.AppKey("setup_state", set)
CREDENTIALS = web.AppKey("credentials_file", Path)


def manifest_for(base_url: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(
        resources.files("chartimpact_bot").joinpath("app-manifest.yml").read_text()
    )
    manifest["url"] = base_url
    manifest["hook_attributes"]["url"] = f"{base_url}/api/webhooks/github"
    manifest["redirect_url"] = f"{base_url}/setup/callback"
    manifest["callback_urls"] = [f"{base_url}/auth/callback"]
    return manifest


def web_url(api_url: str) -> str:
    """github.com for api.github.com; the host for a GitHub Enterprise Server API URL."""
    parts = urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


def _base_url(request: web.Request) -> str:
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{scheme}://{host}"


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        content_type="text/html",
    )


async def setup_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    state = secrets.token_urlsafe(16)
    request.app[STATE].add(state)
    org = request.query.get("org", "").strip()
    target = f"{web_url(settings.api_url)}/{'organizations/' + org + '/' if org else ''}settings/apps/new?state={state}"
    manifest = json.dumps(manifest_for(_base_url(request)))
    form = (
        "<p>This ChartImpact server has no GitHub App yet. The button below asks GitHub to create one from "
        "<code>app-manifest.yml</code>; GitHub then sends you back here and the credentials are stored.</p>"
        f"<form action='{html.escape(target)}' method='post'>"
        f"<input type='hidden' name='manifest' value='{html.escape(manifest, quote=True)}'>"
        "<button type='submit'>Register the GitHub App</button></form>"
        "<p>For an organization, open this page with <code>?org=NAME</code>.</p>"
    )
    return _page("Set up ChartImpact", form)


async def setup_callback(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or state not in request.app[STATE]:
        return _page(
            "Setup failed",
            "<p>The callback has no code, or its state does not match this server's setup page. "
            "Start again from <a href='/'>/</a>.</p>",
        )
    request.app[STATE].discard(state)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{settings.api_url}/app-manifests/{code}/conversions",
            headers={"Accept": "application/vnd.github+json", "User-Agent": "chartimpact-bot"},
        ) as response,
    ):
        if response.status != 201:
            return _page(
                "Setup failed",
                f"<p>GitHub refused the code (HTTP {response.status}). Start again from <a href='/'>/</a>.</p>",
            )
        app_data = await response.json()
    path = request.app[CREDENTIALS]
    store_credentials(path, app_data)
    link = html.escape(str(app_data.get("html_url", "")))
    return _page(
        "ChartImpact is registered",
        f"<p>The GitHub App <a href='{link}'>{html.escape(str(app_data.get('name', 'ChartImpact')))}</a> exists. "
        "Its credentials were "
        f"written to <code>{html.escape(str(path))}</code> (readable by this user only). Restart the server to start "
        "receiving deliveries, then install the App on your repositories.</p>",
    )


def store_credentials(path: Path, app_data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = {
        "GITHUB_APP_ID": str(app_data["id"]),
        "GITHUB_WEBHOOK_SECRET": str(app_data["webhook_secret"]),
        "GITHUB_PRIVATE_KEY": str(app_data["pem"]),  # JSON-quoted below, newlines included
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(f"{key}={json.dumps(value)}\n" for key, value in lines.items())


def add_setup_routes(app: web.Application, settings: Settings, credentials_file: Path) -> None:
    app[STATE] = set()
    app[CREDENTIALS] = credentials_file
    app.router.add_get("/", setup_page)
    app.router.add_get("/setup/callback", setup_callback)
