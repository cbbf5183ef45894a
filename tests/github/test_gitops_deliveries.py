"""An Argo CD Application's values changed in a pull request, through the running App against the
fake GitHub (issue 13): the chart is analyzed as that Application deploys it, and the annotation
points at the line of the Application manifest."""

from __future__ import annotations

from pathlib import Path

from chartimpact_bot.engine.remote import RepositoryAccess
from tests.chart_repository import http_repository
from tests.github.conftest import MakeApp, Repo, pull_request
from tests.test_argocd_discovery import SERVICE, application
from tests.test_gitops_remote_charts import application as remote_application
from tests.test_gitops_remote_charts import archives as remote_archives


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


async def test_a_renovate_bump_of_a_remote_charts_version_is_rendered_at_both_versions(
    make_app: MakeApp, repo: Repo, tmp_path: Path
) -> None:
    """The App end to end: a pull request that only bumps an Application's `targetRevision` gets
    the new chart version's signals, the upgrade annotated at the line naming the version and
    the value the new version no longer reads at the line that sets it."""
    with http_repository(tmp_path / "served", remote_archives()) as url:
        access = RepositoryAccess(allow_private_networks=True, cache_dir=str(tmp_path / "cache"))
        app = await make_app(repositories=access)
        base = repo.commit({"apps/web.yaml": remote_application(url, "1.0.0")}, "web 1.0.0 from the chart repository")
        head = repo.commit({"apps/web.yaml": remote_application(url, "2.0.0")}, "chore(deps): update chart web to v2")
        await app.deliver("pull_request", pull_request("opened", number=6, base_sha=base, head_sha=head))
        await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    by_title = {a["title"].split(":")[0].split(" ")[0]: a for a in run["annotations"]}
    assert (by_title["chart.upgrade"]["path"], by_title["chart.upgrade"]["start_line"]) == ("apps/web.yaml", 10)
    assert (by_title["chart.values.stale"]["path"], by_title["chart.values.stale"]["start_line"]) == (
        "apps/web.yaml",
        14,
    )
    # Nothing is annotated on files of the fetched chart, which the repository does not have.
    assert all(a["path"] == "apps/web.yaml" for a in run["annotations"]), [a["path"] for a in run["annotations"]]
    # The chart is named by its repository and name (links broken up, as every URL of chart text
    # is), never by where the analysis mounted it.
    summary = run["output"]["summary"]
    assert url.split("://")[1] + "/web" in summary and "@remote" not in summary
