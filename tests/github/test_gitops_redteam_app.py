"""Argo CD Applications through the running App, tried as a user would: a multi-source `$ref`
values change is fetched and annotated, and a secret given as a parameter never reaches GitHub."""

from __future__ import annotations

from tests.github.conftest import MakeApp, Repo, pull_request
from tests.test_argocd_discovery import SERVICE


def manifest(name: str) -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
  sources:
  - repoURL: https://github.com/acme/deploy.git
    path: charts/web
    helm:
      valueFiles: [$values/envs/{name}.yaml]
  - repoURL: https://github.com/acme/deploy.git
    ref: values
"""


async def test_ref_values_file_change_is_analyzed_and_annotated(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = repo.commit(
        {
            "charts/web/templates/service.yaml": SERVICE,
            "charts/web/values.yaml": "service: {type: ClusterIP}\n",
            "apps/prod.yaml": manifest("prod"),
            "apps/staging.yaml": manifest("staging"),
            "envs/prod.yaml": "service:\n  type: ClusterIP\n",
            "envs/staging.yaml": "service:\n  type: ClusterIP\n",
        },
        "base",
    )
    head = repo.commit({"envs/prod.yaml": "service:\n  type: LoadBalancer\n"}, "prod public")
    await app.deliver("pull_request", pull_request("opened", number=5, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure", run["output"]["summary"]
    (exposure,) = [a for a in run["annotations"] if a["title"].startswith("security.exposure.type")]
    assert exposure["path"] == "envs/prod.yaml" and exposure["start_line"] == 2


async def test_parameter_secret_not_in_check_run_or_comment(make_app: MakeApp, repo: Repo) -> None:
    def m(pw: str) -> str:
        return manifest("prod").replace(
            "      valueFiles: [$values/envs/prod.yaml]\n",
            f"      parameters:\n      - {{name: db.password, value: {pw}}}\n",
        )

    app = await make_app()
    base = repo.commit(
        {
            "charts/web/templates/service.yaml": SERVICE,
            "charts/web/templates/cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  url: "postgres://u:{{ .Values.db.password }}@h/db"\n',
            "charts/web/values.yaml": "service: {type: ClusterIP}\ndb: {password: x}\n",
            "apps/prod.yaml": m("OldS3cretValue99"),
        },
        "base",
    )
    head = repo.commit({"apps/prod.yaml": m("NewS3cretValue99")}, "rotate")
    await app.deliver("pull_request", pull_request("opened", number=6, base_sha=base, head_sha=head))
    await app.settle()
    blob = repr(app.fake.runs_for(head)) + repr(app.fake.comments)
    assert "S3cretValue99" not in blob
