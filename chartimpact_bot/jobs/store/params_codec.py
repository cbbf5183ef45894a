"""A job's parameters and check run as the one JSON object the stores keep in `params`.

The object is flat, and its keys are those every version of the App wrote (`number`,
`base_sha`, `head_sha`, `base_ref`, `head_ref`, `tag`, `release_id`, `check_run_id`,
`check_run_url`, `check_run_seq`): a job queued before an upgrade runs after it, and one queued
after it still runs on an instance not yet upgraded. Keys this version does not read (earlier
versions also kept the comment settings and a release's resolved commits) are ignored; the
job's kind says which parameters the keys are.
"""

from __future__ import annotations

import msgspec

from ..model import CheckRun
from ..params import CommandParams, Commits, CompareParams, JobKind, JobParams, PullRequestParams, ReleaseParams


class _CheckRunKeys(msgspec.Struct):
    check_run_id: int | None = None
    check_run_url: str = ""
    # A run kept without its seq cannot be told from a revived job's: 0 is no job's seq, so the
    # next attempt opens a run of its own.
    check_run_seq: int = 0


class _ReleaseKeys(msgspec.Struct):
    tag: str | None = None  # absent: the re-run of a release's check run, which names its commits


_TYPES: dict[JobKind, type[JobParams]] = {
    "pull_request": PullRequestParams,
    "push": Commits,
    "compare": CompareParams,
    "command": CommandParams,
}


def encode(params: JobParams, check_run: CheckRun | None) -> str:
    stored: dict[str, object] = msgspec.to_builtins(params)  # a Struct's builtins are a dict
    if check_run is not None:
        stored |= {"check_run_id": check_run.id, "check_run_url": check_run.url, "check_run_seq": check_run.seq}
    return msgspec.json.encode(stored).decode()


def decode(kind: JobKind, text: str | bytes) -> tuple[JobParams, CheckRun | None]:
    """The parameters of a job of `kind`; ValueError when the object does not hold them."""
    try:
        wanted = _TYPES.get(kind) or (ReleaseParams if msgspec.json.decode(text, type=_ReleaseKeys).tag else Commits)
        params = msgspec.json.decode(text, type=wanted)
        run = msgspec.json.decode(text, type=_CheckRunKeys)
    except msgspec.DecodeError as exc:  # a ValidationError too: a key missing or of the wrong type
        raise ValueError(f"the stored parameters of a {kind} job cannot be read: {exc}") from exc
    check_run = None if run.check_run_id is None else CheckRun(run.check_run_id, run.check_run_url, run.check_run_seq)
    return params, check_run
