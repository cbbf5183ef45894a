"""Logs: JSON lines that carry the delivery's context, with no secret in them."""

from __future__ import annotations

import json

import pytest
import structlog

from chartimpact_bot.logs import configure_logging, redact
from tests.conftest import git
from tests.github.conftest import MakeApp, Repo, chart_files, pull_request


async def test_every_line_of_a_deliverys_work_carries_its_context(
    make_app: MakeApp, repo: Repo, capsys: pytest.CaptureFixture[str], app_keys: tuple[str, str]
) -> None:
    app = await make_app()
    configure_logging("info", "json")
    try:
        base = git(repo.path, "rev-parse", "HEAD")
        head = repo.commit(chart_files("web", tag="1.26"))
        _, answer = await app.deliver(
            "pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head), delivery_id="delivery-77"
        )
        await app.settle()
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    work = [line for line in lines if line.get("job_id") == answer["jobId"]]
    assert {line["event"] for line in work} >= {"delivery accepted", "analysis started", "analysis published"}
    for line in work:
        assert (line["delivery_id"], line["github_event"], line["repository"], line["installation"]) == (
            "delivery-77",
            "pull_request",
            "acme/charts",
            4242,
        )
    output = json.dumps(lines)
    assert app.fake.tokens
    for token in app.fake.tokens:
        assert token not in output
    assert "PRIVATE KEY" not in output


def test_redaction_of_keys_and_token_shaped_values() -> None:
    event = redact(
        None,
        "info",
        {
            "event": "x",
            "token": "abc",
            "detail": "used ghs_abcdefghijklmnopqrstuvwxyz123 to call",
            "authorization": "Bearer z",
        },
    )
    assert event == {
        "event": "x",
        "token": "[redacted]",
        "detail": "used [redacted] to call",
        "authorization": "[redacted]",
    }


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_log_lines_never_carry_terminal_controls_or_floods(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", fmt)
    try:
        structlog.get_logger("test").warning(
            "analysis failed", error="\x1b]8;;http://e.vil\x07click\x1b]8;;\x07 \x1b[2J\u202egnp.exe" + "x" * 300_000
        )
    finally:
        structlog.reset_defaults()
    out = capsys.readouterr().out
    assert not any(c in out for c in ("\x1b", "\x07", "\u202e"))
    assert "\\x1b]8;;http://e.vil" in out  # shown, not run
    assert len(out) < 10_000
