"""Pull requests written by an attacker, driven through the command line as a user would.

Each test is one class of attack from SECURITY.md: the process survives and answers in time,
nothing is read or written outside the chart, and the failure names the file at fault.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from benchmarks.hostile import header_bomb
from chartimpact_bot.core.errors import ArchiveError
from chartimpact_bot.core.yamlio import METADATA_LIMITS, YamlLimitError, check_untrusted, load_untrusted
from chartimpact_bot.engine.archive import read_chart_archive
from chartimpact_bot.engine.remote import FetchError, HttpRepositoryFetcher
from tests.conftest import (
    REPO_ROOT,
    chart_yaml,
    commit_all,
    git,
    git_blob,
    git_tree,
    init_repo,
    make_chart,
    write_files,
)

CANARY = "ghp_canaryTOKENfromDOTgitCONFIG0123456789"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {level: '{{ .Values.level }}'}\n"
# 403 bytes that stand for 9^9 (387 million) strings.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str, str, float]:
    """The command line in its own process: a crash here is a crash a user would see."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "chartimpact_bot", *argv],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def web_chart(level: str) -> dict[str, str]:
    return {
        "charts/web/Chart.yaml": chart_yaml("web"),
        "charts/web/values.yaml": f"level: {level}\n",
        "charts/web/templates/cm.yaml": CONFIGMAP,
    }


# --- parsing: nothing crashes, stalls or expands -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["[" * 50_000, "{a: " * 50_000, "- " * 50_000 + "x", "".join(" " * i + "a:\n" for i in range(300))],
    ids=["flow-sequences", "flow-mappings", "block-sequences", "block-mappings"],
)
def test_deep_nesting_is_refused_before_libyaml_composes_it(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(YamlLimitError, match="nests deeper than 64 levels"):
        load_untrusted(text, METADATA_LIMITS)
    assert time.monotonic() - started < 0.5


def test_an_alias_bomb_is_refused_by_its_expanded_size() -> None:
    assert len(ALIAS_BOMB) < 420
    started = time.monotonic()
    with pytest.raises(YamlLimitError, match="expands to more than"):
        check_untrusted(ALIAS_BOMB)
    assert time.monotonic() - started < 0.5


def test_ordinary_documents_with_anchors_load_as_before() -> None:
    text = "defaults: &d {cpu: 1, mem: 2}\nweb: {<<: *d, cpu: 3}\nlist: [*d, *d]\n"
    assert load_untrusted(text, METADATA_LIMITS) == {
        "defaults": {"cpu": 1, "mem": 2},
        "web": {"cpu": 3, "mem": 2},
        "list": [{"cpu": 1, "mem": 2}, {"cpu": 1, "mem": 2}],
    }


def test_a_chart_yaml_nested_50000_deep_is_that_charts_error_not_a_crash(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, web_chart("info"))
    base = commit_all(repo, "web")
    write_files(repo, {**web_chart("debug"), "charts/evil/Chart.yaml": "[" * 50_000})
    head = commit_all(repo, "evil chart")
    code, out, err, took = cli("analyze", "--repo", str(repo), "--base", base, "--head", head, "--format", "json")
    assert code == 2, err  # a chart that cannot be rendered
    assert "Traceback" not in err
    charts = {c["path"]: c for c in json.loads(out)["charts"]}
    assert charts["charts/web"]["status"] == "analyzed"
    evil = charts["charts/evil"]
    assert evil["status"] == "render_error"
    assert "charts/evil/Chart.yaml" in evil["error"]
    assert "nests deeper than 64 levels" in evil["error"]
    assert took < 30


@pytest.mark.parametrize("text", [ALIAS_BOMB, "[" * 50_000], ids=["alias-bomb", "deep-nesting"])
def test_a_hostile_chartimpact_yml_is_one_sentence_in_well_under_a_second(tmp_path: Path, text: str) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {**web_chart("info"), ".chartimpact.yml": text})
    base = commit_all(repo, "config")
    started = time.monotonic()
    code, out, err, _ = cli("analyze", "--repo", str(repo), "--base", base, "--head", base)
    assert code == 2
    assert time.monotonic() - started < 10  # the interpreter's start and imports included
    assert err.startswith("chartimpact: .chartimpact.yml")
    assert "refused" in err
    assert len(err) < 400
    assert "lol" not in err


