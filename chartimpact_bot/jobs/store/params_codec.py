"""A job's parameters and check run as the one JSON object the stores keep in `params`.

The object is flat, and its keys are those every version of the App wrote (`number`,
`base_sha`, `head_sha`, `base_ref`, `head_ref`, `tag`, `release_id`, `check_run_id`,
`check_run_url`, `check_run_seq`): a job queued before an upgrade runs after it, and one queued
after it still runs on an instance not yet upgraded. Keys this version does not read (earlier
versions also kept the comment settings and a release's resolved commits) are ignored; the
job's kind says which parameters the keys are.
"""

from __future__ import annotations

from typing import TypeVar, assert_never

import msgspec

from ..model import CheckRun
from ..params import Commits, CompareParams, JobKind, JobParams, PullRequestParams, ReleaseParams


class _Stored(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Every key the object may hold; each kind of job uses some of them."""

    number: int | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    tag: str | None = None
    release_id: int | None = None
    check_run_id: int | None = None
    check_run_url: str | None = None
    check_run_seq: int | None = None


T = TypeVar("T")
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_Stored)


def encode(params: JobParams, check_run: CheckRun | None) -> str:
    stored = _stored(params)
    if check_run is not None:
        stored.check_run_id, stored.check_run_url, stored.check_run_seq = check_run.id, check_run.url, check_run.seq
    return _ENCODER.encode(stored).decode()


def decode(kind: JobKind, text: str | bytes) -> tuple[JobParams, CheckRun | None]:
    """The parameters of a job of `kind`; ValueError when the object does not hold them."""
    try:
        stored = _DECODER.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(f"the stored parameters of a {kind} job cannot be read: {exc}") from exc
    check_run = None
    if stored.check_run_id is not None:
        # A run opened without its seq can not be told from a revived job's: 0 is no job's seq,
        # so the next attempt opens a run of its own.
        check_run = CheckRun(stored.check_run_id, stored.check_run_url or "", stored.check_run_seq or 0)
    return _params(kind, stored), check_run


def _stored(params: JobParams) -> _Stored:
    match params:
        case PullRequestParams(number=number, commits=commits):
            stored = _commits(commits)
            stored.number = number
            return stored
        case Commits():
            return _commits(params)
        case ReleaseParams(tag=tag, release_id=release_id):
            return _Stored(tag=tag, release_id=release_id)
        case CompareParams(base_ref=base_ref, head_ref=head_ref):
            return _Stored(base_ref=base_ref, head_ref=head_ref)
        case _:
            assert_never(params)


def _commits(commits: Commits) -> _Stored:
    return _Stored(
        base_sha=commits.base_sha, head_sha=commits.head_sha, base_ref=commits.base_ref, head_ref=commits.head_ref
    )


def _params(kind: JobKind, stored: _Stored) -> JobParams:
    if kind == "pull_request":
        return PullRequestParams(_required(kind, "number", stored.number), _commits_of(kind, stored))
    if kind == "release" and stored.tag is not None:
        return ReleaseParams(stored.tag, _required(kind, "release_id", stored.release_id))
    if kind == "compare":
        return CompareParams(_required(kind, "base_ref", stored.base_ref), _required(kind, "head_ref", stored.head_ref))
    return _commits_of(kind, stored)  # a push, or the re-run of a check run of a push or release


def _commits_of(kind: JobKind, stored: _Stored) -> Commits:
    return Commits(stored.base_sha, _required(kind, "head_sha", stored.head_sha), stored.base_ref, stored.head_ref)


def _required(kind: JobKind, key: str, value: T | None) -> T:
    if value is None:
        raise ValueError(f"the stored parameters of a {kind} job have no {key}")
    return value
