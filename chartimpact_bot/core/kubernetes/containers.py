"""Containers of a pod template, in all three lists, with their effective security context."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..model import Resource
from .bodies import as_dict, as_list
from .paths import FieldPath, item
from .workloads import PodTemplate, pod_template

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# Fields a pod-level securityContext provides to its containers.
POD_LEVEL_SECURITY_FIELDS = frozenset(
    {"runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile", "appArmorProfile", "windowsOptions"}
)
_KIND_WORDS = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a pod template."""

    name: str
    list_name: str
    body: dict[str, Any]
    pod: PodTemplate

    @property
    def path(self) -> FieldPath:
        """`spec.template.spec.containers[name=web]`."""
        return (*self.pod.spec_path, self.list_name, item(name=self.name))

    def security(self, field: str) -> Any:
        """The effective value: the container's securityContext over the pod's."""
        own = as_dict(self.body.get("securityContext"))
        if field in own:
            return own[field]
        if field in POD_LEVEL_SECURITY_FIELDS:
            return as_dict(self.pod.spec.get("securityContext")).get(field)
        return None

    def profile_type(self, field: str) -> str | None:
        """The effective `type` of a profile field (seccompProfile, appArmorProfile)."""
        value = as_dict(self.security(field)).get("type")
        return str(value) if value is not None else None

    @property
    def kind_word(self) -> str:
        return _KIND_WORDS.get(self.list_name, "container")


def containers(resource: Resource | None) -> dict[tuple[str, str], Container]:
    """Containers by (list, name): `containers`, `initContainers` and `ephemeralContainers`."""
    pod = pod_template(resource)
    if pod is None:
        return {}
    found: dict[tuple[str, str], Container] = {}
    for list_name in CONTAINER_LISTS:
        for body in as_list(pod.spec.get(list_name)):
            if isinstance(body, dict) and isinstance(body.get("name"), str):
                found.setdefault((list_name, body["name"]), Container(body["name"], list_name, body, pod))
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
