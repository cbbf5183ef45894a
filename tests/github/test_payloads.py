"""Typed events from payloads: every real example reads, wrong shapes name their field."""

from __future__ import annotations

from typing import Any

import pytest

from chartimpact_bot.github import payloads
from chartimpact_bot.github.payloads import Branch, Origin, PayloadError, PullRequestLink, shown
from tests.github.material import webhook_examples


def test_every_example_of_the_events_we_read_is_a_typed_event() -> None:
    for event, parse in payloads.PARSERS.items():
        for payload in webhook_examples()[event]:
            payloads.envelope(payload)
            assert parse(payload) is not None


def test_a_pull_request_reads_only_the_fields_the_app_uses() -> None:
    (example,) = [p for p in webhook_examples()["pull_request"] if p["action"] == "synchronize"]
    pull = payloads.pull_request(example)
    assert pull.repository == "Codertocat/Hello-World"
    assert pull.pull.number == example["pull_request"]["number"]
    assert pull.pull.head == Branch(example["pull_request"]["head"]["sha"], example["pull_request"]["head"]["ref"])
    assert pull.base_changed is False
    assert payloads.pull_request({**example, "changes": {"base": {}}}).base_changed is True


def test_the_origin_of_a_check_run_comes_from_our_external_id_only() -> None:
    (example,) = [p for p in webhook_examples()["check_run"] if p["action"] == "rerequested"][:1]
    run = example["check_run"]

    def origin(external_id: Any) -> Origin:
        return payloads.check_run({**example, "check_run": {**run, "external_id": external_id}}).origin

    assert origin('{"kind":"push","base":"' + "a" * 40 + '"}') == Origin("push", "a" * 40)
    assert origin('{"kind":"push","base":"../x"}') == Origin("push", None)
    assert origin("ci-1234") == Origin()
    assert origin("[1]") == Origin()
    assert origin(None) == Origin()
    assert origin("[" * 100_000) == Origin()


def test_only_the_first_pull_request_of_a_check_is_read() -> None:
    (example,) = [p for p in webhook_examples()["check_suite"] if p["action"] == "rerequested"][:1]
    first = {"number": 3, "base": {"sha": "a" * 40, "ref": "main"}, "head": {"sha": "b" * 40}}
    suite = {**example["check_suite"], "pull_requests": [first, "not read"]}
    assert payloads.check_suite({**example, "check_suite": suite}).pull_request == PullRequestLink(
        3, Branch("a" * 40, "main"), Branch("b" * 40, "")
    )
    assert payloads.check_suite({**example, "check_suite": {**suite, "pull_requests": []}}).pull_request is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"installation": "abc"}, "installation must be an object, not a string"),
        ({"installation": {"id": 2**63}}, "installation.id must be a positive integer, not a number"),
        ({"installation": {"id": 1}, "action": 5}, "action must be a string, not a number"),
    ],
)
def test_the_envelope_of_any_event(data: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match=f"^{message}$"):
        payloads.envelope(data)


def test_a_delivery_without_an_installation_reads() -> None:
    assert payloads.envelope({}) == payloads.Envelope(None, None)
    assert payloads.envelope({"installation": None, "action": None}) == payloads.Envelope(None, None)
    assert payloads.envelope({"installation": {"node_id": "x"}}) == payloads.Envelope(None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("refs/heads/main", "refs/heads/main"),
        ("it's", "it\\'s"),
        ("line\nbreak\x1b[31m", "line\\nbreak\\x1b[31m"),
        ("x" * 61, "x" * 60 + "…"),
        ("\U0001f600" * 10, "\\U0001f600" * 6 + "…"),
    ],
)
def test_values_shown_in_answers_are_escaped_and_short(value: str, expected: str) -> None:
    assert shown(value) == expected
