"""What a render reports when it fails: an error raised on purpose keeps its sentence, a bug
in the render process gets a fixed one and its traceback goes to the operator's log."""

from __future__ import annotations

import io
import json
import logging
import resource
from typing import Any

import pytest

from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.engine import render_worker
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits

SECRET_LOOKING = "ghs_0123456789abcdefSECRET"
REQUEST = {"memory_mb": 1024, "chart_dir": "/nonexistent", "values_files": [], "set_values": [], "repeat": 1}


def _run_worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fails: Exception) -> Any:
    """The worker's main() in this process, its rendering replaced by one that raises `fails`."""

    def render(_: dict[str, Any]) -> list[dict[str, Any]]:
        raise fails

    monkeypatch.setattr(resource, "setrlimit", lambda *_: None)  # not this test's process
    monkeypatch.setattr(render_worker, "render_with_sdk", render)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(REQUEST)))
    assert render_worker.main() == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


@pytest.mark.parametrize("bug", [RuntimeError(SECRET_LOOKING), ValueError(SECRET_LOOKING), KeyError(SECRET_LOOKING)])
def test_a_bug_in_the_worker_is_a_fixed_sentence_and_its_traceback_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], bug: Exception
) -> None:
    answer, stderr = _run_worker(monkeypatch, capsys, bug)
    # A ValueError is no longer taken for an alias loop: only json's refusal of a cycle is one.
    assert answer == {"ok": False, "error": render_worker.UNEXPECTED, "unexpected": True}
    assert stderr.startswith("Traceback") and f"{type(bug).__name__}: " in stderr and "in render" in stderr


def test_a_render_failure_keeps_its_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer, stderr = _run_worker(monkeypatch, capsys, render_worker.RenderFailure("Helm cannot load the chart: bad"))
    assert answer == {"ok": False, "error": "Helm cannot load the chart: bad"}
    assert stderr == ""


def test_deep_nesting_is_named_as_such(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    answer, _ = _run_worker(monkeypatch, capsys, RecursionError("maximum recursion depth exceeded"))
    assert answer == {"ok": False, "error": "the rendered YAML nests too deeply to be read"}


def test_only_a_cycle_is_an_alias_loop() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(render_worker.RenderFailure, match=r"refers to itself \(alias loop\)"):
        render_worker._success([{"templates": {"t.yaml": [[0, 1, looped]]}}], {})


def test_the_parent_logs_the_workers_traceback_and_reports_the_fixed_sentence(caplog: pytest.LogCaptureFixture) -> None:
    renderer = IsolatedHelmRenderer(RenderLimits())
    stdout = json.dumps({"ok": False, "error": render_worker.UNEXPECTED, "unexpected": True}).encode()
    stderr = f"Traceback (most recent call last):\n  ...\nRuntimeError: {SECRET_LOOKING}\n".encode()
    with caplog.at_level(logging.ERROR), pytest.raises(RenderError) as raised:
        renderer._read_result(stdout, stderr, 0)
    assert str(raised.value) == render_worker.UNEXPECTED
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and f"RuntimeError: {SECRET_LOOKING}" in record.getMessage()


def test_a_crashed_worker_reports_no_text_of_its_stderr(caplog: pytest.LogCaptureFixture) -> None:
    renderer = IsolatedHelmRenderer(RenderLimits())
    stderr = f"Traceback (most recent call last):\nValueError: {SECRET_LOOKING}\n".encode()
    with caplog.at_level(logging.ERROR), pytest.raises(RenderError) as raised:
        renderer._read_result(b"", stderr, 1)
    assert str(raised.value) == (
        "the render process failed unexpectedly (exit code 1); the operator's logs have the details"
    )
    assert SECRET_LOOKING in caplog.text
