"""Red team: symbolic links in a pull request, as the server fetches and resolves them."""

from __future__ import annotations

import os

from tests.conftest import commit_all, git, git_blob, git_tree, write_files
from tests.github.conftest import DEPLOYMENT, MakeApp, Repo, pull_request


def _with_subtree(repo: Repo, base: str, tree: str, name: str) -> str:
    """The tree of `base` with one more directory."""
    rows = []
    for line in git(repo.path, "ls-tree", f"{base}^{{tree}}").splitlines():
        meta, _, entry_name = line.partition("\t")
        mode, _kind, oid = meta.split()
        rows.append((mode, oid, entry_name))
    return git_tree(repo.path, [*rows, ("040000", tree, name)])


async def test_many_links_to_one_large_blob_are_not_fetched_one_by_one(make_app: MakeApp, repo: Repo) -> None:
    """fetch_tree read the target of every symbolic link of the commit, once per link, all at
    once, whatever its size, into the server process: 100,000 links to one 100 MB blob (a push
    of a few megabytes) would have held 10 TB."""
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    big = git_blob(repo.path, "x" * 200_000)  # git and GitHub take a link 'target' of any size
    small = git_blob(repo.path, "../../README.md")
    links = git_tree(
        repo.path,
        [("120000", big, f"l{i:04}") for i in range(300)] + [("120000", small, f"s{i:04}") for i in range(300)],
    )
    head = git(repo.path, "commit-tree", _with_subtree(repo, base, links, "junk"), "-p", base, "-m", "links")
    status, _ = await app.deliver("pull_request", pull_request("opened", number=3, base_sha=base, head_sha=head))
    assert status == 202
    await app.settle()
    fetched = [c.path.rsplit("/", 1)[-1] for c in app.fake.operations("git/get-blob")]
    assert big not in fetched  # longer than any path: not a link target at all
    assert fetched.count(small) == 1


async def test_a_link_chain_out_of_the_chart_reads_nothing_through_the_app(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    base = git(repo.path, "rev-parse", "HEAD")
    write_files(
        repo.path,
        {
            "private/notes.txt": "outside-canary",
            "charts/web/templates/deployment.yaml": DEPLOYMENT.replace(
                "{{ .Values.tag }}", '{{ .Files.Get "files/b" | default .Values.tag | trim }}'
            ),
        },
    )
    (repo.path / "charts/web/files").mkdir(parents=True)
    os.symlink("../../../private/notes.txt", repo.path / "charts/web/files/a")  # leaves the chart: left out
    os.symlink("a", repo.path / "charts/web/files/b")  # inside the chart, but only as far as `a`
    head = commit_all(repo.path, "chain")
    await app.deliver("pull_request", pull_request("opened", number=6, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    published = str(run["output"]) + str([c["body"] for c in app.fake.comments.values()])
    assert "charts/web/files/b" in published  # named as left out
    assert "outside-canary" not in published
