"""A synthetic chart of any size, both sides of a change, built in memory (no Helm), for tests
that measure how the core's work grows with the number of resources.

The chart is `units` copies of one application: a Deployment (every tenth a StatefulSet) with
the Service, ConfigMap, Secret, PersistentVolumeClaim, ServiceAccount, PodDisruptionBudget,
HorizontalPodAutoscaler, NetworkPolicy, Ingress, Role and RoleBinding around it (and, for some,
a ClusterRole and ClusterRoleBinding, or a custom resource), spread over three namespaces, one
template file per application; plus one `range` template that renders a ConfigMap per
application. Every kind a detector looks across is there, and every label and name is shared
the way real charts share them (`app.kubernetes.io/part-of` on everything, one `app` per
application), so selectors have a common label to scan by and a rare one to find by.

The head changes a fixed share of the applications, each in a way that makes one detector look
across resources: a Service whose selector stops matching, a ConfigMap changed without a
rollout, a removed Secret or ServiceAccount, a PodDisruptionBudget or autoscaler lowered or
removed, a NetworkPolicy narrowed, removed or re-targeted, a Role widened while its binding
changes, a workload and its claim renamed, moved or made privileged, a RoleBinding turned into a
ClusterRoleBinding, a custom resource replaced by another kind of the same name. The changes
are proportional to `units`, except the few that produce output proportional to the whole chart
for each finding (a single point of failure lists every disruption-budget signal), which stay
at a fixed count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chartimpact_bot.core.chart import ChartInfo, MaterializedChart
from chartimpact_bot.core.documents import ParsedDocument, RenderedChart, parse_template
from chartimpact_bot.core.manifests import parse_rendered
from chartimpact_bot.core.normalize import NormalizeOptions, normalize_side
from chartimpact_bot.core.side import ChartSide, ValuesSource

CHART = "synth"
NAMESPACES = ("team-a", "team-b", "team-c")
EXTRAS_TEMPLATE = f"{CHART}/templates/extras.yaml"
# The template text of the ranged ConfigMaps (what the locator reads); Helm's output is built
# here directly.
EXTRAS_TEXT = """\
{{- range .Values.extras }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
data:
  setting: {{ .setting | quote }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}-defaults
  namespace: {{ .namespace }}
data:
  setting: {{ .default | quote }}
{{- end }}
"""
VALUES = """\
replicaCount: 3
image:
  repository: registry.example.com/app
  tag: "1.0.0"
logLevel: info
featureFlag: false
"""
# Units that become a single point of failure (each such finding lists every PDB signal).
SINGLE_POINTS = frozenset({1, 2})


def _every(i: int, period: int, offset: int = 0) -> bool:
    return i % period == offset % period


def _namespace(i: int) -> str:
    return NAMESPACES[i % len(NAMESPACES)]


def _labels(i: int) -> dict[str, str]:
    return {"app": f"app{i}", "app.kubernetes.io/part-of": CHART, "tier": f"tier{i % 4}"}


def _workload(i: int) -> dict[str, Any]:
    kind = "StatefulSet" if _every(i, 10, 3) else "Deployment"
    container: dict[str, Any] = {
        "name": "app",
        "image": f"registry.example.com/team{i % 7}/app{i}:1.{i % 9}.0",
        "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
        "envFrom": [{"configMapRef": {"name": f"app{i}-config"}}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"app{i}-secret", "key": "password"}}},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/live", "port": "http"}, "initialDelaySeconds": 30},
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tls", "mountPath": "/tls"}],
    }
    spec: dict[str, Any] = {
        "replicas": 3,
        "selector": {"matchLabels": {"app": f"app{i}"}},
        "template": {
            "metadata": {"labels": _labels(i), "annotations": {"checksum/config": f"{i:08x}"}},
            "spec": {
                "serviceAccountName": f"app{i}-sa",
                "containers": [container],
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": f"app{i}-data"}},
                    {"name": "tls", "secret": {"secretName": f"app{i}-secret"}},
                ],
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = f"app{i}"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": f"app{i}", "labels": _labels(i)}, "spec": spec}


def _unit(i: int) -> list[dict[str, Any]]:
    """The resources of one application, as the base renders them."""
    name, labels = f"app{i}", _labels(i)
    workload = _workload(i)
    out: list[dict[str, Any]] = [
        workload,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "selector": {"app": name},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "metrics", "port": 9090, "targetPort": "metrics"},
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-config", "labels": labels},
            "data": {"LOG_FORMAT": "json", "WORKERS": str(2 + i % 5)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}-secret", "labels": labels},
            "stringData": {"password": f"s3cret-{i}"},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{name}-data", "labels": labels},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"zone{i}",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"{name}-sa", "labels": labels}},
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": labels},
            "spec": {"minAvailable": "60%", "selector": {"matchLabels": {"app": name}}},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": workload["kind"], "name": name},
                "minReplicas": 3,
                "maxReplicas": 10,
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "podSelector": {"matchLabels": {"app": name}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app": f"app{i + 1}"}}},
                            {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": CHART}}},
                        ],
                        "ports": [{"port": 8080, "protocol": "TCP"}],
                    }
                ],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "tls": [{"hosts": [f"{name}.example.com"], "secretName": f"{name}-tls"}],
                "rules": [
                    {
                        "host": f"{name}.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": name, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": f"{name}-sa"}],
        },
    ]
    if _every(i, 4, 1):
        out += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": f"{name}-reader", "labels": labels},
                "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"{name}-reader", "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{name}-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": f"{name}-sa", "namespace": _namespace(i)}],
            },
        ]
    if _every(i, 25, 4):
        out.append(
            {"apiVersion": "bench.example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": 1}}
        )
    for resource in out:
        if resource["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            resource["metadata"]["namespace"] = _namespace(i)
    return out


def _find(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(r for r in resources if r["kind"] == kind)


def _drop(resources: list[dict[str, Any]], kind: str) -> None:
    resources.remove(_find(resources, kind))


def _head_unit(i: int) -> list[dict[str, Any]]:
    """The same application as the head renders it: some of them changed (module docstring)."""
    out = copy.deepcopy(_unit(i))
    workload = out[0]
    pod = workload["spec"]["template"]
    container = pod["spec"]["containers"][0]
    name = f"app{i}"
    if _every(i, 7):
        _find(out, "Service")["spec"]["selector"] = {"app": name, "track": "canary"}
    if _every(i, 5, 1):
        workload["spec"]["replicas"] = 2
        container["image"] = container["image"].replace(":1.", ":2.")
        container["resources"]["limits"]["memory"] = "256Mi"
    if _every(i, 6, 2):
        _find(out, "ConfigMap")["data"]["WORKERS"] = "9"
    if _every(i, 6, 5):
        _find(out, "ConfigMap")["data"]["LOG_FORMAT"] = "text"
        pod["metadata"]["annotations"]["checksum/config"] = f"{i + 1:08x}"
    if _every(i, 11, 3):
        _drop(out, "Secret")
    if _every(i, 15, 12):
        _drop(out, "ServiceAccount")
    if _every(i, 9, 4):
        _find(out, "PodDisruptionBudget")["spec"]["minAvailable"] = "30%"
    if _every(i, 8, 1):
        _find(out, "HorizontalPodAutoscaler")["spec"]["minReplicas"] = 2
    if _every(i, 13, 6):
        _find(out, "NetworkPolicy")["spec"]["ingress"][0]["from"].pop(0)
    if _every(i, 17, 8):
        _drop(out, "NetworkPolicy")
    elif _every(i, 19, 9):
        _find(out, "NetworkPolicy")["spec"]["podSelector"] = {"matchLabels": {"app": f"{name}-gone"}}
    if _every(i, 10, 7):
        _find(out, "Role")["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
        _find(out, "RoleBinding")["subjects"].append({"kind": "ServiceAccount", "name": "default"})
    if _every(i, 12, 9):
        del container["readinessProbe"]
    if _every(i, 16, 11):
        container["securityContext"] = {"privileged": True, "runAsNonRoot": False}
    if _every(i, 20, 13):
        _find(out, "Service")["spec"]["type"] = "LoadBalancer"
    if _every(i, 14, 10):
        workload["metadata"]["name"] = f"{name}-v2"
        _find(out, "PersistentVolumeClaim")["metadata"]["name"] = f"{name}-data-v2"
        pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = f"{name}-data-v2"
    if _every(i, 23, 15):
        _find(out, "ConfigMap")["metadata"]["namespace"] = NAMESPACES[(i + 1) % len(NAMESPACES)]
    if _every(i, 18, 14):
        binding = _find(out, "RoleBinding")
        binding["kind"] = "ClusterRoleBinding"
        del binding["metadata"]["namespace"]
    if _every(i, 25, 4):
        widget = _find(out, "Widget")
        widget["kind"], widget["apiVersion"] = "Gadget", "gadgets.example.com/v1"
    if _every(i, 4, 2):
        extra = copy.deepcopy(_find(out, "ConfigMap"))
        extra["metadata"]["name"] = f"{name}-extra"
        out.append(extra)
    if i in SINGLE_POINTS:
        workload["spec"]["replicas"] = 1
        _drop(out, "PodDisruptionBudget")
        _drop(out, "HorizontalPodAutoscaler")
    return out


def _extras(units: int, head: bool) -> list[dict[str, Any]]:
    """What the range template renders: two ConfigMaps per application, the second of which
    both of the template's parts could have written (its name fits either)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"extra{i}{suffix}", "namespace": _namespace(i)},
            "data": {"setting": f"value{i}{suffix}" + ("-new" if head and _every(i, 9, 2) else "")},
        }
        for i in range(units)
        for suffix in ("", "-defaults")
    ]


