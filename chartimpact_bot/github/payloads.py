"""Webhook payloads as typed events: only the fields the App uses, checked before any handler runs.

A delivery is signed by GitHub, but its shape is still not ours to trust blindly: whatever is
wrong with it is a `PayloadError` naming the field (`pull_request.head must be an object, not
null`), answered with a 400, so an exception out of a handler is always our own bug. Messages
never quote the values they reject; `shown` makes a payload value safe to put in an answer.

The checks are a few type tests per field, so they cost microseconds beside parsing the JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1, or SHA-256 repositories
_FULL_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_MAX_ID = 2**63 - 1
_MAX_EXTERNAL_ID = 4096
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")


class PayloadError(ValueError):
    """A field of the payload is missing or has the wrong shape; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


def shown(value: str, limit: int = 60) -> str:
    """A value from a delivery as it may appear in an answer or a reason: ASCII, with control
    characters, non-ASCII, backslashes and single quotes escaped, cut to `limit` characters."""
    escaped = value[: limit + 1].encode("unicode_escape").decode("ascii").replace("'", "\\'")
    if len(escaped) <= limit and len(value) <= limit:
        return escaped
    kept, size = [], 0
    for char in value:
        piece = char.encode("unicode_escape").decode("ascii").replace("'", "\\'")
        if size + len(piece) > limit:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class _Fields:
    """Typed reads of one JSON object, each error naming the field by its path."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self._data = data
        self._path = path

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _required(self, key: str) -> Any:
        if key not in self._data:
            raise PayloadError(self._name(key), "is missing")
        return self._data[key]

    def _wrong(self, key: str, expected: str, value: object) -> PayloadError:
        return PayloadError(self._name(key), f"must be {expected}, not {_kind(value)}")

    def obj(self, key: str) -> _Fields:
        value = self._required(key)
        if not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return _Fields(value, self._name(key))

    def optional_obj(self, key: str) -> _Fields | None:
        return None if self._data.get(key) is None else self.obj(key)

    def text(self, key: str) -> str:
        value = self._required(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.text(key)

    def sha(self, key: str) -> str:
        value = self.text(key)
        if not _SHA.fullmatch(value):
            raise PayloadError(self._name(key), "is not a commit SHA")
        return value

    def optional_sha(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.sha(key)

    def identifier(self, key: str) -> int:
        value = self._required(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_ID:
            raise self._wrong(key, "a positive integer", value)
        return value

    def optional_identifier(self, key: str) -> int | None:
        return None if self._data.get(key) is None else self.identifier(key)

    def flag(self, key: str) -> bool:
        """An optional boolean: absent or null is false."""
        value = self._data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._wrong(key, "a boolean", value)
        return value

    def first(self, key: str) -> _Fields | None:
        """The first object of an optional list (the only one the App reads)."""
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._wrong(key, "a list", value)
        if not value:
            return None
        if not isinstance(value[0], dict):
            raise PayloadError(f"{self._name(key)}[0]", f"must be an object, not {_kind(value[0])}")
        return _Fields(value[0], f"{self._name(key)}[0]")

    def has(self, key: str) -> bool:
        return key in self._data

    def repository(self) -> str:
        full_name = self.obj("repository").text("full_name")
        if not _FULL_NAME.fullmatch(full_name):
            raise PayloadError("repository.full_name", "is not an owner/name")
        return full_name


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every delivery may carry."""

    action: str | None
    installation_id: int | None


def envelope(data: Mapping[str, Any]) -> Envelope:
    """`installation` may be absent (GitHub's examples often lack it: such deliveries are
    ignored), but when present it must be an object with a numeric id."""
    fields = _Fields(data)
    installation = fields.optional_obj("installation")
    return Envelope(
        action=fields.optional_text("action"),
        installation_id=installation.optional_identifier("id") if installation else None,
    )


@dataclass(frozen=True, slots=True)
class Branch:
    """One side of a pull request."""

    sha: str
    ref: str


@dataclass(frozen=True, slots=True)
class PullRequestLink:
    """A pull request's number and both its sides (as check runs and suites list it, too)."""

    number: int
    base: Branch
    head: Branch


@dataclass(frozen=True, slots=True)
class PullRequestEvent:
    repository: str
    pull: PullRequestLink
    state: str | None
    base_changed: bool


@dataclass(frozen=True, slots=True)
class PushEvent:
    repository: str
    default_branch: str | None
    ref: str
    before: str
    after: str
    created: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class ReleaseEvent:
    repository: str
    tag: str
    release_id: int


@dataclass(frozen=True, slots=True)
class Origin:
    """What a check run of ours was made for, from the `external_id` we gave it."""

    kind: str | None = None
    base: str | None = None


@dataclass(frozen=True, slots=True)
class CheckRunEvent:
    repository: str
    name: str | None
    head_sha: str
    origin: Origin
    pull_request: PullRequestLink | None
    requested_action: str | None = None  # the button pressed (action requested_action)
    sender: Sender | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    login: str
    bot: bool  # GitHub's `type` is "Bot": an App's comments are never commands


