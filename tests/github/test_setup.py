"""Setup mode: the manifest flow registers the App and stores its credentials."""

from __future__ import annotations

import html
import json
import re
import stat
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from chartimpact_bot.settings import Settings, load_settings
from chartimpact_bot.web.app import create_app
from tests.github.fake_github import FakeGitHub


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
    action = html.unescape(re.search(r"action='([^']+)'", page).group(1))  # type: ignore[union-attr]
    manifest = json.loads(html.unescape(re.search(r"name='manifest' value='([^']+)'", page).group(1)))  # type: ignore[union-attr]
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
    assert "Setup failed" in await (await client.get("/setup/callback?code=one-time-code&state=forged")).text()
    done = await (await client.get(f"/setup/callback?code=one-time-code&state={state}")).text()
    assert "ChartImpact is registered" in done
    assert "secret-from-github" not in done and "PRIVATE KEY" not in done
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert fake.violations == []

    restarted = load_settings({"CHARTIMPACT_CREDENTIALS_FILE": str(credentials)})
    assert not restarted.setup_mode
    assert (restarted.app_id, restarted.webhook_secret) == ("777", "secret-from-github")
    assert restarted.private_key == app_keys[0].strip() + "\n"
