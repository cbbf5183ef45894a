"""Security: what a change lets pods, accounts or the network do that they could not before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..kubernetes.bodies import as_dict, as_list, get
from ..kubernetes.containers import Container, container_pairs
from ..kubernetes.images import parse_image
from ..kubernetes.pod_security import (
    BASELINE_CAPABILITIES,
    CONFINING_SECCOMP,
    SAFE_SYSCTLS,
    capability_set,
    selinux_outside_baseline,
    sysctl_names,
)
from ..kubernetes.ports import host_ports
from ..kubernetes.rbac import BINDING_KINDS, ROLE_KINDS, Grant, covered, grants
from ..kubernetes.references import env_references, volume_references
from ..kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ..model import ChangeType, Resource, ResourceDiff
from ..normalize import SENSITIVE_PREFIX, is_sensitive_key
from .common import show, what
from .context import SignalContext, Update
from .registry import Finding, chart_detector, resource_detector, update_detector

DANGEROUS_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})
SENSITIVE_HOST_PATHS = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/var/run",
    "/run",
    "/root",
    "/var/lib/kubelet",
    "/var/lib/docker",
)


def _container_transition(
    diff: ResourceDiff,
    field: str,
    risky: Callable[[Any], bool],
    describe: Callable[[Container, Any, Any], str],
    *,
    new_needs_explicit: bool = True,
    removal: bool = True,
) -> Iterator[Finding]:
    """Containers whose effective `field` became risky (or, at low importance, stopped being)."""
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        after = new.security(field)
        path = (*new.path, "securityContext", field)
        display = new.display("securityContext", field)
        if old is None:
            if risky(after) and (after is not None or not new_needs_explicit):
                yield Finding(describe(new, None, after), display, None, after, "added", path)
            continue
        before = old.security(field)
        if risky(after) and not risky(before):
            yield Finding(describe(new, before, after), display, before, after, "modified", path)
        elif removal and risky(before) and not risky(after):
            yield Finding(
                f"{describe(new, before, after)} (risk removed)",
                display,
                before,
                after,
                "removed",
                path,
                importance="low",
            )


def _in(container: Container, diff: ResourceDiff) -> str:
    return f"{container.kind_word} '{container.name}' of {what(diff.resource)}"


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
            f"Privilege escalation allowed for {_in(c, diff)} (allowPrivilegeEscalation {show(b)} → {show(a)})"
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
        lambda c, b, a: f"{_in(c, diff)} may run as root (runAsNonRoot {show(b)} → {show(a)})".capitalize(),
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
            if before == after or (old is None and after != 0):
                continue
            root = after == 0
            how = "set to 0 (root)" if root else f"changed from {show(before)} to {show(after)}"
            yield Finding(
                f"{field} of {_in(new, diff)} {how}",
                new.display("securityContext", field),
                before,
                after,
                "added" if old is None else "modified",
                (*new.path, "securityContext", field),
                importance="high" if root else "low",
            )
    old_pod, new_pod = pod_template(diff.base), pod_template(diff.head)
    if new_pod is None:
        return
    after = as_dict(new_pod.spec.get("securityContext")).get("fsGroup")
    before = as_dict(old_pod.spec.get("securityContext")).get("fsGroup") if old_pod else None
    if before != after and (old_pod is not None or after == 0):
        how = "set to 0 (root)" if after == 0 else f"changed from {show(before)} to {show(after)}"
        yield Finding(
            f"fsGroup of {what(diff.resource)} {how}",
            new_pod.display("securityContext", "fsGroup"),
            before,
            after,
            "added" if old_pod is None else "modified",
            (*new_pod.spec_path, "securityContext", "fsGroup"),
            importance="high" if after == 0 else "low",
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
                f"{_in(new, diff)} gains capabilities {', '.join(added)}".capitalize(),
                new.display("securityContext", "capabilities", "add"),
                sorted(capability_set(old, "add")),
                sorted(capability_set(new, "add")),
                "added" if old is None else "modified",
                (*new.path, "securityContext", "capabilities", "add"),
                importance="high" if high else "medium",
            )
        if old is not None:
            lost = sorted(({"ALL", "NET_RAW"} & capability_set(old, "drop")) - capability_set(new, "drop"))
            if lost:
                yield Finding(
                    f"{_in(new, diff)} no longer drops {', '.join(lost)}".capitalize(),
                    new.display("securityContext", "capabilities", "drop"),
                    sorted(capability_set(old, "drop")),
                    sorted(capability_set(new, "drop")),
                    "removed",
                    (*new.path, "securityContext", "capabilities", "drop"),
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
        lambda c, b, a: f"Root filesystem of {_in(c, diff)} is writable (readOnlyRootFilesystem {show(b)} → {show(a)})",
        removal=False,
        new_needs_explicit=True,
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
        display = new.display("securityContext", "seccompProfile")
        if after == "Unconfined" and before != "Unconfined":
            yield Finding(
                f"Seccomp profile of {_in(new, diff)} is Unconfined",
                display,
                before,
                after,
                "added" if old is None else "modified",
                path,
                importance="high",
            )
        elif old is not None and before in CONFINING_SECCOMP and after is None:
            yield Finding(
                f"Seccomp profile of {_in(new, diff)} removed (was {before})",
                display,
                before,
                after,
                "removed",
                path,
                importance="medium",
            )


@resource_detector("security.context.appArmor", "high", kinds=WORKLOAD_KINDS)
def app_armor(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """appArmorProfile (container or pod) or the container.apparmor annotation becomes Unconfined.

    AppArmor confines what a container's processes may touch on the node; Unconfined lifts that
    confinement.
    """
    old_pod, new_pod = pod_template(diff.base), pod_template(diff.head)
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        key = f"container.apparmor.security.beta.kubernetes.io/{new.name}"
        after = _profile_type(new, "appArmorProfile") or _annotation_profile(new_pod.metadata if new_pod else {}, key)
        before = (
            (_profile_type(old, "appArmorProfile") or _annotation_profile(old_pod.metadata if old_pod else {}, key))
            if old
            else None
        )
        if after == "Unconfined" and before != "Unconfined":
            yield Finding(
                f"AppArmor profile of {_in(new, diff)} is Unconfined",
                new.display("securityContext", "appArmorProfile"),
                before,
                after,
                "added" if old is None else "modified",
                (*new.path, "securityContext", "appArmorProfile"),
            )


def _annotation_profile(metadata: dict[str, Any], key: str) -> str | None:
    value = as_dict(metadata.get("annotations")).get(key)
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
        lambda c, b, a: f"SELinux options of {_in(c, diff)} set to {show(a)}",
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
        lambda c, b, a: f"/proc of {_in(c, diff)} is Unmasked",
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
            f"{what(diff.resource)} sets unsafe sysctls {', '.join(added)}",
            new_pod.display("securityContext", "sysctls"),
            sorted(sysctl_names(old_pod)),
            sorted(sysctl_names(new_pod)),
            "added" if old_pod is None else "modified",
            (*new_pod.spec_path, "securityContext", "sysctls"),
        )


@resource_detector("security.context.hostProcess", "high", kinds=WORKLOAD_KINDS)
def host_process(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """windowsOptions.hostProcess becomes true.

    A Windows HostProcess container runs directly on the host with its privileges.
    """

    def risky(value: Any) -> bool:
        return as_dict(value).get("hostProcess") is True

    return _container_transition(
        diff,
        "windowsOptions",
        risky,
        lambda c, b, a: f"{_in(c, diff)} runs as a Windows HostProcess".capitalize(),
        removal=False,
    )


def _host_namespace(diff: ResourceDiff, field: str, word: str) -> Iterator[Finding]:
    old_pod, new_pod = pod_template(diff.base), pod_template(diff.head)
    if new_pod is None:
        return
    before = old_pod.spec.get(field) if old_pod else None
    after = new_pod.spec.get(field)
    path, display = (*new_pod.spec_path, field), new_pod.display(field)
    if after is True and before is not True:
        yield Finding(
            f"{what(diff.resource)} uses the node's {word} ({field}: true)",
            display,
            before,
            after,
            "added" if old_pod is None else "modified",
            path,
        )
    elif before is True and after is not True and old_pod is not None:
        yield Finding(
            f"{what(diff.resource)} no longer uses the node's {word}",
            display,
            before,
            after,
            "removed",
            path,
            importance="low",
        )


@resource_detector("security.hostAccess.network", "high", kinds=WORKLOAD_KINDS)
def host_network(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """hostNetwork becomes true (a low signal when it stops being true).

    A pod on the host network sees every interface of the node and can reach services bound to
    localhost there.
    """
    return _host_namespace(diff, "hostNetwork", "network namespace")


@resource_detector("security.hostAccess.pid", "high", kinds=WORKLOAD_KINDS)
def host_pid(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """hostPID becomes true (a low signal when it stops being true).

    A pod in the host PID namespace sees, and may signal or trace, every process on the node.
    """
    return _host_namespace(diff, "hostPID", "process namespace")


@resource_detector("security.hostAccess.ipc", "high", kinds=WORKLOAD_KINDS)
def host_ipc(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """hostIPC becomes true (a low signal when it stops being true).

    A pod in the host IPC namespace can read shared memory of every process on the node.
    """
    return _host_namespace(diff, "hostIPC", "IPC namespace")


def _host_paths(resource: Resource | None) -> dict[str, str]:
    pod = pod_template(resource)
    if pod is None:
        return {}
    return {
        str(v.get("name")): str(as_dict(v.get("hostPath")).get("path", ""))
        for v in as_list(pod.spec.get("volumes"))
        if isinstance(v, dict) and isinstance(v.get("hostPath"), dict)
    }


def _sensitive(path: str) -> bool:
    clean = path.rstrip("/") or "/"
    return clean in SENSITIVE_HOST_PATHS or clean.endswith(".sock")


@resource_detector("security.hostAccess.path", "high", kinds=WORKLOAD_KINDS)
def host_path(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A hostPath volume is added (sensitive paths called out), or a mount of one becomes
    writable.

    A hostPath volume mounts a directory of the node into the pod; paths such as /, /etc, /proc,
    /sys or a container runtime socket amount to control of the node.
    """
    old_paths, new_paths = _host_paths(diff.base), _host_paths(diff.head)
    pod = pod_template(diff.head)
    if pod is None:
        return
    for index, volume in enumerate(as_list(pod.spec.get("volumes"))):
        name = as_dict(volume).get("name")
        if name in new_paths and old_paths.get(name) != new_paths[name]:
            host = new_paths[name]
            note = " (a sensitive path)" if _sensitive(host) else ""
            yield Finding(
                f"{what(diff.resource)} mounts host path {host}{note} as volume '{name}'",
                pod.display(f"volumes[name={name}]", "hostPath"),
                old_paths.get(name),
                host,
                "added" if name not in old_paths else "modified",
                (*pod.spec_path, "volumes", index, "hostPath"),
            )
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        old_mounts = {m.get("name"): m for m in as_list(old.body.get("volumeMounts")) if isinstance(m, dict)}
        for index, mount in enumerate(as_list(new.body.get("volumeMounts"))):
            mount = as_dict(mount)
            name = mount.get("name")
            before = old_mounts.get(name)
            if (
                name in new_paths
                and before is not None
                and before.get("readOnly") is True
                and mount.get("readOnly") is not True
            ):
                yield Finding(
                    f"Host path {new_paths[name]} is now writable in {_in(new, diff)}",
                    new.display(f"volumeMounts[mountPath={mount.get('mountPath')}]", "readOnly"),
                    True,
                    mount.get("readOnly"),
                    "modified",
                    (*new.path, "volumeMounts", index, "readOnly"),
                )


