"""Pod Security Standards (baseline and restricted) on every pod template of both sides.

Levels, best first: restricted, baseline, privileged. A workload meets the highest level whose
controls all pass; `security.pss` fires when that level drops (or when a new workload meets
only "privileged"), naming the controls that now fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Resource, ResourceDiff
from .common import what
from .context import SignalContext
from .kube import WORKLOAD_KINDS, as_dict, as_list, containers, pod_template
from .registry import Finding, detector
from .security import BASELINE_CAPABILITIES, SAFE_SYSCTLS, SELINUX_TYPES, capability

LEVELS = ("restricted", "baseline", "privileged")
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def failing_controls(resource: Resource) -> dict[str, list[str]]:
    """Failing controls by level ("baseline", "restricted"), each with where it fails."""
    pod = pod_template(resource)
    if pod is None:
        return {}
    spec = pod.spec
    pod_sc = as_dict(spec.get("securityContext"))
    baseline: list[str] = []
    restricted: list[str] = []
    for field, label in (
        ("hostNetwork", "Host Namespaces (hostNetwork)"),
        ("hostPID", "Host Namespaces (hostPID)"),
        ("hostIPC", "Host Namespaces (hostIPC)"),
    ):
        if spec.get(field) is True:
            baseline.append(label)
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
    pod_seccomp_set = as_dict(pod_sc.get("seccompProfile")).get("type") in (
        "RuntimeDefault",
        "Localhost",
    )
    for container in containers(resource).values():
        where = f"{container.kind_word} '{container.name}'"
        sc = as_dict(container.body.get("securityContext"))
        if sc.get("privileged") is True:
            baseline.append(f"Privileged Containers ({where})")
        if as_dict(sc.get("windowsOptions")).get("hostProcess") is True:
            baseline.append(f"HostProcess ({where})")
        added = {capability(c) for c in as_list(as_dict(sc.get("capabilities")).get("add"))}
        if added - BASELINE_CAPABILITIES:
            baseline.append(f"Capabilities ({where}: {', '.join(sorted(added - BASELINE_CAPABILITIES))})")
        if any(as_dict(p).get("hostPort") for p in as_list(container.body.get("ports"))):
            baseline.append(f"Host Ports ({where})")
        if as_dict(container.security("appArmorProfile")).get("type") == "Unconfined":
            baseline.append(f"AppArmor ({where})")
        se = as_dict(container.security("seLinuxOptions"))
        if str(se.get("type", "")) not in SELINUX_TYPES or se.get("user") or se.get("role"):
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
        if seccomp not in ("RuntimeDefault", "Localhost") and not (seccomp is None and pod_seccomp_set):
            restricted.append(f"Seccomp ({where})")
        caps = as_dict(sc.get("capabilities"))
        if "ALL" not in {capability(c) for c in as_list(caps.get("drop"))} or added - {"NET_BIND_SERVICE"}:
            restricted.append(f"Capabilities ({where})")
    return {"baseline": baseline, "restricted": restricted}


def level(failing: dict[str, list[str]]) -> str:
    """The highest level whose controls all pass."""
    if failing.get("baseline"):
        return "privileged"
    if failing.get("restricted"):
        return "baseline"
    return "restricted"


@detector(
    "security.pss",
    category="security",
    importance="high",
    kinds={*WORKLOAD_KINDS, "Namespace"},
    explanation="Pod Security Standards are the levels Kubernetes admission enforces per "
    "namespace: a workload that drops to a lower level is rejected where that level is enforced, "
    "and has lost the isolation the level stands for.",
)
def pod_security(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """The highest Pod Security Standard level a workload meets drops (restricted → baseline →
    privileged), naming the failing controls; a new workload that meets only privileged; a
    namespace's `pod-security.kubernetes.io/enforce` label lowered."""
    if diff.id.kind == "Namespace":
        yield from _namespace_label(diff)
        return
    if diff.head is None:
        return
    head_fail = failing_controls(diff.head)
    if not head_fail:
        return
    after = level(head_fail)
    before = level(failing_controls(diff.base)) if diff.base is not None else None
    if before is None and after != "privileged":
        return
    if before is not None and LEVELS.index(after) <= LEVELS.index(before):
        return
    lost = head_fail["baseline"] if after == "privileged" else head_fail["restricted"]
    old_fail = failing_controls(diff.base) if diff.base is not None else {"baseline": [], "restricted": []}
    new_controls = [c for c in lost if c not in old_fail.get("baseline", []) + old_fail.get("restricted", [])] or lost
    pod = pod_template(diff.head)
    assert pod is not None
    verb = f"drops from {before} to {after}" if before else f"meets only the {after} level"
    yield Finding(
        f"Pod Security level of {what(diff.head)} {verb}: {'; '.join(new_controls)}",
        pod.display(),
        before,
        after,
        "added" if before is None else "modified",
        pod.spec_path,
    )


def _namespace_label(diff: ResourceDiff) -> Iterator[Finding]:
    key = "pod-security.kubernetes.io/enforce"

    def enforce(resource: Resource | None) -> Any:
        return as_dict(as_dict(resource.body.get("metadata")).get("labels")).get(key) if resource else None

    before, after = enforce(diff.base), enforce(diff.head)
    if before in LEVELS and (after not in LEVELS or LEVELS.index(after) > LEVELS.index(before)):
        yield Finding(
            f"Namespace '{diff.id.name}' enforces Pod Security level {after or 'none'} instead of {before}",
            f'metadata.labels["{key}"]',
            before,
            after,
            "modified",
            ("metadata", "labels", key),
        )
