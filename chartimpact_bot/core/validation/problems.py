"""What is wrong with a rendered resource, for one target release: each schema error as a problem
with the field's path (list items named as the diff names them) and a sentence that shows no
value of the resource (a value may be a secret; reports show values only where they are masked).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema_rs

from ..diff import list_item_keys
from ..kubernetes.apis import BUILTIN_GROUPS
from ..kubernetes.paths import FieldPath, Item, Step
from ..model import Resource, ResourceId
from ..normalize import is_masked
from ..report.json import value_type
from .crds import compiled, crd_schemas, parsed
from .schemas import builtin_validator

ProblemKind = Literal["invalid", "unknownField"]
MAX_PROBLEMS_PER_RESOURCE = 20
MAX_PROBLEMS = 500  # per side and release


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    resource: ResourceId
    path: FieldPath
    kind: ProblemKind
    message: str
    by_crd: bool = False  # checked against the chart's own CRD, not a release's schema

    @property
    def key(self) -> tuple[ResourceId, FieldPath, ProblemKind, str]:
        return self.resource, self.path, self.kind, self.message


@dataclass(frozen=True, slots=True)
class Validation:
    problems: tuple[SchemaProblem, ...]
    unchecked: int  # custom resources whose CRD the chart does not ship
    too_deep: int = 0  # resources nested deeper than the validator goes


def validate_side(
    resources: Mapping[ResourceId, Resource],
    schema_version: str | None,
    only: Collection[ResourceId] | None = None,
    crds: Mapping[tuple[str, str], str] | None = None,
) -> Validation:
    """The resources of a side (`only` these, when given) checked against release
    `schema_version`'s schemas (None: built-in kinds are not checked), and its custom resources
    against the side's own CRDs (`crds`: `crd_schemas` of the side, when the caller has them)."""
    crds = crd_schemas(resources.values()) if crds is None else crds
    chosen = resources.values() if only is None else [resources[i] for i in only if i in resources]
    problems: list[SchemaProblem] = []
    unchecked = too_deep = 0
    for resource in sorted(chosen, key=lambda r: (r.id.group, r.id.kind, r.id.namespace, r.id.name)):
        if len(problems) >= MAX_PROBLEMS:
            break
        group = resource.api_version.rsplit("/", 1)[0] if "/" in resource.api_version else ""
        if group in BUILTIN_GROUPS:
            if schema_version is None:
                continue
            validator = builtin_validator(schema_version, resource.api_version, resource.id.kind)
            by_crd = False
        else:
            schema = crds.get((resource.api_version, resource.id.kind))
            if schema is None:
                unchecked += 1
                continue
            validator, by_crd = compiled(schema), True
        if validator is not None:
            crd_schema = parsed(schema) if by_crd and schema is not None else None
            try:
                problems += _problems(resource, validator, crd_schema)[:MAX_PROBLEMS_PER_RESOURCE]
            except (ValueError, RecursionError):  # "Recursion limit reached"
                too_deep += 1
    return Validation(tuple(problems[:MAX_PROBLEMS]), unchecked, too_deep)


def _problems(
    resource: Resource, validator: jsonschema_rs.Validator, crd_schema: dict[str, Any] | None
) -> list[SchemaProblem]:
    """`crd_schema`: the converted schema of the resource's CRD (None for a built-in kind)."""
    by_crd = crd_schema is not None
    body = resource.body
    if "status" in body and not by_crd:  # written through the status subresource, never with the object
        body = {key: value for key, value in body.items() if key != "status"}
    # A null is a field not set: the API server prunes it from a custom resource, and decodes it
    # to the zero value in a built-in one. Most bodies are valid and hold no null: checked in one
    # pass of compiled code without a copy.
    if validator.is_valid(body) and not _has_null(body):
        return []
    original, body = body, _without_nulls(body)
    found: dict[tuple[FieldPath, ProblemKind, str], SchemaProblem] = {}
    for error in validator.iter_errors(body):
        for path, kind, message in _described(error, body):
            if _not_ours(original, path, message, crd_schema):
                continue
            keyed = _keyed(body, path)
            if by_crd and kind == "unknownField":
                message += " (the API server drops it)"
            found.setdefault((keyed, kind, message), SchemaProblem(resource.id, keyed, kind, message, by_crd))
    return sorted(found.values(), key=lambda p: (str(p.path), p.kind, p.message))


