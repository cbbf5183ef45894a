"""An Argo CD Application's values changed in a pull request, through the running App against the
fake GitHub (issue 13): the chart is analyzed as that Application deploys it, and the annotation
points at the line of the Application manifest."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from chartimpact_bot.engine.remote import RepositoryAccess
from tests.chart_repository import http_repository
from tests.conftest import git
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


async def test_a_chart_deployed_by_two_applications_is_one_group_in_the_run_comment_and_page(
    make_app: MakeApp, repo: Repo
) -> None:
    """Issue 13 point 5 through the App: a change to a chart two Applications deploy is one
    group: each signal once with both environments, a verdict for each, the template line
    annotated once, and the report page showing one row that either environment's filter finds."""
    app = await make_app(public_url="https://chartimpact.example")
    base = repo.commit(
        {
            "charts/web/templates/service.yaml": SERVICE,
            "charts/web/values.yaml": "service: {type: ClusterIP}\n",
            "apps/web-prod.yaml": application("web-prod", "ClusterIP"),
            "apps/web-staging.yaml": application("web-staging", "ClusterIP"),
        },
        "web deployed by Argo CD",
    )
    exposed = SERVICE.replace("{{ .Values.service.type }}", "NodePort")
    head = repo.commit({"charts/web/templates/service.yaml": exposed}, "every environment gets a node port")
    await app.deliver("pull_request", pull_request("opened", number=7, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    exposure = [a for a in run["annotations"] if a["title"].startswith("security.exposure.type")]
    assert len(exposure) == 1
    assert exposure[0]["path"] == "charts/web/templates/service.yaml"
    assert exposure[0]["message"].endswith("Environments: web-prod, web-staging")
    summary = run["output"]["summary"]
    assert summary.count("security.exposure.type") == 1
    assert "· 2 environments" in summary and "web-prod: " in summary and "web-staging: " in summary
    (comment,) = app.fake.comments.values()
    assert comment["body"].count("security.exposure.type") == 1
    details = run["details_url"]
    parts = details.split("chartimpact.example", 1)[1]
    page = await app.client.get(parts)
    html = await page.text()
    assert page.status == 200
    assert html.count("<code>security.exposure.type</code>") == 1
    assert 'data-environment="web-prod\nweb-staging"' in html
    assert "2 environments" in html
    for environment in ("web-prod", "web-staging"):
        filtered = await (await app.client.get(parts + f"&environment={environment}")).text()
        assert filtered.count("<code>security.exposure.type</code>") == 1


async def test_acknowledging_a_grouped_signal_from_the_page_accepts_it_in_every_environment(
    make_app: MakeApp, repo: Repo
) -> None:
    """The page's row of a signal both environments have posts both environments' signals: one
    acknowledgement, and the run goes green for both."""
    from tests.github.test_report_sign_in import _sign_in  # noqa: PLC0415

    public = "http://chartimpact.example"  # the test client speaks http: the cookies are not Secure
    app = await make_app(public_url=public, oauth_client_id="Iv1.0123456789abcdef", oauth_client_secret="oauth-secret")
    base = repo.commit(
        {
            "charts/web/templates/service.yaml": SERVICE,
            "charts/web/values.yaml": "service: {type: ClusterIP}\n",
            "apps/web-prod.yaml": application("web-prod", "ClusterIP"),
            "apps/web-staging.yaml": application("web-staging", "ClusterIP"),
        },
        "web deployed by Argo CD",
    )
    head = repo.commit(
        {"charts/web/templates/service.yaml": SERVICE.replace("{{ .Values.service.type }}", "LoadBalancer")},
        "every environment gets a load balancer",
    )
    app.fake.pulls[8] = (base, head)
    await app.deliver("pull_request", pull_request("opened", number=8, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    page = run["details_url"].removeprefix(public)
    await _sign_in(app, page, "alice")
    app.fake.permissions["alice"] = "write"
    html = await (await app.client.get(page)).text()
    token = re.search(r'name="token" value="([0-9a-f]{64})"', html)
    assert token
    form = html.split("<code>security.exposure.type</code>", 1)[1].split("</form>", 1)[0]
    members = re.findall(r'name="signal" value="([0-9a-f]{16})"', form)
    assert len(members) == 2 and len(set(members)) == 2
    query = dict(part.split("=", 1) for part in page.split("?", 1)[1].split("&"))
    fields = [("exp", query["exp"]), ("sig", query["sig"]), ("change", "ack"), ("token", token.group(1))]
    fields += [("signal", member) for member in members] + [("reason", "planned")]
    done = await app.client.post(
        page.split("?")[0] + "/acknowledgements", data=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False,
    )  # fmt: skip
    assert done.status == 303
    await app.settle()
    assert app.fake.runs_for(head)[-1]["conclusion"] == "success"
    log = await app.queue.store.acknowledgement_log("acme/charts")
    assert sorted(e.signal_id for e in log.items) == sorted(members)
    after = await (await app.client.get(page)).text()
    assert "acknowledged by @alice: planned" in after


async def test_gitops_manifests_narrows_what_the_app_fetches_to_find_applications(
    make_app: MakeApp, repo: Repo
) -> None:
    """A repository of many plain manifests: with `gitops.manifests` the App fetches only the
    files the globs match to find Applications (each other YAML file would cost a blob request)."""
    app = await make_app()
    plain = {
        f"manifests/team-{n}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: t{n}}}\n" for n in range(12)
    }
    base = repo.commit(
        {
            ".chartimpact.yml": "version: 1\ngitops:\n  manifests: ['apps/*.yaml']\n",
            "charts/web/templates/service.yaml": SERVICE,
            "charts/web/values.yaml": "service: {type: ClusterIP}\n",
            "apps/web-prod.yaml": application("web-prod", "ClusterIP"),
            **plain,
        },
        "web deployed by Argo CD, beside plain manifests",
    )
    head = repo.commit({"apps/web-prod.yaml": application("web-prod", "LoadBalancer")}, "prod goes public")
    await app.deliver("pull_request", pull_request("opened", number=9, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert any(a["path"] == "apps/web-prod.yaml" for a in run["annotations"])
    fetched = {c.path.rsplit("/", 1)[-1] for c in app.fake.calls if c.operation == "git/get-blob"}
    # Without the setting every one of them is fetched (checked by hand when this was written).
    plain_blobs = {git(repo.path, "rev-parse", f"{head}:{path}") for path in plain}
    assert fetched.isdisjoint(plain_blobs)
    assert git(repo.path, "rev-parse", f"{head}:apps/web-prod.yaml") in fetched


async def test_an_applicationset_reading_json_config_files_is_generated_in_the_app(
    make_app: MakeApp, repo: Repo
) -> None:
    """A git files generator over `envs/*/config.json` (Argo CD's own example form): the App
    fetches those JSON files, which are no manifest candidates, and a change to one of them
    analyzes the Application it generates."""
    from tests.test_argocd_applicationsets import DUMP, appset  # noqa: PLC0415

    generators = (
        "    - git:\n        repoURL: https://github.com/acme/deploy.git\n        revision: HEAD\n"
        "        files: [{path: 'envs/*/config.json'}]\n"
    )
    app = await make_app()
    base = repo.commit(
        {
            "charts/web/templates/dump.yaml": DUMP,
            "charts/web/values.yaml": "replicas: '1'\n",
            "apps/web.yaml": appset(generators),
            "envs/prod/config.json": '{"env": "prod", "replicas": "5"}',
            "envs/staging/config.json": '{"env": "staging", "replicas": "1"}',
        },
        "web from an ApplicationSet",
    )
    head = repo.commit({"envs/prod/config.json": '{"env": "prod", "replicas": "7"}'}, "prod grows")
    await app.deliver("pull_request", pull_request("opened", number=10, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    summary = run["output"]["summary"]
    assert "web-prod" in summary and "| analyzed |" in summary
    assert "web-staging" in summary  # generated too, and unchanged
    fetched = {c.path.rsplit("/", 1)[-1] for c in app.fake.calls if c.operation == "git/get-blob"}
    assert git(repo.path, "rev-parse", f"{head}:envs/prod/config.json") in fetched
