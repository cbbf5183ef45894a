"""Parsing `/chartimpact` comment commands (github/commands.py)."""

from __future__ import annotations

import pytest

from chartimpact_bot.github.commands import Command, Usage, parse

ID = "7b53f8ebd741cdb1"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"/chartimpact ack {ID} planned maintenance", Command("ack", (ID,), reason="planned maintenance")),
        (f"LGTM\n\n/chartimpact ack {ID.upper()}", Command("ack", (ID,))),
        (f"/ChartImpact ack {ID},{ID},aaaaaaaaaaaaaaaa", Command("ack", (ID, "aaaaaaaaaaaaaaaa"))),
        ("/chartimpact ack all we know", Command("ack", every=True, reason="we know")),
        (f"/chartimpact unack {ID} ignored words", Command("unack", (ID,))),
        ("/chartimpact unack all", Command("unack", every=True)),
        ("/chartimpact rerun", Command("rerun")),
        ("/chartimpact", Usage("the command is missing")),
        ("/chartimpact approve", Usage("unknown command")),
        ("/chartimpact ack", Usage("`ack` needs a signal id, or `all`")),
        ("/chartimpact ack <script>", Usage("a signal id is 16 hexadecimal digits, as the report shows it")),
    ],
)
def test_commands(body: str, expected: Command | Usage) -> None:
    assert parse(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "no command here",
        "/chartimpactack all",
        f"> /chartimpact ack {ID}\nquoting someone",
        f"```\n/chartimpact ack {ID}\n```",
        "",
    ],
)
def test_text_that_is_no_command(body: str) -> None:
    assert parse(body) is None


def test_a_reason_is_bounded() -> None:
    parsed = parse(f"/chartimpact ack {ID} " + "x" * 10_000)
    assert isinstance(parsed, Command)
    assert len(parsed.reason) == 500
