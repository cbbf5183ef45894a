"""A large, reproducible chart pair for benchmarks (seeded; nothing here is committed output).

~300 resources per 300 of `size` (289 at 300, 2,890 at 3,000): Deployments, StatefulSets,
Services, ConfigMaps, Secrets, RBAC, Ingresses, and CustomResourceDefinitions of several hundred
KB each, in the same proportions at every size, so that a time per resource compares across
sizes. The head chart changes about 5% of the leaf fields, reorders some lists (containers, env,
ports, RBAC verbs), and adds and removes a few resources. At size 300 the pair is the one every
earlier figure was measured on (same seed, same draws).

Each resource is a template file of its own, so no file comes near Helm's 5 MB limit on one
chart file (the largest, a CRD, is under 0.5 MB); `write_chart` refuses to write one that would.
"""

from __future__ import annotations

import copy
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEED = 20261126
SIZES = (300, 3000)
# Helm's loader refuses a chart file larger than this (MaxDecompressedFileSize).
HELM_FILE_LIMIT = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Pair:
    size: int
    base_dir: Path
    head_dir: Path
    base: list[dict[str, Any]]
    head: list[dict[str, Any]]
    largest_file: int  # bytes, of either chart
    chart_bytes: int  # all files of the head chart


def _words(rng: random.Random, n: int) -> str:
    return "-".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma"]) for _ in range(n))


def _version(rng: random.Random) -> str:
    return f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"


def _deployment(rng: random.Random, i: int, kind: str = "Deployment") -> dict[str, Any]:
    containers = []
    for c in range(rng.randint(1, 3)):
        containers.append(
            {
                "name": f"c{c}-{_words(rng, 1)}",
                "image": f"registry.example.com/team{i % 7}/app{i}:{_version(rng)}",
                "args": [f"--flag{k}={rng.randint(0, 100)}" for k in range(rng.randint(2, 6))],
                "env": [{"name": f"VAR_{k}", "value": _words(rng, 2)} for k in range(rng.randint(5, 25))],
                "ports": [{"name": f"p{k}", "containerPort": 8000 + k} for k in range(rng.randint(1, 3))],
                "resources": {
                    "requests": {
                        "cpu": f"{rng.randint(1, 9) * 100}m",
                        "memory": f"{rng.randint(1, 8) * 128}Mi",
                    },
                    "limits": {"cpu": str(rng.randint(1, 4)), "memory": f"{rng.randint(1, 8)}Gi"},
                },
                "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": 8000},
                    "periodSeconds": rng.randint(5, 30),
                },
                "volumeMounts": [{"name": f"v{k}", "mountPath": f"/data/{k}"} for k in range(rng.randint(1, 4))],
                "securityContext": {
                    "runAsNonRoot": True,
                    "readOnlyRootFilesystem": rng.random() < 0.5,
                },
            }
        )
    spec: dict[str, Any] = {
        "replicas": rng.randint(1, 5),
        "selector": {"matchLabels": {"app": f"app{i}"}},
        "template": {
            "metadata": {
                "labels": {"app": f"app{i}"},
                "annotations": {"checksum/config": f"{rng.getrandbits(128):032x}"},
            },
            "spec": {
                "containers": containers,
                "volumes": [{"name": f"v{k}", "emptyDir": {}} for k in range(4)],
                "tolerations": [
                    {"key": f"k{k}", "operator": "Exists", "effect": "NoSchedule"} for k in range(rng.randint(0, 3))
                ],
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = f"app{i}"
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": f"app{i}", "labels": {"app": f"app{i}"}},
        "spec": spec,
    }


def _schema(rng: random.Random, depth: int) -> dict[str, Any]:
    """An OpenAPI schema shaped like real CRDs: nested properties, enums, anyOf, list keys."""
    if depth == 0:
        leaf: dict[str, Any] = {
            "type": rng.choice(["string", "integer", "boolean"]),
            "description": _words(rng, 8),
        }
        if leaf["type"] == "string" and rng.random() < 0.3:
            leaf["enum"] = [_words(rng, 1) + str(k) for k in range(rng.randint(2, 6))]
        elif leaf["type"] == "integer" and rng.random() < 0.3:
            leaf["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            leaf["x-kubernetes-int-or-string"] = True
        return leaf
    if rng.random() < 0.15:
        return {
            "type": "array",
            "description": _words(rng, 6),
            "items": _schema(rng, depth - 1),
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        }
    return {
        "type": "object",
        "description": _words(rng, 6),
        "properties": {f"field{k}_{_words(rng, 1)}": _schema(rng, depth - 1) for k in range(rng.randint(3, 5))},
        "required": [f"field{k}" for k in range(2)],
    }


def _crd(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets{i}.bench.example.com"},
        "spec": {
            "group": "bench.example.com",
            "scope": "Namespaced",
            "names": {"kind": f"Widget{i}", "plural": f"widgets{i}"},
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": v == "v1",
                    "schema": {"openAPIV3Schema": _schema(rng, 5)},
                }
                for v in ("v1alpha1", "v1")
            ],
        },
    }


def base_resources(rng: random.Random, scale: int = 1) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for i in range(60 * scale):
        resources.append(_deployment(rng, i, "StatefulSet" if i % 10 == 0 else "Deployment"))
        resources.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"app{i}"},
                "spec": {
                    "selector": {"app": f"app{i}"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8000}],
                },
            }
        )
        resources.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"app{i}-config"},
                "data": {f"key{k}": _words(rng, 5) for k in range(rng.randint(5, 30))},
            }
        )
    for i in range(40 * scale):
        resources.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"role{i}"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "configmaps"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            }
        )
        resources.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"secret{i}"},
                "data": {"password": f"{rng.getrandbits(96):024x}"},
            }
        )
    for i in range(25 * scale):
        resources.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": f"ing{i}"},
                "spec": {
                    "rules": [
                        {
                            "host": f"h{i}.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": f"app{i}", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            }
        )
    for i in range(4 * scale):
        resources.append(_crd(rng, i))
    return resources


def _leaf_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaf_paths(v, (*path, i))]
    return [path]