def _template_text(resources: list[dict[str, Any]]) -> str:
    return "".join("---\n" + yaml.dump(r, Dumper=yaml.CSafeDumper, sort_keys=False) for r in resources)


@dataclass(frozen=True, slots=True)
class Render:
    """One side as Helm would hand it over: the parsed output, and the chart's files."""

    rendered: RenderedChart
    files: dict[str, bytes]
    head: bool


def render(units: int, *, head: bool) -> Render:
    """The chart of `units` applications, as the base (or the head) renders it."""
    files: dict[str, bytes] = {
        f"{CHART}/Chart.yaml": f"apiVersion: v2\nname: {CHART}\nversion: {_version(head)}\n".encode(),
        f"{CHART}/values.yaml": (VALUES.replace("info", "debug") if head else VALUES).encode(),
        EXTRAS_TEMPLATE: EXTRAS_TEXT.encode(),
    }
    templates: dict[str, list[ParsedDocument]] = {}
    for i in range(units):
        path = f"{CHART}/templates/app{i}.yaml"
        text = _template_text(_head_unit(i) if head else _unit(i))
        files[path] = text.encode()
        templates[path] = parse_template(path, text)
    templates[EXTRAS_TEMPLATE] = [(index, 1, obj) for index, obj in enumerate(_extras(units, head))]
    return Render(RenderedChart(templates=templates), files, head)


def _version(head: bool) -> str:
    return "1.1.0" if head else "1.0.0"


def side(output: Render, *, fingerprint_key: bytes = b"synthetic") -> ChartSide:
    """The side the engine would build from that output: identities, and normalization of two
    renders (the same output twice, as a deterministic chart renders)."""
    first = parse_rendered(output.rendered, namespace="default")
    second = parse_rendered(copy.deepcopy(output.rendered), namespace="default")
    resources, rules = normalize_side(first, second, NormalizeOptions(), fingerprint_key=fingerprint_key)
    info = ChartInfo(path=CHART, name=CHART, version=_version(output.head), dependencies=())
    values = output.files[f"{CHART}/values.yaml"].decode()
    return ChartSide(
        resources={r.id: r for r in resources},
        chart=MaterializedChart(directory=Path(CHART), info=info, files=output.files),
        values=(ValuesSource(f"{CHART}/values.yaml", f"charts/{CHART}/values.yaml", values),),
        rules=rules,
    )


def synthetic_sides(units: int) -> tuple[ChartSide, ChartSide]:
    """Both sides of the chart of `units` applications, ready for the core's chart report."""
    return side(render(units, head=False)), side(render(units, head=True))
