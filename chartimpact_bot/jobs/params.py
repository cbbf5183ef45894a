"""What a job is asked to analyze: typed parameters, one shape per kind of job.

A delivery decides them (github/events.py), the runner reads them (github/runner.py), and the
store keeps them as one JSON object (store/params_codec.py): msgspec Structs, so that object is
their own encoding. They never change once decided: what a run finds out (the commits of a
release, the check run it opened) is kept elsewhere.
"""

from __future__ import annotations

from typing import Literal, assert_never

import msgspec

# "compare": the analysis of POST /api/compare, which is never stored (a re-run of a delivery's
# job has the kind of the job it repeats).
JobKind = Literal["pull_request", "push", "release", "compare"]


class Commits(msgspec.Struct, frozen=True, omit_defaults=True):
    """Two commits an analysis compares, and the names its report shows them by. The
    parameters of a push, and of the re-run of a push's or a release's check run."""

    base_sha: str | None  # None: nothing to compare with (the first release): every chart is new
    head_sha: str
    base_ref: str | None = None
    head_ref: str | None = None


class PullRequestParams(Commits, frozen=True, omit_defaults=True, kw_only=True):
    """A pull request's head against its base; the comment goes on pull request `number`."""

    number: int


class ReleaseParams(msgspec.Struct, frozen=True):
    """A published release: its commit and that of the release published before it are looked
    up when it runs."""

    tag: str
    release_id: int


class CompareParams(msgspec.Struct, frozen=True):
    """Two refs of POST /api/compare, resolved to commits when it runs."""

    base_ref: str
    head_ref: str


JobParams = PullRequestParams | Commits | ReleaseParams | CompareParams

# The parameters each kind may have: a re-run of a release's check run names both commits
# (from the run's external_id), not the release.
PARAMS_OF_KIND: dict[JobKind, tuple[type[JobParams], ...]] = {
    "pull_request": (PullRequestParams,),
    "push": (Commits,),
    "release": (ReleaseParams, Commits),
    "compare": (CompareParams,),
}


def check_params(kind: JobKind, params: JobParams) -> None:
    # The type itself, not isinstance: a pull request's parameters are Commits too.
    if type(params) not in PARAMS_OF_KIND[kind]:
        raise TypeError(f"a {kind} job does not take {type(params).__name__}")


def named_head(params: JobParams) -> str | None:
    """The head commit the parameters name, when they name one before the job runs."""
    match params:
        case Commits(head_sha=sha):  # a pull request's too
            return sha
        case ReleaseParams() | CompareParams():
            return None
        case _:
            assert_never(params)
