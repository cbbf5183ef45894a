"""What a render reports when it fails: an error raised on purpose keeps its sentence, a bug
in the render process gets a fixed one and its traceback goes to the operator's log."""

from __future__ import annotations

import io
import json
import logging
import resource
import signal
from typing import Any

import pytest

from chartimpact_bot.core.errors import RenderError, RenderOutOfMemory
from chartimpact_bot.engine import render_worker
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits

SECRET_LOOKING = "ghs_0123456789abcdefSECRET"
REQUEST = {
    "address_space_mb": [4096, 4096],
    "chart_dir": "/nonexistent",
    "values_files": [],
    "set_values": [],
    "repeat": 1,
}


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


def test_python_running_out_of_memory_in_the_worker_is_flagged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer, _ = _run_worker(monkeypatch, capsys, MemoryError())
    assert answer == {"ok": False, "error": "rendering ran out of memory", "out_of_memory": True}


@pytest.mark.parametrize(
    ("stdout", "returncode", "message"),
    [
        # The worker's MemoryError (the address-space backstop refused Python).
        (b'{"ok": false, "error": "rendering ran out of memory", "out_of_memory": true}', 0, None),
        # The Go runtime's abort when the backstop refuses it.
        (b"", -signal.SIGABRT, None),
        # Killed by someone else than the watcher: the kernel's OOM killer, most likely.
        (b"", -signal.SIGKILL, "the render process was killed, most likely for using too much memory"),
    ],
)
def test_lack_of_memory_is_told_apart_from_other_failures(stdout: bytes, returncode: int, message: str | None) -> None:
    renderer = IsolatedHelmRenderer(RenderLimits(memory_mb=2048))
    with pytest.raises(RenderOutOfMemory) as raised:
        renderer._read_result(stdout, b"", returncode)
    assert str(raised.value) == (message or "rendering ran out of memory (limit 2048 MB, RENDER_MEMORY_MB)")


def test_a_render_error_is_not_taken_for_lack_of_memory() -> None:
    renderer = IsolatedHelmRenderer(RenderLimits())
    with pytest.raises(RenderError) as raised:
        renderer._read_result(b'{"ok": false, "error": "template: x.yaml:1: boom"}', b"", 0)
    assert not isinstance(raised.value, RenderOutOfMemory)