@dataclass(frozen=True, slots=True)
class IssueCommentEvent:
    """A comment on an issue or a pull request (`pull`: whether the issue is a pull request)."""

    repository: str
    number: int
    pull: bool
    comment_id: int
    body: str
    sender: Sender | None


@dataclass(frozen=True, slots=True)
class CheckSuiteEvent:
    repository: str
    head_sha: str
    before: str | None
    pull_request: PullRequestLink | None


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """An event the App only acknowledges (ping, installation changes)."""


Payload = (
    PullRequestEvent | PushEvent | ReleaseEvent | CheckRunEvent | CheckSuiteEvent | IssueCommentEvent | Acknowledged
)
MAX_COMMENT_BODY = 65_536  # GitHub's own limit; a longer body is read up to it


def _branch(fields: _Fields) -> Branch:
    return Branch(sha=fields.sha("sha"), ref=fields.optional_text("ref") or "")


def _pull(fields: _Fields) -> PullRequestLink:
    return PullRequestLink(
        number=fields.identifier("number"), base=_branch(fields.obj("base")), head=_branch(fields.obj("head"))
    )


def pull_request(data: Mapping[str, Any]) -> PullRequestEvent:
    fields = _Fields(data)
    fields.optional_identifier("number")
    pull = fields.obj("pull_request")
    changes = fields.optional_obj("changes")
    return PullRequestEvent(
        repository=fields.repository(),
        pull=_pull(pull),
        state=pull.optional_text("state"),
        base_changed=changes is not None and changes.has("base"),
    )


def push(data: Mapping[str, Any]) -> PushEvent:
    fields = _Fields(data)
    return PushEvent(
        repository=fields.repository(),
        default_branch=fields.obj("repository").optional_text("default_branch"),
        ref=fields.text("ref"),
        before=fields.sha("before"),
        after=fields.sha("after"),
        created=fields.flag("created"),
        deleted=fields.flag("deleted"),
    )


def release(data: Mapping[str, Any]) -> ReleaseEvent:
    fields = _Fields(data)
    entry = fields.obj("release")
    return ReleaseEvent(repository=fields.repository(), tag=entry.text("tag_name"), release_id=entry.identifier("id"))


def check_run(data: Mapping[str, Any]) -> CheckRunEvent:
    fields = _Fields(data)
    run = fields.obj("check_run")
    return CheckRunEvent(
        repository=fields.repository(),
        name=run.optional_text("name"),
        head_sha=run.sha("head_sha"),
        origin=_origin(run.optional_text("external_id")),
        pull_request=_optional_pull(run.first("pull_requests")),
        requested_action=action.optional_text("identifier")
        if (action := fields.optional_obj("requested_action"))
        else None,
        sender=_sender(fields),
    )


def _sender(fields: _Fields) -> Sender | None:
    sender = fields.optional_obj("sender")
    if sender is None:
        return None
    login = sender.text("login")
    if not _LOGIN.fullmatch(login):
        raise PayloadError("sender.login", "is not a GitHub login")
    return Sender(login, sender.optional_text("type") == "Bot")


def issue_comment(data: Mapping[str, Any]) -> IssueCommentEvent:
    fields = _Fields(data)
    issue = fields.obj("issue")
    comment = fields.obj("comment")
    return IssueCommentEvent(
        repository=fields.repository(),
        number=issue.identifier("number"),
        pull=issue.optional_obj("pull_request") is not None,
        comment_id=comment.identifier("id"),
        body=(comment.optional_text("body") or "")[:MAX_COMMENT_BODY],
        sender=_sender(fields),
    )


def check_suite(data: Mapping[str, Any]) -> CheckSuiteEvent:
    fields = _Fields(data)
    suite = fields.obj("check_suite")
    return CheckSuiteEvent(
        repository=fields.repository(),
        head_sha=suite.sha("head_sha"),
        before=suite.optional_sha("before"),
        pull_request=_optional_pull(suite.first("pull_requests")),
    )


def _optional_pull(fields: _Fields | None) -> PullRequestLink | None:
    return None if fields is None else _pull(fields)


def _origin(external_id: str | None) -> Origin:
    """Other apps' check runs carry anything in `external_id`, so what is not ours is no origin."""
    if not external_id or len(external_id) > _MAX_EXTERNAL_ID:
        return Origin()
    try:
        value = json.loads(external_id)
    except (ValueError, RecursionError):
        return Origin()
    if not isinstance(value, dict):
        return Origin()
    kind, base = value.get("kind"), value.get("base")
    return Origin(
        kind=kind if isinstance(kind, str) else None,
        base=base if isinstance(base, str) and _SHA.fullmatch(base) else None,
    )


def acknowledged(data: Mapping[str, Any]) -> Acknowledged:
    return Acknowledged()


PARSERS: dict[str, Callable[[Mapping[str, Any]], Payload]] = {
    "pull_request": pull_request,
    "push": push,
    "release": release,
    "check_run": check_run,
    "check_suite": check_suite,
    "issue_comment": issue_comment,
    "installation": acknowledged,
    "installation_repositories": acknowledged,
    "ping": acknowledged,
}
"""The events the App reads; any other is acknowledged as causing no analysis."""
