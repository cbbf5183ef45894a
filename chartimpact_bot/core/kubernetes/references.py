"""What a pod uses by name: ConfigMaps and Secrets (environment, envFrom, volumes, projected
volumes), PersistentVolumeClaims and its ServiceAccount."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .bodies import as_dict, as_list
from .workloads import PodTemplate

CONFIG_KINDS = frozenset({"ConfigMap", "Secret"})
# Where each kind is named: an env var's valueFrom, an envFrom entry, a volume (and the field
# holding the name there), a projected volume's source.
_ENV_KEY_REFS = (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret"))
_ENV_FROM_REFS = (("configMapRef", "ConfigMap"), ("secretRef", "Secret"))
_VOLUME_REFS = (("configMap", "name", "ConfigMap"), ("secret", "secretName", "Secret"))
_PROJECTED_REFS = (("configMap", "ConfigMap"), ("secret", "Secret"))


@dataclass(frozen=True, slots=True, order=True)
class Reference:
    """A ConfigMap or Secret a pod reads; `key` when an env var reads one key of it."""

    kind: str
    name: str
    key: str | None = None


def _named(kind: str, name: Any, key: Any = None) -> Reference | None:
    if not isinstance(name, str) or not name:
        return None
    return Reference(kind, name, str(key) if key is not None else None)


def env_references(container: dict[str, Any]) -> Iterator[Reference]:
    """References of a container's `env` (valueFrom) and `envFrom`."""
    for env in as_list(container.get("env")):
        source = as_dict(as_dict(env).get("valueFrom"))
        for field, kind in _ENV_KEY_REFS:
            ref = as_dict(source.get(field))
            if (found := _named(kind, ref.get("name"), ref.get("key"))) is not None:
                yield found
    for env_from in as_list(container.get("envFrom")):
        for field, kind in _ENV_FROM_REFS:
            if (found := _named(kind, as_dict(as_dict(env_from).get(field)).get("name"))) is not None:
                yield found


def volume_references(pod: PodTemplate) -> Iterator[tuple[str, Reference]]:
    """(volume name, reference) of the pod's configMap, secret and projected volumes."""
    for volume in as_list(pod.spec.get("volumes")):
        volume = as_dict(volume)
        name = str(volume.get("name"))
        for field, name_field, kind in _VOLUME_REFS:
            if (found := _named(kind, as_dict(volume.get(field)).get(name_field))) is not None:
                yield name, found
        for source in as_list(as_dict(volume.get("projected")).get("sources")):
            for field, kind in _PROJECTED_REFS:
                if (found := _named(kind, as_dict(as_dict(source).get(field)).get("name"))) is not None:
                    yield name, found


def config_references(pod: PodTemplate) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret the pod's init and app containers read."""
    refs = {(ref.kind, ref.name) for _, ref in volume_references(pod)}
    for list_name in ("initContainers", "containers"):
        for container in as_list(pod.spec.get(list_name)):
            refs.update((ref.kind, ref.name) for ref in env_references(as_dict(container)))
    return refs


def object_references(pod: PodTemplate) -> set[tuple[str, str]]:
    """(kind, name) of everything the pod cannot start without: its ConfigMaps and Secrets,
    PersistentVolumeClaims and ServiceAccount."""
    refs = config_references(pod)
    for volume in as_list(pod.spec.get("volumes")):
        claim = as_dict(as_dict(volume).get("persistentVolumeClaim")).get("claimName")
        if isinstance(claim, str):
            refs.add(("PersistentVolumeClaim", claim))
    if isinstance(pod.service_account, str):
        refs.add(("ServiceAccount", pod.service_account))
    return refs
