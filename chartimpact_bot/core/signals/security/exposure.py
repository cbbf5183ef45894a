"""`security.exposure.*`: Services and Ingresses that become reachable from outside the cluster."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_dict, as_list, get
from ...kubernetes.networking import EXPOSED_SERVICE_TYPES, OPEN_CIDRS
from ...model import Resource, ResourceDiff
from ..common import what
from ..context import SignalContext, Update
from ..registry import Finding, resource_detector, update_detector


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
    if after in EXPOSED_SERVICE_TYPES and before not in EXPOSED_SERVICE_TYPES:
        yield Finding(
            description=f"Service '{diff.id.name}' is exposed outside the cluster as {after}"
            + (f" (was {before})" if before else ""),
            path=("spec", "type"),
            before=before,
            after=after,
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
            description=f"Service '{diff.id.name}' gains externalIPs {', '.join(added)}",
            path=("spec", "externalIPs"),
            before=before or None,
            after=after,
            subject=(before or None, after),
        )


@update_detector("security.exposure.loadBalancerSourceRanges", "high", kinds={"Service"})
def source_ranges(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A LoadBalancer Service's source ranges are removed or widened to 0.0.0.0/0.

    loadBalancerSourceRanges restrict which addresses may reach a LoadBalancer; without them, or
    with 0.0.0.0/0, the whole internet can.
    """
    if get(update.head.body, "spec", "type") != "LoadBalancer":
        return
    before = [str(r) for r in as_list(get(update.base.body, "spec", "loadBalancerSourceRanges"))]
    after = [str(r) for r in as_list(get(update.head.body, "spec", "loadBalancerSourceRanges"))]
    if before and not after:
        yield Finding(
            description=f"Source ranges of LoadBalancer Service '{update.id.name}' removed: "
            "it accepts traffic from anywhere",
            path=("spec", "loadBalancerSourceRanges"),
            before=before,
            subject=(before, None),
        )
    elif (set(after) & OPEN_CIDRS) - set(before):
        open_ranges = ", ".join(sorted(set(after) & OPEN_CIDRS))
        yield Finding(
            description=f"LoadBalancer Service '{update.id.name}' accepts traffic from anywhere ({open_ranges})",
            path=("spec", "loadBalancerSourceRanges"),
            before=before,
            after=after,
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
    # The Ingress is the subject of what it serves and injects; TLS hosts are their own.
    old_routes, new_routes = _routes(diff.base), _routes(diff.head)
    gained = sorted(new_routes - old_routes)
    if gained:
        wildcard = any(h.startswith("*") for h, _ in gained)
        listed = ", ".join(f"{h}{p}" for h, p in gained)
        yield Finding(
            description=f"{what(diff.head)} serves {'a wildcard host: ' if wildcard else ''}{listed}",
            path=("spec", "rules"),
            before=sorted(f"{h}{p}" for h, p in old_routes) or None,
            after=sorted(f"{h}{p}" for h, p in new_routes),
        )
    if diff.base is not None and diff.id.kind == "Ingress":
        lost = sorted(_tls_hosts(diff.base) - _tls_hosts(diff.head))
        if lost:
            yield Finding(
                description=f"{what(diff.head)} no longer terminates TLS for {', '.join(lost)}",
                path=("spec", "tls"),
                before=sorted(_tls_hosts(diff.base)),
                after=sorted(_tls_hosts(diff.head)),
                subject=(lost, None),
            )
    old_ann = as_dict(get(diff.base.body, "metadata", "annotations")) if diff.base else {}
    for key, value in sorted(as_dict(get(diff.head.body, "metadata", "annotations")).items()):
        if str(key).endswith("-snippet") and old_ann.get(key) != value:
            yield Finding(
                description=f"{what(diff.head)} injects proxy configuration through {key}",
                path=("metadata", "annotations", str(key)),
                before=old_ann.get(key),
                after=value,
            )
