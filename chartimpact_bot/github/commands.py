"""Comment commands (CONTRACT §5): `/chartimpact ack <signal-id|all> [reason]`,
`/chartimpact unack <signal-id|all>` and `/chartimpact rerun`, on a line of their own in a pull
request comment. Several ids may be given, separated by commas.

A comment is the pull request author's (or anyone's) text: only the first command line counts,
lines quoted from another comment (`> …`) and lines inside code fences are not commands, and
a reason is bounded. A line that starts with `/chartimpact` but is not a command answers a
`Usage` saying how to write one, so a typo gets a reply instead of silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..jobs.analyses import MAX_REASON_CHARS
from ..jobs.params import CommandName

PREFIX = "/chartimpact"
MAX_IDS = 100
_SIGNAL_ID = re.compile(r"[0-9a-f]{8,64}")
USAGE = (
    "ChartImpact understands `/chartimpact ack <signal-id|all> [reason]`, `/chartimpact unack <signal-id|all>`"
    " and `/chartimpact rerun`; signal ids are listed on the report page and in the check run."
)


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    signal_ids: tuple[str, ...] = ()
    every: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """A line addressed to ChartImpact that is not a command; `problem` says what is wrong."""

    problem: str


def parse(body: str) -> Command | Usage | None:
    """The comment's command, a Usage for a malformed one, None when it addresses no command."""
    line = _command_line(body)
    if line is None:
        return None
    words = line.split()
    if len(words) < 2:
        return Usage("the command is missing")
    word = words[1].lower()
    if word == "rerun":
        return Command("rerun")
    if word not in ("ack", "unack"):
        return Usage("unknown command")
    name: CommandName = "ack" if word == "ack" else "unack"
    if len(words) < 3:
        return Usage(f"`{name}` needs a signal id, or `all`")
    target = words[2].lower()
    reason = " ".join(words[3:])[:MAX_REASON_CHARS] if name == "ack" else ""
    if target == "all":
        return Command(name, every=True, reason=reason)
    ids = tuple(dict.fromkeys(part for part in target.split(",") if part))
    if not ids or len(ids) > MAX_IDS or not all(_SIGNAL_ID.fullmatch(i) for i in ids):
        return Usage("a signal id is 16 hexadecimal digits, as the report shows it")
    return Command(name, signal_ids=ids, reason=reason)


def _command_line(body: str) -> str | None:
    """The first line that GitHub shows as text starting with the prefix: not quoted, not inside
    a code fence (closed only by a fence of the same character and at least its length), not an
    indented code line (four spaces or a tab), not inside an HTML comment (which GitHub hides)."""
    fence: tuple[str, int] | None = None
    for raw in _HTML_COMMENT.sub("", body).splitlines()[:MAX_LINES]:
        line = raw.strip()
        opening = _FENCE.match(raw)
        if fence is not None:
            if (
                opening
                and opening.group(1)[0] == fence[0]
                and len(opening.group(1)) >= fence[1]
                and not opening.group(2).strip()
            ):
                fence = None
            continue
        if opening:
            fence = (opening.group(1)[0], len(opening.group(1)))
            continue
        if raw.startswith(("    ", "\t")) or line.startswith(">"):
            continue
        first = line.split(maxsplit=1)[0].lower() if line else ""
        if first == PREFIX:
            return line
    return None


MAX_LINES = 500
# Up to three spaces, then three or more backticks or tildes: the rest is the info string.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# An unclosed comment hides the rest of the comment.
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
