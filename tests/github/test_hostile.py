"""Hostile pull requests through the running App against the fake GitHub (SECURITY.md).

The App must stay up and responsive while it analyzes them, complete every check run it
opened, name the file it could not read, and never touch anything outside the chart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from chartimpact_bot.github import runner, source
from tests.conftest import chart_yaml, git, git_blob, git_tree
from tests.github.conftest import MakeApp, Repo, chart_files, pull_request
from tests.test_secrets import CANARIES, WELL_KNOWN_PASSWORD
from tests.test_secrets import SCHEMA as SECRET_SCHEMA
from tests.test_secrets import TEMPLATES as SECRET_TEMPLATES
from tests.test_secrets import _values as secret_values

ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
# A template that keeps the render busy for a few seconds, so the job is still running while
# the test asks the server for its health.
SLOW = "{{- range $i := until 3000 }}{{- range $j := until 3000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\n"


async def test_the_server_stays_responsive_and_names_what_it_could_not_read(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit(
        {
            **chart_files("web", replicas=2),
            "charts/evil/Chart.yaml": "[" * 50_000,
            "charts/slow/Chart.yaml": chart_yaml("slow"),
            "charts/slow/templates/cm.yaml": SLOW,
            ".chartimpact.yml": ALIAS_BOMB,
        },
        "hostile",
    )
    status, _ = await app.deliver("pull_request", pull_request("opened", number=9, base_sha=base, head_sha=head))
    assert status == 202
    latencies = []
    while not app.fake.runs_for(head) or app.fake.runs_for(head)[0]["status"] != "completed":
        started = time.monotonic()
        answer = await app.client.get("/healthz")
        latencies.append(time.monotonic() - started)
        assert answer.status == 200
        await asyncio.sleep(0.05)
        assert len(latencies) < 1200, "the job did not finish within a minute"
    await app.settle()
    assert len(latencies) > 3  # the health checks ran while the job did
    assert max(latencies) < 1.0

    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    text = run["output"]["summary"] + run["output"].get("text", "")
    assert "charts/evil/Chart.yaml" in text
    assert "nests deeper than" in text
    config_notes = [a for a in run["annotations"] if a["path"] == ".chartimpact.yml"]
    assert config_notes
    assert "expands to more than" in config_notes[0]["message"]
    assert "lol" not in text


async def test_a_github_tree_with_dotdot_paths_writes_nothing_outside_the_job(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    name = f"pwned-{uuid.uuid4().hex}.txt"
    # charts/web/../../../../../../<name>: from the render's chart directory that climbs to /.
    inner = git_tree(repo.path, [("100644", git_blob(repo.path, "pwned"), name)])
    for _ in range(5):
        inner = git_tree(repo.path, [("040000", inner, "..")])
    files = chart_files("web", replicas=1)
    templates = git_tree(
        repo.path, [("100644", git_blob(repo.path, files["charts/web/templates/deployment.yaml"]), "deployment.yaml")]
    )
    web = git_tree(
        repo.path,
        [
            ("040000", inner, ".."),
            ("100644", git_blob(repo.path, files["charts/web/Chart.yaml"]), "Chart.yaml"),
            ("040000", templates, "templates"),
            ("100644", git_blob(repo.path, files["charts/web/values.yaml"]), "values.yaml"),
        ],
    )
    root = git_tree(repo.path, [("040000", git_tree(repo.path, [("040000", web, "web")]), "charts")])
    head = git(repo.path, "commit-tree", root, "-p", base, "-m", "crafted tree")
    status, _ = await app.deliver("pull_request", pull_request("opened", number=4, base_sha=base, head_sha=head))
    assert status == 202
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"
    assert "Replicas of Deployment" in run["output"]["summary"] + run["output"].get("text", "")
    # The climb from TMPDIR/chartimpact-*/chart would land at / (or at TMPDIR's ancestors).
    for landing in (Path("/"), *Path(tempfile.gettempdir()).parents, Path(tempfile.gettempdir())):
        assert not (landing / name).exists()


async def test_no_canary_secret_reaches_the_check_run_or_the_comment(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    repo.commit(
        {
            "charts/secrets/Chart.yaml": chart_yaml("secrets"),
            "charts/secrets/values.yaml": secret_values("base"),
            "charts/secrets/templates/all.yaml": SECRET_TEMPLATES,
            "charts/strict/Chart.yaml": chart_yaml("strict"),
            "charts/strict/values.yaml": secret_values("base"),
            "charts/strict/templates/all.yaml": SECRET_TEMPLATES,
        },
        "charts with secrets",
    )
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit(
        {
            "charts/secrets/values.yaml": secret_values("head"),
            # Helm's schema errors quote the values they reject: this chart fails to render
            "charts/strict/values.yaml": secret_values("head"),
            "charts/strict/values.schema.json": SECRET_SCHEMA,
        },
        "rotate everything",
    )
    await app.deliver("pull_request", pull_request("opened", number=11, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"
    (comment,) = app.fake.comments.values()
    published = json.dumps([run["output"], run["annotations"], comment["body"]])
    assert "sensitive value changed, sha256:" in published
    assert "charts/strict" in published and "schema" in published.lower()
    for name, canary in CANARIES.items():
        assert canary not in published, name
    assert WELL_KNOWN_PASSWORD not in published
    assert hashlib.sha256(WELL_KNOWN_PASSWORD.encode()).hexdigest()[:12] not in published


async def test_a_job_that_would_read_too_much_is_refused_before_fetching(
    make_app: MakeApp, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "MAX_SIDE_BYTES", 20_000)
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit({**chart_files("web", replicas=1), "charts/web/files/blob.txt": "x" * 50_000}, "large file")
    blobs_before = len(app.fake.operations("git/get-blob"))
    await app.deliver("pull_request", pull_request("opened", number=5, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert "more than the 0 MB one analysis may read" in run["output"]["summary"] + run["output"].get("text", "")
    large = git(repo.path, "rev-parse", f"{head}:charts/web/files/blob.txt")
    fetched = [c.path.rsplit("/", 1)[-1] for c in app.fake.operations("git/get-blob")[blobs_before:]]
    assert fetched  # the metadata was read
    assert large not in fetched


@pytest.mark.parametrize("truncated", [False, True], ids=["recursive", "walked"])
async def test_a_commit_with_too_many_entries_is_refused_not_held(
    make_app: MakeApp, repo: Repo, monkeypatch: pytest.MonkeyPatch, truncated: bool
) -> None:
    monkeypatch.setattr(source, "MAX_TREE_ENTRIES", 25)
    app = await make_app()
    app.fake.truncate_trees = truncated
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit({f"docs/page-{i}.md": "x\n" for i in range(30)}, "many files")
    await app.deliver("pull_request", pull_request("opened", number=6, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert "more than 25 files and directories" in run["output"]["summary"] + run["output"].get("text", "")
