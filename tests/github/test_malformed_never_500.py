"""Every malformed payload is the client's fault, named as such: for every real example of every
event the App reads, any one field (at any depth) replaced by a value of the wrong shape is
either read (the field is not one the App uses) or refused with a PayloadError, which the webhook
answers 400. Nothing else may escape planning: that would be a 500, for what a client sent."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from chartimpact_bot.github import events, payloads
from chartimpact_bot.github.payloads import PayloadError
from tests.github.conftest import MakeApp
from tests.github.material import webhook_examples

WRONG: tuple[Any, ...] = (None, "x", "", 0, -1, 2**70, 1.5, True, [], [None], {}, {"a": None})
Path = tuple[str | int, ...]


def _paths(value: Any, here: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*here, key)
            yield from _paths(item, (*here, key))
    elif isinstance(value, list) and value:
        yield (*here, 0)
        yield from _paths(value[0], (*here, 0))


def _replaced(payload: dict[str, Any], path: Path, wrong: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    _swap(changed, path, wrong)
    return changed


def _swap(payload: dict[str, Any], path: Path, value: Any) -> Any:
    """Put `value` at `path` in place; the value that was there."""
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    old, target[path[-1]] = target[path[-1]], value
    return old


def _one_per_action(event: str) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for example in webhook_examples()[event]:
        seen.setdefault(example.get("action"), example)
    return [{**copy.deepcopy(e), "installation": {"id": 42}} for e in seen.values()]


@pytest.mark.parametrize("event", sorted(payloads.PARSERS))
async def test_no_malformed_field_of_any_example_escapes_the_decision_unnamed(event: str) -> None:
    tried = refused = 0
    for example in _one_per_action(event):
        for path in list(_paths(example)):
            for wrong in WRONG:
                tried += 1
                kept = _swap(example, path, wrong)  # in place, and put back: a copy each time is slow
                try:
                    await events.decide(event, "delivery-1", example)
                except PayloadError:
                    refused += 1
                finally:
                    _swap(example, path, kept)
    assert tried > 0
    if event not in ("installation", "installation_repositories", "ping"):
        assert refused > 0  # the App reads fields of this event, so some shapes are refused


async def test_over_http_each_kind_of_malformed_field_is_400_never_500(make_app: MakeApp) -> None:
    app = await make_app()
    (example, *_) = _one_per_action("pull_request")
    answers = set()
    read = ("action", "number", "installation", "pull_request", "repository")
    for path in [p for p in _paths(example) if p[0] in read and len(p) <= 2]:
        for wrong in WRONG[::5]:  # null, a number too large, an object
            status, _ = await app.deliver("pull_request", _replaced(example, path, wrong))
            answers.add(status)
    assert 400 in answers and answers <= {200, 202, 400}
