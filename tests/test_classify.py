"""Semantic classification of changes."""

from __future__ import annotations

import pytest

from chartimpact_bot.core.classify import classify, generic_path
from chartimpact_bot.core.diff import FieldChange
from chartimpact_bot.core.model import PathToken, Resource, ResourceId


def _classify(kind: str, path: tuple[PathToken, ...], op: str = "replace", hook: str | None = None):
    resource = Resource(ResourceId("", kind, "default", "x"), "v1", {}, "c/t.yaml", 0, hook=hook)
    return classify(resource, FieldChange(op, path, "", 1, 2))  # type: ignore[arg-type]


def test_generic_paths_fold_every_pod_spec() -> None:
    assert generic_path("Deployment", ("spec", "template", "spec", "containers", 0, "image")) == "@pod.containers.image"
    assert generic_path("CronJob", ("spec", "jobTemplate", "spec", "template", "spec", "volumes", 1)) == "@pod.volumes"
    assert generic_path("Pod", ("spec", "hostNetwork")) == "@pod.hostNetwork"
    assert generic_path("StatefulSet", ("spec", "template", "metadata", "labels", "a")) == "@podmeta.labels.a"
    assert generic_path("Service", ("spec", "ports", 0, "port")) == "spec.ports.port"


@pytest.mark.parametrize(
    ("kind", "path", "semantic", "category", "importance", "flags"),
    [
        (
            "Deployment",
            ("spec", "template", "spec", "containers", 0, "image"),
            "container.image",
            "workload",
            "medium",
            {"rollout-trigger", "runtime-impact"},
        ),
        (
            "CronJob",
            ("spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "image"),
            "container.image",
            "workload",
            "medium",
            {"runtime-impact"},
        ),
        ("Deployment", ("spec", "replicas"), "replicas", "scaling", "medium", {"scaling-change"}),
        (
            "Deployment",
            ("spec", "selector", "matchLabels", "app"),
            "selector",
            "workload",
            "high",
            {"immutable-field"},
        ),
        (
            "Deployment",
            ("spec", "template", "metadata", "annotations", "checksum/config"),
            "checksum-annotation",
            "configuration",
            "low",
            {"rollout-trigger"},
        ),
        (
            "DaemonSet",
            ("spec", "template", "spec", "hostNetwork"),
            "pod.hostNamespace",
            "security",
            "high",
            {"rollout-trigger", "runtime-impact"},
        ),
        ("Service", ("spec", "type"), "service.type", "networking", "high", set()),
        ("Service", ("spec", "selector", "app"), "service.selector", "networking", "high", set()),
        ("ClusterRole", ("rules", 0, "verbs", 1), "rbac.rule", "rbac", "high", set()),
        (
            "Secret",
            ("data", "password"),
            "secret.data",
            "configuration",
            "medium",
            {"runtime-impact", "sensitive"},
        ),
        (
            "HorizontalPodAutoscaler",
            ("spec", "minReplicas"),
            "hpa.replicas",
            "scaling",
            "medium",
            {"scaling-change"},
        ),
        ("ConfigMap", ("metadata", "labels", "team"), "label", "metadata", "low", set()),
        ("Widget", ("spec", "size"), "field", "other", "low", set()),
        # A CRD's descriptions are documentation; its schema and its versions are not.
        (
            "CustomResourceDefinition",
            ("spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "description"),
            "crd.description",
            "api",
            "low",
            set(),
        ),
        (
            "CustomResourceDefinition",
            ("spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "description"),
            "crd.schema",
            "api",
            "medium",
            set(),
        ),
        ("CustomResourceDefinition", ("spec", "versions", 0, "served"), "crd.version", "api", "high", set()),
    ],
)
def test_rules(
    kind: str,
    path: tuple[PathToken, ...],
    semantic: str,
    category: str,
    importance: str,
    flags: set[str],
) -> None:
    change = _classify(kind, path)
    assert (change.semantic_type, change.change_category, change.importance, set(change.flags)) == (
        semantic,
        category,
        importance,
        flags,
    )


def test_removed_readiness_probe_is_high_and_hooks_are_flagged() -> None:
    path = ("spec", "template", "spec", "containers", 0, "readinessProbe")
    assert _classify("Deployment", path, op="remove").importance == "high"
    assert _classify("Deployment", path, op="add").importance == "medium"
    assert "hook" in _classify("Job", ("spec", "backoffLimit"), hook="pre-upgrade").flags
