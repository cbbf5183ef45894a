"""`security.hostAccess.*`: pods that reach into their node (namespaces, paths, ports)."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_dict, as_list
from ...kubernetes.containers import container_pairs
from ...kubernetes.paths import item
from ...kubernetes.ports import host_ports
from ...kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ...model import Resource, ResourceDiff
from ..common import container_of, sentence, what
from ..context import SignalContext
from ..findings import risk_transition
from ..registry import Finding, resource_detector

# Paths of the node whose mount amounts to control of it (as does a container runtime's socket).
SENSITIVE_HOST_PATHS = frozenset(
    {"/", "/etc", "/proc", "/sys", "/var/run", "/run", "/root", "/var/lib/kubelet", "/var/lib/docker"}
)


def _host_namespace(diff: ResourceDiff, field: str, word: str) -> Iterator[Finding]:
    old_pod, new_pod = pod_template(diff.base), pod_template(diff.head)
    if new_pod is None:
        return
    before = old_pod.spec.get(field) if old_pod else None
    after = new_pod.spec.get(field)
    yield from risk_transition(
        (old_pod, new_pod),
        (*new_pod.spec_path, field),
        (before, after),
        lambda v: v is True,
        introduced=f"{what(diff.resource)} uses the node's {word} ({field}: true)",
        lifted=f"{what(diff.resource)} no longer uses the node's {word}",
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
    for volume in as_list(pod.spec.get("volumes")):
        name = as_dict(volume).get("name")
        if name in new_paths and old_paths.get(name) != new_paths[name]:
            host = new_paths[name]
            note = " (a sensitive path)" if _sensitive(host) else ""
            yield Finding(
                description=f"{what(diff.resource)} mounts host path {host}{note} as volume '{name}'",
                path=(*pod.spec_path, "volumes", item(name=name), "hostPath"),
                before=old_paths.get(name),
                after=host,
                subject=(old_paths.get(name), host),
            )
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        old_mounts = {m.get("name"): m for m in as_list(old.body.get("volumeMounts")) if isinstance(m, dict)}
        for mount in as_list(new.body.get("volumeMounts")):
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
                    description=f"Host path {new_paths[name]} is now writable in {container_of(new, diff.resource)}",
                    path=(*new.path, "volumeMounts", item(mountPath=mount.get("mountPath")), "readOnly"),
                    before=True,
                    after=mount.get("readOnly"),
                    subject=(before, mount),
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
        for port in as_list(new.body.get("ports")):
            host = as_dict(port).get("hostPort")
            if host and host not in old_ports:
                yield Finding(
                    description=sentence(f"{container_of(new, diff.resource)} binds host port {host}"),
                    path=(*new.path, "ports", item(containerPort=as_dict(port).get("containerPort")), "hostPort"),
                    after=host,
                    subject=(None, host),
                )
