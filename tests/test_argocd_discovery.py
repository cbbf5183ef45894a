"""Charts as Argo CD deploys them, through `analyze --repo` (issue 13): every Application that
deploys a chart of the repository is a target with its own values, and a change to one
Application's values analyzes that target alone, pointing at the manifest's line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import chart_yaml, commit_all, init_repo, write_files
from tests.test_cli import run

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: {{ .Values.service.type }}
  selector: {app: web}
  ports: [{port: 80}]
"""


def application(name: str, service_type: str, *, extra: str = "") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
  source:
    repoURL: https://github.com/acme/deploy.git
    targetRevision: HEAD
    path: charts/web
    helm:
      values: |
        service:
          type: {service_type}
{extra}"""


def _repo(root: Path) -> tuple[Path, str]:
    repo = init_repo(root / "repo")
    write_files(
        repo,
        {
            "charts/web/Chart.yaml": chart_yaml("web"),
            "charts/web/values.yaml": "service: {type: ClusterIP}\n",
            "charts/web/templates/service.yaml": SERVICE,
            "apps/web-prod.yaml": application("web-prod", "ClusterIP"),
            "apps/web-staging.yaml": application("web-staging", "ClusterIP"),
        },
    )
    return repo, commit_all(repo, "web in two environments")


def _report(repo: Path, base: str) -> dict[str, dict[str, Any]]:
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "main", "--format", "json")
    assert code in (0, 1), err
    return {f"{c['path']} [{c['environment']}]": c for c in json.loads(out)["charts"]}


def test_a_values_change_in_one_application_analyzes_that_target_alone(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    (repo / "apps/web-prod.yaml").write_text(application("web-prod", "LoadBalancer"))
    commit_all(repo, "prod goes public")
    charts = _report(repo, base)
    assert {k: c["status"] for k, c in charts.items()} == {
        "charts/web [web-prod]": "analyzed",
        "charts/web [web-staging]": "unchanged",
    }
    prod = charts["charts/web [web-prod]"]
    (exposure,) = [s for s in prod["signals"] if s["type"] == "security.exposure.type"]
    lines = (repo / "apps/web-prod.yaml").read_text().splitlines()
    assert exposure["source"]["file"] == "apps/web-prod.yaml"
    assert lines[exposure["source"]["line"] - 1].strip() == "type: LoadBalancer"
    # Rendered as Argo CD would: the release and namespace of the Application.
    (service,) = prod["diff"]["resources"]
    assert service["identity"]["namespace"] == "web-prod"


def test_a_chart_change_analyzes_every_application_that_deploys_it(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    (repo / "charts/web/templates/service.yaml").write_text(SERVICE.replace("port: 80", "port: 8080"))
    commit_all(repo, "new port")
    assert {k: c["status"] for k, c in _report(repo, base).items()} == {
        "charts/web [web-prod]": "analyzed",
        "charts/web [web-staging]": "analyzed",
    }


def test_an_unrelated_change_analyzes_nothing(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    write_files(
        repo, {"README.md": "docs\n", "apps/other.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
    )
    commit_all(repo, "docs")
    assert {c["status"] for c in _report(repo, base).values()} == {"unchanged"}


def test_a_new_application_is_a_new_deployment(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    write_files(repo, {"apps/web-dev.yaml": application("web-dev", "NodePort")})
    commit_all(repo, "a dev environment")
    charts = _report(repo, base)
    assert charts["charts/web [web-dev]"]["status"] == "added"
    assert charts["charts/web [web-prod]"]["status"] == "unchanged"


def test_moving_an_application_to_another_file_is_the_same_deployment(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    (repo / "apps/web-prod.yaml").rename(repo / "apps/production.yaml")
    commit_all(repo, "files renamed")
    charts = _report(repo, base)
    assert charts["charts/web [web-prod]"]["status"] == "unchanged"
