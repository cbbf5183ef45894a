"""The OpenAPI schemas of each Kubernetes release, as JSON Schema: the data of the PyPI package
`kubernetes-validate` (docs/adr/0010-schema-validation.md), read from its files without importing
it. Its "strict" variant forbids fields the API does not define, which is what tells an unknown
field from a known one.

A release's definitions are loaded the first time a resource is checked against it, and each
(release, apiVersion, kind) is compiled once per process, then shared by every resource and
chart: a worker validates many pull requests with the same few dozen validators.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema_rs

SCHEMA_PACKAGE = "kubernetes_validate"
SCHEMA_DIRECTORY = "kubernetes-json-schema"
STRICT_SUFFIX = "-local-strict"
_URI = "urn:chartimpact:kubernetes:{version}"


@functools.cache
def _root() -> Path | None:
    spec = importlib.util.find_spec(SCHEMA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / SCHEMA_DIRECTORY
    return root if root.is_dir() else None


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@functools.cache
def _versions() -> tuple[str, ...]:
    root = _root()
    if root is None:
        return ()
    found = []
    for entry in root.iterdir():
        name = entry.name
        if name.startswith("v") and name.endswith(STRICT_SUFFIX):
            found.append(".".join(name[1 : -len(STRICT_SUFFIX)].split(".")[:2]))
    return tuple(sorted(found, key=_minor))


def schema_versions() -> list[str]:
    """The releases there are schemas of ("1.25" … "1.37"), oldest first; [] without the data."""
    return list(_versions())


def newest_version() -> str | None:
    versions = _versions()
    return versions[-1] if versions else None


def schemas_for(target: str) -> str | None:
    """The schemas a cluster of `target` ("1.31") is checked against: its own, or for a release
    newer than the data the newest there is; None for one older than the oldest."""
    versions = _versions()
    if not versions or _minor(target) < _minor(versions[0]):
        return None
    return max((v for v in versions if _minor(v) <= _minor(target)), key=_minor)


@functools.cache
def _document(version: str) -> dict[str, Any]:
    root = _root()
    assert root is not None
    directory = root / f"v{version}.0{STRICT_SUFFIX}"
    document: dict[str, Any] = json.loads((directory / "_definitions.json").read_text(encoding="utf-8"))
    return document


@functools.cache
def _kinds(version: str) -> dict[tuple[str, str], str]:
    """(apiVersion, kind) → the name of its definition, from `x-kubernetes-group-version-kind`."""
    found: dict[tuple[str, str], str] = {}
    for name, definition in _document(version)["$defs"].items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or ():
            group, api, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")
            # Meta types (DeleteOptions, WatchEvent) list every group version; a resource's own
            # definition lists only its own.
            if len(definition["x-kubernetes-group-version-kind"]) == 1:
                found[(f"{group}/{api}" if group else api, kind)] = name
    return found


def served_kinds(version: str) -> set[tuple[str, str]]:
    """Every (apiVersion, kind) release `version` defines."""
    return set(_kinds(version))


@functools.cache
def _registry(version: str) -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(_URI.format(version=version), _document(version))])


@functools.cache
def builtin_validator(version: str, api_version: str, kind: str) -> jsonschema_rs.Validator | None:
    """The compiled schema of `kind` in `api_version` as release `version` defines it, or None
    where that release has no such kind."""
    name = _kinds(version).get((api_version, kind))
    if name is None:
        return None
    reference = {"$ref": f"{_URI.format(version=version)}#/$defs/{name}"}
    return jsonschema_rs.validator_for(reference, registry=_registry(version), validate_formats=False, offline=True)
