"""`security.rbac.*`: Roles that allow more, and bindings that hand out more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict, as_list
from ...kubernetes.rbac import BINDING_KINDS, ROLE_KINDS, Grant, covered, grants
from ...model import ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector, resource_detector

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
        description=f"{what(diff.resource)} now allows {listed}",
        path=("rules",),
        after=[list(g) for g in found],
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
    head_bindings = [binding for kind in sorted(BINDING_KINDS) for binding in ctx.of_kind("head", kind)]
    for binding in sorted(head_bindings, key=lambda b: b.id.sort_key()):
        rid = binding.id
        old = ctx.base.resources.get(rid)
        role_ref = as_dict(binding.body.get("roleRef"))
        old_ref = as_dict(old.body.get("roleRef")) if old else {}
        if role_ref != old_ref and _wildcard_role(ctx, role_ref, rid.namespace):
            yield Finding(
                description=f"{what(binding)} grants {role_ref.get('kind')} '{role_ref.get('name')}', "
                "which allows everything",
                path=("roleRef",),
                before=old_ref or None,
                after=role_ref,
                about=binding,
            )
        names = {str(as_dict(s).get("name")) for s in as_list(binding.body.get("subjects"))}
        old_names = {str(as_dict(s).get("name")) for s in as_list(old.body.get("subjects"))} if old else set()
        gained = sorted((names - old_names) & PRIVILEGED_GROUPS)
        if gained:
            yield Finding(
                description=f"{what(binding)} binds {', '.join(gained)}",
                path=("subjects",),
                before=sorted(old_names),
                after=sorted(names),
                about=binding,
            )
        if rid.kind == "ClusterRoleBinding" and old is None:
            was = next(iter(ctx.named("base", "RoleBinding", rid.name)), None)
            if was is not None and ctx.resource("head", "RoleBinding", was.id.namespace, was.id.name) is None:
                yield Finding(
                    description=f"RoleBinding '{rid.name}' became a ClusterRoleBinding: "
                    "its role now applies in every namespace",
                    path=("kind",),
                    before="RoleBinding",
                    after="ClusterRoleBinding",
                    subject=(was, binding),
                    about=binding,
                )
