"""Setup mode: the manifest flow registers the App and stores its credentials."""

from __future__ import annotations

import html
import json
import re
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chartimpact_bot.settings import Settings, load_settings
from chartimpact_bot.web.app import create_app
from tests.github.fake_github import FakeGitHub


def _form(page: str) -> tuple[str, dict[str, Any]]:
    """The register form's action and the manifest it sends."""
    action = html.unescape(re.search(r'<form class="register" action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    manifest = json.loads(html.unescape(re.search(r'name="manifest" value="([^"]+)"', page).group(1)))  # type: ignore[union-attr]
    return action, manifest


async def test_the_manifest_flow_registers_the_app_and_keeps_its_credentials(
    aiohttp_client: Any, aiohttp_server: Any, fake: FakeGitHub, tmp_path: Path, app_keys: tuple[str, str]
) -> None:
    fake.manifest_pem = app_keys[0]
    server: TestServer = await aiohttp_server(fake.app())
    credentials = tmp_path / "data" / "github-app.env"
    settings = Settings(app_id=None, api_url=str(server.make_url("/")).rstrip("/"), credentials_file=str(credentials))
    assert settings.setup_mode
    client = await aiohttp_client(create_app(settings, configure_logs=False))

    page = await (
        await client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.example.com"})
    ).text()
    action, manifest = _form(page)
    assert action.startswith(f"http://{server.host}:{server.port}/settings/apps/new?state=")
    assert manifest["hook_attributes"]["url"] == "https://bot.example.com/api/webhooks/github"
    assert manifest["redirect_url"] == "https://bot.example.com/setup/callback"
    assert manifest["default_permissions"]["checks"] == "write"
    assert manifest["callback_urls"] == ["https://bot.example.com/auth/callback"]  # REPORT_AUTH=github's sign-in
    assert set(manifest["default_events"]) == {
        "pull_request", "push", "release", "check_run", "check_suite", "issue_comment",
    }  # fmt: skip

    delivery = await client.post(
        "/api/webhooks/github", data=b"{}", headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "1"}
    )
    assert delivery.status == 503

    state = action.rsplit("state=", 1)[1]
    forged = await client.get("/setup/callback?code=one-time-code&state=forged")
    assert forged.status == 400 and "Setup failed" in await forged.text()
    done = await (await client.get(f"/setup/callback?code=one-time-code&state={state}")).text()
    assert "ChartImpact is registered" in done
    assert 'href="https://github.example/apps/chartimpact/installations/new"' in done  # the next step
    assert "secret-from-github" not in done and "PRIVATE KEY" not in done
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert fake.violations == []

    restarted = load_settings({"CHARTIMPACT_CREDENTIALS_FILE": str(credentials)})
    assert not restarted.setup_mode
    assert (restarted.app_id, restarted.webhook_secret) == ("777", "secret-from-github")
    assert restarted.private_key == app_keys[0].strip() + "\n"


def _settings(api_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    credentials = tmp_path / "data" / "github-app.env"
    return Settings(app_id=None, api_url=api_url, credentials_file=str(credentials), **overrides)


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("0.0.0.0:8080", "is the address a server listens on"),
        ("localhost:8080", "names this machine"),
        ("127.0.0.1", "is a loopback address"),
        ("10.1.2.3", "is a private or link-local address"),
        ("169.254.169.254", "is a private or link-local address"),
        ("[::1]:8080", "is a loopback address"),
        ("bot.internal", "names a local network"),
        ("bot", "is not a name the internet can resolve"),
    ],
)
async def test_an_address_github_cannot_reach_is_refused_and_can_be_corrected(
    aiohttp_client: Any, tmp_path: Path, host: str, why: str
) -> None:
    client = await aiohttp_client(create_app(_settings("https://api.github.com", tmp_path), configure_logs=False))
    answer = await client.get("/", headers={"X-Forwarded-Host": host})
    page = await answer.text()
    assert answer.status == 200
    assert "GitHub cannot reach" in page and why in page
    assert 'class="register"' not in page  # nothing to submit
    corrected = await (await client.get("/", params={"url": "https://bot.example.com/"})).text()
    action, manifest = _form(corrected)
    assert action.startswith("https://github.com/settings/apps/new?state=")
    assert manifest["hook_attributes"]["url"] == "https://bot.example.com/api/webhooks/github"
    assert "GitHub cannot reach" not in corrected
    assert "<code>pull_request</code>" in corrected and "<code>checks: write</code>" in corrected


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("10.1.2.3:8080", False),
        ("chartimpact.corp.internal", False),
        ("bot", False),
        ("127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", True),
    ],
)
async def test_for_github_enterprise_server_a_private_address_is_reachable_but_this_machine_is_not(
    aiohttp_client: Any, tmp_path: Path, host: str, refused: bool
) -> None:
    # An Enterprise Server usually shares the App's private network; it still cannot call the
    # App's own loopback or listening address.
    client = await aiohttp_client(
        create_app(_settings("https://ghe.example.com/api/v3", tmp_path), configure_logs=False)
    )
    page = await (await client.get("/", headers={"X-Forwarded-Host": host})).text()
    assert ("GitHub cannot reach" in page) is refused
    if not refused:
        action, manifest = _form(page)
        assert action.startswith("https://ghe.example.com/settings/apps/new?state=")
        assert manifest["hook_attributes"]["url"] == f"http://{host}/api/webhooks/github"


