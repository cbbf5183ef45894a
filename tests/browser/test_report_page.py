"""The report page in a real browser (issue 12's acceptance): the bundled example charts
analyzed by the running App, its page opened from an annotation's link, filters used, a
screenshot taken."""

from __future__ import annotations

import base64
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

from tests.browser.cdp import Browser
from tests.github.conftest import AppUnderTest, MakeApp, Repo, pull_request

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "charts"
# Where the screenshot the README shows is written when asked (CHARTIMPACT_SAVE_SCREENSHOT=1).
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-page.png"


def _copy_chart(side: str, repo: Repo) -> str:
    target = repo.path / "charts" / "storefront"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(EXAMPLES / side / "storefront", target)
    return repo.commit({}, f"storefront ({side})")


async def _example_analyzed(make_app: MakeApp, repo: Repo) -> tuple[AppUnderTest, dict[str, Any]]:
    app = await make_app()
    base = _copy_chart("base", repo)
    head = _copy_chart("head", repo)
    await app.deliver("pull_request", pull_request("opened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    return app, run


def _annotation_link(run: dict[str, Any], title_start: str) -> str:
    annotation = next(a for a in run["annotations"] if a["title"].startswith(title_start))
    return str(annotation["raw_details"].rsplit("Full report: ", 1)[1])


async def test_an_annotations_link_lands_on_its_signal(make_app: MakeApp, repo: Repo, browser: Browser) -> None:
    app, run = await _example_analyzed(make_app, repo)
    link = _annotation_link(run, "security.exposure.type")
    signal_id = link.rsplit("#signal-", 1)[1]
    await browser.navigate(link)
    await browser.until("document.querySelector(':target') !== null")
    target = await browser.evaluate(
        "(() => { const t = document.querySelector(':target'); const r = t.getBoundingClientRect();"
        " return {id: t.dataset.signalId, top: r.top, height: window.innerHeight}; })()"
    )
    assert target["id"] == signal_id
    assert 0 <= target["top"] < target["height"] / 2  # scrolled to it, not just present
    assert browser.console_errors() == []  # nothing refused by the Content-Security-Policy


async def test_filters_hide_and_show_signals(make_app: MakeApp, repo: Repo, browser: Browser) -> None:
    app, run = await _example_analyzed(make_app, repo)
    await browser.navigate(run["details_url"])
    total = await browser.evaluate("document.querySelectorAll('article.signal').length")
    security = await browser.evaluate("document.querySelectorAll('article.signal[data-category=security]').length")
    assert 0 < security < total

    await _choose(browser, "category", "security")
    visible = await browser.evaluate(
        "Array.from(document.querySelectorAll('article.signal')).filter(a => a.offsetParent !== null)"
        ".map(a => a.dataset.category)"
    )
    assert visible == ["security"] * security
    assert await browser.evaluate("document.getElementById('shown-count').textContent") == str(security)
    assert "category=security" in await browser.evaluate("window.location.search")

    await _choose(browser, "importance", "high")
    both = await browser.evaluate(
        "Array.from(document.querySelectorAll('article.signal')).filter(a => a.offsetParent !== null)"
        ".map(a => [a.dataset.category, a.dataset.importance])"
    )
    assert both and all(pair == ["security", "high"] for pair in both)

    await _choose(browser, "category", "")
    await _choose(browser, "importance", "")
    shown = await browser.evaluate(
        "Array.from(document.querySelectorAll('article.signal')).filter(a => a.offsetParent !== null).length"
    )
    assert shown == total
    # The Secret's changed password shows as its fingerprint only, in plain text and base64 alike.
    html = await browser.evaluate("document.documentElement.outerHTML")
    for secret in ("correct-horse-battery-staple", "tr0ub4dor-and-3"):
        assert secret not in html
        assert base64.b64encode(secret.encode()).decode() not in html
    assert "sensitive value changed, sha256:" in html
    # The diffs are collapsed, and open when asked.
    assert await browser.evaluate("document.querySelectorAll('details.resource[open]').length") == 0
    assert await browser.evaluate("document.querySelectorAll('details.resource').length") > 0
    assert browser.console_errors() == []


async def _choose(browser: Browser, name: str, value: str) -> None:
    await browser.evaluate(
        f"(() => {{ const s = document.querySelector('select[data-filter={name}]'); s.value = {value!r};"
        " s.dispatchEvent(new Event('change')); })()"
    )


async def test_the_page_is_drawn_and_its_screenshot_is_not_blank(
    make_app: MakeApp, repo: Repo, browser: Browser
) -> None:
    app, run = await _example_analyzed(make_app, repo)
    await browser.navigate(run["details_url"])
    png = await browser.screenshot()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _distinct_bytes(png) > 16  # a blank page is one colour: two or three byte values
    styled = await browser.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert styled == "rgb(36, 41, 47)"  # the App's own stylesheet loaded
    if os.environ.get("CHARTIMPACT_SAVE_SCREENSHOT"):
        README_SCREENSHOT.write_bytes(png)


def _distinct_bytes(png: bytes) -> int:
    """How many byte values the image's decompressed scanlines hold (PNG chunks read with zlib)."""
    data, at = b"", 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data)))
