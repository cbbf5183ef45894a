"""What NetworkPolicies let a pod send and receive.

A pod is isolated for a direction (Ingress, Egress) as soon as one NetworkPolicy of its namespace
selects it and lists that direction in its policyTypes; it then accepts (or sends) only what the
rules of all those policies allow together. A pod no policy isolates allows everything. Policies
only ever add allowances to one another, so taking one away or narrowing it can only deny more.

What is allowed is written as atoms, (peer, port) pairs: a rule allows every peer of its
`from`/`to` with every port of its `ports`, an empty or missing list meaning any. One allowance
covers another when its peer is the same or any, and its port the same, any, or a range around it.
Peers are compared as written: cheap and exact, it never misses a real loss; the price is that a
peer rewritten wider (10.0.0.0/24 → 10.0.0.0/16) reads as one allowance lost and another added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..model import Resource
from .bodies import as_dict, as_list, get
from .selectors import labels_match

Direction = Literal["Ingress", "Egress"]
DIRECTIONS: tuple[Direction, ...] = ("Ingress", "Egress")
# The rule list and its peer list of each direction.
_RULES: dict[Direction, tuple[str, str]] = {"Ingress": ("ingress", "from"), "Egress": ("egress", "to")}
ANY = "*"


@dataclass(frozen=True, slots=True, order=True)
class Port:
    """A rule's port: protocol, port (a number or a container port name; None for all ports of
    the protocol) and endPort (the end of a range)."""

    protocol: str
    port: int | str | None = None
    end: int | None = None

    def covers(self, other: Port) -> bool:
        if self.protocol != other.protocol:
            return False
        if self.port is None or (self.port == other.port and self.end == other.end):
            return True
        if isinstance(self.port, int) and self.end is not None and isinstance(other.port, int):
            return self.port <= other.port and (other.end or other.port) <= self.end
        return False

    def __str__(self) -> str:
        if self.port is None:
            return f"any {self.protocol} port"
        return f"{self.port}{f'-{self.end}' if self.end is not None else ''}/{self.protocol}"


Peer = str  # a peer's canonical JSON, or ANY
Atom = tuple[Peer, Port | str]  # (peer, port or ANY)
# What a pod may receive or send in one direction: None when nothing isolates it (everything).
Access = frozenset[Atom] | None


def policy_types(policy: Resource) -> set[str]:
    """The directions a policy isolates: its policyTypes, or by default Ingress, and Egress when
    it has egress rules."""
    declared = as_list(get(policy.body, "spec", "policyTypes"))
    if declared:
        return {str(t) for t in declared}
    return {"Ingress"} | ({"Egress"} if get(policy.body, "spec", "egress") is not None else set())


def selects(policy: Resource, namespace: str, labels: Any) -> bool:
    """Whether the policy selects pods of `namespace` with `labels`; an empty (or missing)
    podSelector selects every pod of its namespace."""
    if policy.id.namespace != namespace:
        return False
    selector = get(policy.body, "spec", "podSelector")
    if not isinstance(selector, dict) or not selector:
        return True
    return labels_match(selector, labels)


def allowances(policy: Resource, direction: Direction) -> frozenset[Atom]:
    """Every (peer, port) the policy's rules of `direction` allow."""
    rules_key, peers_key = _RULES[direction]
    atoms: set[Atom] = set()
    for rule in as_list(get(policy.body, "spec", rules_key)):
        rule = as_dict(rule)
        peers = [_peer(p) for p in as_list(rule.get(peers_key))] or [ANY]
        ports: list[Port | str] = [_port(p) for p in as_list(rule.get("ports"))] or [ANY]
        atoms.update((peer, port) for peer in peers for port in ports)
    return frozenset(atoms)


def access(policies: Iterable[Resource], namespace: str, labels: Any, direction: Direction) -> Access:
    """What pods of `namespace` with `labels` may receive (Ingress) or send (Egress) under
    `policies` (every NetworkPolicy of one side)."""
    isolating = [p for p in policies if direction in policy_types(p) and selects(p, namespace, labels)]
    if not isolating:
        return None
    return frozenset(atom for policy in isolating for atom in allowances(policy, direction))


def lost(before: Access, after: Access) -> list[Atom]:
    """What `before` allowed that `after` no longer does, sorted; [(ANY, ANY)] when the pods go
    from unrestricted to isolated."""
    if after is None:
        return []
    if before is None:
        return [] if (ANY, ANY) in after else [(ANY, ANY)]
    missing = [atom for atom in before if not any(_covers(held, atom) for held in after)]
    return sorted(missing, key=lambda atom: (atom[0], str(atom[1])))


def describe(atom: Atom, direction: Direction) -> str:
    """`from pods app=web on 8080/TCP`, `to any peer on 53/UDP`, `from anywhere`."""
    peer, port = atom
    word = "from" if direction == "Ingress" else "to"
    if peer == ANY and port == ANY:
        return f"{word} anywhere"
    text = f"{word} {'any peer' if peer == ANY else _peer_words(json.loads(peer))}"
    return text if port == ANY else f"{text} on {port}"


def _covers(held: Atom, wanted: Atom) -> bool:
    (held_peer, held_port), (peer, port) = held, wanted
    if held_peer not in (ANY, peer):
        return False
    if held_port == ANY:
        return True
    return isinstance(held_port, Port) and isinstance(port, Port) and held_port.covers(port)


def _peer(peer: Any) -> Peer:
    # An empty peer is no restriction: the API requires one field, and reads none as any.
    peer = as_dict(peer)
    return json.dumps(peer, sort_keys=True, separators=(",", ":"), default=str) if peer else ANY


def _port(port: Any) -> Port | str:
    port = as_dict(port)
    number = port.get("port")
    end = port.get("endPort")
    return Port(
        str(port.get("protocol") or "TCP"),
        number if isinstance(number, int | str) and not isinstance(number, bool) else None,
        end if isinstance(end, int) and not isinstance(end, bool) else None,
    )


def _peer_words(peer: dict[str, Any]) -> str:
    """`pods app=web`, `pods app=web in namespaces team=a`, `all namespaces`, `10.0.0.0/8`."""
    block = as_dict(peer.get("ipBlock"))
    if block:
        excepted = [str(c) for c in as_list(block.get("except"))]
        return f"{block.get('cidr')}" + (f" except {', '.join(excepted)}" if excepted else "")
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    parts = []
    if pods is not None:
        parts.append(f"pods {selector_words(pods)}" if as_dict(pods) else "all pods")
    if namespaces is not None:
        where = f"namespaces {selector_words(namespaces)}" if as_dict(namespaces) else "all namespaces"
        parts.append(f"in {where}" if parts else where)
    return " ".join(parts) or "any peer"


def selector_words(selector: Any) -> str:
    """`app=web,tier In (a, b)`: a label selector in one line."""
    selector = as_dict(selector)
    words = [f"{k}={v}" for k, v in sorted(as_dict(selector.get("matchLabels")).items())]
    for expression in as_list(selector.get("matchExpressions")):
        expression = as_dict(expression)
        values = ", ".join(map(str, as_list(expression.get("values"))))
        words.append(f"{expression.get('key')} {expression.get('operator')}" + (f" ({values})" if values else ""))
    if not words and "matchLabels" not in selector and "matchExpressions" not in selector:
        words = [f"{k}={v}" for k, v in sorted(selector.items())]
    return ",".join(words) or "(any)"
