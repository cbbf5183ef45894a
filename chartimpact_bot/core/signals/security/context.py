"""`security.context.*`: a container's security context (its own over its pod's) becomes riskier."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ...kubernetes.bodies import as_dict
from ...kubernetes.containers import Container, container_pairs
from ...kubernetes.paths import FieldPath
from ...kubernetes.pod_security import (
    BASELINE_CAPABILITIES,
    CONFINING_SECCOMP,
    SAFE_SYSCTLS,
    capability_set,
    selinux_outside_baseline,
    sysctl_names,
)
from ...kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ...model import Importance, ResourceDiff
from ..common import container_of, sentence, show, what
from ..context import SignalContext
from ..findings import risk_transition
from ..registry import Finding, resource_detector

DANGEROUS_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})


def _container_transition(
    diff: ResourceDiff, field: str, risky: Callable[[Any], bool], introduced: str, lifted: str | None = None
) -> Iterator[Finding]:
    """Containers whose effective `field` became risky, described by `introduced`, or stopped
    being risky, by `lifted` (None: not reported); they are templates of {container}, {name},
    {resource}, {before} and {after}."""
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        before, after = old.security(field) if old is not None else None, new.security(field)
        words = {
            "container": container_of(new, diff.resource),
            "name": new.name,
            "resource": what(diff.resource),
            "before": show(before),
            "after": show(after),
        }
        yield from risk_transition(
            (old, new),
            (*new.path, "securityContext", field),
            (before, after),
            risky,
            introduced=sentence(introduced.format(**words)),
            lifted=sentence(lifted.format(**words)) if lifted is not None else None,
        )


@resource_detector("security.context.privileged", "high", kinds=WORKLOAD_KINDS)
def privileged(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """securityContext.privileged becomes true (a low signal when it stops being true).

    A privileged container runs with every capability and full access to the node's devices: a
    compromise of it is a compromise of the node.
    """
    return _container_transition(
        diff,
        "privileged",
        lambda v: v is True,
        "Container '{name}' of {resource} is privileged",
        "Container '{name}' of {resource} is no longer privileged (risk removed)",
    )


@resource_detector("security.context.allowPrivilegeEscalation", "high", kinds=WORKLOAD_KINDS)
def allow_privilege_escalation(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """allowPrivilegeEscalation goes from false to true or unset (Kubernetes then allows it); on
    a new container, when it is set to true.

    With privilege escalation allowed, a process can gain more privileges than its parent (setuid
    binaries, file capabilities).
    """
    template = "Privilege escalation allowed for {container} (allowPrivilegeEscalation {before} → {after})"
    return _container_transition(diff, "allowPrivilegeEscalation", lambda v: v is not False, template)


@resource_detector("security.context.runAsNonRoot", "high", kinds=WORKLOAD_KINDS)
def run_as_non_root(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """The effective runAsNonRoot (container over pod) goes from true to false or unset; on a
    new container, when it is set to false.

    runAsNonRoot makes the kubelet refuse to start a container whose user is root; without it, an
    image that runs as root does so unnoticed.
    """
    template = "{container} may run as root (runAsNonRoot {before} → {after})"
    return _container_transition(diff, "runAsNonRoot", lambda v: v is not True, template)


@resource_detector("security.context.runAsUser", "low", kinds=WORKLOAD_KINDS)
def run_as_user(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """runAsUser or runAsGroup (effective), or the pod's fsGroup, becomes 0 (high) or changes
    (low).

    User and group IDs decide file access inside the container and on mounted volumes; ID 0 is root.
    """
    for field in ("runAsUser", "runAsGroup"):
        for old, new in container_pairs(diff.base, diff.head):
            if new is None:
                continue
            after = new.security(field)
            before = old.security(field) if old is not None else None
            if before != after and (old is not None or after == 0):
                whose, path = f"{field} of {container_of(new, diff.resource)}", (*new.path, "securityContext", field)
                yield _user_id(whose, path, before, after, (old, new))
    old_pod, new_pod = pod_template(diff.base), pod_template(diff.head)
    if new_pod is None:
        return
    after = as_dict(new_pod.spec.get("securityContext")).get("fsGroup")
    before = as_dict(old_pod.spec.get("securityContext")).get("fsGroup") if old_pod else None
    if before != after and (old_pod is not None or after == 0):
        path = (*new_pod.spec_path, "securityContext", "fsGroup")
        yield _user_id(f"fsGroup of {what(diff.resource)}", path, before, after, (old_pod, new_pod))


def _user_id(whose: str, path: FieldPath, before: Any, after: Any, subject: tuple[object, object]) -> Finding:
    root = after == 0
    return Finding(
        description=f"{whose} {'set to 0 (root)' if root else f'changed from {show(before)} to {show(after)}'}",
        path=path,
        before=before,
        after=after,
        subject=subject,
        importance="high" if root else "low",
    )


@resource_detector("security.context.capabilities", "medium", kinds=WORKLOAD_KINDS)
def capabilities(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """capabilities.add gains a capability (high beyond the Pod Security baseline list or for
    SYS_ADMIN, NET_ADMIN, ALL); ALL or NET_RAW leaves capabilities.drop.

    Linux capabilities split root's powers; SYS_ADMIN, NET_ADMIN and ALL are close to full root, and
    dropping ALL (or NET_RAW) is what keeps the rest out.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        where = container_of(new, diff.resource)
        added = sorted(capability_set(new, "add") - capability_set(old, "add"))
        if added:
            high = any(c in DANGEROUS_CAPABILITIES or c not in BASELINE_CAPABILITIES for c in added)
            description = f"{where} gains capabilities {', '.join(added)}"
            yield _capabilities(
                old, new, "add", description, subject=(old, new), importance="high" if high else "medium"
            )
        lost = sorted(({"ALL", "NET_RAW"} & capability_set(old, "drop")) - capability_set(new, "drop"))
        if lost:
            # The subject is the drop of ALL (or NET_RAW), which the head no longer has.
            description = f"{where} no longer drops {', '.join(lost)}"
            yield _capabilities(old, new, "drop", description, subject=(lost, None), importance="medium")


