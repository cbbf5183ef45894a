"""The App renders a chart whose dependency comes from an OCI registry (a real docker-registry on
loopback, allowed by the operator's CHARTIMPACT_ALLOW_PRIVATE_REPOSITORIES)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chartimpact_bot.engine.remote import RepositoryAccess
from tests.conftest import chart_yaml
from tests.github.conftest import MakeApp, Repo, pull_request
from tests.oci_registry import Pusher, Registry, registry, require_registry, versioned_chart

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-oci}\ndata: {version: '%s'}\n"


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator[Registry]:
    require_registry()
    with registry(tmp_path / "registry") as reg:
        for version in ("0.1.0", "0.1.5"):
            Pusher(reg).push_chart("charts/common", version, versioned_chart("common", version, CM % version))
        yield reg


def _with_dependency(reg: Registry, version: str) -> dict[str, str]:
    dependency = f"dependencies:\n  - name: common\n    version: '{version}'\n    repository: oci://{reg.host}/charts\n"
    return {"charts/web/Chart.yaml": chart_yaml("web", extra=dependency)}


async def test_a_pull_request_whose_chart_depends_on_an_oci_registry_is_analyzed_with_it(
    make_app: MakeApp, repo: Repo, oci_registry: Registry, tmp_path: Path
) -> None:
    access = RepositoryAccess(allow_private_networks=True, cache_dir=str(tmp_path / "archives"))
    app = await make_app(repositories=access)
    base = repo.commit(_with_dependency(oci_registry, "0.1.0"), "web depends on common")
    head = repo.commit(_with_dependency(oci_registry, "~0.1.0"), "web takes common's patches")
    await app.deliver("pull_request", pull_request("opened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    (comment,) = app.fake.comments.values()
    changed = (
        "**ConfigMap default/from-oci** modified · <code>web/charts/common/templates/cm.yaml</code>",
        "| changed | <code>data.version</code> | <code>&quot;0.1.0&quot;</code> | <code>&quot;0.1.5&quot;</code> |",
    )
    assert all(line in run["output"]["text"] and line in comment["body"] for line in changed)
    assert "could not be fetched" not in comment["body"] + run["output"]["summary"]


async def test_the_app_refuses_a_registry_on_loopback_unless_the_operator_allows_it(
    make_app: MakeApp, repo: Repo, oci_registry: Registry, tmp_path: Path
) -> None:
    app = await make_app(repositories=RepositoryAccess(cache_dir=str(tmp_path / "archives")))
    base = repo.commit(_with_dependency(oci_registry, "0.1.0"), "web depends on common")
    head = repo.commit(_with_dependency(oci_registry, "~0.1.0"), "web takes common's patches")
    await app.deliver("pull_request", pull_request("opened", number=4, base_sha=base, head_sha=head))
    await app.settle()
    (comment,) = app.fake.comments.values()
    assert (  # Markdown escapes the parentheses
        f"- ⚠️ dependency 'common' of chart 'web' \\(oci://{oci_registry.host}/charts\\) could not be fetched: "
        "127.0.0.1 is on a private network, which is not fetched; rendered without it"
    ) in comment["body"]
    assert "from-oci" not in comment["body"]
