"""The setup pages in a real browser (issue 15): the page a new operator opens shows what it will
register, with the App's own stylesheet, and refuses an address GitHub cannot reach; the page
after GitHub's redirect says what to do next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from chartimpact_bot.settings import Settings
from chartimpact_bot.web.app import create_app
from tests.browser.cdp import Browser
from tests.browser.test_report_page import _distinct_bytes
from tests.github.fake_github import FakeGitHub


async def _screenshot_is_drawn(browser: Browser) -> None:
    png = await browser.screenshot()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _distinct_bytes(png) > 16  # a blank page is one colour
    styled = await browser.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert styled == "rgb(36, 41, 47)"  # the App's own stylesheet loaded


async def test_the_setup_page_shows_what_it_registers_and_refuses_an_unreachable_address(
    aiohttp_server: Any, fake: FakeGitHub, browser: Browser, tmp_path: Path, app_keys: tuple[str, str]
) -> None:
    fake.manifest_pem = app_keys[0]
    github: TestServer = await aiohttp_server(fake.app())
    settings = Settings(
        app_id=None, api_url=str(github.make_url("/")).rstrip("/"), credentials_file=str(tmp_path / "app.env")
    )
    server: TestServer = await aiohttp_server(create_app(settings, configure_logs=False))
    # Opened at the address it listens on (127.0.0.1): refused, nothing to submit.
    await browser.navigate(str(server.make_url("/")))
    await _screenshot_is_drawn(browser)
    assert "GitHub cannot reach" in await browser.evaluate("document.querySelector('.refused').textContent")
    assert await browser.evaluate("document.querySelector('form.register')") is None

    # Corrected in the form: the page shows the webhook URL it will register, and the button.
    await browser.evaluate(
        "(() => { document.querySelector('#url').value = 'https://bot.example.com';"
        " document.querySelector('form.public-url').submit(); })()"
    )
    await browser.until("document.querySelector('form.register') !== null")
    shown = await browser.evaluate("document.querySelector('table.setup').textContent")
    assert "https://bot.example.com/api/webhooks/github" in shown and "pull_request" in shown
    await _screenshot_is_drawn(browser)

    action = await browser.evaluate("document.querySelector('form.register').action")
    state = action.rsplit("state=", 1)[1]
    await browser.navigate(str(server.make_url(f"/setup/callback?code=one-time-code&state={state}")))
    assert "ChartImpact is registered" in await browser.evaluate("document.querySelector('h1').textContent")
    install = await browser.evaluate("[...document.querySelectorAll('a')].map(a => a.href).join(' ')")
    assert "https://github.example/apps/chartimpact/installations/new" in install
    await _screenshot_is_drawn(browser)