def _described(error: jsonschema_rs.ValidationError, body: Any) -> Iterable[tuple[list[str | int], ProblemKind, str]]:
    path = list(error.instance_path)
    kind = error.kind
    details: dict[str, Any] = kind.as_dict()
    name = kind.name
    if name == "additionalProperties":
        for field in details.get("unexpected") or ():
            yield [*path, str(field)], "unknownField", f"unknown field '{str(field)[:100]}'"
    elif name == "required":
        field = str(details.get("property", "?"))[:100]
        yield [*path, field], "invalid", f"required field '{field}' is missing"
    elif name == "type":
        wanted = [t for t in details.get("types") or () if t != "null"]
        yield path, "invalid", f"{_kind_of(_at(body, path))} where the schema wants {_either(wanted)}"
    elif name == "enum":
        options = [str(o)[:60] for o in (details.get("options") or ())[:8]]
        yield path, "invalid", "not one of the allowed values (" + ", ".join(options) + ")"
    elif name in ("anyOf", "oneOfNotValid"):
        yield path, "invalid", f"{_kind_of(_at(body, path))} that matches none of the forms the schema allows"
    elif name == "falseSchema":
        yield path, "unknownField", f"unknown field '{str(path[-1])[:100] if path else '?'}'"
    else:
        limits = ", ".join(f"{k} {str(v)[:60]}" for k, v in sorted(details.items()) if not isinstance(v, dict | list))
        yield path, "invalid", f"breaks the schema's {name} rule" + (f" ({limits})" if limits else "")


def _not_ours(original: Any, path: list[str | int], message: str, crd_schema: dict[str, Any] | None) -> bool:
    """Errors about what normalization wrote, not the chart: a masked secret or a value that
    differs between renders is a placeholder string in the body; and a required field of a custom
    resource written as null where its CRD says `nullable` (the API server keeps that null)."""
    if any(is_masked(step) for step in path if isinstance(step, str)):
        return True
    if is_masked(_at(original, path)):
        return True
    if crd_schema is not None and message.startswith("required field"):
        parent = _at(original, path[:-1])
        return isinstance(parent, dict) and path[-1] in parent and _nullable(crd_schema, path)
    return False


def _nullable(schema: dict[str, Any], path: list[str | int]) -> bool:
    node: Any = schema
    for step in path:
        if not isinstance(node, dict):
            return False
        if isinstance(step, int):
            node = node.get("items")
        else:
            properties = node.get("properties") or {}
            node = properties.get(step) if step in properties else node.get("additionalProperties")
    kinds = node.get("type") if isinstance(node, dict) else None
    return isinstance(kinds, list) and "null" in kinds


def _has_null(body: dict[str, Any]) -> bool:
    """Whether the body may hold a null: its repr, built in C, is a few times faster than a walk
    in Python, and a string that merely spells None only costs the careful path."""
    try:
        return "None" in repr(body)
    except RecursionError:  # deeper than repr goes: the careful path, which is bounded
        return True


# JSON Schema's type names, as a sentence says them.
_TYPE_WORDS = {
    "integer": "an integer",
    "string": "a string",
    "boolean": "a boolean",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _either(types: list[str]) -> str:
    named = [_TYPE_WORDS.get(t, t) for t in types]
    return " or ".join(named) if named else "another type"


def _kind_of(value: Any) -> str:
    return _TYPE_WORDS[value_type(value)]


def _at(body: Any, path: list[str | int]) -> Any:
    for step in path:
        if isinstance(body, dict) and isinstance(step, str):
            body = body.get(step)
        elif isinstance(body, list) and isinstance(step, int) and 0 <= step < len(body):
            body = body[step]
        else:
            return None
    return body


def _keyed(body: Any, path: list[str | int]) -> FieldPath:
    """The path with list positions named by the items' keys where the diff names them so
    (`containers[name=web]`): the signal's path and its template line are found by it."""
    steps: list[Step] = []
    node, field = body, None
    for step in path:
        if isinstance(node, list) and isinstance(step, int):
            keys = list_item_keys(field, node, node)
            steps.append(Item(keys[0][step]) if keys is not None and step < len(keys[0]) else step)
            node = node[step] if 0 <= step < len(node) else None
        else:
            steps.append(step)
            field = str(step)
            node = node.get(step) if isinstance(node, dict) else None
    return tuple(steps)


def _without_nulls(value: Any, depth: int = 0) -> Any:
    """The body as the API server decodes it: a field set to null is a field not set."""
    if depth > 200:
        return value
    if isinstance(value, dict):
        return {k: _without_nulls(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v, depth + 1) for v in value]
    return value
