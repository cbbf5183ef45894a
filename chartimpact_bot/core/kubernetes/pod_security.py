"""The Pod Security Standards (baseline and restricted) evaluated on a pod template.

Levels, best first: restricted, baseline, privileged. A pod meets the highest level whose
controls all pass.
"""

from __future__ import annotations

from typing import Any

from ..model import Resource
from .bodies import as_dict, as_list
from .containers import Container, containers
from .ports import host_ports
from .workloads import PodTemplate, pod_template

LEVELS = ("restricted", "baseline", "privileged")
# Capabilities the baseline level lets a container add.
BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP"}
    | {"SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)
# Sysctls the baseline level allows: namespaced, so they cannot touch other pods on the node.
SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start"}
    | {"net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_syncookies"}
    | {f"net.ipv4.tcp_{name}" for name in ("keepalive_time", "keepalive_intvl", "keepalive_probes", "fin_timeout")}
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
# Seccomp profiles that filter system calls (Unconfined, or none, lets every call through).
CONFINING_SECCOMP = ("RuntimeDefault", "Localhost")


def capability(name: Any) -> str:
    """A capability as the standard names it: `CAP_NET_ADMIN` and `net_admin` are NET_ADMIN."""
    return str(name).upper().removeprefix("CAP_")


def capability_set(container: Container | None, key: str) -> set[str]:
    """The capabilities a container's own securityContext adds (`add`) or drops (`drop`)."""
    if container is None:
        return set()
    caps = as_dict(as_dict(container.body.get("securityContext")).get("capabilities"))
    return {capability(c) for c in as_list(caps.get(key))}


def selinux_outside_baseline(options: Any) -> bool:
    """seLinuxOptions the baseline level forbids: a type outside the container types, a user or a role."""
    options = as_dict(options)
    return str(options.get("type", "")) not in SELINUX_TYPES or bool(options.get("user")) or bool(options.get("role"))


def sysctl_names(pod: PodTemplate | None) -> set[str]:
    if pod is None:
        return set()
    return {str(as_dict(s).get("name")) for s in as_list(as_dict(pod.spec.get("securityContext")).get("sysctls"))}


def failing_controls(resource: Resource) -> dict[str, list[str]]:
    """Failing controls by level ("baseline", "restricted"), each with where it fails; empty for
    a resource without a pod template."""
    pod = pod_template(resource)
    if pod is None:
        return {}
    baseline, restricted = _pod_controls(pod)
    for container in containers(resource).values():
        container_baseline, container_restricted = _container_controls(container)
        baseline += container_baseline
        restricted += container_restricted
    return {"baseline": baseline, "restricted": restricted}


def level(failing: dict[str, list[str]]) -> str:
    """The highest level whose controls all pass."""
    if failing.get("baseline"):
        return "privileged"
    if failing.get("restricted"):
        return "baseline"
    return "restricted"


def _pod_controls(pod: PodTemplate) -> tuple[list[str], list[str]]:
    spec, pod_sc = pod.spec, as_dict(pod.spec.get("securityContext"))
    baseline = [f"Host Namespaces ({field})" for field in HOST_NAMESPACES if spec.get(field) is True]
    restricted = []
    if as_dict(pod_sc.get("windowsOptions")).get("hostProcess") is True:
        baseline.append("HostProcess (pod)")
    volumes = [as_dict(v) for v in as_list(spec.get("volumes"))]
    if any("hostPath" in v for v in volumes):
        baseline.append("HostPath Volumes")
    unsafe = sorted(
        str(as_dict(s).get("name"))
        for s in as_list(pod_sc.get("sysctls"))
        if as_dict(s).get("name") not in SAFE_SYSCTLS
    )
    if unsafe:
        baseline.append(f"Sysctls ({', '.join(unsafe)})")
    if as_dict(pod_sc.get("seccompProfile")).get("type") == "Unconfined":
        baseline.append("Seccomp (pod Unconfined)")
    other_volumes = sorted({k for v in volumes for k in v if k != "name" and k not in RESTRICTED_VOLUMES})
    if other_volumes:
        restricted.append(f"Volume Types ({', '.join(other_volumes)})")
    return baseline, restricted


def _container_controls(container: Container) -> tuple[list[str], list[str]]:
    where = f"{container.kind_word} '{container.name}'"
    sc = as_dict(container.body.get("securityContext"))
    baseline: list[str] = []
    restricted: list[str] = []
    if sc.get("privileged") is True:
        baseline.append(f"Privileged Containers ({where})")
    if as_dict(sc.get("windowsOptions")).get("hostProcess") is True:
        baseline.append(f"HostProcess ({where})")
    added = capability_set(container, "add")
    if added - BASELINE_CAPABILITIES:
        baseline.append(f"Capabilities ({where}: {', '.join(sorted(added - BASELINE_CAPABILITIES))})")
    if any(host_ports(container.body)):
        baseline.append(f"Host Ports ({where})")
    if container.profile_type("appArmorProfile") == "Unconfined":
        baseline.append(f"AppArmor ({where})")
    if selinux_outside_baseline(container.security("seLinuxOptions")):
        baseline.append(f"SELinux ({where})")
    if sc.get("procMount") not in (None, "Default"):
        baseline.append(f"/proc Mount Type ({where})")
    seccomp = as_dict(sc.get("seccompProfile")).get("type")
    if seccomp == "Unconfined":
        baseline.append(f"Seccomp ({where} Unconfined)")
    if sc.get("allowPrivilegeEscalation") is not False:
        restricted.append(f"Privilege Escalation ({where})")
    if container.security("runAsNonRoot") is not True:
        restricted.append(f"Running as Non-root ({where})")
    if container.security("runAsUser") == 0:
        restricted.append(f"Running as Non-root user ({where})")
    pod_seccomp = as_dict(as_dict(container.pod.spec.get("securityContext")).get("seccompProfile")).get("type")
    # An unset container profile inherits the pod's.
    if (seccomp if seccomp is not None else pod_seccomp) not in CONFINING_SECCOMP:
        restricted.append(f"Seccomp ({where})")
    if "ALL" not in capability_set(container, "drop") or added - {"NET_BIND_SERVICE"}:
        restricted.append(f"Capabilities ({where})")
    return baseline, restricted
