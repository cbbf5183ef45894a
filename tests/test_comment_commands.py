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


@pytest.mark.parametrize(
    "body",
    [
        "~~~\n```\n/chartimpact ack all\n~~~",  # a backtick line does not close a tilde fence
        "````\n/chartimpact ack all\n```\nstill code",  # nor a shorter fence
        "    /chartimpact ack all",  # indented code
        "\t/chartimpact ack all",
        "<!--\n/chartimpact ack all\n-->",  # hidden by GitHub
        "text <!-- /chartimpact ack all",  # an unclosed comment hides the rest
    ],
)
def test_what_github_shows_as_code_or_hides_is_no_command(body: str) -> None:
    assert parse(body) is None


def test_a_command_after_a_closed_fence_or_comment_counts() -> None:
    assert parse("```\ncode\n```\n/chartimpact rerun") == Command("rerun")
    assert parse("<!-- hidden -->\n/chartimpact rerun") == Command("rerun")
    assert parse("  /chartimpact rerun") == Command("rerun")  # up to three spaces is still text