async def test_the_public_url_setting_is_what_the_page_registers(aiohttp_client: Any, tmp_path: Path) -> None:
    settings = _settings("https://api.github.com", tmp_path, public_url="https://ci.example.org")
    client = await aiohttp_client(create_app(settings, configure_logs=False))
    action, manifest = _form(await (await client.get("/", params={"org": "acme"})).text())
    assert action.startswith("https://github.com/organizations/acme/settings/apps/new?state=")
    assert manifest["redirect_url"] == "https://ci.example.org/setup/callback"
    assert (await client.get("/", params={"org": "a/../../x"})).status == 400


async def test_the_callback_fails_with_a_status_and_a_sentence_and_its_state_can_be_retried(
    aiohttp_client: Any, aiohttp_server: Any, fake: FakeGitHub, tmp_path: Path, app_keys: tuple[str, str]
) -> None:
    fake.manifest_pem = app_keys[0]
    github: TestServer = await aiohttp_server(fake.app())
    reachable = {"up": False}

    async def front(request: web.Request) -> web.StreamResponse:
        """GitHub as the server sees it: unreachable (the connection dropped) until it is up."""
        if not reachable["up"]:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        async with (
            aiohttp.ClientSession() as session,
            session.post(github.make_url(request.path), headers=dict(request.headers)) as answer,
        ):
            return web.Response(body=await answer.read(), status=answer.status, content_type="application/json")

    proxy = web.Application()
    proxy.router.add_post("/app-manifests/{code}/conversions", front)
    proxied: TestServer = await aiohttp_server(proxy)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    credentials = blocker / "data" / "github-app.env"  # its directory cannot be made, even by root
    settings = Settings(app_id=None, api_url=str(proxied.make_url("/")).rstrip("/"), credentials_file=str(credentials))
    client = await aiohttp_client(create_app(settings, configure_logs=False))
    action, _ = _form(await (await client.get("/", params={"url": "https://bot.example.com"})).text())
    state = action.rsplit("state=", 1)[1]

    missing = await client.get("/setup/callback")
    assert missing.status == 400 and "Traceback" not in await missing.text()
    unreachable = await client.get(f"/setup/callback?code=one-time-code&state={state}")
    text = await unreachable.text()
    assert unreachable.status == 502 and "GitHub could not be reached" in text and "reload this page" in text
    assert "Traceback" not in text

    reachable["up"] = True  # the same state again: kept while the exchange failed
    failed = await client.get(f"/setup/callback?code=one-time-code&state={state}")
    text = await failed.text()
    assert failed.status == 503 and "generate a private key" in text and "Traceback" not in text

    blocker.unlink()
    action, _ = _form(await (await client.get("/", params={"url": "https://bot.example.com"})).text())
    state = action.rsplit("state=", 1)[1]
    refused = await client.get(f"/setup/callback?code=wrong-code&state={state}")
    assert refused.status == 400 and "GitHub refused the code (HTTP 404)" in await refused.text()
    action, _ = _form(await (await client.get("/", params={"url": "https://bot.example.com"})).text())
    state = action.rsplit("state=", 1)[1]
    done = await client.get(f"/setup/callback?code=one-time-code&state={state}")
    assert done.status == 200 and "ChartImpact is registered" in await done.text()
    assert credentials.exists()
