"""`--format sarif` (CONTRACT §1): SARIF 2.1.0, one rule per signal type and one result per signal,
placed where the JSON report places it, at the level its threshold gives."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft4Validator

from tests.conftest import EXAMPLES
from tests.github.material import sarif_schema
from tests.test_cli import run

BASE, HEAD = str(EXAMPLES / "base" / "storefront"), str(EXAMPLES / "head" / "storefront")


def test_every_signal_is_a_result_at_its_source_and_level() -> None:
    code, out, err = run("diff", BASE, HEAD, "--format", "sarif")
    assert code == 1, err  # the example fails its verdict, as with every format
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = sarif["runs"]
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    _, report_out, _ = run("diff", BASE, HEAD, "--format", "json")
    signals = [s for c in json.loads(report_out)["charts"] for s in c["signals"]]
    assert len(results) == len(signals) == 12
    assert [r["id"] for r in rules] == sorted({s["type"] for s in signals})
    levels = {"fail": "error", "warn": "warning", "ignore": "note"}
    for result, signal in zip(results, signals, strict=True):
        assert result["ruleId"] == signal["type"] == rules[result["ruleIndex"]]["id"]
        assert result["level"] == levels[signal["action"]]
        assert result["message"]["text"] == signal["description"]
        assert result["partialFingerprints"] == {"chartimpactSignalId/v1": signal["id"]}
        location = result["locations"][0]["physicalLocation"]
        assert (location["artifactLocation"]["uri"], location["region"]["startLine"]) == (
            signal["source"]["file"],
            signal["source"]["line"],
        )


def test_sarif_is_deterministic_and_holds_no_secret() -> None:
    first = run("diff", BASE, HEAD, "--format", "sarif")[1]
    assert first == run("diff", BASE, HEAD, "--format", "sarif")[1]
    for secret in ("correct-horse-battery-staple", "tr0ub4dor-and-3"):
        assert secret not in first


def _schema_errors(document: dict[str, Any]) -> list[str]:
    validator = Draft4Validator(sarif_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    code, out, err = run("diff", BASE, HEAD, "--format", "sarif")
    assert code == 1, err
    document = json.loads(out)
    assert document["runs"][0]["results"], "nothing to validate: the example should give results"
    assert _schema_errors(document) == []
    # The validator does look: a level SARIF does not define is an error.
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert _schema_errors(document)


def test_sarif_of_a_clean_diff_validates_too() -> None:
    code, out, err = run("diff", BASE, BASE, "--format", "sarif")
    assert code == 0, err
    document = json.loads(out)
    assert document["runs"][0]["results"] == []
    assert _schema_errors(document) == []