# --- confinement: nothing outside the chart is read, nothing outside the sandbox written ----------


def test_a_crafted_git_tree_with_dotdot_paths_writes_nothing_outside_the_sandbox(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, web_chart("info"))
    base = commit_all(repo, "web")
    # charts/web/../../../pwned.txt: from the render's chart directory (TMPDIR/chartimpact-*/chart)
    # it climbs to TMPDIR's parent, which is tmp_path.
    pwned = git_tree(repo, [("100644", git_blob(repo, "pwned\n"), "pwned.txt")])
    climb = git_tree(repo, [("040000", git_tree(repo, [("040000", pwned, "..")]), "..")])
    templates = git_tree(repo, [("100644", git_blob(repo, CONFIGMAP), "cm.yaml")])
    web = git_tree(
        repo,
        [
            ("100644", git_blob(repo, chart_yaml("web")), "Chart.yaml"),
            ("100644", git_blob(repo, "level: debug\n"), "values.yaml"),
            ("040000", templates, "templates"),
            ("040000", climb, ".."),
        ],
    )
    root = git_tree(repo, [("040000", git_tree(repo, [("040000", web, "web")]), "charts")])
    head = git(repo, "commit-tree", root, "-p", base, "-m", "crafted")
    sandbox = tmp_path / "tmp"
    sandbox.mkdir()
    code, out, err, _ = cli(
        "analyze", "--repo", str(repo), "--base", base, "--head", head, "--format", "json", env={"TMPDIR": str(sandbox)}
    )
    assert code == 0, err
    assert not list(tmp_path.rglob("pwned.txt"))
    (chart,) = json.loads(out)["charts"]
    assert chart["status"] == "analyzed"  # the rest of the chart is analyzed as usual


@pytest.mark.parametrize("fmt", ["json", "text", "markdown"])
def test_a_symlink_out_of_the_chart_is_never_followed(tmp_path: Path, fmt: str) -> None:
    repo = init_repo(tmp_path / "work")
    (repo / ".git" / "config").write_text(
        (repo / ".git" / "config").read_text() + f'[http]\n\textraheader = "AUTHORIZATION: bearer {CANARY}"\n'
    )
    (tmp_path / "outside.txt").write_text(f"outside {CANARY}\n")
    leak = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\n"
        'data:\n  config: {{ .Files.Get "files/config" | quote }}\n'
        '  outside: {{ .Files.Get "files/outside" | quote }}\n  kept: {{ .Files.Get "files/inner" | quote }}\n'
    )
    # Only the head has the links out, so a leak would show as a changed field in every format.
    for side in ("base", "head"):
        chart = make_chart(repo / side, "app", {"cm.yaml": leak}, extra_files={"notes/inner.txt": f"{side} inner\n"})
        (chart / "files").mkdir()
        (chart / "files" / "inner").symlink_to("../notes/inner.txt")
    (chart / "files" / "config").symlink_to("../../../.git/config")
    (chart / "files" / "outside").symlink_to("../../../../outside.txt")
    code, out, err, _ = cli("diff", str(repo / "base" / "app"), str(repo / "head" / "app"), "--format", fmt)
    assert code in (0, 1), err
    assert CANARY not in out + err
    assert "head inner" in out  # a link that stays inside the chart is followed
    assert "symbolic link" in out  # and the one that leaves it is named in a warning


# --- archives and remote indexes ---------------------------------------------------------------


def test_a_tar_header_bomb_is_refused_by_decompressed_size() -> None:
    with pytest.raises(ArchiveError, match="expands to more than 64 MB"):
        read_chart_archive(header_bomb(300 << 20), label="archive 'charts/bomb.tgz'")


def test_an_archive_with_too_many_members_is_refused() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for i in range(30):
            info = tarfile.TarInfo(f"sub/templates/f{i}.yaml")
            archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="more than 20 entries"):
        read_chart_archive(buffer.getvalue(), label="x", max_entries=20)


