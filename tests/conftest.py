"""Shared fixtures: chart builders, the real Helm renderer, git repositories, pipeline runners."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.model import ChartReport, Report, ResourceDiff, Revision
from chartimpact_bot.engine.pipeline import PipelineOptions, chart_at, compare_charts
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits
from chartimpact_bot.engine.sources import DirectorySource

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples" / "charts"


def chart_yaml(name: str, version: str = "0.1.0", extra: str = "") -> str:
    return f"apiVersion: v2\nname: {name}\nversion: {version}\n" + textwrap.dedent(extra)


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content))
    return root


def make_chart(
    root: Path,
    name: str,
    templates: Mapping[str, str],
    values: str = "",
    chart_extra: str = "",
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """A chart directory `root/name` with the given templates (paths under templates/)."""
    files: dict[str, str | bytes] = {
        "Chart.yaml": chart_yaml(name, extra=chart_extra),
        "values.yaml": values,
    }
    files.update({f"templates/{path}": body for path, body in templates.items()})
    files.update(extra_files or {})
    return write_files(root / name, files)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-api
  labels:
    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
    app: api
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
{{ toYaml .Values.containers | indent 8 }}
"""


@pytest.fixture(autouse=True)
def _private_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line creates its fingerprint key under the user's config directory: never
    the real one in tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "config-home"))
    monkeypatch.delenv("CHARTIMPACT_FINGERPRINT_KEY", raising=False)


@pytest.fixture(scope="session")
def renderer() -> IsolatedHelmRenderer:
    return IsolatedHelmRenderer(RenderLimits(timeout_seconds=60, memory_mb=1024))


@pytest.fixture
def options(renderer: IsolatedHelmRenderer) -> PipelineOptions:
    return PipelineOptions(renderer=renderer)


def diff_dirs(
    base: Path,
    head: Path,
    options: PipelineOptions,
    config: AnalysisConfig | None = None,
    environment: Environment | None = None,
) -> Report:
    """Run the pipeline on two chart directories, as `chartimpact diff` does."""
    base_at, head_at = (
        chart_at(DirectorySource(directory.parent, Revision(ref=ref)), directory.name)
        for directory, ref in ((base, "base"), (head, "head"))
    )
    return compare_charts(base_at, head_at, options, config=config, environment=environment, display_path=head.name)


def only_chart(report: Report) -> ChartReport:
    assert len(report.charts) == 1
    return report.charts[0]


def resource(chart: ChartReport, kind: str, name: str) -> ResourceDiff:
    assert chart.diff is not None, chart.error
    matches = [r for r in chart.diff.resources if r.id.kind == kind and r.id.name == name]
    assert matches, f"{kind} {name} not in {[str(r.id) for r in chart.diff.resources]}"
    return matches[0]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(repo),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    )
    return done.stdout.strip()


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def git_blob(repo: Path, content: str) -> str:
    """Store `content` as a blob; its object id."""
    return subprocess.run(
        ["git", "-C", str(repo), "hash-object", "-w", "--stdin"],
        input=content,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def git_tree(repo: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree object with exactly these (mode, object id, name) entries. Names git itself never
    records (`..`) included: that is what a crafted commit can hold."""
    lines = "".join(f"{mode} {'tree' if mode == '040000' else 'blob'} {oid}\t{name}\n" for mode, oid, name in entries)
    return subprocess.run(
        ["git", "-C", str(repo), "mktree"], input=lines, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
