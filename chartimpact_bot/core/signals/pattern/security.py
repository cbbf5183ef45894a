"""`pattern.security.*`: a workload losing several hardening controls at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from ...model import Signal
from ..context import SignalContext
from ..registry import Finding, pattern_detector

HARDENING_PREFIXES = (
    "security.context.",
    "security.hostAccess.",
    "security.serviceAccount.automount",
)
# The field each hardening type is about, as the API spells it (a type's last segment is not
# always one: `security.hostAccess.network` is hostNetwork).
CONTROLS = {
    "security.context.privileged": "privileged",
    "security.context.allowPrivilegeEscalation": "allowPrivilegeEscalation",
    "security.context.runAsNonRoot": "runAsNonRoot",
    "security.context.runAsUser": "runAsUser",
    "security.context.capabilities": "capabilities",
    "security.context.readOnlyRootFilesystem": "readOnlyRootFilesystem",
    "security.context.seccomp": "seccompProfile",
    "security.context.appArmor": "appArmorProfile",
    "security.context.seLinux": "seLinuxOptions",
    "security.context.procMount": "procMount",
    "security.context.sysctls": "sysctls",
    "security.context.hostProcess": "hostProcess",
    "security.hostAccess.network": "hostNetwork",
    "security.hostAccess.pid": "hostPID",
    "security.hostAccess.ipc": "hostIPC",
    "security.hostAccess.path": "hostPath",
    "security.hostAccess.port": "hostPort",
    "security.serviceAccount.automount": "automountServiceAccountToken",
}


def control(type_: str) -> str:
    """The field a hardening signal type is about (a finer type, its detector's)."""
    for prefix, field in sorted(CONTROLS.items(), key=lambda item: -len(item[0])):
        if type_ == prefix or type_.startswith(prefix + "."):
            return field
    return type_.rsplit(".", 1)[-1]


@pattern_detector("pattern.security.hardeningRemoved", "security", "high")
def hardening_removed(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """One workload loses two or more hardening controls at once.

    Losing several hardening controls at once usually means a security context was dropped or
    overridden wholesale, rather than one deliberate exception.
    """
    by_workload = defaultdict(list)
    for signal in signals:
        if signal.type.startswith(HARDENING_PREFIXES) and signal.importance != "low" and signal.change_type != "added":
            by_workload[signal.resource].append(signal)
    for resource, members in sorted(by_workload.items(), key=lambda item: item[0].sort_key()):
        types = sorted({control(s.type) for s in members})
        if len(types) >= 2:
            yield Finding(
                description=f"{resource.kind} '{resource.name}' loses {len(types)} hardening controls: "
                f"{', '.join(types)}",
                after=types,
                about=ctx.either(resource),
                related=tuple(s.id for s in members),
                source=first_source(members),
            )


def first_source(members: Sequence[Signal]) -> tuple[str, int | None] | None:
    """Where the first of the controls is lost (the earliest line its members point at): the
    pattern is about fields, not about the resource's first line."""
    located = sorted((s.source.file, s.source.line) for s in members if s.source is not None and s.source.line)
    return located[0] if located else None
