"""Red team: a chain of symbolic links must be judged by where its last link points."""

from __future__ import annotations

import os
from pathlib import Path

from chartimpact_bot.engine.charts import load_chart_info, materialize
from chartimpact_bot.engine.sources import GitRefSource
from tests.conftest import chart_yaml, commit_all, init_repo, write_files


def test_a_link_to_a_link_that_leaves_the_chart_is_left_out(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"charts/web/Chart.yaml": chart_yaml("web"), "private/notes.txt": "OUTSIDE-CANARY\n"})
    (repo / "charts/web/files").mkdir(parents=True)
    os.symlink("../../../private/notes.txt", repo / "charts/web/files/a")  # leaves the chart
    os.symlink("a", repo / "charts/web/files/b")  # points at `a`, inside the chart
    os.symlink("c", repo / "charts/web/files/loop")
    os.symlink("loop", repo / "charts/web/files/c")
    commit_all(repo, "links")
    source = GitRefSource(repo, "HEAD")
    chart = load_chart_info(source, "charts/web")
    out = materialize(source, chart, tmp_path / "out")
    assert b"OUTSIDE-CANARY\n" not in out.files.values()
    assert not (out.directory / "files" / "b").exists()
    assert "charts/web/files/loop" in source.left_out("charts/web")


def test_a_link_chain_that_stays_in_the_chart_still_reads(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"charts/web/Chart.yaml": chart_yaml("web"), "charts/web/files/real.txt": "hello\n"})
    os.symlink("real.txt", repo / "charts/web/files/a")
    os.symlink("a", repo / "charts/web/files/b")
    commit_all(repo, "links")
    source = GitRefSource(repo, "HEAD")
    out = materialize(source, load_chart_info(source, "charts/web"), tmp_path / "out")
    assert (out.directory / "files" / "b").read_text() == "hello\n"
