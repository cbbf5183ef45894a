"""RBAC: role and binding kinds, and the grants a role's rules add up to."""

from __future__ import annotations

from ..model import Resource
from .bodies import as_dict, as_list

ROLE_KINDS = frozenset({"Role", "ClusterRole"})
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})

Grant = tuple[str, str, str]  # (apiGroup, resource, verb); non-resource URLs as ("url", url, verb)


def grants(resource: Resource | None) -> set[Grant]:
    """Every (apiGroup, resource, verb) a Role or ClusterRole's rules allow."""
    if resource is None:
        return set()
    out: set[Grant] = set()
    for rule in as_list(resource.body.get("rules")):
        rule = as_dict(rule)
        verbs = [str(v) for v in as_list(rule.get("verbs"))]
        for url in as_list(rule.get("nonResourceURLs")):
            out.update(("url", str(url), v) for v in verbs)
        for group in as_list(rule.get("apiGroups")) or ([""] if rule.get("resources") else []):
            for name in as_list(rule.get("resources")):
                out.update((str(group), str(name), v) for v in verbs)
    return out


def covered(grant: Grant, existing: set[Grant]) -> bool:
    """Whether `existing` already allows `grant` (wildcards and `pods/*` subresources included)."""
    group, name, verb = grant
    return any(
        g in (group, "*") and (n in (name, "*") or (n.endswith("/*") and name.startswith(n[:-1]))) and v in (verb, "*")
        for g, n, v in existing
    )
