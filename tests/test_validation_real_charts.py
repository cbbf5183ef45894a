"""What 173 real charts showed schema validation (issue 14), each reduced to a chart of its own:
the false errors found on them stay gone, and the real problems stay found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import make_chart
from tests.test_cli import run

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"


def _crd(kind: str, schema: str, extra: str = "") -> str:
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {kind.lower()}s.example.com}}
spec:
  group: example.com
  scope: Namespaced
  names: {{kind: {kind}, plural: {kind.lower()}s}}
  versions:
    - name: v1
      served: true
      storage: true
{extra}      schema:
        openAPIV3Schema:
{schema}"""


def _schema_signals(tmp_path: Path, templates: dict[str, str]) -> list[dict[str, Any]]:
    base = make_chart(tmp_path / "base", "web", {"cm.yaml": CONFIG_MAP})
    head = make_chart(tmp_path / "head", "web", templates)
    code, out, err = run("diff", str(base), str(head), "--format", "json")
    assert code in (0, 1), err
    (chart,) = json.loads(out)["charts"]
    return [s for s in chart["signals"] if s["type"].startswith(("upgrade.schema", "upgrade.api"))]


def test_a_field_its_crd_defaults_is_never_missing(tmp_path: Path) -> None:
    """bitnami/kuberay: RayCluster workerGroupSpecs require minReplicas and maxReplicas, and
    default them; the API server fills defaults in before it validates."""
    schema = """\
          type: object
          properties:
            spec:
              type: object
              properties:
                workers:
                  type: array
                  items:
                    type: object
                    required: [name, minReplicas]
                    properties:
                      name: {type: string}
                      minReplicas: {type: integer, default: 0}
"""
    ray = "apiVersion: example.com/v1\nkind: Ray\nmetadata: {name: r}\nspec: {workers: [{name: w}, {minReplicas: 1}]}\n"
    (missing,) = _schema_signals(tmp_path, {"crd.yaml": _crd("Ray", schema), "ray.yaml": ray})
    assert missing["after"] == "required field 'name' is missing"  # no default: still missing


def test_values_normalization_masked_are_not_type_errors(tmp_path: Path) -> None:
    """argo-rollouts' AnalysisTemplate `threshold.pass: 90` (a key that looks like a password, so
    masked in every report) and a port drawn with randInt (differs between renders)."""
    schema = """\
          type: object
          properties:
            spec:
              type: object
              properties:
                threshold: {type: object, properties: {pass: {type: integer}, marginal: {type: integer}}}
"""
    template = "apiVersion: example.com/v1\nkind: Analysis\nmetadata: {name: a}\nspec: {threshold: {pass: 90}}\n"
    service = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n    - port: {{ randInt 30000 32000 }}\n"
    )
    assert (
        _schema_signals(tmp_path, {"crd.yaml": _crd("Analysis", schema), "a.yaml": template, "svc.yaml": service}) == []
    )


def test_status_is_not_written_with_the_object(tmp_path: Path) -> None:
    daemon_set = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: d, image: nginx}]}
status: {}
"""
    schema = """\
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
            status: {type: object, required: [phase], properties: {phase: {type: string}}}
"""
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\nstatus: {extra: 1}\n"
    subresource = "      subresources: {status: {}}\n"
    templates = {"ds.yaml": daemon_set, "crd.yaml": _crd("Widget", schema, subresource), "w.yaml": widget}
    assert _schema_signals(tmp_path, templates) == []


def test_a_required_field_written_as_null_is_there(tmp_path: Path) -> None:
    schema = """\
          type: object
          properties:
            spec:
              type: object
              required: [mode]
              properties: {mode: {type: string, nullable: true}, size: {type: integer}}
"""
    # Another error makes the body be read as the API server decodes it (nulls dropped): `mode`
    # is still there.
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {mode: null, size: x}\n"
    (invalid,) = _schema_signals(tmp_path, {"crd.yaml": _crd("Widget", schema), "w.yaml": widget})
    assert invalid["affectedPath"] == "spec.size"


def test_an_api_service_of_apiregistration_v1beta1_is_removed(tmp_path: Path) -> None:
    """prometheus-adapter falls back to apiregistration.k8s.io/v1beta1 (removed in 1.22), which
    k8s.io/api does not publish: the lifecycle data reads kube-aggregator's markers too."""
    service = (
        "apiVersion: apiregistration.k8s.io/v1beta1\nkind: APIService\nmetadata: {name: v1beta1.custom.metrics.k8s.io}\n"
        "spec: {group: custom.metrics.k8s.io, version: v1beta1, groupPriorityMinimum: 100, versionPriority: 100}\n"
    )
    (removed,) = _schema_signals(tmp_path, {"api.yaml": service})
    assert removed["type"] == "upgrade.api.removed"
    assert "(removed in 1.22; use apiregistration.k8s.io/v1 APIService)" in removed["description"]


def test_a_boolean_label_value_is_refused(tmp_path: Path) -> None:
    """bitnami/scylladb with metrics enabled writes `prometheus.io/scrape: true` as a label."""
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    prometheus.io/scrape: true\n"
        "spec: {ports: [{port: 80}]}\n"
    )
    (invalid,) = _schema_signals(tmp_path, {"svc.yaml": service})
    assert invalid["type"] == "upgrade.schema.invalid"
    assert invalid["affectedPath"] == 'metadata.labels["prometheus.io/scrape"]'
    assert invalid["after"] == "a boolean where the schema wants a string"
    assert invalid["source"]["line"] == 6


def test_capabilities_list_what_the_target_serves(tmp_path: Path) -> None:
    """prometheus-adapter asks `.Capabilities.APIVersions.Has "apiregistration.k8s.io/v1"`, which
    Helm's defaults lack: rendered as a cluster of the target would list its APIs, it picks v1."""
    service = """\
{{- if .Capabilities.APIVersions.Has "apiregistration.k8s.io/v1" }}
apiVersion: apiregistration.k8s.io/v1
{{- else }}
apiVersion: apiregistration.k8s.io/v1beta1
{{- end }}
kind: APIService
metadata: {name: v1beta1.custom.metrics.k8s.io}
spec: {group: custom.metrics.k8s.io, version: v1beta1, groupPriorityMinimum: 100, versionPriority: 100}
"""
    assert _schema_signals(tmp_path, {"api.yaml": service}) == []


def test_a_required_field_written_as_null_is_missing_unless_nullable(tmp_path: Path) -> None:
    """bitnami nginx with autoscaling on and no maximum renders `maxReplicas: null` (the API
    server decodes it to 0 and refuses it); redis-cluster's PrometheusRule with no rules renders
    `spec: null` (pruned from a custom resource, so its required spec is missing)."""
    hpa = (
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
        "spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}, maxReplicas: null}\n"
    )
    schema = """\
          type: object
          required: [spec]
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
    rule = "apiVersion: example.com/v1\nkind: Rule\nmetadata: {name: r}\nspec: null\n"
    found = _schema_signals(tmp_path, {"hpa.yaml": hpa, "crd.yaml": _crd("Rule", schema), "rule.yaml": rule})
    assert sorted((s["resource"]["kind"], s["affectedPath"], s["after"]) for s in found) == [
        ("HorizontalPodAutoscaler", "spec.maxReplicas", "required field 'maxReplicas' is missing"),
        ("Rule", "spec", "required field 'spec' is missing"),
    ]
