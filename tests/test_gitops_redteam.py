"""Argo CD Application discovery tried as an attacker and a demanding user would (issue 13): each
test names what must hold."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from chartimpact_bot.core.gitops.argocd import applications, environment
from tests.conftest import chart_yaml, commit_all, git, init_repo, write_files
from tests.test_cli import run

DUMP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: dump}
data:
  values: {{ toYaml .Values | quote }}
  release: {{ .Release.Name | quote }}
  ns: {{ .Release.Namespace | quote }}
"""
SECRET_TPL = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: conn}
data:
  url: "postgres://app:{{ .Values.db.password }}@db:5432/app"
  password: {{ .Values.db.password | quote }}
"""


def app(name: str, source: str, *, dest: str = "shop") -> str:
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
        f"metadata: {{name: {name}, namespace: argocd}}\n"
        "spec:\n  project: default\n"
        f"  destination: {{server: https://kubernetes.default.svc, namespace: {dest}}}\n"
        f"{source}"
    )


def src(helm: str, path: str = "charts/web") -> str:
    return f"  source:\n    repoURL: https://github.com/acme/deploy.git\n    targetRevision: HEAD\n    path: {path}\n    helm:\n{helm}"


def make_repo(root: Path, files: dict[str, str | bytes], values: str = "a: chart\nb: chart\n") -> tuple[Path, str]:
    repo = init_repo(root / "repo")
    write_files(
        repo,
        {
            "charts/web/Chart.yaml": chart_yaml("web"),
            "charts/web/values.yaml": values,
            "charts/web/templates/dump.yaml": DUMP,
            **files,
        },
    )
    return repo, commit_all(repo, "base")


def analyze(repo: Path, base: str, fmt: str = "json", head: str = "main") -> tuple[int, str, str]:
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", head, "--format", fmt)
    return code, out, err


def charts(repo: Path, base: str) -> dict[str, dict[str, Any]]:
    code, out, err = analyze(repo, base)
    assert code in (0, 1), err
    report = json.loads(out)
    result: dict[str, dict[str, Any]] = {}
    for c in report["charts"]:
        key = f"{c['path']} [{c.get('environment')}]"
        assert key not in result, f"duplicate report key {key}"
        result[key] = c
    result["__report__"] = report
    return result


def head_values(chart: dict[str, Any]) -> str:
    for r in chart["diff"]["resources"]:
        if r["identity"]["kind"] == "ConfigMap":
            return json.dumps(r)
    return json.dumps(chart)


# ---------------------------------------------------------------- parse-level


def one(text: str):
    (a,) = applications("apps/a.yaml", text)
    return a


def test_valuesobject_block_does_not_swallow_next_sibling_key() -> None:
    a = one(app("w", src("      valuesObject:\n        replicas: 2\n      releaseName: foo\n")))
    text = a.sources[0].inline.text
    assert "releaseName" not in text, text


def test_valuesobject_block_does_not_swallow_next_spec_key() -> None:
    a = one(app("w", src("      valuesObject:\n        replicas: 2\n") + "  syncPolicy:\n    automated: {}\n"))
    assert "syncPolicy" not in a.sources[0].inline.text, a.sources[0].inline.text


def test_valuesobject_flow_multiline_is_the_mapping() -> None:
    a = one(app("w", src("      valuesObject: {a: 1,\n        b: 2}\n")))
    assert yaml.safe_load(a.sources[0].inline.text) == {"a": 1, "b": 2}, a.sources[0].inline.text


def test_valuesobject_with_alias_to_anchor_outside_it_is_loadable() -> None:
    text = "x-common: &common {tag: v1}\n" + app("w", src("      valuesObject:\n        image: *common\n"))
    a = one(text)
    assert yaml.safe_load(a.sources[0].inline.text) == {"image": {"tag": "v1"}}, a.sources[0].inline.text


def test_multisource_valuesobject_in_first_source_is_valid_yaml() -> None:
    text = app(
        "w",
        "  sources:\n"
        "  - repoURL: https://github.com/acme/deploy.git\n    path: charts/web\n    helm:\n"
        "      valuesObject:\n        a: 1\n"
        "  - repoURL: https://github.com/acme/deploy.git\n    ref: values\n",
    )
    a = one(text)
    assert yaml.safe_load(a.sources[0].inline.text) == {"a": 1}, a.sources[0].inline.text


def test_release_name_is_per_source() -> None:
    text = app(
        "w",
        "  sources:\n"
        "  - {repoURL: https://github.com/acme/deploy.git, path: charts/a, helm: {releaseName: alpha}}\n"
        "  - {repoURL: https://github.com/acme/deploy.git, path: charts/b, helm: {valueFiles: [v.yaml]}}\n",
    )
    a = one(text)
    assert [environment(a, s).release_name for s in a.sources] == ["alpha", "w"]


def test_ref_from_another_repository_is_not_read_from_this_one() -> None:
    text = app(
        "w",
        "  sources:\n"
        "  - {repoURL: https://github.com/acme/deploy.git, path: charts/web, helm: {valueFiles: [$v/prod.yaml]}}\n"
        "  - {repoURL: https://github.com/someone-else/values.git, ref: v}\n",
    )
    a = one(text)
    assert a.sources[0].value_files == () or a.problems, a.sources[0].value_files


def test_git_source_of_another_repository_is_not_this_repos_chart() -> None:
    # repoURL of another repository: `path: charts/web` is not this repository's charts/web.
    text = app("w", src("      values: 'a: 1'\n").replace("acme/deploy.git", "other/thing.git"))
    a = one(text)
    # A consumer cannot tell: HelmSource has repo_url, but engine/gitops.py never compares it.
    assert a.sources[0].repo_url == "https://github.com/other/thing.git"


def test_parameter_value_with_comma_is_escaped_like_argocd() -> None:
    a = one(app("w", src("      parameters:\n      - {name: hosts, value: 'a,b'}\n")))
    assert a.sources[0].set_values == (r"hosts=a\,b",), a.sources[0].set_values


@pytest.mark.parametrize(
    "spec_source",
    [
        "[1, 2]",
        "hello",
        "3",
        "null",
        "{path: [1]}",
        "{path: x, helm: [1]}",
        "{path: x, helm: {values: 5}}",
        "{path: x, helm: {valuesObject: [1]}}",
        "{path: x, helm: {parameters: {a: b}}}",
        "{path: x, helm: {valueFiles: v.yaml}}",
    ],
)
def test_odd_source_shapes_never_crash(spec_source: str) -> None:
    list(applications("f.yaml", app("w", f"  source: {spec_source}\n")))


def test_alias_bomb_is_bounded() -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(12)
    )
    text = (
        app("w", src("      valuesObject:\n        n: 1\n"))
        + "\n".join("x" + line for line in [""])
        + "\nbomb:\n"
        + "".join("  " + line for line in bomb.splitlines(True))
    )
    start = time.monotonic()
    list(applications("f.yaml", text))
    assert time.monotonic() - start < 5


def test_deep_nesting_is_bounded() -> None:
    text = app("w", src("      valuesObject:\n        n: " + "[" * 50000 + "]" * 50000 + "\n"))
    start = time.monotonic()
    list(applications("f.yaml", text))
    assert time.monotonic() - start < 5


def test_thousands_of_applications_in_one_file() -> None:
    text = "---\n".join(app(f"w{i}", src("      values: 'a: 1'\n")) for i in range(3000))
    start = time.monotonic()
    found = list(applications("f.yaml", text))
    assert len(found) == 3000
    assert time.monotonic() - start < 20, time.monotonic() - start


# ---------------------------------------------------------------- end to end (analyze --repo)


def test_e2e_valuesobject_followed_by_release_name(tmp_path: Path) -> None:
    helm = "      valuesObject:\n        a: {v}\n      releaseName: custom\n"
    repo, base = make_repo(tmp_path, {"apps/web.yaml": app("web", src(helm.format(v="one")))})
    write_files(repo, {"apps/web.yaml": app("web", src(helm.format(v="two")))})
    commit_all(repo, "x")
    c = charts(repo, base)["charts/web [web]"]
    assert c["status"] == "analyzed", c.get("error") or c
    dumped = head_values(c)
    assert "releaseName" not in dumped, dumped


def test_e2e_multisource_valuesobject(tmp_path: Path) -> None:
    def manifest(v: str) -> str:
        return app(
            "web",
            "  sources:\n"
            "  - repoURL: https://github.com/acme/deploy.git\n    path: charts/web\n    helm:\n"
            f"      valuesObject:\n        a: {v}\n"
            "  - repoURL: https://github.com/acme/deploy.git\n    ref: values\n",
        )

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("one")})
    write_files(repo, {"apps/web.yaml": manifest("two")})
    commit_all(repo, "x")
    c = charts(repo, base)["charts/web [web]"]
    assert c["status"] == "analyzed" and not c.get("error"), c.get("error") or c["status"]


def test_e2e_flow_valuesobject(tmp_path: Path) -> None:
    def manifest(v: str) -> str:
        return app("web", src(f"      valuesObject: {{a: {v},\n        b: x}}\n"))

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("one")})
    write_files(repo, {"apps/web.yaml": manifest("two")})
    commit_all(repo, "x")
    c = charts(repo, base)["charts/web [web]"]
    dumped = head_values(c)
    assert "valuesObject" not in dumped, dumped


def test_e2e_problems_are_reported(tmp_path: Path) -> None:
    def manifest(v: str) -> str:
        return app(
            "web",
            src(f"      valueFiles: [../../../etc/passwd, 'https://evil.example/v.yaml']\n      values: 'a: {v}'\n"),
        )

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("one")})
    write_files(repo, {"apps/web.yaml": manifest("two")})
    commit_all(repo, "x")
    code, out, err = analyze(repo, base, "text")
    assert "passwd" in out or "outside the repository" in out, out[-3000:]


def test_e2e_parameter_secret_never_shown(tmp_path: Path) -> None:
    def manifest(pw: str) -> str:
        return app("web", src(f"      parameters:\n      - name: db.password\n        value: {pw}\n"))

    repo, base = make_repo(
        tmp_path,
        {"apps/web.yaml": manifest("Sup3rSecretOldPw"), "charts/web/templates/conn.yaml": SECRET_TPL},
        values="db: {password: changeme}\n",
    )
    write_files(repo, {"apps/web.yaml": manifest("Sup3rSecretNewPw")})
    commit_all(repo, "rotate")
    for fmt in ("json", "markdown", "text"):
        code, out, err = analyze(repo, base, fmt)
        assert code in (0, 1), err
        assert "Sup3rSecret" not in out, (fmt, [line for line in out.splitlines() if "Sup3rSecret" in line][:5])


def test_e2e_forcestring_parameter_secret_never_shown(tmp_path: Path) -> None:
    def manifest(pw: str) -> str:
        return app(
            "web",
            src(f"      parameters:\n      - name: db.password\n        value: '{pw}'\n        forceString: true\n"),
        )

    repo, base = make_repo(
        tmp_path,
        {"apps/web.yaml": manifest("Sup3rSecretOldPw"), "charts/web/templates/conn.yaml": SECRET_TPL},
        values="db: {password: changeme}\n",
    )
    write_files(repo, {"apps/web.yaml": manifest("Sup3rSecretNewPw")})
    commit_all(repo, "rotate")
    for fmt in ("json", "markdown", "text"):
        code, out, err = analyze(repo, base, fmt)
        assert code in (0, 1), err
        assert "Sup3rSecret" not in out, (fmt, [line for line in out.splitlines() if "Sup3rSecret" in line][:5])


@pytest.mark.parametrize("style", ["values", "valuesObject", "valuesObjectFlow"])
def test_e2e_inline_secret_never_shown(tmp_path: Path, style: str) -> None:
    def manifest(pw: str) -> str:
        if style == "values":
            helm = f"      values: |\n        db:\n          password: {pw}\n"
        elif style == "valuesObject":
            helm = f"      valuesObject:\n        db:\n          password: {pw}\n"
        else:
            helm = f"      valuesObject: {{db: {{password: {pw}}}}}\n"
        return app("web", src(helm))

    repo, base = make_repo(
        tmp_path,
        {"apps/web.yaml": manifest("Sup3rSecretOldPw"), "charts/web/templates/conn.yaml": SECRET_TPL},
        values="db: {password: changeme}\n",
    )
    write_files(repo, {"apps/web.yaml": manifest("Sup3rSecretNewPw")})
    commit_all(repo, "rotate")
    for fmt in ("json", "markdown", "text"):
        code, out, err = analyze(repo, base, fmt)
        assert code in (0, 1), err
        assert "Sup3rSecret" not in out, (fmt, [line for line in out.splitlines() if "Sup3rSecret" in line][:5])


def test_e2e_unrelated_yaml_files_do_not_remove_an_application(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, {"zz-apps/web.yaml": app("web", src("      values: 'a: one'\n"))})
    # The pull request adds 300 plain manifests (a gitops repository grows like this).
    write_files(
        repo,
        {
            f"manifests/cm{i:03}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
            for i in range(300)
        },
    )
    commit_all(repo, "more manifests")
    c = charts(repo, base)
    statuses = {k: v["status"] for k, v in c.items() if k != "__report__"}
    # Its manifest is not among the 300 read on the head: it is not reported removed, but
    # skipped with a warning saying why.
    assert statuses.get("charts/web [web]") == "skipped", statuses
    assert "more than 300 YAML files" in c["charts/web [web]"]["warnings"][0]


def test_e2e_two_applications_same_name_same_file(tmp_path: Path) -> None:
    def manifest(v: str) -> str:
        return (
            app("web", src(f"      values: 'a: {v}'\n"), dest="one")
            + "---\n"
            + app("web", src("      values: 'a: other'\n"), dest="two")
        )

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("one")})
    write_files(repo, {"apps/web.yaml": manifest("two")})
    commit_all(repo, "x")
    c = charts(repo, base)
    # Argo CD would reject the duplicate (same name in the argocd namespace); at the least the change
    # in the first one must not vanish silently.
    analyzed = [k for k, v in c.items() if k != "__report__" and v["status"] == "analyzed"]
    assert analyzed, {k: v["status"] for k, v in c.items() if k != "__report__"}


def test_e2e_same_name_different_files_distinct(tmp_path: Path) -> None:
    repo, base = make_repo(
        tmp_path,
        {
            "apps/prod/web.yaml": app("web", src("      values: 'a: one'\n"), dest="prod"),
            "apps/staging/web.yaml": app("web", src("      values: 'a: one'\n"), dest="staging"),
        },
    )
    write_files(repo, {"apps/prod/web.yaml": app("web", src("      values: 'a: two'\n"), dest="prod")})
    commit_all(repo, "x")
    charts(repo, base)  # asserts no duplicate (path, environment)


def test_e2e_moved_application_is_not_added_and_removed(tmp_path: Path) -> None:
    manifest = app("web", src("      values: 'a: one'\n"))
    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest})
    (repo / "apps/web.yaml").rename(repo / "apps/web-prod.yaml")
    commit_all(repo, "rename")
    c = charts(repo, base)
    statuses = [v["status"] for k, v in c.items() if k != "__report__"]
    assert statuses == ["unchanged"], statuses


def test_e2e_comment_above_application_is_unchanged(tmp_path: Path) -> None:
    manifest = app("web", src("      values: |\n        a: one\n"))
    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest})
    write_files(repo, {"apps/web.yaml": "# owned by team x\n" + manifest})
    commit_all(repo, "comment")
    c = charts(repo, base)
    statuses = [v["status"] for k, v in c.items() if k != "__report__"]
    assert statuses == ["unchanged"], statuses


def test_e2e_symlinked_values_file_outside_repo_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("a: LEAKED_FROM_OUTSIDE\n")
    repo, base = make_repo(
        tmp_path,
        {"apps/web.yaml": app("web", src("      valueFiles: [../../envs/prod.yaml]\n      values: 'b: one'\n"))},
    )
    (repo / "envs").mkdir()
    os.symlink(outside, repo / "envs/prod.yaml")
    write_files(
        repo, {"apps/web.yaml": app("web", src("      valueFiles: [../../envs/prod.yaml]\n      values: 'b: two'\n"))}
    )
    commit_all(repo, "x")
    for fmt in ("json", "text"):
        code, out, err = analyze(repo, base, fmt)
        assert "LEAKED_FROM_OUTSIDE" not in out + err


def test_e2e_symlinked_manifest_outside_repo_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(app("evil", src("      values: 'a: LEAKED_MANIFEST'\n")))
    repo, base = make_repo(tmp_path, {"README.md": "x\n"})
    os.symlink(outside, repo / "evil.yaml")
    commit_all(repo, "x")
    code, out, err = analyze(repo, base, "json")
    assert "evil" not in out and "LEAKED" not in out, out[-2000:]


def test_e2e_application_line_after_leading_documents_crlf(tmp_path: Path) -> None:
    def manifest(t: str) -> str:
        body = "# header\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n" + app(
            "web", src(f"      valuesObject:\n        service:\n          type: {t}\n")
        )
        return body.replace("\n", "\r\n")

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("ClusterIP")}, values="service: {type: ClusterIP}\n")
    write_files(
        repo,
        {
            "charts/web/templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: {{ .Values.service.type }}\n  ports: [{port: 80}]\n"
        },
    )
    commit_all(repo, "svc")
    base = git(repo, "rev-parse", "HEAD")
    (repo / "apps/web.yaml").write_bytes(manifest("LoadBalancer").encode())
    commit_all(repo, "lb")
    c = charts(repo, base)["charts/web [web]"]
    (exposure,) = [s for s in c["signals"] if s["type"] == "security.exposure.type"]
    lines = (repo / "apps/web.yaml").read_bytes().decode().splitlines()
    assert exposure["source"]["file"] == "apps/web.yaml"
    assert lines[exposure["source"]["line"] - 1].strip() == "type: LoadBalancer", exposure["source"]


def test_e2e_quoted_values_line(tmp_path: Path) -> None:
    def manifest(t: str) -> str:
        return app("web", src(f'      values: "service:\\n  type: {t}\\n"\n'))

    repo, base = make_repo(
        tmp_path,
        {
            "apps/web.yaml": manifest("ClusterIP"),
            "charts/web/templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: {{ .Values.service.type }}\n  ports: [{port: 80}]\n",
        },
        values="service: {type: ClusterIP}\n",
    )
    write_files(repo, {"apps/web.yaml": manifest("LoadBalancer")})
    commit_all(repo, "lb")
    c = charts(repo, base)["charts/web [web]"]
    (exposure,) = [s for s in c["signals"] if s["type"] == "security.exposure.type"]
    lines = (repo / "apps/web.yaml").read_text().splitlines()
    line = exposure["source"]["line"]
    assert line <= len(lines) and "LoadBalancer" in lines[line - 1], (exposure["source"], len(lines))


def test_e2e_ignore_missing_value_files(tmp_path: Path) -> None:
    def manifest(v: str, ignore: bool) -> str:
        extra = "      ignoreMissingValueFiles: true\n" if ignore else ""
        return app("web", src(f"      valueFiles: [missing.yaml]\n{extra}      values: 'a: {v}'\n"))

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("one", False)})
    write_files(repo, {"apps/web.yaml": manifest("two", False)})
    commit_all(repo, "x")
    # Argo CD fails to generate manifests when a values file is missing and not ignored: so does
    # the analysis (a render error, exit code 2), naming the file.
    code, _, err = analyze(repo, base, "json")
    assert code == 2 and "charts/web/missing.yaml" in err and "does not exist" in err
    # With ignoreMissingValueFiles on both sides, the missing file is passed by, as Argo CD does.
    ignored, ignored_base = make_repo(tmp_path / "ignored", {"apps/web.yaml": manifest("one", True)})
    write_files(ignored, {"apps/web.yaml": manifest("two", True)})
    commit_all(ignored, "x")
    assert charts(ignored, ignored_base)["charts/web [web]"]["status"] == "analyzed"


def test_e2e_chart_values_yaml_still_applied_and_precedence(tmp_path: Path) -> None:
    def manifest(v: str) -> str:
        return app(
            "web",
            src(
                "      valueFiles: [../../envs/prod.yaml]\n"
                "      values: |\n        b: from-values\n        c: from-values\n"
                f"      parameters:\n      - {{name: c, value: from-param-{v}}}\n"
            ),
            dest="prod",
        )

    repo, base = make_repo(
        tmp_path,
        {"apps/web.yaml": manifest("1"), "envs/prod.yaml": "a: from-file\nb: from-file\nd: from-file\n"},
        values="a: chart\nb: chart\nc: chart\nd: chart\ne: chart\n",
    )
    write_files(repo, {"apps/web.yaml": manifest("2")})
    commit_all(repo, "x")
    c = charts(repo, base)["charts/web [web]"]
    dumped = head_values(c)
    for expected in ("from-param-2", "b: from-values", "a: from-file", "d: from-file", "e: chart"):
        assert expected in dumped, (expected, dumped)


def test_e2e_remote_chart_source_is_the_repository_chart_not_the_path(tmp_path: Path) -> None:
    def manifest(v: str) -> str:
        return app(
            "web",
            "  source:\n    repoURL: https://charts.example\n    chart: web\n    targetRevision: 1.0.0\n    path: charts/web\n"
            f"    helm: {{values: 'a: {v}'}}\n",
        )

    repo, base = make_repo(tmp_path, {"apps/web.yaml": manifest("one")})
    write_files(repo, {"apps/web.yaml": manifest("two")})
    commit_all(repo, "x")
    # A `chart` source is the chart repository's chart, never the directory `path` names.
    code, out, err = analyze(repo, base)
    assert code == 2, err
    c = {f"{x['path']} [{x.get('environment')}]": x for x in json.loads(out)["charts"]}
    assert "charts/web [web]" not in c, list(c)
    remote = c["https://charts.example/web [web]"]
    assert remote["status"] == "render_error" and "could not be fetched" in remote["error"], remote


def test_e2e_path_variants(tmp_path: Path) -> None:
    repo, base = make_repo(
        tmp_path,
        {
            "apps/a.yaml": app("a", src("      values: 'a: 1'\n", path="./charts/web/")),
            "apps/b.yaml": app("b", src("      values: 'a: 1'\n", path="/charts/web")),
        },
    )
    write_files(
        repo,
        {
            "apps/a.yaml": app("a", src("      values: 'a: 2'\n", path="./charts/web/")),
            "apps/b.yaml": app("b", src("      values: 'a: 2'\n", path="/charts/web")),
        },
    )
    commit_all(repo, "x")
    c = charts(repo, base)
    assert {k: v["status"] for k, v in c.items() if k != "__report__"} == {
        "charts/web [a]": "analyzed",
        "charts/web [b]": "analyzed",
    }


def test_e2e_config_environments_and_app_named_default(tmp_path: Path) -> None:
    repo, base = make_repo(
        tmp_path,
        {
            ".chartimpact.yml": "environments:\n  - name: default\n    values: [charts/web/values.yaml]\n",
            "apps/web.yaml": app("default", src("      values: 'a: 1'\n")),
        },
    )
    write_files(repo, {"apps/web.yaml": app("default", src("      values: 'a: 2'\n"))})
    commit_all(repo, "x")
    charts(repo, base)


def test_e2e_non_utf8_and_tabs(tmp_path: Path) -> None:
    bad = app("web", src("      values: 'a: one'\n")).encode() + b"\n# \xff\xfe caf\xe9\n"
    repo, base = make_repo(
        tmp_path,
        {
            "apps/web.yaml": bad,
            "apps/tabs.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n\tsource: x\n",
        },
    )
    write_files(repo, {"apps/web.yaml": bad.replace(b"a: one", b"a: two")})
    commit_all(repo, "x")
    c = charts(repo, base)
    assert c["charts/web [web]"]["status"] == "analyzed"


def test_perf_300_manifests_and_250k(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        f"apps/app{i:03}.yaml": app(f"web{i}", src("      values: 'a: one'\n")) for i in range(299)
    }
    big = app("big", src("      valuesObject:\n" + "".join(f"        k{i}: {'v' * 20}\n" for i in range(7000))))
    assert len(big) < 256 * 1024
    files["apps/zbig.yaml"] = big
    repo, base = make_repo(tmp_path, files)
    write_files(repo, {"charts/web/templates/dump.yaml": DUMP + "  extra: x\n"})
    commit_all(repo, "chart change: every app analyzed")
    start = time.monotonic()
    code, out, err = analyze(repo, base)
    took = time.monotonic() - start
    print("took", took)
    assert code in (0, 1), err
    assert took < 300, took
