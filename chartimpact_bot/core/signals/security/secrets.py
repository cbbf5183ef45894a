"""`security.secrets.*`: Secrets that reach a container's environment or volumes."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_list
from ...kubernetes.containers import Container, container_pairs
from ...kubernetes.paths import item
from ...kubernetes.references import env_references, volume_references
from ...kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ...model import Resource, ResourceDiff
from ...normalize import SENSITIVE_PREFIX, is_sensitive_key
from ..common import container_of, sentence, what
from ..context import SignalContext
from ..registry import Finding, resource_detector


def _secret_refs(container: Container | None) -> set[str]:
    """`secret/key` for each secretKeyRef, `secret` for each envFrom secretRef."""
    if container is None:
        return set()
    return {
        f"{ref.name}/{ref.key}" if ref.key is not None else ref.name
        for ref in env_references(container.body)
        if ref.kind == "Secret"
    }


def _literal_credentials(container: Container | None) -> set[str]:
    if container is None:
        return set()
    return {
        str(e.get("name"))
        for e in as_list(container.body.get("env"))
        if isinstance(e, dict)
        and "value" in e
        and is_sensitive_key(str(e.get("name")))
        and str(e.get("value")).startswith(SENSITIVE_PREFIX)
    }


@resource_detector("security.secrets.env", "medium", kinds=WORKLOAD_KINDS)
def secrets_env(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container gains a secretKeyRef or envFrom secretRef, or a literal value under a
    credential-looking variable name.

    Secrets in environment variables are visible to every process in the container and often end up
    in logs and crash dumps; a literal credential in the manifest is readable by anyone who can read
    the workload.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        where = container_of(new, diff.resource)
        refs = sorted(_secret_refs(new) - _secret_refs(old))
        if refs:
            yield Finding(
                description=sentence(f"{where} reads Secret {', '.join(refs)} into its environment"),
                path=(*new.path, "env"),
                before=sorted(_secret_refs(old)) or None,
                after=sorted(_secret_refs(new)),
                subject=(None, refs),
            )
        literals = sorted(_literal_credentials(new) - _literal_credentials(old))
        if literals:
            yield Finding(
                description=sentence(f"{where} has a literal credential in {', '.join(literals)}"),
                path=(*new.path, "env", item(name=literals[0])),
                after=literals,
                subject=(None, literals),
                type="security.secrets.env.literal",
            )


def _secret_volumes(resource: Resource | None) -> dict[str, str]:
    """Secret by volume name (the last one for a projected volume of several)."""
    pod = pod_template(resource)
    if pod is None:
        return {}
    return {volume: ref.name for volume, ref in volume_references(pod) if ref.kind == "Secret"}


@resource_detector("security.secrets.volume", "medium", kinds=WORKLOAD_KINDS)
def secrets_volume(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Secret volume is added, or points at another Secret.

    A mounted Secret is readable by every process in the pod that can read the mount path.
    """
    old, new = _secret_volumes(diff.base), _secret_volumes(diff.head)
    pod = pod_template(diff.head)
    if pod is None:
        return
    for name, secret in sorted(new.items()):
        if old.get(name) != secret:
            yield Finding(
                description=f"{what(diff.resource)} mounts Secret '{secret}' as volume '{name}'",
                path=(*pod.spec_path, "volumes", item(name=name)),
                before=old.get(name),
                after=secret,
                subject=(old.get(name), secret),
            )
