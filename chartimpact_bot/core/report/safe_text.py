"""Chart content made safe for every output: terminals, Markdown, JSON and GitHub.

Everything a report shows (resource names, values, template file names, render errors,
warnings) is written by whoever wrote the pull request, so every renderer passes it through
here:

- control characters (C0 other than newline and tab, DEL, C1), bidi controls and the Unicode
  line separators are shown as visible escapes (`\\x1b`, `\\u202e`): no ANSI/OSC sequence reaches
  a terminal, no text is reordered on screen. Single-line fields (names, paths) escape newline
  and tab too.
- in Markdown, chart text cannot open markup, HTML, tables, code or `<details>`; `@user`,
  `@org/team`, `#123`, `owner/repo#123`, `GH-123`, bare URLs and `www.` are neutralized with a
  zero-width space. It is a literal character, not an entity, because entities are not decoded
  inside code spans: it works everywhere. Our own text and links never go through it.
- Markdown is cut to a size without leaving a `<details>`, a `<code>` or a code fence open, and
  says that it was cut.

Every function is pure and deterministic.
"""

from __future__ import annotations

import html
import re

ZERO_WIDTH_SPACE = "\u200b"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_MULTILINE_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_ONE_LINE_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{_BIDI}]")  # json.dumps escapes C0 itself
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}

# What GitHub turns into notifications or links: mentions (also e-mail addresses), issue and
# pull request references, and the autolinks of GitHub Flavored Markdown.
# GitHub mentions need a non-word character (or nothing) before the `@`: `user@example.com`
# and `image@sha256:…` are not mentions, and must stay intact for copy and paste.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9_-])")
_ISSUE = re.compile(r"#(?=\d)")
_GH_ISSUE = re.compile(r"(?i)\b(GH-)(?=\d)")
# GitHub's autolink extension looks at no character before the ASCII letters of a scheme
# (`1https://x`, `_https://x` and `\u00e9https://x` all link), and finds `www.` after `_`:
# `\b` misses all of these, so only an ASCII letter before the match keeps it from applying.
_URL_SCHEME = re.compile(r"(?i)(?<![a-z])((?:https?|ftp|mailto|xmpp):)")
_WWW = re.compile(r"(?i)(?<![a-z0-9])(www)(?=\.)")

# Markdown punctuation that chart text may not use as markup, outside and inside `<code>`
# (inline Markdown is still parsed between raw HTML tags).
_MD_PUNCTUATION = "\\`*_{}[]()#+!|~>"
_CODE_ENTITIES = {
    "|": "&#124;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "~": "&#126;",
    "\\": "&#92;",
}
_CODE_TABLE = str.maketrans(_CODE_ENTITIES)
_CUT_MARK = "…"
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\t]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Multi-line text (errors, warnings) with every control character but newline and tab escaped."""
    return _MULTILINE_UNSAFE.sub(_escape, text)


def one_line(text: str) -> str:
    """A single-line field (names, paths): newline and tab are escaped too."""
    return _ONE_LINE_UNSAFE.sub(_escape, text)


def json_safe(text: str) -> str:
    """Serialized JSON without raw C1, bidi or line-separator characters: each becomes a `\\uXXXX`
    escape, so the values decode unchanged (json.dumps already escapes C0)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def terminal(text: str, *, keep: tuple[str, ...] = ()) -> str:
    """A whole text report, escaped as multi-line text except for our own `keep` sequences
    (the colours of the text report)."""
    if not keep:
        return visible(text)
    pattern = re.compile("|".join(re.escape(k) for k in sorted(keep, key=len, reverse=True)))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(visible(text[position : match.start()]))
        out.append(match.group())
        position = match.end()
    out.append(visible(text[position:]))
    return "".join(out)


def clip(text: str, limit: int | None) -> str:
    """At most `limit` characters (before escaping); a cut text says how much is missing."""
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + f"{_CUT_MARK} ({len(text) - limit:,} more characters cut)"


def no_mentions(text: str) -> str:
    """Chart text that GitHub cannot turn into a mention, a reference or a link."""
    text = _MENTION.sub("@" + ZERO_WIDTH_SPACE, text)
    text = _ISSUE.sub("#" + ZERO_WIDTH_SPACE, text)
    text = _GH_ISSUE.sub(r"\1" + ZERO_WIDTH_SPACE, text)
    return no_autolinks(text)


