"""What NetworkPolicies allow, compared as allowances: a wider port range or an any-peer rule
covers a narrower one, so only real losses are reported."""

from __future__ import annotations

from typing import Any

from chartimpact_bot.core.kubernetes.network_policies import ANY, Port, access, describe, lost
from chartimpact_bot.core.model import Resource, ResourceId


def _policy(name: str, spec: dict[str, Any], namespace: str = "default") -> Resource:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec}
    return Resource(
        ResourceId("networking.k8s.io", "NetworkPolicy", namespace, name), "networking.k8s.io/v1", body, "x", 0
    )


WEB = {"app": "web"}


def test_a_port_range_covers_the_ports_inside_it() -> None:
    before = access(
        [_policy("a", {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]})], "default", WEB, "Ingress"
    )
    after = access(
        [_policy("a", {"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8999}]}]})],
        "default",
        WEB,
        "Ingress",
    )
    assert lost(before, after) == []
    assert lost(after, before) == [(ANY, Port("TCP", 8000, 8999))]


def test_policies_of_another_namespace_or_type_do_not_isolate() -> None:
    other = _policy("a", {"podSelector": {}}, namespace="other")
    egress_only = _policy("b", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert access([other, egress_only], "default", WEB, "Ingress") is None
    assert access([other, egress_only], "default", WEB, "Egress") == frozenset()


def test_policies_add_up() -> None:
    deny = _policy("deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    allow = _policy("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{}]})
    together = access([deny, allow], "default", WEB, "Ingress")
    assert together == frozenset({(ANY, ANY)})
    assert lost(None, together) == []
    assert [describe(a, "Ingress") for a in lost(together, access([deny], "default", WEB, "Ingress"))] == [
        "from anywhere"
    ]
