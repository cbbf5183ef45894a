"""The pre-commit hook (.pre-commit-hooks.yaml): what the commit being made does to each chart it
touches, as `chartimpact analyze` reports it.

pre-commit passes the staged files. The hook writes the index (exactly what will be committed) to a
commit object that no branch points at, then analyzes the charts those files belong to between HEAD
and it; the verdict decides the exit code, as for the command line. No ref, index or working file
is changed; git collects the unreferenced objects later.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import PurePosixPath

from .. import cli

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "chartimpact",
    "GIT_AUTHOR_EMAIL": "chartimpact@localhost",
    "GIT_COMMITTER_NAME": "chartimpact",
    "GIT_COMMITTER_EMAIL": "chartimpact@localhost",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chartimpact-pre-commit", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="staged files (pre-commit passes them)")
    parser.add_argument("--base", default="HEAD", help="what the commit is compared with (default HEAD)")
    parser.add_argument("--format", default="text", choices=("text", "markdown", "json"), help="report format")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        root = _git(".", "rev-parse", "--show-toplevel")
        if not _git_ok(root, "rev-parse", "--verify", "--quiet", f"{args.base}^{{commit}}"):
            print(f"chartimpact: nothing to compare with ({args.base} does not exist yet)", file=sys.stderr)
            return 0
        staged = _staged_commit(root, args.base)
        prefix = _git(".", "rev-parse", "--show-prefix")
        charts = sorted({c for f in args.files if (c := _chart_of(root, prefix + f, (args.base, staged))) is not None})
    except subprocess.CalledProcessError as exc:
        print(f"chartimpact: git failed: {(exc.stderr or '').strip()[-300:]}", file=sys.stderr)
        return 2
    if not charts:
        return 0
    chart_options = [option for chart in charts for option in ("--chart", chart or ".")]
    return cli.main(
        ["analyze", "--repo", root, "--base", args.base, "--head", staged, "--format", args.format, *chart_options]
    )


def _staged_commit(root: str, base: str) -> str:
    tree = _git(root, "write-tree")
    return _git(root, "commit-tree", tree, "-p", base, "-m", "chartimpact: the staged changes", identity=True)


def _chart_of(root: str, path: str, revisions: tuple[str, ...]) -> str | None:
    """The outermost chart holding `path` at either revision (a subchart's file changes what its
    parent renders), as a repository path; None when the file is in no chart."""
    found = None
    parts = PurePosixPath(path).parts[:-1]
    for depth in range(len(parts), -1, -1):
        directory = "/".join(parts[:depth])
        chart_yaml = f"{directory}/Chart.yaml" if directory else "Chart.yaml"
        if any(_git_ok(root, "cat-file", "-e", f"{rev}:{chart_yaml}") for rev in revisions):
            found = directory
    return found


def _git(cwd: str, *args: str, identity: bool = False) -> str:
    # The unreferenced commit needs an author, which a fresh machine may not have configured.
    env = os.environ | GIT_IDENTITY if identity else None
    done = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip()


def _git_ok(cwd: str, *args: str) -> bool:
    return subprocess.run(["git", "-C", cwd, *args], capture_output=True, check=False).returncode == 0


if __name__ == "__main__":
    sys.exit(main())
