"""Argo CD ApplicationSets with the list and git generators (issue 13): the Applications they
generate, then each analyzed as it deploys its chart."""

from __future__ import annotations

import json
from pathlib import Path

from chartimpact_bot.core.gitops.applicationset import ApplicationSet, application_sets, generate, match_pattern
from tests.conftest import chart_yaml, commit_all, init_repo, write_files
from tests.test_cli import run


def appset(generators: str, *, go: bool = False, values: str = "replicas: '{{replicas}}'") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: web, namespace: argocd}}
spec:
  goTemplate: {"true" if go else "false"}
  generators:
{generators}
  template:
    metadata: {{name: 'web-{{{{env}}}}'}}
    spec:
      project: default
      destination: {{server: https://kubernetes.default.svc, namespace: 'web-{{{{env}}}}'}}
      source:
        repoURL: https://github.com/acme/deploy.git
        targetRevision: HEAD
        path: charts/web
        helm:
          valuesObject:
            {values}
"""


LIST = "    - list:\n        elements:\n          - {env: prod, replicas: '5'}\n          - {env: staging, replicas: '1'}\n"


def only_set(text: str) -> ApplicationSet:
    (found,) = application_sets("apps/web.yaml", text)
    return found


def test_a_list_generator_fills_the_template_per_element() -> None:
    apps, notes = generate(only_set(appset(LIST)), [], {})
    assert notes == []
    assert [(a.name, a.namespace, a.sources[0].path) for a in apps] == [
        ("web-prod", "web-prod", "charts/web"),
        ("web-staging", "web-staging", "charts/web"),
    ]
    inline = apps[0].sources[0].inline
    assert inline is not None and "replicas: '5'" in inline.text.replace('"', "'")


def test_git_directories_with_exclusions_and_path_parameters() -> None:
    generators = (
        "    - git:\n        repoURL: https://github.com/acme/deploy.git\n        revision: HEAD\n"
        "        directories:\n          - {path: envs/*}\n          - {path: envs/old, exclude: true}\n"
    )
    text = appset(generators).replace("'web-{{env}}'", "'web-{{path.basename}}'").replace("{{replicas}}", "{{path[1]}}")
    apps, _ = generate(only_set(text), ["envs", "envs/prod", "envs/old", "envs/prod/deep", "other"], {})
    assert [a.name for a in apps] == ["web-prod"]
    assert apps[0].sources[0].inline is not None and "prod" in apps[0].sources[0].inline.text


def test_git_files_and_go_templates() -> None:
    generators = (
        "    - git:\n        repoURL: x\n        revision: HEAD\n        files: [{path: 'envs/**/config.json'}]\n"
    )
    text = appset(generators, go=True).replace("{{env}}", "{{.env}}").replace("{{replicas}}", "{{.size.replicas}}")
    files = {"envs/eu/prod/config.json": json.dumps({"env": "prod", "size": {"replicas": 4}}), "envs/x.json": "{}"}
    apps, notes = generate(only_set(text), [], files)
    assert notes == [] and [a.name for a in apps] == ["web-prod"]
    assert apps[0].sources[0].inline is not None and "4" in apps[0].sources[0].inline.text


def test_what_cannot_be_generated_is_a_note() -> None:
    apps, notes = generate(only_set(appset("    - clusters: {}\n")), [], {})
    assert apps == [] and "the clusters generator is not followed" in notes[0]
    text = appset(LIST, go=True).replace("{{env}}", "{{ .env | upper }}")
    apps, notes = generate(only_set(text), [], {})
    assert apps == [] and "is not filled in" in notes[0]


def test_patterns_as_argo_cd_matches_them() -> None:
    assert match_pattern("envs/prod", "envs/*") and not match_pattern("envs/prod/x", "envs/*")
    assert match_pattern("envs/a/b/config.json", "envs/**/config.json")
    assert not match_pattern("envs.prod", "envs?prod/x") and match_pattern("envs.prod", "envs?prod")


DUMP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dump}\ndata: {replicas: '{{ .Values.replicas }}'}\n"


def test_end_to_end_an_element_changed_analyzes_that_application_alone(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(
        repo,
        {
            "charts/web/Chart.yaml": chart_yaml("web"),
            "charts/web/values.yaml": "replicas: '1'\n",
            "charts/web/templates/dump.yaml": DUMP,
            "apps/web.yaml": appset(LIST),
        },
    )
    base = commit_all(repo, "base")
    write_files(repo, {"apps/web.yaml": appset(LIST.replace("replicas: '5'", "replicas: '7'"))})
    commit_all(repo, "prod grows")
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "main", "--format", "json")
    assert code in (0, 1), err
    by_env = {c["environment"]: c for c in json.loads(out)["charts"]}
    assert by_env["web-staging"]["status"] == "unchanged", by_env
    prod = by_env["web-prod"]
    (dump,) = prod["diff"]["resources"]
    assert dump["identity"]["namespace"] == "web-prod"
    assert [(c["before"], c["after"]) for c in dump["changes"]] == [("5", "7")]
