"""The chart's own CRDs as validators of its custom resources.

A CRD's `openAPIV3Schema` (per served version) is an OpenAPI 3.0 structural schema with
Kubernetes extensions; it is turned into JSON Schema 2020-12 the way the API server reads it:
`nullable`, `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields` and
`x-kubernetes-embedded-resource` kept in meaning, the boolean `exclusiveMinimum` of OpenAPI 3.0
made numeric, and fields no property names pruned: written in a custom resource, the API server
drops them, which is reported as an unknown field.

The schemas come from the pull request: they are bounded in depth and size (what lies beyond is
not checked), compiled with linear-time regular expressions (Go's RE2 semantics, never
catastrophic backtracking), offline (a `$ref` is never fetched), and one that does not compile
validates nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

import jsonschema_rs

from ..kubernetes.bodies import as_list, get
from ..model import Resource

MAX_DEPTH = 48
MAX_NODES = 20_000  # per CRD version; a bigger schema is checked as far as this reaches
MAX_CRDS = 200
_COPIED = (
    "type",
    "enum",
    "required",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "uniqueItems",
    "pattern",
)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def crd_schemas(resources: Iterable[Resource]) -> dict[tuple[str, str], str]:
    """(apiVersion, kind) → the JSON Schema text its CRD among `resources` defines."""
    found: dict[tuple[str, str], str] = {}
    for resource in resources:
        if resource.id.kind != "CustomResourceDefinition" or resource.id.group != "apiextensions.k8s.io":
            continue
        if len(found) >= MAX_CRDS:
            break
        spec = get(resource.body, "spec")
        if not isinstance(spec, dict):
            continue
        group, kind = spec.get("group"), get(spec, "names", "kind")
        if not isinstance(group, str) or not isinstance(kind, str):
            continue
        # v1beta1 CRDs preserve unknown fields unless they say otherwise; v1 prunes them.
        legacy = resource.api_version == "apiextensions.k8s.io/v1beta1"
        prunes = spec.get("preserveUnknownFields") is not True and not legacy
        shared = get(spec, "validation", "openAPIV3Schema")
        for version in as_list(spec.get("versions")) or [{"name": spec.get("version")}]:
            if not isinstance(version, dict) or not isinstance(version.get("name"), str):
                continue
            if version.get("served") is False:
                continue
            schema = get(version, "schema", "openAPIV3Schema") or shared
            if isinstance(schema, dict):
                # With a status subresource, status is written through it, never with the object.
                status = get(version, "subresources", "status") is not None or get(spec, "subresources", "status")
                found[(f"{group}/{version['name']}", kind)] = _converted_schema(
                    schema, prunes, status=status is not None and status is not False
                )
    return found


def _converted_schema(schema: dict[str, Any], prunes: bool, *, status: bool) -> str:
    try:
        text = json.dumps(schema, sort_keys=True)
    except (RecursionError, ValueError, TypeError):  # deeper than JSON goes: converted (bounded), not cached
        return json.dumps(_root(schema, prunes, status=status), sort_keys=True)
    return _converted(text, prunes, status=status)


@functools.lru_cache(maxsize=512)
def _converted(schema_text: str, prunes: bool, *, status: bool) -> str:
    """A CRD version's schema converted, once per process for every chart that ships it."""
    return json.dumps(_root(json.loads(schema_text), prunes, status=status), sort_keys=True)


def _root(schema: dict[str, Any], prunes: bool, *, status: bool) -> dict[str, Any]:
    converted = _convert(schema, prunes, 0, _Budget())
    properties = converted.setdefault("properties", {})
    for always in ("apiVersion", "kind", "metadata", *(("status",) if status else ())):
        properties[always] = {}  # the API server's to check, not the CRD's
    if status and isinstance(converted.get("required"), list):
        converted["required"] = [r for r in converted["required"] if r != "status"]
    return converted


def _convert(node: Any, prunes: bool, depth: int, budget: _Budget) -> dict[str, Any]:
    budget.nodes += 1
    if not isinstance(node, dict) or depth > MAX_DEPTH or budget.nodes > MAX_NODES:
        return {}
    out: dict[str, Any] = {key: node[key] for key in _COPIED if key in node and _plain(node[key])}
    properties = node.get("properties")
    if isinstance(out.get("required"), list) and isinstance(properties, dict):
        # The API server applies defaults before it validates: a defaulted field is never missing.
        defaulted = {name for name, child in properties.items() if isinstance(child, dict) and "default" in child}
        out["required"] = [name for name in out["required"] if name not in defaulted]
    if node.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("exclusiveMinimum") is True and "minimum" in out:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("exclusiveMaximum") is True and "maximum" in out:
        out["exclusiveMaximum"] = out.pop("maximum")
    if isinstance(properties, dict):
        out["properties"] = {
            str(name): _convert(child, prunes, depth + 1, budget) for name, child in properties.items()
        }
    if isinstance(node.get("items"), dict):
        out["items"] = _convert(node["items"], prunes, depth + 1, budget)
    for combinator in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(combinator), list):
            # In a structural schema these only constrain; what is pruned is said by properties.
            out.setdefault(combinator, []).extend(
                _convert(child, False, depth + 1, budget) for child in node[combinator]
            )
    if isinstance(node.get("not"), dict):
        out["not"] = _convert(node["not"], False, depth + 1, budget)
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = _convert(additional, prunes, depth + 1, budget)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif (
        prunes
        and node.get("type") == "object"
        and node.get("x-kubernetes-preserve-unknown-fields") is not True
        and node.get("x-kubernetes-embedded-resource") is not True
    ):
        out["additionalProperties"] = False  # what no property names is pruned
    if node.get("x-kubernetes-embedded-resource") is True:
        embedded = out.setdefault("properties", {})
        for always in ("apiVersion", "kind", "metadata"):
            embedded.setdefault(always, {})
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _plain(value: Any) -> bool:
    """A keyword's value as written by a schema, not a structure smuggled in its place."""
    if isinstance(value, list):
        return len(value) <= 1000 and all(isinstance(v, str | int | float | bool) or v is None for v in value)
    return isinstance(value, str | int | float | bool) and (not isinstance(value, str) or len(value) <= 2000)


@functools.lru_cache(maxsize=512)
def compiled(schema_text: str) -> jsonschema_rs.Validator | None:
    """A CRD version's validator, shared by every chart that ships the same CRD."""
    schema = parsed(schema_text)
    for attempt in (schema, _without_patterns(schema)):
        try:
            return jsonschema_rs.validator_for(
                attempt,
                validate_formats=False,
                offline=True,
                pattern_options=jsonschema_rs.RegexOptions(),
            )
        except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
            continue  # a pattern the regex engine refuses: the rest still counts
    return None


@functools.lru_cache(maxsize=512)
def parsed(schema_text: str) -> dict[str, Any]:
    """A CRD version's converted schema, to look a field up in."""
    schema: dict[str, Any] = json.loads(schema_text)
    return schema


def _without_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_patterns(v) for k, v in node.items() if k != "pattern"}
    if isinstance(node, list):
        return [_without_patterns(v) for v in node]
    return node
