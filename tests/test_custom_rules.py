"""Custom rules: the path language, how base and head values pair, the config problems a rule
can have (with their lines), thresholds, determinism, and the bounds a hostile file meets.

What each firing form reports on real renders is in tests/golden/signals/custom.yaml.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot.core.config import CustomRule
from chartimpact_bot.core.config_file import InvalidConfig, load_config
from chartimpact_bot.core.model import Resource, ResourceDiff, ResourceId
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.core.side import ChartSide
from chartimpact_bot.core.signals.context import SignalContext
from chartimpact_bot.core.signals.custom import (
    MAX_RULES,
    MAX_STEPS_PER_CHART,
    StepBudget,
    compile_rule,
    evaluate_rules,
    rule_detector,
)
from chartimpact_bot.core.signals.engine import detect_signals
from chartimpact_bot.core.signals.registry import change_type
from chartimpact_bot.core.signals.rule_paths import (
    ANY_ITEM,
    ANY_KEY,
    MAX_PATH_CHARS,
    MAX_SEGMENTS,
    MAX_WILDCARDS,
    ItemWhere,
    PathError,
    pairs,
    parse_path,
)
from chartimpact_bot.core.signals.rule_patterns import (
    MAX_PATTERN_CHARS,
    MAX_SUBJECT_CHARS,
    PatternError,
    compile_pattern,
)
from chartimpact_bot.engine.pipeline import PipelineOptions
from tests.conftest import EXAMPLES, chart_yaml, diff_dirs, only_chart, write_files


def test_the_path_language_reads_keys_wildcards_indexes_and_item_selectors() -> None:
    path = parse_path("spec.template.spec.containers[*].env[name=LOG_LEVEL].value")
    assert path.segments == (
        "spec", "template", "spec", "containers", ANY_ITEM,
        "env", ItemWhere((("name", "LOG_LEVEL"),)), "value",
    )  # fmt: skip
    assert parse_path('metadata.annotations["checksum/config"]').segments[-1] == "checksum/config"
    assert parse_path('metadata.labels["app.kubernetes.io/name"]').segments[-1] == "app.kubernetes.io/name"
    assert parse_path("metadata.labels.*").segments[-1] == ANY_KEY
    assert parse_path("spec.ports[0].port").segments[2] == 0
    assert parse_path('subjects[kind=User,name="a,b"]').segments[-1] == ItemWhere((("kind", "User"), ("name", "a,b")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec[*", "cannot read the path from character 5"),
        ("spec..replicas", "cannot read the path from character 5"),
        ("spec[ = ]", "neither [*], [N]"),
        ("x" * 300, "a path has 1 to 256 characters (got 300)"),
        (".".join(["a"] * 40), "at most 32 segments (got 40)"),
        ("*.*.*.*.*", "at most 4 wildcards (got 5)"),
    ],
)
def test_a_path_outside_the_language_or_its_limits_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PathError, match=re.escape(message)):
        parse_path(text)


def _places(path: str, base: Any, head: Any) -> list[tuple[str, Any, Any]]:
    found = pairs(parse_path(path), base, head, lambda _: None)
    return [(p.display, p.base.value if p.base else None, p.head.value if p.head else None) for p in found]


def test_list_items_pair_by_the_diffs_keys_so_a_new_container_is_added_not_changed() -> None:
    base = {"containers": [{"name": "web", "image": "a:1"}]}
    head = {"containers": [{"name": "init", "image": "b:1"}, {"name": "web", "image": "a:2"}]}
    assert _places("containers[*].image", base, head) == [
        ("containers[name=init].image", None, "b:1"),
        ("containers[name=web].image", "a:1", "a:2"),
    ]
    # A resource on one side only keys its list by the same fields.
    assert _places("containers[*].image", None, head)[0] == ("containers[name=init].image", None, "b:1")


def test_scalars_pair_by_value_and_unkeyed_objects_by_position() -> None:
    assert _places("args[*]", {"args": ["-v", "--a"]}, {"args": ["--b", "-v"]}) == [
        ("args[0]", None, "--b"),
        ("args[1]", "-v", "-v"),
        ("args[1]", "--a", None),
    ]
    assert _places("items[*].x", {"items": [{"x": 1}]}, {"items": [{"x": 2}, {"x": 3}]}) == [
        ("items[0].x", 1, 2),
        ("items[1].x", None, 3),
    ]


def _config_problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(InvalidConfig) as caught:
        load_config(text, ".chartimpact.yml")
    return [(p.line, p.message) for p in caught.value.problems]


def test_a_rule_that_cannot_run_is_a_config_problem_on_its_line() -> None:
    text = (
        "rules:\n"
        "  - type: custom.a\n"
        "    path: 'spec[*'\n"  # 3
        "    matches: '(a'\n"  # 4
        "  - type: custom.b\n"
        "    path: spec.x\n"
        "    matches: '(a)\\1'\n"  # 7: a backreference, which linear-time matching refuses
        "  - type: custom.a\n"  # 8
        "    path: spec.y\n"
        "    on: added\n"
        "  - type: custom.silent\n"  # 11
        "    path: spec.z\n"
        "  - type: custom.both\n"
        "    path: spec.z\n"
        "    matches: x\n"
        "    equals: x\n"  # 16
        "  - type: custom.typo\n"
        "    path: spec.z\n"
        "    on: add\n"  # 19
    )
    assert _config_problems(text) == [
        (3, "'path': cannot read the path from character 5 on ('[*')"),
        (4, "'matches': not a valid RE2 pattern: missing ): (a"),
        (7, "'matches': not a valid RE2 pattern: invalid escape sequence: \\1"),
        (8, "the rule type 'custom.a' is defined twice"),
        (11, "the rule never fires: give it 'on', 'matches' or 'equals'"),
        (16, "a rule has 'matches' or 'equals', not both"),
        (19, "'rules[5].on' must be one of added, removed, changed (got 'add')"),
    ]


def test_on_is_a_key_not_yaml_1_1s_boolean() -> None:
    (rule,) = load_config("rules:\n  - {type: custom.a, path: spec.x, on: added}\n").rules
    assert rule.on == "added"


def test_thousands_of_rules_are_one_problem_found_quickly() -> None:
    text = "rules:\n" + "".join(f"  - {{type: custom.r{i}, path: spec.x, matches: '(a+)+$'}}\n" for i in range(5000))
    started = time.monotonic()
    assert _config_problems(text) == [(2, f"at most {MAX_RULES} rules are allowed (got 5000)")]
    assert time.monotonic() - started < 10


def test_a_huge_pattern_is_refused_and_an_evil_one_matches_in_linear_time() -> None:
    with pytest.raises(PatternError, match="at most 256"):
        compile_pattern("a" * 257)
    with pytest.raises(PatternError, match="not a valid RE2 pattern"):
        compile_pattern("((a{100}){100}){100}")
    evil = compile_pattern("^(a+)+$")
    subject = "a" * (MAX_SUBJECT_CHARS - 1) + "!"
    started = time.monotonic()
    assert not any(evil.search(subject) for _ in range(100))
    assert time.monotonic() - started < 1  # Python's re would not finish this once
    assert not compile_pattern("a").search("a" * (MAX_SUBJECT_CHARS + 1))  # too long a value never matches
    assert compile_pattern("^3$").search(3) and compile_pattern("^true$").search(True)
    assert not compile_pattern(".").search({"a": "b"})


def _configmap(name: str, data: dict[str, Any]) -> Resource:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    return Resource(ResourceId("", "ConfigMap", "default", name), "v1", body, "chart/templates/cm.yaml", 0)


def _context(count: int, keys: int) -> SignalContext:
    diffs = []
    for i in range(count):
        old = _configmap(f"cm-{i}", {f"k{j}": "old" for j in range(keys)})
        new = _configmap(f"cm-{i}", {f"k{j}": "new" for j in range(keys)})
        diffs.append(ResourceDiff(old, new, "modified", ()))
    return SignalContext("chart", "chart", ChartSide(), ChartSide(), tuple(diffs))


def _rule(index: int, **fields: Any) -> CustomRule:
    defaults: dict[str, Any] = {
        "type": f"custom.r{index:03}",
        "category": "other",
        "importance": "low",
        "description": "d",
        "path": "data.*",
    }
    return CustomRule(**{**defaults, **fields})


def test_the_work_of_rules_times_resources_times_fields_is_bounded_per_chart() -> None:
    ctx = _context(count=200, keys=50)  # 10,000 fields, each looked at by every rule
    rules = [_rule(i, on="changed", matches="^(n|e|w)+$") for i in range(MAX_RULES)]
    started = time.monotonic()
    outcome = evaluate_rules(ctx, rules)
    assert time.monotonic() - started < 10
    (warning,) = outcome.warnings
    assert warning.startswith("custom rules stopped at custom.r")
    assert f"their limit of {MAX_STEPS_PER_CHART:,} fields and values on this chart" in warning
    assert 0 < len(outcome.found) < MAX_STEPS_PER_CHART
    # Within the budget everything is evaluated, and nothing is said.
    small = evaluate_rules(_context(count=2, keys=3), rules[:2], StepBudget())
    assert (len(small.found), small.warnings) == (12, [])


def test_the_engine_reports_the_cut_short_rules_as_a_chart_warning() -> None:
    signals, failures = detect_signals(_context(count=200, keys=50), rules=[_rule(i, on="changed") for i in range(50)])
    assert any(s.type.startswith("custom.") for s in signals)
    assert [f for f in failures if f.startswith("custom rules stopped")] == failures
    assert len(failures) == 1


def test_a_rule_handed_to_the_library_unvalidated_is_a_warning_not_a_crash() -> None:
    signals, failures = detect_signals(_context(count=1, keys=1), rules=[_rule(0, on="added", matches="(a")])
    assert signals == []
    assert failures == [
        "signal detector custom rules failed and was skipped (PatternError: not a valid RE2 pattern: missing ): (a)"
    ]


POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: app}}
spec: {{containers: [{{name: app, image: '{image}'}}]}}
"""
RULE = """\
rules:
  - type: custom.registry
    category: other
    importance: medium
    description: "Images come from our registry"
    path: "spec.containers[*].image"
    matches: "^(docker\\\\.io/|[^./]+(:|$))"
"""


