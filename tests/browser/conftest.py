"""A real headless browser for the page tests (Debian's `chromium`; `make test` installs it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.browser.cdp import Browser, chromium_binary

# The App against the fake GitHub, as the delivery tests drive it.
from tests.github.conftest import analysis_pool, app_keys, fake, make_app, repo, rest  # noqa: F401


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not on PATH: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    chromium = Browser(binary)
    await chromium.start()
    try:
        yield chromium
    finally:
        await chromium.close()
