"""The GitHub Action (action.yml) run step by step against a local repository, as the runner runs
a composite action: each `run` step in bash with its `env` and `working-directory`, its outputs
read back from $GITHUB_OUTPUT, the job summary from $GITHUB_STEP_SUMMARY. The `uses` steps
(setup-python, the SARIF upload) need GitHub and are not run; what they are given is checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, git
from tests.test_sarif import _schema_errors

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Run:
    inputs: dict[str, str]
    workspace: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    summary: Path = field(init=False)

    def __post_init__(self) -> None:
        self.summary = self.workspace.parent / "summary.md"
        self.summary.write_text("")

    def value(self, expression: str) -> str:
        """The few expressions action.yml's run steps use; anything else fails the test."""
        if expression == "github.action_path":
            return str(ROOT)
        if expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if match:
            return self.outputs.get(match[1], {}).get(match[2], "")
        raise AssertionError(f"action.yml uses an expression this test does not know: {expression}")

    def expand(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m[1]), text)


def _inputs(**given: str) -> dict[str, str]:
    defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    return defaults | given


def run_action(run: Run) -> int:
    """Every run step in order, as a composite action does: the first failing one ends the run."""
    python_dir = Path(sys.executable).parent  # setup-python's `python`, with the dev requirements installed
    for step in ACTION["runs"]["steps"]:
        if "uses" in step:
            continue
        output_file = run.workspace.parent / f"output-{len(run.logs)}"
        output_file.write_text("")
        env = {
            "PATH": f"{python_dir}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(run.workspace.parent)),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(run.summary),
            "XDG_CONFIG_HOME": str(run.workspace.parent / "config"),
            "XDG_CACHE_HOME": str(run.workspace.parent / "cache"),
        } | {name: run.expand(str(value)) for name, value in step.get("env", {}).items()}
        assert step["shell"] == "bash"
        done = subprocess.run(
            ["bash", "-e", "-c", run.expand(step["run"])],
            check=False,
            cwd=run.workspace / run.expand(step.get("working-directory", ".")),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        run.logs.append(done.stdout + done.stderr)
        if "id" in step:
            run.outputs[step["id"]] = dict(
                line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
            )
        if done.returncode != 0:
            return done.returncode
    return 0


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose head changes the example chart, checked out as actions/checkout does:
    one commit deep, so the base must be fetched."""
    origin = tmp_path / "origin"
    shutil.copytree(EXAMPLES / "base" / "storefront", origin / "charts" / "storefront")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "base")
    base = git(origin, "rev-parse", "HEAD").strip()
    shutil.rmtree(origin / "charts" / "storefront")
    shutil.copytree(EXAMPLES / "head" / "storefront", origin / "charts" / "storefront")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "head")
    head = git(origin, "rev-parse", "HEAD").strip()
    workspace = tmp_path / "workspace"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{origin}", str(workspace)], check=True, capture_output=True
    )
    return workspace, base, head


def test_a_failing_verdict_writes_the_summary_and_sarif_then_fails_the_job(checkout: tuple[Path, str, str]) -> None:
    workspace, base, head = checkout
    run = Run(_inputs(base=base, head=head), workspace)
    code = run_action(run)
    assert code == 1, run.logs
    outputs = run.outputs["analyze"]
    assert outputs["verdict"] == "fail" and outputs["exit-code"] == "1"
    assert int(outputs["signals"]) > 0 and outputs["charts"] == "1"
    assert "fetching " + base in run.logs[1]  # the one-commit checkout lacked the base
    summary = run.summary.read_text()
    assert "Readiness probe removed" in summary and "charts/storefront" in summary
    sarif = json.loads((workspace / outputs["sarif-file"]).read_text())
    assert _schema_errors(sarif) == []
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert all(uri.startswith("charts/storefront/") and (workspace / uri).is_file() for uri in uris), uris
    report = json.loads((workspace / outputs["report-file"]).read_text())
    assert report["verdict"] == "fail"
    assert "::error title=ChartImpact::the verdict is fail" in run.logs[-1]


def test_fail_on_verdict_false_reports_without_failing(checkout: tuple[Path, str, str]) -> None:
    workspace, base, head = checkout
    run = Run(_inputs(base=base, head=head, **{"fail-on-verdict": "false"}), workspace)
    assert run_action(run) == 0, run.logs
    assert run.outputs["analyze"]["verdict"] == "fail"
    assert "verdict: fail" in run.logs[-1]


def test_an_unchanged_chart_passes(checkout: tuple[Path, str, str]) -> None:
    workspace, _, head = checkout
    run = Run(_inputs(base=head, head=head, charts="charts/storefront\n"), workspace)
    assert run_action(run) == 0, run.logs
    assert run.outputs["analyze"]["verdict"] == "pass"
    assert "verdict: pass" in run.logs[-1]


def test_a_hostile_ref_is_data_not_shell(checkout: tuple[Path, str, str]) -> None:
    workspace, base, _ = checkout
    marker = workspace.parent / "pwned"
    run = Run(_inputs(base=base, head=f"$(touch {marker})", args="--offline; touch " + str(marker)), workspace)
    code = run_action(run)
    assert code not in (0, 1)
    assert not marker.exists()
    assert "Traceback" not in "".join(run.logs)


def test_the_uses_steps_get_what_they_need() -> None:
    steps = ACTION["runs"]["steps"]
    assert ACTION["runs"]["using"] == "composite"
    setup, upload = (s for s in steps if "uses" in s)
    assert (
        setup["uses"].startswith("actions/setup-python@") and "inputs.python-version" in setup["with"]["python-version"]
    )
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "steps.analyze.outputs.sarif-file" in upload["with"]["sarif_file"]
    # The upload comes before the verdict can fail the job, so a failing run still shows its results.
    names = [s.get("name") for s in steps]
    assert names.index(upload["name"]) < names.index("Verdict")
    declared: dict[str, Any] = ACTION["outputs"]
    assert {"verdict", "sarif-file", "report-file", "exit-code"} <= set(declared)
