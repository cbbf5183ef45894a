"""Semantic classification of each change: what the field is, what it affects, how much.

Paths are matched in a kind-independent form: the pod spec of every pod-bearing kind becomes
`@pod`, its template metadata `@podmeta`, and list indexes are dropped, so one rule covers a
container image in a Deployment, a CronJob or an Argo Rollout alike.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, replace

from .diff import FieldChange
from .kubernetes.workloads import POD_SPEC_PATHS, ROLLING_KINDS, WORKLOAD_KINDS
from .model import Change, Importance, PathToken, Resource


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    semantic_type: str
    category: str
    importance: Importance
    flags: tuple[str, ...] = ()
    kinds: frozenset[str] | None = None


def _r(
    pattern: str,
    semantic_type: str,
    category: str,
    importance: Importance,
    *flags: str,
    kinds: set[str] | None = None,
) -> Rule:
    return Rule(pattern, semantic_type, category, importance, flags, frozenset(kinds) if kinds else None)


def _only(kinds: set[str], *rules: Rule) -> tuple[Rule, ...]:
    """Rules for these kinds only."""
    return tuple(replace(rule, kinds=frozenset(kinds)) for rule in rules)


_CONTAINERS = "@pod.{containers,initContainers,ephemeralContainers}"


def _expand(pattern: str) -> list[str]:
    if "{" not in pattern:
        return [pattern]
    head, _, rest = pattern.partition("{")
    options, _, tail = rest.partition("}")
    return [p for option in options.split(",") for p in _expand(head + option + tail)]


def _metadata(prefix: str, type_prefix: str) -> tuple[Rule, ...]:
    """Labels and annotations, of a resource (`metadata`) or of its pod template (`@podmeta`)."""
    return (
        _r(f"{prefix}.annotations.checksum/*", "checksum-annotation", "configuration", "low"),
        _r(f"{prefix}.labels*", f"{type_prefix}label", "metadata", "low"),
        _r(f"{prefix}.annotations*", f"{type_prefix}annotation", "metadata", "low"),
        _r(f"{prefix}*", f"{type_prefix}metadata", "metadata", "low"),
    )


# First match wins. Patterns are fnmatch globs over the dotted generic path.
RULES: tuple[Rule, ...] = (
    # containers
    _r("@pod.initContainers", "initContainer", "workload", "medium", "runtime-impact"),
    _r("@pod.{containers,ephemeralContainers}", "container", "workload", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.image", "container.image", "workload", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.imagePullPolicy", "container.imagePullPolicy", "workload", "low"),
    _r(f"{_CONTAINERS}.{{command,args}}*", "container.command", "workload", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.{{env,envFrom}}*", "container.env", "configuration", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.resources.limits*", "container.resources.limits", "resources", "medium", "runtime-impact"),
    _r(
        f"{_CONTAINERS}.resources.requests*", "container.resources.requests", "resources", "medium", "scheduling-impact"
    ),
    _r(f"{_CONTAINERS}.resources*", "container.resources", "resources", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.readinessProbe*", "container.probe.readiness", "probes", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.livenessProbe*", "container.probe.liveness", "probes", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.startupProbe*", "container.probe.startup", "probes", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.securityContext*", "container.securityContext", "security", "high", "runtime-impact"),
    _r(f"{_CONTAINERS}.ports*", "container.port", "networking", "medium"),
    _r(f"{_CONTAINERS}.volumeMounts*", "container.volumeMount", "storage", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.lifecycle*", "container.lifecycle", "workload", "medium", "runtime-impact"),
    _r(f"{_CONTAINERS}.*", "container.field", "workload", "low"),
    # pod spec
    _r("@pod.securityContext*", "pod.securityContext", "security", "high", "runtime-impact"),
    _r("@pod.{hostNetwork,hostPID,hostIPC,hostUsers}", "pod.hostNamespace", "security", "high", "runtime-impact"),
    _r("@pod.volumes.hostPath*", "pod.volume.hostPath", "security", "high", "runtime-impact"),
    _r("@pod.volumes*", "pod.volume", "storage", "medium", "runtime-impact"),
    _r(
        "@pod.{serviceAccountName,serviceAccount,automountServiceAccountToken}",
        "pod.serviceAccount",
        "security",
        "medium",
    ),
    _r(
        "@pod.{nodeSelector,affinity,tolerations,topologySpreadConstraints,priorityClassName,nodeName,schedulerName}*",
        "pod.scheduling",
        "scheduling",
        "medium",
        "scheduling-impact",
    ),
    _r("@pod.terminationGracePeriodSeconds", "pod.termination", "workload", "low"),
    _r("@pod.imagePullSecrets*", "pod.imagePullSecrets", "configuration", "low"),
    _r("@pod.*", "pod.field", "workload", "low"),
    *_metadata("@podmeta", "pod."),
    # workload controllers
    _r("spec.replicas", "replicas", "scaling", "medium", "scaling-change"),
    _r("spec.selector*", "selector", "workload", "high", "immutable-field", kinds=set(WORKLOAD_KINDS)),
    _r("spec.{strategy,updateStrategy}*", "rollout.strategy", "workload", "medium"),
    _r("spec.{minReadySeconds,progressDeadlineSeconds,revisionHistoryLimit}", "rollout.timing", "workload", "low"),
    _r("spec.volumeClaimTemplates*", "storage.claimTemplate", "storage", "high", "immutable-field"),
    *_only(
        {"StatefulSet"},
        _r("spec.{serviceName,podManagementPolicy}", "statefulset.identity", "workload", "high", "immutable-field"),
        _r("spec.persistentVolumeClaimRetentionPolicy*", "storage.retention", "storage", "high"),
    ),
    _r(
        "spec.{schedule,suspend,concurrencyPolicy,timeZone}",
        "cronjob.schedule",
        "workload",
        "medium",
        kinds={"CronJob"},
    ),
    # autoscaling and disruption
    *_only(
        {"HorizontalPodAutoscaler"},
        _r("spec.{minReplicas,maxReplicas}", "hpa.replicas", "scaling", "medium", "scaling-change"),
        _r("spec.scaleTargetRef*", "hpa.target", "scaling", "high", "scaling-change"),
        _r("spec.*", "hpa.policy", "scaling", "medium", "scaling-change"),
    ),
    *_only(
        {"PodDisruptionBudget"},
        _r("spec.{minAvailable,maxUnavailable}", "pdb.budget", "availability", "medium"),
        _r("spec.*", "pdb.field", "availability", "medium"),
    ),
    # networking
    *_only(
        {"Service"},
        _r("spec.type", "service.type", "networking", "high"),
        _r(
            "spec.{clusterIP,clusterIPs,loadBalancerClass}*",
            "service.clusterIP",
            "networking",
            "high",
            "immutable-field",
        ),
        _r("spec.{externalIPs,loadBalancerSourceRanges,loadBalancerIP}*", "service.exposure", "networking", "high"),
        _r("spec.selector*", "service.selector", "networking", "high"),
        _r("spec.ports*", "service.port", "networking", "medium"),
        _r("spec.*", "service.field", "networking", "low"),
    ),
    _r("spec.rules*", "ingress.rule", "networking", "medium", kinds={"Ingress", "HTTPRoute"}),
    _r("spec.tls*", "ingress.tls", "networking", "medium", kinds={"Ingress"}),
    _r("spec.*", "ingress.field", "networking", "medium", kinds={"Ingress", "HTTPRoute"}),
    _r("spec*", "networkPolicy", "security", "high", kinds={"NetworkPolicy"}),
    # rbac
    _r("rules*", "rbac.rule", "rbac", "high", kinds={"Role", "ClusterRole"}),
    _r("aggregationRule*", "rbac.aggregation", "rbac", "high", kinds={"ClusterRole"}),
    _r("roleRef*", "rbac.roleRef", "rbac", "high", "immutable-field", kinds={"RoleBinding", "ClusterRoleBinding"}),
    _r("subjects*", "rbac.subject", "rbac", "high", kinds={"RoleBinding", "ClusterRoleBinding"}),
    _r("automountServiceAccountToken", "serviceAccount.automount", "security", "medium", kinds={"ServiceAccount"}),
    # configuration and storage
    _r("{data,binaryData}*", "config.data", "configuration", "medium", "runtime-impact", kinds={"ConfigMap"}),
    _r("{data,stringData}*", "secret.data", "configuration", "medium", "runtime-impact", "sensitive", kinds={"Secret"}),
    _r("type", "secret.type", "configuration", "high", "immutable-field", kinds={"Secret"}),
    _r("immutable", "config.immutable", "configuration", "medium", kinds={"ConfigMap", "Secret"}),
    *_only(
        {"PersistentVolumeClaim"},
        _r("spec.resources.requests*", "storage.size", "storage", "medium"),
        _r("spec*", "storage.claim", "storage", "high", "immutable-field"),
    ),
    _r("spec*", "storage.volume", "storage", "high", kinds={"PersistentVolume"}),
    _r("*", "storage.class", "storage", "high", "immutable-field", kinds={"StorageClass"}),
    *_only(
        {"CustomResourceDefinition"},
        _r("spec.versions.schema*", "crd.schema", "api", "medium"),
        _r("spec.versions.additionalPrinterColumns*", "crd.printerColumns", "api", "low"),
        _r("spec.versions*", "crd.version", "api", "high"),
        _r("spec*", "crd.schema", "api", "medium"),
    ),
    _r("{rules,limits,spec}*", "quota", "resources", "medium", kinds={"ResourceQuota", "LimitRange"}),
    # metadata
    _r("apiVersion", "apiVersion", "api", "medium"),
    _r("metadata.namespace", "namespace", "metadata", "medium"),
    _r("metadata.annotations.helm.sh/hook*", "hook", "metadata", "medium"),
    _r("metadata.annotations.helm.sh/resource-policy", "resource-policy", "storage", "medium"),
    *_metadata("metadata", ""),
)

_EXPANDED: tuple[tuple[re.Pattern[str], Rule], ...] = tuple(
    (re.compile(fnmatch.translate(pattern)), rule) for rule in RULES for pattern in _expand(rule.pattern)
)

KIND_CATEGORY: dict[str, str] = {
    **dict.fromkeys(POD_SPEC_PATHS, "workload"),
    "Service": "networking",
    "Ingress": "networking",
    "HTTPRoute": "networking",
    "NetworkPolicy": "security",
    "Role": "rbac",
    "ClusterRole": "rbac",
    "RoleBinding": "rbac",
    "ClusterRoleBinding": "rbac",
    "ServiceAccount": "security",
    "ConfigMap": "configuration",
    "Secret": "configuration",
    "PersistentVolumeClaim": "storage",
    "PersistentVolume": "storage",
    "StorageClass": "storage",
    "HorizontalPodAutoscaler": "scaling",
    "PodDisruptionBudget": "availability",
    "CustomResourceDefinition": "api",
}


def generic_path(kind: str, path: tuple[PathToken, ...]) -> str:
    """The dotted path with list indexes dropped and the pod spec folded to `@pod`."""
    names = [str(t) for t in path if not isinstance(t, int)]
    pod = POD_SPEC_PATHS.get(kind)
    if pod is not None:
        if tuple(names[: len(pod)]) == pod:
            names = ["@pod", *names[len(pod) :]]
        elif (
            len(pod) > 1 and tuple(names[: len(pod) - 1]) == pod[:-1] and names[len(pod) - 1 : len(pod)] == ["metadata"]
        ):
            names = ["@podmeta", *names[len(pod) :]]
    return ".".join(names)


def classify(resource: Resource, change: FieldChange) -> Change:
    kind = resource.id.kind
    flags: set[str] = set()
    if resource.hook:
        flags.add("hook")
    if resource.install_only:
        flags.add("install-only")
    importance: Importance
    if not change.path:
        return _change(change, "resource", KIND_CATEGORY.get(kind, "other"), "medium", flags)
    path = generic_path(kind, change.path)
    rule = _DESCRIPTION if kind == "CustomResourceDefinition" and _describes(change.path) else _match(kind, path)
    if rule is None:
        semantic, category, importance = "field", KIND_CATEGORY.get(kind, "other"), "low"
    else:
        semantic, category, importance = rule.semantic_type, rule.category, rule.importance
        flags.update(rule.flags)
    if kind in ROLLING_KINDS and path.startswith(("@pod", "@podmeta")):
        flags.add("rollout-trigger")
    if semantic == "container.probe.readiness" and change.op == "remove":
        importance = "high"
    return _change(change, semantic, category, importance, flags)


# A CRD's `description` fields (of its schema and printer columns) are documentation: changing
# their words changes what `kubectl explain` prints, not what the API accepts or stores.
_DESCRIPTION = _r("", "crd.description", "api", "low")


def _describes(path: tuple[PathToken, ...]) -> bool:
    """Whether the change is to a `description` text, not to a property named "description"
    (`properties.description` is a field's schema)."""
    return bool(path) and path[-1] == "description" and (len(path) < 2 or path[-2] != "properties")


@functools.lru_cache(maxsize=256)
def _rules_for(kind: str) -> tuple[tuple[re.Pattern[str], Rule], ...]:
    return tuple(item for item in _EXPANDED if item[1].kinds is None or kind in item[1].kinds)


@functools.lru_cache(maxsize=65536)
def _match(kind: str, path: str) -> Rule | None:
    for pattern, rule in _rules_for(kind):
        if pattern.match(path):
            return rule
    return None


def _change(change: FieldChange, semantic: str, category: str, importance: Importance, flags: set[str]) -> Change:
    return Change(
        op=change.op,
        path_tokens=change.path,
        display_path=change.display_path,
        before=change.before,
        after=change.after,
        semantic_type=semantic,
        change_category=category,
        importance=importance,
        flags=tuple(sorted(flags)),
    )