def _pair(root: Path, image: str) -> tuple[Path, Path]:
    dirs = []
    for side, tag in (("base", "registry.example.com/app:1.0"), ("head", image)):
        files = {"Chart.yaml": chart_yaml("app"), "templates/pod.yaml": POD.format(image=tag)}
        dirs.append(write_files(root / side / "app", files))
    return dirs[0], dirs[1]


def test_a_custom_signal_fails_the_verdict_when_its_threshold_says_fail(
    tmp_path: Path, options: PipelineOptions
) -> None:
    base, head = _pair(tmp_path, "nginx:1.25")
    default = only_chart(diff_dirs(base, head, options, load_config(RULE)))
    (custom,) = [s for s in default.signals if s.type == "custom.registry"]
    assert custom.action == "ignore"  # other/medium is ignored by default
    assert default.verdict != "fail"
    strict = load_config(RULE + "thresholds:\n  other: {medium: fail}\n")
    report = diff_dirs(base, head, options, strict)
    (custom,) = [s for s in only_chart(report).signals if s.type == "custom.registry"]
    assert (custom.action, only_chart(report).verdict, report.verdict) == ("fail", "fail", "fail")
    ignored = load_config(RULE + "thresholds:\n  other: {medium: fail}\nignore:\n  signals: [custom.registry]\n")
    chart = only_chart(diff_dirs(base, head, options, ignored))
    assert "custom.registry" not in {s.type for s in chart.signals} and chart.ignored_signals >= 1


