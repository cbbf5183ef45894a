"""Reachability: the Service types that are reachable from outside the cluster, and the address
ranges that mean everyone."""

from __future__ import annotations

EXPOSED_SERVICE_TYPES = frozenset({"NodePort", "LoadBalancer"})
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
