"""Semantic versions and Helm's dependency constraints."""

from __future__ import annotations

import pytest

from chartimpact_bot.core.semver import Constraint, ConstraintError, Version


def test_parse_and_order() -> None:
    assert Version.parse("v1.2") == Version(1, 2, 0)
    assert Version.parse("latest") is None
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
    ]
    versions = [Version.parse(v) for v in ordered]
    assert versions == sorted(versions, key=lambda v: v)  # type: ignore[arg-type, return-value]
    assert str(Version.parse("2.0.0-rc.1")) == "2.0.0-rc.1"


@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("1.2", ["1.2.0", "1.2.9"], ["1.3.0", "1.1.9"]),
        ("0.12.*", ["0.12.0", "0.12.7"], ["0.13.0"]),
        ("*", ["0.0.1", "9.9.9"], ["1.0.0-rc.1"]),
        ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
        ("^1.2.3", ["1.2.3", "1.9.0"], ["2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        (">= 1.2, < 2.0", ["1.2.0", "1.99.0"], ["2.0.0", "1.1.0"]),
        (">1.2", ["1.3.0"], ["1.2.5"]),
        ("<=1.2", ["1.2.9"], ["1.3.0"]),
        ("!=1.2", ["1.1.0", "1.3.0"], ["1.2.4"]),
        ("1.2 - 1.4.5", ["1.2.0", "1.4.5"], ["1.4.6"]),
        ("<1.0 || >=3.0", ["0.9.0", "3.1.0"], ["2.0.0"]),
        (">=1.0.0-0", ["1.0.0-rc.1", "1.2.0"], ["0.9.0"]),
    ],
)
def test_constraints(constraint: str, allowed: list[str], refused: list[str]) -> None:
    parsed = Constraint.parse(constraint)
    for version in allowed:
        assert parsed.allows(Version.parse(version)), (constraint, version)  # type: ignore[arg-type]
    for version in refused:
        assert not parsed.allows(Version.parse(version)), (constraint, version)  # type: ignore[arg-type]


def test_best_picks_the_highest_match() -> None:
    assert Constraint.parse("0.12.*").best(["0.11.9", "0.12.1", "0.12.10", "0.13.0", "bad"]) == "0.12.10"
    assert Constraint.parse("^2").best(["1.0.0"]) is None


def test_bad_constraint() -> None:
    with pytest.raises(ConstraintError):
        Constraint.parse(">= banana")
