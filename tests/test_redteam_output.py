"""Red team: GitHub's autolink extension (cmark-gfm autolink.c) finds URLs that `\\b` misses.

`url_match` runs at every `:` and rewinds over ASCII letters only, without looking at the
character before them: `1https://evil.example`, `_https://…` and `éhttps://…` all link
`https://evil.example`. `www_match` accepts `www.` after `_` (and `*`, `~`, `(`, a space)."""

from __future__ import annotations

import re

import pytest

from chartimpact_bot.core.report.safe_text import md_code, md_text, plain
from chartimpact_bot.core.sensitive import mask_text

# What cmark-gfm links: a scheme that is the whole run of ASCII letters before `:`, then `//`;
# `www.` after the start, a space or one of `*_~(` (checked on the text after escapes).
_GFM_URL = re.compile(r"(?i)(?<![a-z])(?:https?|ftp)://[^\s\x00-\x20]")
_GFM_WWW = re.compile(r"(?:^|(?<=[\s*_~(]))www\.[A-Za-z0-9]")


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("&#95;", "_").replace("&#42;", "*").replace("&#126;", "~")


@pytest.mark.parametrize(
    "text",
    ["1https://evil.example/x", "_https://evil.example", "\u00e9https://evil.example", "9ftp://evil.example"],
)
@pytest.mark.parametrize("render", [md_text, md_code, plain])
def test_a_scheme_after_a_digit_underscore_or_letter_is_not_a_live_link(render, text: str) -> None:
    assert not _GFM_URL.search(_unescaped(render(text))), render(text)


@pytest.mark.parametrize("render", [md_text, plain])
def test_www_after_an_underscore_is_not_a_live_link(render) -> None:
    assert not _GFM_WWW.search(_unescaped(render("_www.evil.example"))), render("_www.evil.example")


@pytest.mark.parametrize(
    "text", ['password = "hunter2-canary"', "admin_password = hunter2-canary", "token =hunter2-canary"]
)
def test_a_spaced_assignment_on_one_line_is_masked(text: str) -> None:
    assert "hunter2-canary" not in mask_text(text, lambda _s: "(masked)")
