"""`upgrade.schema.*`: rendered resources the API server of a target release rejects, or whose
fields it drops, by its own schemas (validation/schemas.py) or by the chart's CRDs
(validation/crds.py).

Only what the change brings is a signal: a problem the base already has is counted in one
warning of the chart, not repeated. A problem that holds on some targets and not others names
both. Targets the change adds to the configuration count every problem they find as new.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ...kubernetes.paths import FieldPath, display_path
from ...model import Resource, ResourceId
from ...validation.crds import crd_schemas
from ...validation.problems import SchemaProblem, Validation, validate_side
from ...validation.schemas import newest_version, schema_versions, schemas_for
from ...validation.targets import Target, releases
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector

ProblemKey = tuple[ResourceId, FieldPath, str, str]


@dataclass(slots=True)
class SchemaCheck:
    """A chart's problems: the new ones with the targets each holds on, the count of those the
    base already had, and what could not be checked."""

    new: dict[ProblemKey, tuple[SchemaProblem, list[Target]]] = field(default_factory=dict)
    existing: set[ProblemKey] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def schema_check(ctx: SignalContext) -> SchemaCheck:
    """Computed once per chart (`ctx.once`): both sides against every target."""
    check = SchemaCheck()
    unchecked = too_deep = 0
    crds: dict[int, dict[tuple[str, str], str]] = {}  # a side's CRDs, converted once for every target

    def validate(side: Mapping[ResourceId, Resource], version: str | None, only: set[ResourceId] | None) -> Validation:
        if id(side) not in crds:
            crds[id(side)] = crd_schemas(side.values())
        return validate_side(side, version, only, crds[id(side)])

    for target in ctx.targets:
        version = schemas_for(target.name)
        if version is None:
            oldest = (schema_versions() or ["?"])[0]
            check.notes.append(
                f"Kubernetes {target.name}: no schemas older than {oldest} are bundled, so resources are not"
                " validated against it (its API lifecycle still is)"
            )
        elif version != target.name:
            check.notes.append(
                f"Kubernetes {target.name} is newer than the bundled schemas: validated against {newest_version()}"
            )
        head_resources, base_resources = ctx.head.resources_for(target.version), ctx.base.resources_for(target.version)
        # A resource alike on both sides has the same problems on both: counted once, from the
        # head, as the base's (a target the change adds has no base to compare with).
        changed = None if target.added else _changed(base_resources, head_resources)
        head = validate(head_resources, version, None)
        unchecked, too_deep = max(unchecked, head.unchecked), max(too_deep, head.too_deep)
        base_keys: set[ProblemKey] = set()
        if changed is not None:
            base = validate(base_resources, version, changed)
            base_keys = {p.key for p in base.problems} | {p.key for p in head.problems if p.resource not in changed}
        for problem in head.problems:
            if problem.key in base_keys:
                check.existing.add(problem.key)
                continue
            _, seen = check.new.setdefault(problem.key, (problem, []))
            seen.append(target)
    if check.existing:
        count = len(check.existing)
        check.notes.append(
            f"{count} schema problem{'s' if count != 1 else ''} the base already has "
            f"{'are' if count != 1 else 'is'} not repeated as signals"
        )
    if unchecked:
        check.notes.append(
            f"{unchecked} custom resource{'s are' if unchecked != 1 else ' is'} not validated: the chart does not"
            " ship the CRD"
        )
    if too_deep:
        check.notes.append(f"{too_deep} resource{'s nest' if too_deep != 1 else ' nests'} too deeply to be validated")
    return check


def _changed(base: Mapping[ResourceId, Resource], head: Mapping[ResourceId, Resource]) -> set[ResourceId]:
    return {
        rid
        for rid, resource in head.items()
        if (old := base.get(rid)) is None or old.api_version != resource.api_version or old.body != resource.body
    }


def _where(ctx: SignalContext, holds: list[Target]) -> str:
    if len(ctx.targets) == 1:
        return ""
    others = [t for t in ctx.targets if t not in holds]
    said = f" on Kubernetes {releases(holds)}"
    return said + (f" ({releases(others)} accept{'s' if len(others) == 1 else ''} it)" if others else "")


def _findings(ctx: SignalContext, kind: str) -> Iterator[Finding]:
    for problem, holds in ctx.once(schema_check).new.values():
        if problem.kind != kind:
            continue
        resource = ctx.head.resources.get(problem.resource)
        if resource is None:  # rendered only for another target
            resource = next(r for t in holds if (r := ctx.head.resources_for(t.version).get(problem.resource)))
        against = "its CRD" if problem.by_crd else "the Kubernetes schema"
        yield Finding(
            description=f"{what(resource)} breaks {against} at {_display(problem.path)}: {problem.message}"
            f"{_where(ctx, holds)}",
            path=problem.path,
            after=problem.message,
            subject=(None, problem.message),
            about=resource,
        )


def _display(path: FieldPath) -> str:
    return display_path(path) or "the top level"


@chart_detector("upgrade.schema.invalid", "high")
def schema_invalid(ctx: SignalContext) -> Iterator[Finding]:
    """A rendered resource is invalid by the schema of a target Kubernetes release, or by its CRD
    shipped in the chart: a field of the wrong type, a required field missing, a value outside
    what the schema allows.

    The API server rejects the object, so `helm install` or `helm upgrade` fails. Only problems the
    base does not have are signals; the rest are counted in a warning of the chart.
    """
    yield from _findings(ctx, "invalid")


@chart_detector("upgrade.schema.unknownField", "medium")
def schema_unknown_field(ctx: SignalContext) -> Iterator[Finding]:
    """A rendered resource sets a field its schema does not define (often a typo or a value at
    the wrong indentation).

    The API server drops the field (custom resources, and built-in kinds without strict field
    validation) or rejects the object (strict validation, `kubectl --validate=strict`): either
    way the setting does not take effect.
    """
    yield from _findings(ctx, "unknownField")
