"""An Argo CD Application's values changed in a pull request, through the running App against the
fake GitHub (issue 13): the chart is analyzed as that Application deploys it, and the annotation
points at the line of the Application manifest."""

from __future__ import annotations

from tests.github.conftest import MakeApp, Repo, pull_request
from tests.test_argocd_discovery import SERVICE, application


async def test_a_pull_request_changing_an_applications_values_annotates_the_manifest(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    base = repo.commit(
        {
            "charts/web/templates/service.yaml": SERVICE,
            "charts/web/values.yaml": "service: {type: ClusterIP}\nreplicas: 3\ntag: '1.25'\nreadiness: true\n",
            "apps/web-prod.yaml": application("web-prod", "ClusterIP"),
            "apps/web-staging.yaml": application("web-staging", "ClusterIP"),
        },
        "web deployed by Argo CD",
    )
    head = repo.commit({"apps/web-prod.yaml": application("web-prod", "LoadBalancer")}, "prod goes public")
    await app.deliver("pull_request", pull_request("opened", number=5, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    (exposure,) = [a for a in run["annotations"] if a["title"].startswith("security.exposure.type")]
    lines = application("web-prod", "LoadBalancer").splitlines()
    assert exposure["path"] == "apps/web-prod.yaml"
    assert lines[exposure["start_line"] - 1].strip() == "type: LoadBalancer"
    # Only the Application that changed was analyzed; the other is listed as unchanged.
    assert "web-staging" in run["output"]["summary"]
    (comment,) = app.fake.comments.values()
    assert "charts/web" in comment["body"] and "web-prod" in comment["body"]