def no_autolinks(text: str) -> str:
    """Chart text in which GitHub Flavored Markdown finds no URL to link.

    Inside a `<code>` element this is all that is needed: GitHub turns no mention or issue
    reference found in code into a link or a notification, but the autolink extension works on
    the text of inline HTML elements too."""
    text = _URL_SCHEME.sub(r"\1" + ZERO_WIDTH_SPACE, text)
    return _WWW.sub(r"\1" + ZERO_WIDTH_SPACE, text)


def plain(text: str, *, multiline: bool = True) -> str:
    """Chart text shown by GitHub as plain text (annotation titles and messages, statuses)."""
    return no_mentions(visible(text) if multiline else one_line(text))


def _spaces(text: str) -> str:
    """Line breaks and tabs of chart text shown on one Markdown line."""
    return _LINE_BREAKS.sub(" ", text)


def md_text(text: str, *, limit: int | None = None) -> str:
    """Plain text from chart content inside Markdown: no markup, no HTML, no table breaks, no
    mentions, references or autolinks, no control characters."""
    escaped = html.escape(no_mentions(one_line(_spaces(clip(text, limit)))), quote=False)
    for char in _MD_PUNCTUATION:
        escaped = escaped.replace(char, "\\" + char)
    return escaped


def md_code(value: str, *, limit: int | None = None) -> str:
    """Inline code from chart content: a `<code>` element that nothing can close early or fill
    with markup."""
    escaped = html.escape(no_autolinks(one_line(_spaces(clip(value, limit)))), quote=True).translate(_CODE_TABLE)
    return "<code>" + escaped + "</code>"


# --- cutting Markdown ------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TAG = re.compile(r"<(/?)(details|summary|code|pre)\b[^>]*>", re.IGNORECASE)
_PARTIAL_ENTITY = re.compile(r"&#?[A-Za-z0-9]{0,10}$")


def _open_elements(text: str) -> tuple[list[str], str | None]:
    """The elements and the code fence left open at the end of `text` (our own markup only:
    chart text cannot contain `<` or backticks)."""
    stack: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :].strip():
                fence = None
            continue
        if fence is not None:
            continue
        for tag in _TAG.finditer(line):
            name = tag.group(2).lower()
            if not tag.group(1):
                stack.append(name)
            elif name in stack:
                while stack and stack.pop() != name:
                    pass
    return stack, fence


def cut_markdown(text: str, limit: int, *, note: str | None = None) -> str:
    """`text` within `limit` characters: cut at a line (within a line only when one line is too
    long, never inside an entity), every open fence and element closed, and a note saying so."""
    if len(text) <= limit:
        return text
    note = note if note is not None else f"_Cut here: GitHub shows at most {limit:,} characters._"
    tail = "\n\n" + note + "\n"
    room = limit - len(tail)
    while room > 0:
        kept = text[:room]
        newline = kept.rfind("\n")
        if newline > room // 2:
            kept = kept[:newline]
        else:
            kept = _PARTIAL_ENTITY.sub("", kept)
            kept = re.sub(r"<[^>]*$", "", kept).rstrip()  # never half a tag
            if (len(kept) - len(kept.rstrip("\\"))) % 2:
                kept = kept[:-1]  # nor a backslash that would escape our closing
        stack, fence = _open_elements(kept)
        closing = ""
        if fence is not None:
            closing += "\n" + fence
        for name in reversed(stack):
            closing += f"</{name}>" if name in ("code", "summary") else f"\n\n</{name}>"
        result = kept.rstrip(" \n") + closing + tail
        if len(result) <= limit:
            return result
        room -= len(result) - limit
    return note[:limit]


def cut_plain(text: str, limit: int) -> str:
    """Plain text within `limit` characters, saying that it was cut."""
    if len(text) <= limit:
        return text
    mark = f"{_CUT_MARK} (cut)"
    return (text[: max(limit - len(mark), 0)] + mark)[:limit]


def cut_bytes(text: str, limit: int) -> str:
    """Plain text within `limit` UTF-8 bytes, saying that it was cut."""
    if len(text.encode()) <= limit:
        return text
    mark = f"{_CUT_MARK} (cut)"
    room = max(limit - len(mark.encode()), 0)
    return text.encode()[:room].decode("utf-8", "ignore") + mark
