"""Kubernetes knowledge shared by detectors: pod templates, containers, security contexts,
quantities, image references and int-or-percent values.

Everything here reads plain resource bodies and never raises on odd shapes: a chart can render
anything, and a detector must not crash on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..model import PathToken, Resource
from ..semver import Version

# Where the pod template (its `metadata` and `spec`) lives in each pod-bearing kind.
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "Rollout": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_KINDS = frozenset({*POD_TEMPLATE_PATHS, "Pod"})
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def get(node: Any, *path: PathToken) -> Any:
    """The value at `path`, or None when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return None
        elif not isinstance(node, dict):
            return None
        node = node[step] if isinstance(step, int) else node.get(step)
    return node


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """A pod spec and where it sits in its resource."""

    spec: dict[str, Any]
    metadata: dict[str, Any]
    spec_path: tuple[str, ...]

    def display(self, *rest: str) -> str:
        return ".".join((*self.spec_path, *rest))


def pod_template(resource: Resource | None) -> PodTemplate | None:
    if resource is None:
        return None
    kind = resource.id.kind
    if kind == "Pod":
        spec = resource.body.get("spec")
        meta = resource.body.get("metadata")
        return PodTemplate(as_dict(spec), as_dict(meta), ("spec",)) if isinstance(spec, dict) else None
    path = POD_TEMPLATE_PATHS.get(kind)
    if path is None:
        return None
    template = get(resource.body, *path)
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return None
    return PodTemplate(template["spec"], as_dict(template.get("metadata")), (*path, "spec"))


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a pod template, with its effective security context."""

    name: str
    list_name: str
    index: int
    body: dict[str, Any]
    pod: PodTemplate

    @property
    def path(self) -> tuple[PathToken, ...]:
        return (*self.pod.spec_path, self.list_name, self.index)

    def display(self, *rest: str) -> str:
        base = self.pod.display(f"{self.list_name}[name={self.name}]")
        return ".".join((base, *rest)) if rest else base

    def security(self, field: str) -> Any:
        """The effective value: the container's securityContext over the pod's."""
        own = as_dict(self.body.get("securityContext"))
        if field in own:
            return own[field]
        if field in POD_LEVEL_SECURITY_FIELDS:
            return as_dict(self.pod.spec.get("securityContext")).get(field)
        return None

    @property
    def kind_word(self) -> str:
        return {
            "initContainers": "init container",
            "ephemeralContainers": "ephemeral container",
        }.get(self.list_name, "container")


# Fields a pod-level securityContext provides to its containers.
POD_LEVEL_SECURITY_FIELDS = frozenset(
    {
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "seLinuxOptions",
        "seccompProfile",
        "appArmorProfile",
        "windowsOptions",
    }
)


def containers(resource: Resource | None) -> dict[tuple[str, str], Container]:
    """Containers by (list, name): `containers`, `initContainers` and `ephemeralContainers`."""
    pod = pod_template(resource)
    if pod is None:
        return {}
    found: dict[tuple[str, str], Container] = {}
    for list_name in CONTAINER_LISTS:
        for index, body in enumerate(as_list(pod.spec.get(list_name))):
            if isinstance(body, dict) and isinstance(body.get("name"), str):
                found.setdefault((list_name, body["name"]), Container(body["name"], list_name, index, body, pod))
    return found


def container_pairs(
    base: Resource | None, head: Resource | None
) -> Iterator[tuple[Container | None, Container | None]]:
    """Containers matched by name across both sides, in head order then removed ones."""
    old, new = containers(base), containers(head)
    for key, container in new.items():
        yield old.get(key), container
    for key, container in old.items():
        if key not in new:
            yield container, None


# --- quantities -----------------------------------------------------------------------------

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (`500m`, `1Gi`, `2`, `1e3`) as a number; None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(str(value)) if math.isfinite(value) else None
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]
    except InvalidOperation:
        return None


# --- int-or-percent ---------------------------------------------------------------------------


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int | None:
    """`25%` of `total` (rounded as Kubernetes rounds for the field) or the integer itself."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            share = Decimal(text[:-1]) * total / 100
        except InvalidOperation:
            return None
        return int(share.to_integral_value(rounding="ROUND_CEILING" if round_up else "ROUND_FLOOR"))
    return int(text) if text.isdigit() else None


# --- images ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def version(self) -> Version | None:
        return Version.parse(self.tag) if self.tag else None


def parse_image(reference: Any) -> ImageRef | None:
    """`ghcr.io/org/app:1.2@sha256:…` → registry, repository, tag, digest (Docker's rules)."""
    if not isinstance(reference, str) or not reference.strip():
        return None
    rest = reference.strip()
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, remainder
    else:
        registry, repository = "docker.io", rest
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(registry, repository, tag, digest)


def replicas_of(resource: Resource | None) -> int | None:
    """Declared replicas; Kubernetes defaults an absent field to 1."""
    if resource is None or resource.id.kind not in SCALABLE_KINDS:
        return None
    value = get(resource.body, "spec", "replicas")
    if value is None:
        return 1
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def labels_match(selector: Any, labels: Any) -> bool:
    """Whether a label selector (matchLabels/matchExpressions, or a Service's map) selects labels."""
    if not isinstance(selector, dict) or not selector:
        return False
    labels = as_dict(labels)
    if "matchLabels" in selector or "matchExpressions" in selector:
        if not all(labels.get(k) == v for k, v in as_dict(selector.get("matchLabels")).items()):
            return False
        return all(_expression(e, labels) for e in as_list(selector.get("matchExpressions")))
    return all(labels.get(k) == v for k, v in selector.items())


def _expression(expression: Any, labels: dict[str, Any]) -> bool:
    if not isinstance(expression, dict):
        return False
    key, operator = str(expression.get("key")), expression.get("operator")
    values = as_list(expression.get("values"))
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False