def head_resources(rng: random.Random, base: list[dict[str, Any]], scale: int = 1) -> list[dict[str, Any]]:
    head = copy.deepcopy(base)
    for obj in head:
        leaves = [p for p in _leaf_paths(obj) if p[:2] != ("metadata", "name") and p[0] not in ("apiVersion", "kind")]
        for path in rng.sample(leaves, max(1, len(leaves) // 20)):
            target = obj
            for step in path[:-1]:
                target = target[step]
            value = target[path[-1]]
            if isinstance(value, bool):
                target[path[-1]] = not value
            elif isinstance(value, int):
                target[path[-1]] = value + rng.randint(1, 3)
            else:
                target[path[-1]] = f"{value}-changed"
        pod = obj.get("spec", {}).get("template", {}).get("spec")
        if pod and rng.random() < 0.3:
            rng.shuffle(pod["containers"])
            for container in pod["containers"]:
                rng.shuffle(container["env"])
                rng.shuffle(container["ports"])
        if obj["kind"] == "Role" and rng.random() < 0.5:
            rng.shuffle(obj["rules"][0]["verbs"])
    removed = {id(obj) for obj in head if obj["kind"] == "ConfigMap" and rng.random() < 0.05}
    head = [obj for obj in head if id(obj) not in removed]
    for i in range(5 * scale):  # numbered above every base Deployment (60 per scale)
        head.append(_deployment(rng, 1000 * scale + i))
    return head


def write_chart(directory: Path, name: str, resources: list[dict[str, Any]]) -> tuple[int, int]:
    """Each resource as a YAML template (nothing in it looks like a template action). Answers
    (largest file, all files) in bytes."""
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n")
    largest = total = 0
    for index, obj in enumerate(resources):
        kind = obj["kind"].lower()
        text = yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=False, width=4096)
        if len(text.encode()) >= HELM_FILE_LIMIT:
            raise ValueError(f"template {index} ({kind}) would exceed Helm's 5 MB chart-file limit")
        (directory / "templates" / f"{index:04d}-{kind}.yaml").write_text(text)
        largest, total = max(largest, len(text.encode())), total + len(text.encode())
    return largest, total


def generate(work: Path, size: int = 300) -> Pair:
    """The pair of `size` (about that many resources) under work/<size>/, base and head."""
    scale = max(1, round(size / 300))
    rng = random.Random(SEED if scale == 1 else SEED + scale)
    base = base_resources(rng, scale)
    head = head_resources(rng, base, scale)
    root = work / str(size)
    base_largest, _ = write_chart(root / "base" / "bench", "bench", base)
    head_largest, head_bytes = write_chart(root / "head" / "bench", "bench", head)
    return Pair(
        size, root / "base" / "bench", root / "head" / "bench", base, head, max(base_largest, head_largest), head_bytes
    )
