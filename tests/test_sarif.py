"""`--format sarif` (CONTRACT §1): SARIF 2.1.0, one rule per signal type and one result per signal,
placed where the JSON report places it, at the level its threshold gives."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES
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