def _capabilities(
    old: Container | None,
    new: Container,
    key: str,
    description: str,
    *,
    subject: tuple[object, object],
    importance: Importance,
) -> Finding:
    """A finding on the capabilities a container adds or drops, the whole list on each side."""
    return Finding(
        description=sentence(description),
        path=(*new.path, "securityContext", "capabilities", key),
        before=sorted(capability_set(old, key)),
        after=sorted(capability_set(new, key)),
        subject=subject,
        importance=importance,
    )


@resource_detector("security.context.readOnlyRootFilesystem", "medium", kinds=WORKLOAD_KINDS)
def read_only_root_filesystem(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """readOnlyRootFilesystem goes from true to false or unset.

    A read-only root filesystem stops an intruder from changing binaries or dropping tools inside
    the container.
    """
    template = "Root filesystem of {container} is writable (readOnlyRootFilesystem {before} → {after})"
    return _container_transition(diff, "readOnlyRootFilesystem", lambda v: v is not True, template)


def _profile_type(container: Container | None, field: str) -> str | None:
    return container.profile_type(field) if container is not None else None


@resource_detector("security.context.seccomp", "high", kinds=WORKLOAD_KINDS)
def seccomp(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """The effective seccompProfile goes from RuntimeDefault or Localhost to unset (medium) or to
    Unconfined (high).

    The seccomp profile filters the system calls a container can make; without one (or with
    Unconfined) every system call reaches the node's kernel.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        before, after = _profile_type(old, "seccompProfile"), _profile_type(new, "seccompProfile")
        subject: tuple[object, object]
        importance: Importance
        if after == "Unconfined" and before != "Unconfined":
            change, subject, importance = "is Unconfined", (old, new), "high"
        elif old is not None and before in CONFINING_SECCOMP and after is None:
            # The subject is the profile, which the head no longer has.
            change, subject, importance = f"removed (was {before})", (before, after), "medium"
        else:
            continue
        yield Finding(
            description=f"Seccomp profile of {container_of(new, diff.resource)} {change}",
            path=(*new.path, "securityContext", "seccompProfile"),
            before=before,
            after=after,
            subject=subject,
            importance=importance,
        )


@resource_detector("security.context.appArmor", "high", kinds=WORKLOAD_KINDS)
def app_armor(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """appArmorProfile (container or pod) or the container.apparmor annotation becomes Unconfined.

    AppArmor confines what a container's processes may touch on the node; Unconfined lifts that
    confinement.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        before, after = _app_armor(old), _app_armor(new)
        if after == "Unconfined" and before != "Unconfined":
            yield Finding(
                description=f"AppArmor profile of {container_of(new, diff.resource)} is Unconfined",
                path=(*new.path, "securityContext", "appArmorProfile"),
                before=before,
                after=after,
                subject=(old, new),
            )


def _app_armor(container: Container | None) -> str | None:
    """The effective profile: the field, else the beta annotation on the pod template."""
    if container is None:
        return None
    profile = container.profile_type("appArmorProfile")
    if profile:
        return profile
    key = f"container.apparmor.security.beta.kubernetes.io/{container.name}"
    value = as_dict(container.pod.metadata.get("annotations")).get(key)
    if value == "unconfined":
        return "Unconfined"
    return "RuntimeDefault" if value == "runtime/default" else ("Localhost" if value else None)


@resource_detector("security.context.seLinux", "medium", kinds=WORKLOAD_KINDS)
def se_linux(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """seLinuxOptions with a type outside container_t, container_init_t, container_kvm_t,
    container_engine_t, or with a user or role set.

    SELinux options outside the container types, or a custom user or role, weaken the label-based
    isolation between containers and the node.
    """
    template = "SELinux options of {container} set to {after}"
    return _container_transition(diff, "seLinuxOptions", selinux_outside_baseline, template)


@resource_detector("security.context.procMount", "high", kinds=WORKLOAD_KINDS)
def proc_mount(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """procMount becomes Unmasked.

    An Unmasked /proc exposes kernel interfaces that the default mask hides from containers.
    """
    return _container_transition(diff, "procMount", lambda v: v == "Unmasked", "/proc of {container} is Unmasked")


@resource_detector("security.context.sysctls", "medium", kinds=WORKLOAD_KINDS)
def sysctls(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A pod sysctl outside the Pod Security safe set is added.

    Sysctls outside the safe set change kernel settings that other pods on the node share.
    """
    old_pod, new_pod = pod_template(diff.base), pod_template(diff.head)
    if new_pod is None:
        return
    added = sorted(n for n in sysctl_names(new_pod) - sysctl_names(old_pod) if n not in SAFE_SYSCTLS)
    if added:
        yield Finding(
            description=f"{what(diff.resource)} sets unsafe sysctls {', '.join(added)}",
            path=(*new_pod.spec_path, "securityContext", "sysctls"),
            before=sorted(sysctl_names(old_pod)),
            after=sorted(sysctl_names(new_pod)),
            subject=(old_pod, new_pod),
        )


@resource_detector("security.context.hostProcess", "high", kinds=WORKLOAD_KINDS)
def host_process(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """windowsOptions.hostProcess becomes true.

    A Windows HostProcess container runs directly on the host with its privileges.
    """
    return _container_transition(diff, "windowsOptions", _host_process, "{container} runs as a Windows HostProcess")


def _host_process(windows_options: Any) -> bool:
    return as_dict(windows_options).get("hostProcess") is True
