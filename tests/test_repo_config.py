"""`.chartimpact.yml`: validation with lines and suggestions, defaults, mapping."""

from __future__ import annotations

import pytest

from chartimpact_bot.core.config import DEFAULT_THRESHOLDS, AnalysisConfig
from chartimpact_bot.core.config_file import InvalidConfig, load_config

FULL = """\
version: 1
charts:
  include: ["charts/*"]
  exclude: ["charts/legacy-*"]
environments:
  - name: prod
    charts: ["charts/web"]
    values: ["charts/web/values-prod.yaml"]
    set: {image.tag: "1.2.3", replicas: 3, debug: false, list: "a,b"}
    releaseName: web
    namespace: prod
    kubeVersion: "1.30.0"
    apiVersions: ["monitoring.coreos.com/v1"]
thresholds:
  other: {high: fail}
importance:
  workload.image: low
ignore:
  signals: ["workload.image.pullPolicy"]
  resources:
    - {kind: ConfigMap, name: "*-dashboards"}
  paths: ["metadata.annotations.checksum/*"]
normalize:
  chartLabels: false
  checksumAnnotations: true
comment:
  mode: always
  maxSignals: 10
rules:
  - type: custom.prod-latest-tag
    category: other
    importance: high
    description: "Production images must be pinned"
    kinds: [Deployment]
    path: "spec.template.spec.containers[*].image"
    matches: ":latest$"
"""


def test_no_file_or_empty_file_means_defaults() -> None:
    assert load_config(None) == AnalysisConfig()
    assert load_config("") == AnalysisConfig()
    assert load_config("# nothing\n").thresholds == DEFAULT_THRESHOLDS


def test_full_file_maps_every_key() -> None:
    config = load_config(FULL)
    assert config.selects("charts/web") and not config.selects("charts/legacy-a")
    assert not config.selects("other/x")
    (prod,) = config.environments_for("charts/web")
    assert (prod.name, prod.release_name, prod.namespace, prod.kube_version) == (
        "prod",
        "web",
        "prod",
        "1.30.0",
    )
    assert prod.set_values == ("image.tag=1.2.3", "replicas=3", "debug=false", "list=a\\,b")
    assert config.environments_for("charts/api")[0].name == "default"
    assert config.thresholds["other"] == {"high": "fail", "medium": "ignore", "low": "ignore"}
    assert config.thresholds["upgrade"] == DEFAULT_THRESHOLDS["upgrade"]
    assert config.importance == {"workload.image": "low"}
    assert config.ignore.resources[0].kind == "ConfigMap"
    assert not config.normalize.drop_chart_labels and config.normalize.drop_checksum_annotations
    assert (config.comment_mode, config.comment_max_signals) == ("always", 10)
    assert config.rules[0].matches == ":latest$"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "version: 1\nthresholds:\n  security:\n    hgh: fail\n",
            4,
            "unknown key 'thresholds.security.hgh' (did you mean 'high'?)",
        ),
        (
            "version: 1\ncomment:\n  mode: sometimes\n",
            3,
            "'comment.mode' must be one of always, changes, never (got 'sometimes')",
        ),
        (
            "version: 1\n\nignored:\n  signals: []\n",
            3,
            "unknown key 'ignored' (did you mean 'ignore'?)",
        ),
        ("version: 2\n", 1, "'version' must be 1 (got 2)"),
        (
            "environments:\n  - name: prod\n    values: values.yaml\n",
            3,
            "'environments[0].values' must be of type array (got 'values.yaml')",
        ),
        ("charts: [oops\n", 2, "not valid YAML: did not find expected ',' or ']'"),
    ],
)
def test_errors_name_key_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        load_config(text, ".chartimpact.yml")
    assert caught.value.problems[0].line == line
    assert caught.value.problems[0].message == message
    assert str(caught.value).startswith(f".chartimpact.yml line {line}: ")


def test_all_problems_are_collected_in_line_order() -> None:
    with pytest.raises(InvalidConfig) as caught:
        load_config("comment:\n  mod: always\nnormalize:\n  chartLabel: true\n")
    assert [p.line for p in caught.value.problems] == [2, 4]
    assert str(caught.value).endswith("(and 1 more)")
