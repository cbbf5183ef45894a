"""Progress on a terminal's stderr while charts render (which chart, n of m), cleared at the end;
nothing at all when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

from chartimpact_bot.progress import CLEAR_LINE, TerminalProgress, terminal_progress
from tests.conftest import EXAMPLES, git

ROOT = Path(__file__).resolve().parent.parent


def _two_changed_charts(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in ("alpha", "beta"):
        shutil.copytree(EXAMPLES / "base" / "storefront", repo / "charts" / name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    for name in ("alpha", "beta"):
        shutil.rmtree(repo / "charts" / name)
        shutil.copytree(EXAMPLES / "head" / "storefront", repo / "charts" / name)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "head")
    return repo


def _analyze(repo: Path, tmp_path: Path, *, stderr_is_terminal: bool) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "chartimpact_bot", "analyze", "--repo", str(repo), "--base", "HEAD~1"]
    command += ["--head", "HEAD", "--format", "json", "--output", str(tmp_path / "report.json")]
    env = os.environ | {"PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    if not stderr_is_terminal:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
        return done.returncode, done.stdout, done.stderr
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    out = process.stdout.read() if process.stdout else b""
    return process.wait(timeout=300), out.decode(), seen.decode()


def test_a_terminal_sees_which_chart_renders_n_of_m_then_a_clean_line(tmp_path: Path) -> None:
    repo = _two_changed_charts(tmp_path)
    code, out, err = _analyze(repo, tmp_path, stderr_is_terminal=True)
    assert code == 1 and out == ""
    assert "chartimpact: rendering 1/2 charts/alpha" in err
    assert "chartimpact: rendering 2/2 charts/beta" in err
    assert err.endswith(CLEAR_LINE)  # the report is not preceded by a stale progress line


def test_no_terminal_no_progress(tmp_path: Path) -> None:
    repo = _two_changed_charts(tmp_path)
    code, out, err = _analyze(repo, tmp_path, stderr_is_terminal=False)
    assert code == 1
    assert err == "" and out == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_names_are_escaped_and_the_line_fits_the_terminal() -> None:
    stream = _Terminal()
    progress = terminal_progress(stream, "chartimpact")
    assert isinstance(progress, TerminalProgress)
    progress(1, 3, "charts/\x1b]0;owned\x07web", "prod\nx")
    written = stream.getvalue()
    assert "\x1b]" not in written and "\x07" not in written and "\n" not in written
    assert "\\x1b]0;owned\\x07web (prod\\nx)" in written
    progress(2, 3, "charts/" + "a" * 500, "default")
    last = stream.getvalue().rsplit(CLEAR_LINE, 1)[1]
    assert len(last) <= shutil.get_terminal_size(fallback=(80, 24)).columns
    assert terminal_progress(io.StringIO(), "chartimpact") is None
