"""Setup mode: register the App through GitHub's manifest flow, then keep its credentials.

With no App credentials the server serves `/`, a page whose button sends `app-manifest.yml`
(with this server's URLs filled in) to GitHub; GitHub creates the App and redirects to
`/setup/callback?code=…`, where the code is exchanged for the App's id, private key and webhook
secret. Those are written to the credentials file (mode 0600), never shown, and read at the
next start.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import yaml
from aiohttp import web

from ..settings import Settings
from .keys import SETTINGS
from .pages.headers import page_headers
from .pages.templates import message, render, setup_templates, static_file

STATE = web.AppKey("setup_state", dict)  # issued states, oldest first (a dict keeps the order)
MAX_STATES = 100
EXCHANGE_TIMEOUT_SECONDS = 30
ORG_NAME = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
log = logging.getLogger(__name__)
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


def _base_url(request: web.Request) -> str:
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{scheme}://{host}"


def unreachable(url: str, *, enterprise: bool = False) -> str | None:
    """Why GitHub cannot send deliveries to `url`, or None when it may. github.com calls from the
    internet, so an unspecified, loopback, private or link-local address (or a name that only
    means this machine or a local network) never receives them. A GitHub Enterprise Server
    usually sits on the same private network as the App, so there only this machine's own
    names and addresses are refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http(s) URL with a host"
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"'{host}' names this machine"
    if not enterprise and host.endswith((".local", ".internal", ".lan")):
        return f"'{host}' names a local network"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None if "." in host or enterprise else f"'{host}' is not a name the internet can resolve"
    if address.is_unspecified:
        return f"{host} is the address a server listens on, not one it is reached at"
    if address.is_loopback:
        return f"{host} is a loopback address"
    if not enterprise and (address.is_private or address.is_link_local or address.is_reserved):
        return f"{host} is a private or link-local address"
    return None


def _public_url(request: web.Request) -> str:
    given = request.query.get("url", "").strip().rstrip("/")
    return given or request.app[SETTINGS].public_url or _base_url(request)


async def setup_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    public_url = _public_url(request)
    problem = unreachable(public_url, enterprise=settings.web_url != "https://github.com")
    org = request.query.get("org", "").strip()
    if org and not ORG_NAME.fullmatch(org):
        return message(request, 400, "Setup", "An organization name has letters, digits and single hyphens only.")
    manifest = manifest_for(public_url)
    context: dict[str, object] = {
        "public_url": public_url,
        "problem": problem,
        "org": org,
        "manifest": manifest,
        "manifest_json": json.dumps(manifest),
        "github": settings.web_url,
        "target": "",
    }
    if problem is None:  # a state only for a page that can be submitted
        state = secrets.token_urlsafe(16)
        states = request.app[STATE]
        states[state] = None
        while len(states) > MAX_STATES:  # reloading the page forever keeps only the newest
            del states[next(iter(states))]
        where = f"organizations/{org}/" if org else ""
        context["target"] = f"{settings.web_url}/{where}settings/apps/new?state={state}"
    return render(request, "setup.html.j2", context)


async def setup_callback(request: web.Request) -> web.Response:
    """GitHub's redirect after it created the App. The state stays usable until the code is
    exchanged: a failed exchange (GitHub unreachable) can be retried by reloading this page."""
    settings = request.app[SETTINGS]
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or state not in request.app[STATE]:
        return message(
            request,
            400,
            "Setup failed",
            "This callback has no code, or its state is not one this server's setup page issued (it may be from"
            " before a restart). Start again from the setup page.",
        )
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=EXCHANGE_TIMEOUT_SECONDS)) as session,
            session.post(
                f"{settings.api_url}/app-manifests/{quote(code, safe='')}/conversions",
                headers={"Accept": "application/vnd.github+json", "User-Agent": "chartimpact-bot"},
            ) as response,
        ):
            status = response.status
            app_data = await response.json(content_type=None) if status == 201 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("setup: the manifest code could not be exchanged: %s", type(exc).__name__)
        return message(
            request,
            502,
            "GitHub could not be reached",
            f"The App's credentials could not be fetched from {settings.api_url} ({type(exc).__name__}). The"
            " code is valid for an hour: reload this page to try again.",
        )
    if status >= 500:  # the code was not spent: the same callback may be tried again
        return message(request, 502, "Setup failed", f"GitHub answered HTTP {status}. Reload this page to try again.")
    request.app[STATE].pop(state, None)  # the code is spent (or refused): GitHub answers it once
    if 400 <= status < 500:
        return message(
            request,
            400,
            "Setup failed",
            f"GitHub refused the code (HTTP {status}): it was used already or is older than an hour."
            " Start again from the setup page.",
        )
    if status != 201 or not isinstance(app_data, dict) or not _complete(app_data):
        return message(
            request,
            502,
            "Setup failed",
            f"GitHub's answer (HTTP {status}) did not hold the App's credentials. Start again from the setup page.",
        )
    path = request.app[CREDENTIALS]
    try:
        store_credentials(path, app_data)
    except OSError as exc:
        log.error("setup: the credentials could not be written to %s: %s", path, exc.strerror)
        # 503, not 500: the server works, its disk does not; the sentence says how to finish by hand.
        return message(
            request,
            503,
            "The App was created, its credentials were not stored",
            f"{path} could not be written ({exc.strerror}). In the App's settings on GitHub, generate a private"
            " key and set a webhook secret, then give them to this server with GITHUB_APP_ID,"
            " GITHUB_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET.",
        )
    html_url = str(app_data.get("html_url") or "")
    return render(
        request,
        "setup_done.html.j2",
        {
            "app_url": html_url,
            "app_name": str(app_data.get("name") or "ChartImpact"),
            "credentials": str(path),
            "install_url": f"{html_url}/installations/new" if html_url else "",
        },
    )


def _complete(app_data: dict[str, Any]) -> bool:
    return all(app_data.get(key) for key in ("id", "webhook_secret", "pem"))


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


def add_setup_routes(app: web.Application, settings: Settings, credentials_file: Path, *, pages: bool) -> None:
    """`pages`: the report pages are served too (their templates and static files are set up)."""
    app[STATE] = {}
    app[CREDENTIALS] = credentials_file
    if not pages:
        setup_templates(app)
        app.middlewares.append(page_headers)
        app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/", setup_page)
    app.router.add_get("/setup/callback", setup_callback)