def test_a_chart_vendoring_a_tar_header_bomb_is_a_render_error_naming_it(tmp_path: Path) -> None:
    base = make_chart(tmp_path / "base", "app", {"cm.yaml": CONFIGMAP}, values="level: a\n")
    head = make_chart(
        tmp_path / "head",
        "app",
        {"cm.yaml": CONFIGMAP},
        values="level: b\n",
        extra_files={"charts/bomb.tgz": header_bomb(300 << 20)},
    )
    code, out, err, took = cli("diff", str(base), str(head), "--format", "json")
    assert code == 2, err
    (chart,) = json.loads(out)["charts"]
    assert chart["status"] == "render_error"
    assert "charts/bomb.tgz" in chart["error"]
    assert "expands to more than 64 MB" in chart["error"]
    assert took < 30


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def bomb_repository(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "index.yaml").write_text("apiVersion: v1\n" + ALIAS_BOMB + "entries: {redis: *i}\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_an_alias_bomb_in_a_remote_index_is_refused(bomb_repository: str) -> None:
    fetcher = HttpRepositoryFetcher(allow_private_networks=True)
    started = time.monotonic()
    with pytest.raises(FetchError, match="expands to more than"):
        fetcher.fetch(bomb_repository, "redis", "*")
    assert time.monotonic() - started < 2
    assert yaml.safe_load("a: 1") == {"a": 1}  # PyYAML itself is untouched


# --- what already held, kept ----------------------------------------------------------------


def test_an_alias_bomb_in_values_is_a_render_error_in_bounded_time(tmp_path: Path) -> None:
    base = make_chart(tmp_path / "base", "app", {"cm.yaml": CONFIGMAP}, values="level: a\n")
    head = make_chart(tmp_path / "head", "app", {"cm.yaml": CONFIGMAP}, values="level: b\n" + ALIAS_BOMB)
    code, out, err, took = cli("diff", str(base), str(head), "--format", "json")
    assert "Traceback" not in err
    (chart,) = json.loads(out)["charts"]
    assert chart["status"] == "render_error", chart
    assert "lol, lol" not in out
    assert took < 60
    assert code == 2


@pytest.mark.parametrize(
    "template",
    [
        '{{ .Files.Get "../../../outside.txt" }}',
        '{{ .Files.Get "/etc/hostname" }}{{ .Files.Get "../outside.txt" }}',
        '{{ range $path, $_ := .Files.Glob "../**" }}{{ $path }}{{ end }}',
    ],
    ids=["relative", "absolute", "glob"],
)
def test_files_outside_the_chart_cannot_be_read_by_templates(tmp_path: Path, template: str) -> None:
    (tmp_path / "outside.txt").write_text(CANARY)
    leak = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n  v: {{ .Values.v | quote }}\n"
    leak += "  leak: |\n    " + template + "\n"
    base = make_chart(tmp_path / "base", "app", {"cm.yaml": leak}, values="v: a\n")
    head = make_chart(tmp_path / "head", "app", {"cm.yaml": leak}, values="v: b\n")
    code, out, err, _ = cli("diff", str(base), str(head), "--format", "json")
    assert code in (0, 1, 2), err
    assert CANARY not in out + err


@pytest.mark.parametrize("function", ["env", "expandenv"])
def test_templates_cannot_read_the_environment(tmp_path: Path, function: str) -> None:
    argument = '"CHARTIMPACT_CANARY"' if function == "env" else '"$CHARTIMPACT_CANARY"'
    cm = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: e}}\ndata: {{v: '{{{{ {function} {argument} }}}}'}}\n"
    base = make_chart(tmp_path / "base", "app", {"cm.yaml": CONFIGMAP}, values="level: a\n")
    head = make_chart(tmp_path / "head", "app", {"cm.yaml": cm})
    code, out, err, _ = cli("diff", str(base), str(head), "--format", "json", env={"CHARTIMPACT_CANARY": CANARY})
    assert CANARY not in out + err
    (chart,) = json.loads(out)["charts"]
    assert chart["status"] == "render_error"
    assert function in chart["error"]
    assert code == 2


def test_an_error_sentence_quoting_the_repository_carries_no_terminal_control(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    # YAML's own escapes: the unknown key holds ESC ] 0 ; owned BEL, an OSC that retitles a terminal.
    write_files(repo, {**web_chart("info"), ".chartimpact.yml": 'charts:\n  "\\e]0;owned\\a": 1\n'})
    base = commit_all(repo, "config")
    code, _, err, _ = cli("analyze", "--repo", str(repo), "--base", base, "--head", base)
    assert code == 2
    assert err.startswith("chartimpact: .chartimpact.yml")
    assert "unknown key 'charts.\\x1b]0;owned\\x07'" in err  # shown, not run
    assert not any(c in err for c in "\x1b\x07")
