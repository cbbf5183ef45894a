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
from ...model import ResourceDiff
from ..common import container_of, sentence, show, what
from ..context import SignalContext
from ..registry import Finding, resource_detector

DANGEROUS_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})


def _container_transition(
    diff: ResourceDiff,
    field: str,
    risky: Callable[[Any], bool],
    describe: Callable[[Container, Any, Any], str],
    *,
    removal: bool = True,
) -> Iterator[Finding]:
    """Containers whose effective `field` became risky (or, at low importance, stopped being);
    on a new container, when it sets the field to a risky value."""
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        after = new.security(field)
        before = old.security(field) if old is not None else None
        path = (*new.path, "securityContext", field)
        if risky(after) and (after is not None if old is None else not risky(before)):
            yield Finding(
                description=describe(new, before, after), path=path, before=before, after=after, subject=(old, new)
            )
        elif removal and old is not None and risky(before) and not risky(after):
            yield Finding(
                description=f"{describe(new, before, after)} (risk removed)",
                path=path,
                before=before,
                after=after,
                subject=(old, new),
                lifted=True,
                importance="low",
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
        lambda c, b, a: (
            f"Container '{c.name}' of {what(diff.resource)} is privileged"
            if a is True
            else f"Container '{c.name}' of {what(diff.resource)} is no longer privileged"
        ),
    )


@resource_detector("security.context.allowPrivilegeEscalation", "high", kinds=WORKLOAD_KINDS)
def allow_privilege_escalation(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """allowPrivilegeEscalation goes from false to true or unset (Kubernetes then allows it); on
    a new container, when it is set to true.

    With privilege escalation allowed, a process can gain more privileges than its parent (setuid
    binaries, file capabilities).
    """
    return _container_transition(
        diff,
        "allowPrivilegeEscalation",
        lambda v: v is not False,
        lambda c, b, a: (
            f"Privilege escalation allowed for {container_of(c, diff.resource)} "
            f"(allowPrivilegeEscalation {show(b)} → {show(a)})"
        ),
        removal=False,
    )


@resource_detector("security.context.runAsNonRoot", "high", kinds=WORKLOAD_KINDS)
def run_as_non_root(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """The effective runAsNonRoot (container over pod) goes from true to false or unset; on a
    new container, when it is set to false.

    runAsNonRoot makes the kubelet refuse to start a container whose user is root; without it, an
    image that runs as root does so unnoticed.
    """
    return _container_transition(
        diff,
        "runAsNonRoot",
        lambda v: v is not True,
        lambda c, b, a: sentence(
            f"{container_of(c, diff.resource)} may run as root (runAsNonRoot {show(b)} → {show(a)})"
        ),
        removal=False,
    )


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
        added = sorted(capability_set(new, "add") - capability_set(old, "add"))
        if added:
            high = any(c in DANGEROUS_CAPABILITIES or c not in BASELINE_CAPABILITIES for c in added)
            yield Finding(
                description=sentence(f"{container_of(new, diff.resource)} gains capabilities {', '.join(added)}"),
                path=(*new.path, "securityContext", "capabilities", "add"),
                before=sorted(capability_set(old, "add")),
                after=sorted(capability_set(new, "add")),
                subject=(old, new),
                importance="high" if high else "medium",
            )
        lost = sorted(({"ALL", "NET_RAW"} & capability_set(old, "drop")) - capability_set(new, "drop"))
        if lost:
            yield Finding(
                description=sentence(f"{container_of(new, diff.resource)} no longer drops {', '.join(lost)}"),
                path=(*new.path, "securityContext", "capabilities", "drop"),
                before=sorted(capability_set(old, "drop")),
                after=sorted(capability_set(new, "drop")),
                subject=(lost, None),
                importance="medium",
            )


@resource_detector("security.context.readOnlyRootFilesystem", "medium", kinds=WORKLOAD_KINDS)
def read_only_root_filesystem(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """readOnlyRootFilesystem goes from true to false or unset.

    A read-only root filesystem stops an intruder from changing binaries or dropping tools inside
    the container.
    """
    return _container_transition(
        diff,
        "readOnlyRootFilesystem",
        lambda v: v is not True,
        lambda c, b, a: (
            f"Root filesystem of {container_of(c, diff.resource)} is writable "
            f"(readOnlyRootFilesystem {show(b)} → {show(a)})"
        ),
        removal=False,
    )


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
        path = (*new.path, "securityContext", "seccompProfile")
        if after == "Unconfined" and before != "Unconfined":
            yield Finding(
                description=f"Seccomp profile of {container_of(new, diff.resource)} is Unconfined",
                path=path,
                before=before,
                after=after,
                subject=(old, new),
                importance="high",
            )
        elif old is not None and before in CONFINING_SECCOMP and after is None:
            yield Finding(
                description=f"Seccomp profile of {container_of(new, diff.resource)} removed (was {before})",
                path=path,
                before=before,
                after=after,
                subject=(before, after),
                importance="medium",
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
    return _container_transition(
        diff,
        "seLinuxOptions",
        selinux_outside_baseline,
        lambda c, b, a: f"SELinux options of {container_of(c, diff.resource)} set to {show(a)}",
        removal=False,
    )


@resource_detector("security.context.procMount", "high", kinds=WORKLOAD_KINDS)
def proc_mount(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """procMount becomes Unmasked.

    An Unmasked /proc exposes kernel interfaces that the default mask hides from containers.
    """
    return _container_transition(
        diff,
        "procMount",
        lambda v: v == "Unmasked",
        lambda c, b, a: f"/proc of {container_of(c, diff.resource)} is Unmasked",
        removal=False,
    )


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
    return _container_transition(
        diff,
        "windowsOptions",
        lambda v: as_dict(v).get("hostProcess") is True,
        lambda c, b, a: sentence(f"{container_of(c, diff.resource)} runs as a Windows HostProcess"),
        removal=False,
    )
