"""Custom rules through the running App: the base branch's rules fire and are annotated like any
signal; a rule that cannot run is annotated on its `.chartimpact.yml` line."""

from __future__ import annotations

from tests.conftest import git
from tests.github.conftest import MakeApp, Repo, chart_files, pull_request

PINNED_IMAGES = """\
rules:
  - type: custom.pinned-images
    category: security
    importance: high
    description: "Images must be pinned"
    kinds: [Deployment]
    names: "*-web"
    path: "spec.template.spec.containers[*].image"
    matches: ":latest$"
"""


async def test_a_base_branch_rule_fires_fails_the_run_and_is_annotated_on_the_values_line(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    base = repo.commit({".chartimpact.yml": PINNED_IMAGES}, "pin images")
    head = repo.commit({**chart_files("web", tag="latest"), **chart_files("api", tag="latest")}, "latest")
    await app.deliver("pull_request", pull_request("opened", number=11, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    custom = [a for a in run["annotations"] if a["title"].startswith("custom.pinned-images")]
    # `names` keeps the rule on release-web; the tag comes from line 2 of the values file.
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in custom] == [
        ("charts/web/values.yaml", 2, "failure")
    ]
    assert "Images must be pinned: Deployment 'release-web'" in custom[0]["message"]
    (comment,) = app.fake.comments.values()
    assert "custom.pinned-images" in comment["body"]


async def test_a_rule_the_pull_request_adds_does_not_judge_that_pull_request(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit({".chartimpact.yml": PINNED_IMAGES, **chart_files("web", tag="latest")}, "rule and latest")
    await app.deliver("pull_request", pull_request("opened", number=12, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert [a for a in run["annotations"] if a["title"].startswith("custom.")] == []


async def test_a_rule_that_cannot_run_is_annotated_on_its_config_line(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    config = "rules:\n  - type: custom.evil\n    path: spec.x\n    matches: '(a+)+\\1'\n"
    head = repo.commit({".chartimpact.yml": config}, "an invalid rule")
    await app.deliver("pull_request", pull_request("opened", number=13, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    assert run["conclusion"] == "failure"
    (annotation,) = [a for a in run["annotations"] if a["path"] == ".chartimpact.yml"]
    assert (annotation["start_line"], annotation["annotation_level"]) == (4, "failure")
    assert "'matches': not a valid RE2 pattern: invalid escape sequence: \\1" in annotation["message"]