def _without_generated_at(text: str) -> str:
    return re.sub(r'"generatedAt": "[^"]+"', '"generatedAt": ""', text)


def test_same_inputs_and_rules_give_byte_identical_reports(options: PipelineOptions) -> None:
    config = load_config(
        "rules:\n"
        "  - {type: custom.any-change, path: 'spec.template.spec.containers[*].*', on: changed}\n"
        "  - {type: custom.new-field, path: 'spec.*.*', on: added}\n"
        "  - {type: custom.ports, path: 'spec.ports[*].port', matches: '^[0-9]+$'}\n"
    )
    base, head = EXAMPLES / "base" / "storefront", EXAMPLES / "head" / "storefront"
    runs = {_without_generated_at(dumps(diff_dirs(base, head, options, config))) for _ in range(2)}
    assert len(runs) == 1
    (text,) = runs
    assert '"type": "custom.any-change"' in text


CONFIGURATION_DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_example_in_the_configuration_doc_is_a_valid_file() -> None:
    examples = re.findall(r"^```yaml\n(.*?)^```", CONFIGURATION_DOC.read_text(), re.MULTILINE | re.DOTALL)
    assert len(examples) >= 4
    for example in examples:
        assert load_config(example).rules, example


def test_the_limits_the_configuration_doc_states_are_the_ones_enforced() -> None:
    text = " ".join(CONFIGURATION_DOC.read_text().split())
    stated = [
        f"at most **{MAX_RULES}** rules",
        f"at most **{MAX_PATH_CHARS}** characters, **{MAX_SEGMENTS}** segments and **{MAX_WILDCARDS}** wildcards",
        f"a pattern has at most **{MAX_PATTERN_CHARS}** characters",
        f"longer than **{MAX_SUBJECT_CHARS}** characters never matches",
        f"at most **{MAX_STEPS_PER_CHART:,}** fields and values",
    ]
    assert [s for s in stated if s not in text] == []


def test_an_overlong_rule_field_names_its_limit() -> None:
    text = f"rules:\n  - type: custom.a\n    path: spec.x\n    on: added\n    description: {'d' * 301}\n"
    assert _config_problems(text) == [(5, "'rules[0].description' has at most 300 characters")]


def test_a_rule_is_described_like_a_detector_and_runs_alone_through_it() -> None:
    rule = _rule(1, category="security", importance="high", on="changed", kinds=("ConfigMap",))
    detector = rule_detector(compile_rule(rule))
    assert (detector.type, detector.category, detector.importance, detector.kinds) == (
        "custom.r001", "security", "high", frozenset({"ConfigMap"}),
    )  # fmt: skip
    assert detector.explanation == "A rule of this repository's .chartimpact.yml."
    ctx = _context(count=1, keys=2)
    found = list(detector.check(ctx, ctx.diffs[0]))
    assert [(f.affected_path, f.before, f.after, f.subject and change_type(*f.subject)) for f in found] == [
        ("data.k0", "old", "new", "modified"),
        ("data.k1", "old", "new", "modified"),
    ]
    assert found[0].description == "d: ConfigMap 'cm-0' sets data.k0 to new (was old)"
