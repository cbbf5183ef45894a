"""A fragment that is not ours (malformed escapes) does not stop the page's script."""

from __future__ import annotations

import asyncio

from tests.browser.cdp import Browser
from tests.browser.test_report_page import _example_analyzed
from tests.github.conftest import MakeApp, Repo


async def test_a_malformed_fragment_does_not_stop_the_script(make_app: MakeApp, repo: Repo, browser: Browser) -> None:
    app, run = await _example_analyzed(make_app, repo)
    await browser.navigate(run["details_url"] + "#%E0%A4%A")
    await asyncio.sleep(1.5)
    ready = await browser.evaluate("document.documentElement.dataset.ready === 'true'")
    toggle_shown = await browser.evaluate("!document.querySelector('[data-toggle-view]').hidden")
    assert ready and toggle_shown, (ready, toggle_shown, browser.console_errors())
