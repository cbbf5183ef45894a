"""deploy/monitoring read for the tests: the alert rules' and the dashboard's PromQL, the metric
and label names it uses, and what a /metrics scrape offers (tests/test_monitoring.py,
tests/github/test_monitoring_metrics.py).

The names are found by a crude tokenizer, not a PromQL parser: strings, label matchers, ranges,
grouping clauses and Grafana variables are cut out, and of the identifiers left those not
followed by `(` (functions) and not PromQL keywords or aggregation operators are metric names.
That is enough for the expressions written here, and the tests check it against misspelt ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
ALERT_TESTS = MONITORING / "alerts.test.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/chartimpact/chartimpact-bot/blob/main/docs/runbook.md"

# Labels Prometheus adds to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk"}
    | {"quantile", "limitk", "limit_ratio", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{\w+(?::\w+)?\}|\$\w+")
_BRACED_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)")
_SELECTOR = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", re.S)


def _strip(expr: str) -> str:
    """The expression without strings, Grafana variables, matchers and ranges."""
    expr = _GRAFANA_VARIABLE.sub("", _STRING.sub('""', expr))
    return _RANGE.sub("", _MATCHERS.sub("", expr))


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    stripped = _GROUPING.sub(r"\1", _strip(expr))
    names = set()
    for match in _IDENTIFIER.finditer(stripped):
        name = match.group(1)
        if name.lower() in KEYWORDS or stripped[match.end() :].lstrip().startswith("("):
            continue
        names.add(name)
    return names


def grouping_labels(expr: str) -> set[str]:
    """Label names of the expression's by/without/on/ignoring/group_* clauses."""
    stripped = _GRAFANA_VARIABLE.sub("", _STRING.sub('""', expr))
    return {label.strip() for m in _GROUPING.finditer(stripped) for label in m.group(2).split(",") if label.strip()}


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Each `metric{…}` of the expression with its matchers (label, operator, value)."""
    expr = _BRACED_VARIABLE.sub(r"$\1", expr)  # `${instance}` would end the matchers' braces
    return [(m.group(1), _MATCHER.findall(m.group(2))) for m in _SELECTOR.finditer(expr)]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rule_exprs() -> list[tuple[str, str]]:
    """(where, expression) of every rule of alerts.yml."""
    return [(f"alert {rule['alert']}", str(rule["expr"])) for rule in alert_rules()]


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, expression) of every panel target and query variable of the dashboard; a
    variable's `label_values(selector, label)` gives its selector."""
    board = dashboard()
    found = [
        (f"panel {panel['title']!r} {target.get('refId', '')}", target["expr"])
        for panel in _panels(board["panels"])
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = _LABEL_VALUES.match(query)
        assert match, f"variable {variable['name']}: expected label_values(selector, label), not {query!r}"
        found.append((f"variable {variable['name']}", f"group by ({match.group(2)}) ({match.group(1)})"))
    return found


def as_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced, for promtool to parse."""
    for variable, value in (("$__rate_interval", "5m"), ("$__range", "1h"), ("$__interval", "1m")):
        expr = expr.replace(variable, value)
    return _GRAFANA_VARIABLE.sub(".*", expr)


@dataclass
class Scrape:
    """The series names a scrape offers (as Prometheus stores them: counters with `_total`,
    histograms as `_bucket`, `_sum` and `_count`) with the label names and values seen."""

    labels: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Scrape:
        scrape = cls({"up": {label: set() for label in TARGET_LABELS}})
        for family in text_string_to_metric_families(text):
            suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
            for suffix in suffixes.get(family.type, ("",)):
                scrape.labels.setdefault(family.name + suffix, {})
            for sample in family.samples:
                seen = scrape.labels.setdefault(sample.name, {})
                for label, value in sample.labels.items():
                    seen.setdefault(label, set()).add(value)
        return scrape

    def problems(self, exprs: Iterable[tuple[str, str]], domains: Mapping[tuple[str, str], set[str]]) -> list[str]:
        """What the expressions name that this scrape does not have: metrics, label names (of
        matchers and grouping clauses), and the values of the labels `domains` lists for a
        series, (series, label) → the values it can take."""
        problems = []
        for where, expr in exprs:
            names = metric_names(expr)
            problems += [f"{where}: no metric {name} in the scrape" for name in sorted(names - set(self.labels))]
            known = {name for name in names if name in self.labels}
            for name, matchers in selectors(expr):
                if name not in known:
                    continue
                for label, operator, value in matchers:
                    if label not in self.labels[name] and label not in TARGET_LABELS:
                        problems.append(f"{where}: {name} has no label {label}")
                    elif (name, label) in domains and operator in ("=", "=~"):
                        values = value.split("|") if operator == "=~" else [value]
                        bad = [v for v in values if v not in domains[name, label]]
                        if bad or (operator == "=~" and not re.fullmatch(r"[\w|]+", value)):
                            problems.append(f"{where}: {name}{{{label}}} never takes {value!r}")
            usable = set(TARGET_LABELS) | {"le"} | {label for name in known for label in self.labels[name]}
            problems += [f"{where}: no metric of it has a label {label}" for label in grouping_labels(expr) - usable]
        return problems


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation (anything but
    letters, digits, `_`, `-` and spaces) removed, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of a Markdown document's headings (a repeated one gets -1, -2…, as on GitHub)."""
    found: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            anchor = base = github_anchor(match.group(1))
            n = 0
            while anchor in found:
                n += 1
                anchor = f"{base}-{n}"
            found.add(anchor)
    return found
