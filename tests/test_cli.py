"""The command line, driven as a user drives it (CONTRACT §1)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chartimpact_bot.cli import main
from chartimpact_bot.core.errors import ChartError
from tests.conftest import EXAMPLES, REPO_ROOT, chart_yaml, commit_all, init_repo, write_files

BASE = str(EXAMPLES / "base" / "storefront")
HEAD = str(EXAMPLES / "head" / "storefront")
SECRETS = ("correct-horse-battery-staple", "tr0ub4dor-and-3", "storefront")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_diff_of_the_examples_in_every_format_never_shows_secrets(fmt: str) -> None:
    code, out, err = run("diff", BASE, HEAD, "--format", fmt)
    assert code in (0, 1), err
    assert "Deployment" in out
    for secret in SECRETS[:2]:
        assert secret not in out
        assert base64.b64encode(secret.encode()).decode() not in out
    assert base64.b64encode(SECRETS[2].encode()).decode() not in out
    assert "sensitive value changed, sha256:" in out


def test_json_report_shape() -> None:
    code, out, _ = run("diff", BASE, HEAD, "--format", "json")
    report = json.loads(out)
    assert list(report) == [
        "schemaVersion",
        "engineVersion",
        "generatedAt",
        "base",
        "head",
        "verdict",
        "charts",
        "summary",
    ]
    (chart,) = report["charts"]
    assert list(chart) == [
        "path",
        "name",
        "environment",
        "status",
        "error",
        "warnings",
        "diff",
        "signals",
        "summary",
        "verdict",
    ]
    assert chart["status"] == "analyzed"
    resources = chart["diff"]["resources"]
    keys = [(r["identity"]["kind"], r["identity"]["namespace"], r["identity"]["name"]) for r in resources]
    assert keys == sorted(keys)
    change = next(c for r in resources for c in r["changes"] if c["displayPath"].endswith("].image"))
    assert list(change) == [
        "op",
        "path",
        "pathTokens",
        "displayPath",
        "before",
        "after",
        "valueType",
        "semanticType",
        "changeCategory",
        "importance",
        "flags",
    ]
    assert change["path"] == "/spec/template/spec/containers/1/image"
    assert change["pathTokens"] == ["spec", "template", "spec", "containers", 1, "image"]
    assert change["displayPath"] == "spec.template.spec.containers[name=web].image"
    assert change["valueType"] == "string"
    assert "rollout-trigger" in change["flags"]
    assert chart["diff"]["stats"]["resources"] == {"added": 0, "removed": 0, "modified": 11}
    assert code == (1 if report["verdict"] == "fail" else 0)


def test_default_format_off_a_terminal_is_json_and_output_file(tmp_path: Path) -> None:
    code, out, _ = run("diff", BASE, HEAD)
    assert json.loads(out)["charts"][0]["name"] == "storefront"
    target = tmp_path / "report.md"
    code, out, err = run("diff", BASE, HEAD, "--format", "markdown", "--output", str(target))
    assert out == "" and err == ""
    assert target.read_text().startswith("### ChartImpact")


def test_values_set_and_render_options(tmp_path: Path) -> None:
    values = tmp_path / "prod.yaml"
    values.write_text("replicaCount: 5\nautoscaling: {enabled: false}\n")
    code, out, err = run(
        "diff",
        BASE,
        BASE,
        "--values",
        str(values),
        "--set",
        "image.tag=9.9.9",
        "--namespace",
        "shop",
        "--release-name",
        "prod",
        "--kube-version",
        "1.30.0",
        "--api-versions",
        "monitoring.coreos.com/v1",
        "--format",
        "json",
    )
    assert code == 0, err
    chart = json.loads(out)["charts"][0]
    assert chart["status"] == "analyzed"
    assert chart["diff"]["resources"] == []


def test_missing_directory_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    code, out, err = run("diff", str(tmp_path / "nope"), HEAD)
    assert code == 2 and out == ""
    assert err == f"chartimpact: '{tmp_path / 'nope'}' is not a directory\n"


def test_directory_without_chart_yaml_exits_2(tmp_path: Path) -> None:
    code, _, err = run("diff", str(tmp_path), HEAD)
    assert code == 2
    assert err.startswith("chartimpact: '") and err.endswith("' is not a Helm chart: it has no Chart.yaml\n")


def test_usage_errors_are_one_line_with_exit_2() -> None:
    code, _, err = run("diff", BASE)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("chartimpact: ")
    code, _, err = run("diff", BASE, HEAD, "--format", "yaml")
    assert code == 2 and "invalid choice" in err


def test_unreadable_values_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("diff", BASE, HEAD, "--values", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert err == f"chartimpact: values file '{tmp_path / 'missing.yaml'}' cannot be read: No such file or directory\n"


def test_render_error_prints_the_report_and_exits_2(tmp_path: Path) -> None:
    chart = write_files(
        tmp_path / "broken",
        {"Chart.yaml": chart_yaml("broken"), "templates/x.yaml": '{{ fail "boom" }}\n'},
    )
    code, out, err = run("diff", BASE, str(chart), "--format", "json")
    assert code == 2, err
    (report,) = json.loads(out)["charts"]
    assert report["status"] == "render_error"
    assert "boom" in report["error"]


def test_bad_render_limit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENDER_MEMORY_MB", "256")
    code, _, err = run("diff", BASE, HEAD)
    assert code == 2
    assert err == "chartimpact: RENDER_MEMORY_MB must be at least 1024, not 256\n"


def test_invalid_config_file_is_reported_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "cfg.yml"
    config.write_text("version: 1\nthresholds:\n  security:\n    hgh: fail\n")
    code, _, err = run("diff", BASE, HEAD, "--config", str(config))
    assert code == 2
    assert err == (f"chartimpact: {config} line 4: unknown key 'thresholds.security.hgh' (did you mean 'high'?)\n")


def _two_chart_repo(root: Path) -> tuple[Path, str, str]:
    repo = init_repo(root / "repo")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n  level: {{ .Values.level | quote }}\n"
    write_files(
        repo,
        {
            "charts/api/Chart.yaml": chart_yaml("api"),
            "charts/api/values.yaml": "level: info\n",
            "charts/api/templates/cm.yaml": cm,
            "charts/worker/Chart.yaml": chart_yaml("worker"),
            "charts/worker/values.yaml": "level: info\n",
            "charts/worker/templates/cm.yaml": cm,
            "README.md": "charts\n",
        },
    )
    first = commit_all(repo, "two charts")
    (repo / "charts/api/values.yaml").write_text("level: debug\n")
    (repo / "README.md").write_text("charts, documented\n")
    second = commit_all(repo, "api logs more")
    return repo, first, second


def test_analyze_repo_reports_changed_chart_and_marks_the_other_unchanged(tmp_path: Path) -> None:
    repo, first, second = _two_chart_repo(tmp_path)
    (repo / "charts/worker/values.yaml").write_text("level: work-tree-only\n")  # never read
    code, out, err = run("analyze", "--repo", str(repo), "--base", first, "--head", "main", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["base"] == {"ref": first, "sha": first}
    assert report["head"] == {"ref": "main", "sha": second}
    charts = {c["path"]: c for c in report["charts"]}
    assert charts["charts/worker"]["status"] == "unchanged"
    assert charts["charts/worker"]["diff"] is None
    api = charts["charts/api"]
    assert api["status"] == "analyzed"
    (cm,) = api["diff"]["resources"]
    assert [(c["displayPath"], c["before"], c["after"]) for c in cm["changes"]] == [("data.level", "info", "debug")]


def test_analyze_reads_config_from_the_base_ref(tmp_path: Path) -> None:
    repo, first, _ = _two_chart_repo(tmp_path)
    (repo / ".chartimpact.yml").write_text("charts:\n  exclude: ['charts/api']\n")
    commit_all(repo, "exclude api")
    # The config is read from --base: at `first` there is none, so api is analyzed.
    _, out, _ = run("analyze", "--repo", str(repo), "--base", first, "--head", "main", "--format", "json")
    assert {c["path"]: c["status"] for c in json.loads(out)["charts"]}["charts/api"] == "analyzed"
    _, out, _ = run("analyze", "--repo", str(repo), "--base", "main", "--head", "main", "--format", "json")
    assert {c["path"]: c["status"] for c in json.loads(out)["charts"]} == {
        "charts/api": "skipped",
        "charts/worker": "unchanged",
    }


def test_analyze_chart_naming_no_chart_is_a_usage_error(tmp_path: Path) -> None:
    repo, first, second = _two_chart_repo(tmp_path)
    code, out, err = run("analyze", "--repo", str(repo), "--base", first, "--head", second, "--chart", "charts")
    assert (code, out) == (2, "")
    assert err == (
        f"chartimpact: --chart 'charts': no chart there at {first} or at {second} (a chart directory has a Chart.yaml)\n"
    )
    code, _, err = run("analyze", "--repo", str(repo), "--base", first, "--head", second, "--chart", "charts/api")
    assert code == 0, err


def test_a_render_error_says_why_on_stderr_in_one_line(tmp_path: Path) -> None:
    chart = write_files(
        tmp_path / "broken",
        # Go's escapes: the message Helm prints holds an escape sequence and newlines.
        {"Chart.yaml": chart_yaml("broken"), "templates/x.yaml": r'{{ fail "boom\x1b[31m\n\nred" }}' + "\n"},
    )
    code, out, err = run("diff", BASE, str(chart), "--format", "json")
    assert code == 2 and json.loads(out)["charts"][0]["status"] == "render_error"
    assert err == (
        f"chartimpact: 1 chart could not be rendered: {chart} (head: execution error at "
        "(broken/templates/x.yaml:1:3): boom\\x1b[31m red)\n"
    )


def test_analyze_unknown_ref_exits_2(tmp_path: Path) -> None:
    repo, first, _ = _two_chart_repo(tmp_path)
    code, _, err = run("analyze", "--repo", str(repo), "--base", first, "--head", "no-such-branch")
    assert code == 2
    assert err == f"chartimpact: git ref 'no-such-branch' does not name a commit in '{repo}'\n"


def test_module_entry_point_runs_as_a_program() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chartimpact_bot",
            "diff",
            BASE,
            HEAD,
            "--format",
            "text",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.startswith("ChartImpact  ")
    assert "\033[" not in done.stdout
    assert "Traceback" not in done.stderr


SECRET_LOOKING = "ghs_0123456789abcdefSECRET and /home/operator/.ssh/id_rsa"


def test_a_bug_is_one_fixed_sentence_exit_2_and_its_traceback_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError(SECRET_LOOKING)

    monkeypatch.setattr("chartimpact_bot.cli.compare_charts", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, out, err = run("diff", BASE, HEAD, "--format", "json")
    assert code == 2 and out == ""
    (saved,) = tmp_path.glob("chartimpact-crash-*.txt")
    assert err == f"chartimpact: the analysis failed unexpectedly (a bug in ChartImpact); its traceback is in {saved}\n"
    assert "ghs_" not in err and "Traceback" not in err
    kept = saved.read_text()
    assert kept.startswith("Traceback") and f"RuntimeError: {SECRET_LOOKING}" in kept and "in broken" in kept


def test_an_error_raised_on_purpose_keeps_its_sentence_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object, **__: object) -> None:
        raise ChartError("chart 'x' is not usable: " + "y" * 5000)

    monkeypatch.setattr("chartimpact_bot.cli.compare_charts", refused)
    code, _, err = run("diff", BASE, HEAD)
    assert code == 2
    assert err.startswith("chartimpact: chart 'x' is not usable: yyy") and len(err) <= len("chartimpact: ") + 1001