@resource_detector("security.hostAccess.port", "medium", kinds=WORKLOAD_KINDS)
def host_port(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container port gains a hostPort.

    A hostPort binds the container to a port of the node itself, bypassing Services and network
    policies on that path, and limits scheduling to nodes where it is free.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        old_ports = set(host_ports(old.body)) if old else set()
        for index, port in enumerate(as_list(new.body.get("ports"))):
            host = as_dict(port).get("hostPort")
            if host and host not in old_ports:
                yield Finding(
                    f"{_in(new, diff)} binds host port {host}".capitalize(),
                    new.display(f"ports[containerPort={as_dict(port).get('containerPort')}]", "hostPort"),
                    None,
                    host,
                    "added",
                    (*new.path, "ports", index, "hostPort"),
                )


@update_detector("security.serviceAccount", "medium", kinds=WORKLOAD_KINDS)
def service_account(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """An existing workload's serviceAccountName changes (or falls back to `default`).

    The service account decides what the pod's API token may do; the namespace's default account is
    shared by every pod that does not name one.
    """
    old_pod, new_pod = pod_template(update.base), pod_template(update.head)
    if old_pod is None or new_pod is None:
        return
    before = old_pod.service_account or "default"
    after = new_pod.service_account or "default"
    if before != after:
        yield Finding(
            f"Service account of {what(update.head)} changed from '{before}' to '{after}'",
            new_pod.display("serviceAccountName"),
            before,
            after,
            "modified",
            (*new_pod.spec_path, "serviceAccountName"),
        )


@update_detector("security.serviceAccount.automount", "medium", kinds={*WORKLOAD_KINDS, "ServiceAccount"})
def automount(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """automountServiceAccountToken goes from false to true or unset, on a pod template or a
    ServiceAccount.

    An automounted service account token lets any process in the pod call the Kubernetes API with
    that account's permissions.
    """
    if update.id.kind == "ServiceAccount":
        before, after = (
            update.base.body.get("automountServiceAccountToken"),
            update.head.body.get("automountServiceAccountToken"),
        )
        path: tuple[Any, ...] = ("automountServiceAccountToken",)
    else:
        old_pod, new_pod = pod_template(update.base), pod_template(update.head)
        if old_pod is None or new_pod is None:
            return
        before, after = (
            old_pod.spec.get("automountServiceAccountToken"),
            new_pod.spec.get("automountServiceAccountToken"),
        )
        path = (*new_pod.spec_path, "automountServiceAccountToken")
    if before is False and after is not False:
        yield Finding(
            f"{what(update.head)} now mounts its service account token "
            f"(automountServiceAccountToken false → {show(after)})",
            ".".join(str(p) for p in path),
            before,
            after,
            "modified",
            path,
        )


# --- RBAC -------------------------------------------------------------------------------------

ESCALATION_VERBS = frozenset({"escalate", "bind", "impersonate"})
CONTROL_RESOURCES = frozenset({"pods/exec", "pods/attach", "pods/portforward", "nodes/proxy"})


def _category(grant: Grant) -> str:
    group, name, verb = grant
    if "*" in (group, name, verb):
        return "security.rbac.wildcard"
    if name == "secrets":
        return "security.rbac.secrets"
    if (
        verb in ESCALATION_VERBS
        or (name in ("rolebindings", "clusterrolebindings") and verb == "create")
        or name == "serviceaccounts/token"
    ):
        return "security.rbac.escalation"
    if name in CONTROL_RESOURCES or (name == "pods" and verb == "create"):
        return "security.rbac.workloadControl"
    return "rbac"


def _describe(grant: Grant) -> str:
    group, name, verb = grant
    if group == "url":
        return f"{verb} {name}"
    return f"{verb} {name}" + (f" ({group})" if group not in ("", "*") else " (all API groups)" if group == "*" else "")


def new_grants(diff: ResourceDiff) -> dict[str, list[Grant]]:
    """Grants the head adds over the base, by signal type."""
    old, new = grants(diff.base), grants(diff.head)
    by_type: dict[str, list[Grant]] = {}
    for grant in sorted(new):
        if not covered(grant, old):
            by_type.setdefault(_category(grant), []).append(grant)
    return by_type


def _rbac_finding(diff: ResourceDiff, type_: str) -> Iterator[Finding]:
    found = new_grants(diff).get(type_)
    if not found:
        return
    listed = ", ".join(_describe(g) for g in found)
    fields = sorted({f for g in found for f, v in zip(("apiGroups", "resources", "verbs"), g, strict=True) if v == "*"})
    finer = f"{type_}.{fields[0]}" if type_ == "security.rbac.wildcard" and len(fields) == 1 else None
    yield Finding(
        f"{what(diff.resource)} now allows {listed}",
        "rules",
        None,
        [list(g) for g in found],
        "added" if diff.base is None else "modified",
        ("rules",),
        type=finer,
    )


@resource_detector("security.rbac.wildcard", "high", kinds=ROLE_KINDS)
def rbac_wildcard(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """`*` added to the verbs, resources or apiGroups of a Role or ClusterRole.

    A `*` grants every verb, resource or API group, including ones added to the cluster later.
    """
    return _rbac_finding(diff, "security.rbac.wildcard")


@resource_detector("security.rbac.secrets", "high", kinds=ROLE_KINDS)
def rbac_secrets(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Role or ClusterRole newly allows any verb on secrets.

    Reading Secrets reveals every credential in their scope.
    """
    return _rbac_finding(diff, "security.rbac.secrets")


@resource_detector("security.rbac.escalation", "high", kinds=ROLE_KINDS)
def rbac_escalation(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Role or ClusterRole newly allows escalate, bind, impersonate, create on
    (cluster)rolebindings, or serviceaccounts/token.

    These permissions let an account grant itself (or others) more rights than it has: escalate,
    bind, impersonate, creating role bindings, minting service account tokens.
    """
    return _rbac_finding(diff, "security.rbac.escalation")


@resource_detector("security.rbac.workloadControl", "high", kinds=ROLE_KINDS)
def rbac_workload_control(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Role or ClusterRole newly allows pods/exec, pods/attach, pods/portforward, nodes/proxy or
    create on pods.

    Exec, attach, port-forward, node proxy or creating pods let an account run code with other
    workloads' identities and mounts.
    """
    return _rbac_finding(diff, "security.rbac.workloadControl")


@resource_detector("security.rbac.role", "medium", kinds={"Role"})
def rbac_role(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Role allows a new verb, resource or API group (other than the cases above).

    A widened Role gives every account bound to it more power in its namespace.
    """
    return _rbac_finding(diff, "rbac")


@resource_detector("security.rbac.clusterRole", "medium", kinds={"ClusterRole"})
def rbac_cluster_role(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A ClusterRole allows a new verb, resource or API group (other than the cases above).

    A widened ClusterRole gives every account bound to it more power, across all namespaces when
    bound by a ClusterRoleBinding.
    """
    return _rbac_finding(diff, "rbac")


PRIVILEGED_GROUPS = frozenset({"system:masters", "system:anonymous", "system:authenticated", "system:unauthenticated"})


def _wildcard_role(ctx: SignalContext, role_ref: dict[str, Any], namespace: str) -> bool:
    if role_ref.get("name") == "cluster-admin":
        return True
    role = ctx.resource("head", str(role_ref.get("kind")), namespace, str(role_ref.get("name")))
    return role is not None and any("*" in g for g in grants(role))


@chart_detector("security.rbac.binding", "high")
def rbac_binding(ctx: SignalContext) -> Iterator[Finding]:
    """A binding's roleRef becomes cluster-admin or a wildcard role; its subjects gain
    system:masters, system:anonymous or system:authenticated; a RoleBinding becomes a
    ClusterRoleBinding.

    A binding decides who holds a role: binding cluster-admin or a wildcard role, or binding a role
    to system groups, hands out cluster-wide control.
    """
    base_bindings = {rid: r for rid, r in ctx.base.resources.items() if rid.kind in BINDING_KINDS}
    for rid, binding in sorted(ctx.head.resources.items(), key=lambda item: item[0].sort_key()):
        if rid.kind not in BINDING_KINDS:
            continue
        old = base_bindings.get(rid)
        role_ref = as_dict(binding.body.get("roleRef"))
        old_ref = as_dict(old.body.get("roleRef")) if old else {}
        if role_ref != old_ref and _wildcard_role(ctx, role_ref, rid.namespace):
            yield Finding(
                f"{what(binding)} grants {role_ref.get('kind')} '{role_ref.get('name')}', which allows everything",
                "roleRef",
                old_ref or None,
                role_ref,
                "added" if old is None else "modified",
                ("roleRef",),
                resource=rid,
                api_version=binding.api_version,
            )
        names = {str(as_dict(s).get("name")) for s in as_list(binding.body.get("subjects"))}
        old_names = {str(as_dict(s).get("name")) for s in as_list(old.body.get("subjects"))} if old else set()
        gained = sorted((names - old_names) & PRIVILEGED_GROUPS)
        if gained:
            yield Finding(
                f"{what(binding)} binds {', '.join(gained)}",
                "subjects",
                sorted(old_names),
                sorted(names),
                "added" if old is None else "modified",
                ("subjects",),
                resource=rid,
                api_version=binding.api_version,
            )
        if rid.kind == "ClusterRoleBinding" and old is None:
            was = next(
                (r for r in base_bindings.values() if r.id.kind == "RoleBinding" and r.id.name == rid.name),
                None,
            )
            if was is not None and ctx.resource("head", "RoleBinding", was.id.namespace, was.id.name) is None:
                yield Finding(
                    f"RoleBinding '{rid.name}' became a ClusterRoleBinding: its role now applies in every namespace",
                    "kind",
                    "RoleBinding",
                    "ClusterRoleBinding",
                    "modified",
                    ("kind",),
                    resource=rid,
                    api_version=binding.api_version,
                )


# --- exposure -------------------------------------------------------------------------------

EXPOSED_TYPES = frozenset({"NodePort", "LoadBalancer"})
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


@resource_detector("security.exposure.type", "high", kinds={"Service"})
def exposure_type(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Service's type goes from ClusterIP to NodePort or LoadBalancer, or a new Service is one.

    A NodePort or LoadBalancer Service is reachable from outside the cluster, not only from other
    pods.
    """
    if diff.head is None:
        return
    after = get(diff.head.body, "spec", "type") or "ClusterIP"
    before = (get(diff.base.body, "spec", "type") or "ClusterIP") if diff.base is not None else None
    if after in EXPOSED_TYPES and before not in EXPOSED_TYPES:
        yield Finding(
            f"Service '{diff.id.name}' is exposed outside the cluster as {after}"
            + (f" (was {before})" if before else ""),
            "spec.type",
            before,
            after,
            "added" if diff.base is None else "modified",
            ("spec", "type"),
        )


@resource_detector("security.exposure.externalIPs", "high", kinds={"Service"})
def external_ips(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Service gains externalIPs.

    externalIPs make every node accept traffic for those addresses and forward it to the Service,
    whoever routes it there.
    """
    if diff.head is None:
        return
    after = [str(i) for i in as_list(get(diff.head.body, "spec", "externalIPs"))]
    before = [str(i) for i in as_list(get(diff.base.body, "spec", "externalIPs"))] if diff.base else []
    added = sorted(set(after) - set(before))
    if added:
        yield Finding(
            f"Service '{diff.id.name}' gains externalIPs {', '.join(added)}",
            "spec.externalIPs",
            before or None,
            after,
            "added" if not before else "modified",
            ("spec", "externalIPs"),
        )


@update_detector("security.exposure.loadBalancerSourceRanges", "high", kinds={"Service"})
def source_ranges(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A LoadBalancer Service's source ranges are removed or widened to 0.0.0.0/0.

    loadBalancerSourceRanges restrict which addresses may reach a LoadBalancer; without them, or
    with 0.0.0.0/0, the whole internet can.
    """
    if update.base is None or update.head is None or get(update.head.body, "spec", "type") != "LoadBalancer":
        return
    before = [str(r) for r in as_list(get(update.base.body, "spec", "loadBalancerSourceRanges"))]
    after = [str(r) for r in as_list(get(update.head.body, "spec", "loadBalancerSourceRanges"))]
    if before and not after:
        yield Finding(
            f"Source ranges of LoadBalancer Service '{update.id.name}' removed: it accepts traffic from anywhere",
            "spec.loadBalancerSourceRanges",
            before,
            None,
            "removed",
            ("spec", "loadBalancerSourceRanges"),
        )
    elif (set(after) & OPEN_CIDRS) - set(before):
        open_ranges = ", ".join(sorted(set(after) & OPEN_CIDRS))
        yield Finding(
            f"LoadBalancer Service '{update.id.name}' accepts traffic from anywhere ({open_ranges})",
            "spec.loadBalancerSourceRanges",
            before,
            after,
            "modified",
            ("spec", "loadBalancerSourceRanges"),
        )


def _routes(resource: Resource | None) -> set[tuple[str, str]]:
    """(host, path) pairs an Ingress (or an HTTPRoute's hostnames) serves."""
    if resource is None:
        return set()
    if resource.id.kind == "HTTPRoute":
        return {(str(h), "/") for h in as_list(get(resource.body, "spec", "hostnames"))}
    out: set[tuple[str, str]] = set()
    for rule in as_list(get(resource.body, "spec", "rules")):
        host = str(as_dict(rule).get("host", "*"))
        paths = as_list(get(rule, "http", "paths"))
        out.update((host, str(as_dict(p).get("path", "/"))) for p in paths) if paths else out.add((host, "/"))
    return out


def _tls_hosts(resource: Resource | None) -> set[str]:
    if resource is None:
        return set()
    return {str(h) for tls in as_list(get(resource.body, "spec", "tls")) for h in as_list(as_dict(tls).get("hosts"))}


@resource_detector("security.exposure.ingress", "high", kinds={"Ingress", "HTTPRoute"})
def exposure_ingress(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """An Ingress or HTTPRoute gains a host or path, a wildcard host, loses TLS for a host, or
    gains a `*-snippet` annotation.

    Every host and path an Ingress serves is reachable from outside the cluster; a wildcard host
    matches names nobody reviewed, a host without TLS sends traffic in clear, and `*-snippet`
    annotations inject raw proxy configuration.
    """
    if diff.head is None:
        return
    change: ChangeType = "added" if diff.base is None else "modified"
    old_routes, new_routes = _routes(diff.base), _routes(diff.head)
    gained = sorted(new_routes - old_routes)
    if gained:
        wildcard = any(h.startswith("*") for h, _ in gained)
        listed = ", ".join(f"{h}{p}" for h, p in gained)
        yield Finding(
            f"{what(diff.head)} serves {'a wildcard host: ' if wildcard else ''}{listed}",
            "spec.rules",
            sorted(f"{h}{p}" for h, p in old_routes) or None,
            sorted(f"{h}{p}" for h, p in new_routes),
            change,
            ("spec", "rules"),
        )
    if diff.base is not None and diff.id.kind == "Ingress":
        lost = sorted(_tls_hosts(diff.base) - _tls_hosts(diff.head))
        if lost:
            yield Finding(
                f"{what(diff.head)} no longer terminates TLS for {', '.join(lost)}",
                "spec.tls",
                sorted(_tls_hosts(diff.base)),
                sorted(_tls_hosts(diff.head)),
                "removed",
                ("spec", "tls"),
            )
    old_ann = as_dict(get(diff.base.body, "metadata", "annotations")) if diff.base else {}
    for key, value in sorted(as_dict(get(diff.head.body, "metadata", "annotations")).items()):
        if str(key).endswith("-snippet") and old_ann.get(key) != value:
            yield Finding(
                f"{what(diff.head)} injects proxy configuration through {key}",
                f'metadata.annotations["{key}"]',
                old_ann.get(key),
                value,
                change,
                ("metadata", "annotations", key),
            )


def _open_rules(policy: Resource | None) -> set[str]:
    """Directions of a NetworkPolicy that allow every peer (an empty or missing from/to), and
    those that allow 0.0.0.0/0."""
    if policy is None:
        return set()
    found = set()
    for direction, key in (("ingress", "from"), ("egress", "to")):
        for rule in as_list(get(policy.body, "spec", direction)):
            peers = as_dict(rule).get(key)
            if not peers or any(not as_dict(p) for p in as_list(peers)):
                found.add(f"{direction} from any peer" if direction == "ingress" else f"{direction} to any peer")
            for peer in as_list(peers):
                if str(get(peer, "ipBlock", "cidr")) in OPEN_CIDRS:
                    found.add(
                        f"{direction} {'from' if direction == 'ingress' else 'to'} {get(peer, 'ipBlock', 'cidr')}"
                    )
    return found


def _policy_types(policy: Resource) -> set[str]:
    declared = as_list(get(policy.body, "spec", "policyTypes"))
    if declared:
        return {str(t) for t in declared}
    return {"Ingress"} | ({"Egress"} if get(policy.body, "spec", "egress") is not None else set())


@chart_detector("security.networkPolicy", "high")
def network_policy(ctx: SignalContext) -> Iterator[Finding]:
    """A NetworkPolicy is removed, its podSelector stops selecting the chart's pods, a policyType
    is dropped, or a rule gains an empty peer or 0.0.0.0/0.

    A NetworkPolicy is what stops other pods (or the internet) from reaching the selected pods; a
    removed, emptied or widened policy opens them up.
    """
    for rid, old in sorted(ctx.base.resources.items(), key=lambda item: item[0].sort_key()):
        if rid.kind != "NetworkPolicy":
            continue
        new = ctx.head.resources.get(rid)
        if new is None:
            yield Finding(
                f"NetworkPolicy '{rid.name}' removed",
                "",
                None,
                None,
                "removed",
                side="base",
                resource=rid,
                api_version=old.api_version,
            )
            continue
        selector_before, selector_after = (
            get(old.body, "spec", "podSelector"),
            get(new.body, "spec", "podSelector"),
        )
        if (
            selector_before != selector_after
            and as_dict(selector_after)
            and ctx.selected_workloads(selector_before, rid.namespace, "base")
            and not ctx.selected_workloads(selector_after, rid.namespace, "head")
        ):
            yield Finding(
                f"podSelector of NetworkPolicy '{rid.name}' no longer selects any pod of the chart",
                "spec.podSelector",
                selector_before,
                selector_after,
                "modified",
                ("spec", "podSelector"),
                resource=rid,
                api_version=old.api_version,
            )
        dropped = sorted(_policy_types(old) - _policy_types(new))
        if dropped:
            yield Finding(
                f"NetworkPolicy '{rid.name}' no longer restricts {', '.join(dropped)} traffic",
                "spec.policyTypes",
                sorted(_policy_types(old)),
                sorted(_policy_types(new)),
                "removed",
                ("spec", "policyTypes"),
                resource=rid,
                api_version=old.api_version,
            )
        opened = sorted(_open_rules(new) - _open_rules(old))
        if opened:
            yield Finding(
                f"NetworkPolicy '{rid.name}' now allows {', '.join(opened)}",
                "spec",
                sorted(_open_rules(old)) or None,
                opened,
                "modified",
                ("spec",),
                resource=rid,
                api_version=old.api_version,
            )


# --- secrets and images -----------------------------------------------------------------------


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
        refs = sorted(_secret_refs(new) - _secret_refs(old))
        if refs:
            yield Finding(
                f"{_in(new, diff)} reads Secret {', '.join(refs)} into its environment".capitalize(),
                new.display("env"),
                sorted(_secret_refs(old)) or None,
                sorted(_secret_refs(new)),
                "added",
                (*new.path, "env"),
            )
        literals = sorted(_literal_credentials(new) - _literal_credentials(old))
        if literals:
            yield Finding(
                f"{_in(new, diff)} has a literal credential in {', '.join(literals)}".capitalize(),
                new.display(f"env[name={literals[0]}]"),
                None,
                literals,
                "added",
                (*new.path, "env"),
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
                f"{what(diff.resource)} mounts Secret '{secret}' as volume '{name}'",
                pod.display(f"volumes[name={name}]"),
                old.get(name),
                secret,
                "added" if name not in old else "modified",
                (*pod.spec_path, "volumes"),
            )


@resource_detector("security.image.registry", "medium", kinds=WORKLOAD_KINDS)
def image_registry(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's image comes from another registry.

    The registry decides who can publish the code the cluster runs; a new registry is a new party in
    the supply chain.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        before, after = parse_image(old.body.get("image")), parse_image(new.body.get("image"))
        if before is not None and after is not None and before.registry != after.registry:
            yield Finding(
                f"Image of {_in(new, diff)} now comes from {after.registry} (was {before.registry})",
                new.display("image"),
                old.body.get("image"),
                new.body.get("image"),
                "modified",
                (*new.path, "image"),
            )
