"""Logs: JSON lines that carry the delivery's context, with no secret in them."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
import structlog

from chartimpact_bot.jobs.analysis_process import AnalysisPool
from chartimpact_bot.logs import STDLIB_HANDLER, configure_logging, redact
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


def _log_in_a_worker() -> None:
    """Runs in an analysis worker: the analysis library logs with the standard library."""
    logging.getLogger("chartimpact_bot.engine.render").warning(
        "render failed with ghs_abcdefghijklmnopqrstuvwxyz123 in \x1b[2J the output"
    )


def test_standard_library_lines_are_rendered_like_structlogs_with_their_secrets_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    try:
        logging.getLogger("aiohttp.server").error("bad request from ghs_abcdefghijklmnopqrstuvwxyz123")
        logging.getLogger("chartimpact_bot.engine").debug("below the level")
    finally:
        logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers if h.get_name() != STDLIB_HANDLER]
        structlog.reset_defaults()
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert line["event"] == "bad request from [redacted]"
    assert (line["level"], line["logger"]) == ("error", "aiohttp.server")
    assert "timestamp" in line


async def test_an_analysis_workers_lines_join_the_servers_log_in_its_format(capfd: pytest.CaptureFixture[str]) -> None:
    pool = AnalysisPool(1, log=("info", "json"))
    try:
        await pool._call(_log_in_a_worker)
    finally:
        await asyncio.to_thread(pool.close)
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line.get("logger") == "chartimpact_bot.engine.render"]
    assert line["event"] == "render failed with [redacted] in \\x1b[2J the output"
    assert line["level"] == "warning"
