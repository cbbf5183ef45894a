"""Argo CD `ApplicationSet`s with the list and git generators (issue 13): the Applications they
generate, each then read as any Application (argocd.py).

- `list`: one parameter set per `elements` entry;
- `git` `directories`: one per directory of the repository matching a `path` pattern (and no
  `exclude: true` one): `path`, `path.basename`, `path.basenameNormalized`, `path[n]`;
- `git` `files`: one per parameter set of each matching JSON or YAML file (an object, or a list
  of objects), flattened with dots, with the file's `path` parameters.

The git generators' `repoURL` is taken to be this repository, as a `path` chart's is. The
template is filled in as Argo CD fills it: `{{ name }}` (fasttemplate, names flattened with
dots), or with `goTemplate: true` `{{ .name }}` field references; an expression beyond a field
reference, and the other generators (clusters, matrix, pull request…), which need a cluster or
another service, are named in a note and generate nothing. The filled template keeps the
ApplicationSet's lines: a signal traced to a values line points at the template's line.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..documents import split_documents
from ..yamlio import compose_untrusted, load_untrusted
from .argocd import API_GROUP, Application, application_from
from .manifest_values import MAX_LIST, as_dict, dicts, node_at

MAX_GENERATED = 500  # Applications of one ApplicationSet
_FAST = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_GO_FIELD = re.compile(r"\{\{-?\s*\.([A-Za-z0-9_.\[\]-]+)\s*-?\}\}")


@dataclass(frozen=True, slots=True)
class ApplicationSet:
    name: str
    file: str
    first_line: int
    document: str
    body: dict[str, Any]
    node: yaml.Node | None

    def file_patterns(self) -> list[str]:
        """The `git.files` patterns, whose files the caller reads for `generate`."""
        return [
            str(f["path"])
            for g in dicts(as_dict(self.body.get("spec")).get("generators"))
            for f in dicts(as_dict(g.get("git")).get("files"))
            if isinstance(f.get("path"), str)
        ]


def application_sets(file: str, text: str) -> Iterator[ApplicationSet]:
    for first_line, document in split_documents(text):
        if "ApplicationSet" not in document:
            continue
        try:
            body = load_untrusted(document)
            node = compose_untrusted(document)
        except (yaml.YAMLError, ValueError):
            continue
        if not isinstance(body, dict) or body.get("kind") != "ApplicationSet":
            continue
        if not str(body.get("apiVersion", "")).startswith(API_GROUP + "/"):
            continue
        name = as_dict(body.get("metadata")).get("name")
        yield ApplicationSet(str(name or posixpath.basename(file)), file, first_line, document, body, node)


def generate(
    appset: ApplicationSet, directories: list[str], files: Mapping[str, str]
) -> tuple[list[Application], list[str]]:
    """The Applications an ApplicationSet generates from this repository's `directories` and the
    text of the `files` its file patterns match; and notes on what it could not generate."""
    spec = as_dict(appset.body.get("spec"))
    template = as_dict(spec.get("template"))
    go = spec.get("goTemplate") is True
    notes: list[str] = []
    parameter_sets: list[dict[str, Any]] = []
    for generator in dicts(spec.get("generators")):
        if "list" in generator:
            parameter_sets += dicts(as_dict(generator["list"]).get("elements"))
        elif "git" in generator:
            parameter_sets += _git(as_dict(generator["git"]), directories, files, notes)
        else:
            kinds = ", ".join(sorted(str(k) for k in generator)[:3])
            notes.append(f"ApplicationSet '{appset.name}': the {kinds} generator is not followed")
    template_node = node_at(appset.node, ("spec", "template"))
    out: list[Application] = []
    for parameters in parameter_sets[:MAX_GENERATED]:
        filled, unresolved = _fill(template, parameters, go=go)
        if unresolved:
            notes.append(f"ApplicationSet '{appset.name}': '{unresolved[:80]}' is not filled in; skipped")
            continue
        body = {"apiVersion": f"{API_GROUP}/v1alpha1", "kind": "Application", **as_dict(filled)}
        out.append(application_from(appset.file, appset.first_line, appset.document, body, template_node))
    if len(parameter_sets) > MAX_GENERATED:
        notes.append(
            f"ApplicationSet '{appset.name}' generates more than {MAX_GENERATED} Applications: the rest are left out"
        )
    return out, notes


def _git(
    git: dict[str, Any], directories: list[str], files: Mapping[str, str], notes: list[str]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    entries = dicts(git.get("directories"))
    if entries:
        include = [str(e["path"]) for e in entries if isinstance(e.get("path"), str) and e.get("exclude") is not True]
        exclude = [str(e["path"]) for e in entries if isinstance(e.get("path"), str) and e.get("exclude") is True]
        for directory in sorted(directories):
            if any(match_pattern(directory, p) for p in include) and not any(
                match_pattern(directory, p) for p in exclude
            ):
                found.append(_path_parameters(directory))
    for entry in dicts(git.get("files")):
        pattern = entry.get("path")
        if not isinstance(pattern, str):
            continue
        for path, text in sorted(files.items()):
            if not match_pattern(path, pattern):
                continue
            try:
                loaded = json.loads(text) if path.endswith(".json") else load_untrusted(text)
            except (ValueError, yaml.YAMLError, RecursionError):
                notes.append(f"'{path}' of a git files generator cannot be read")
                continue
            items = loaded if isinstance(loaded, list) else [loaded]
            for item in items[:MAX_LIST]:
                if isinstance(item, dict):
                    parameters = _path_parameters(posixpath.dirname(path))
                    parameters["path"]["filename"] = posixpath.basename(path)
                    parameters["path"]["filenameNormalized"] = _normalized(posixpath.basename(path))
                    found.append({**item, **parameters})
    return found


def match_pattern(path: str, pattern: str) -> bool:
    """Argo CD's patterns: `*` and `?` within one path segment, `**` across segments."""
    pieces = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    expression = "".join(pieces.get(part, re.escape(part)) for part in re.split(r"(\*\*|\*|\?)", pattern.strip("/")))
    return re.fullmatch(expression, path) is not None


def _path_parameters(directory: str) -> dict[str, Any]:
    basename = posixpath.basename(directory)
    return {
        "path": {
            "path": directory,
            "basename": basename,
            "basenameNormalized": _normalized(basename),
            "segments": directory.split("/"),
        }
    }


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower())


def _fill(template: Any, parameters: dict[str, Any], *, go: bool) -> tuple[Any, str]:
    """The template with every string filled in; the first expression that could not be."""
    flat = _flattened(parameters)
    unresolved = ""

    def fill_string(text: str) -> str:
        nonlocal unresolved
        if go:
            filled = _GO_FIELD.sub(lambda m: _go_field(parameters, m.group(1), m.group(0)), text)
        else:
            filled = _FAST.sub(lambda m: flat.get(m.group(1), m.group(0)), text)
        if "{{" in filled and not unresolved:
            unresolved = filled[filled.index("{{") :]
        return filled

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return fill_string(node)
        if isinstance(node, dict):
            return {fill_string(str(k)): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(template), unresolved


def _flattened(parameters: dict[str, Any]) -> dict[str, str]:
    """fasttemplate's parameters: nested keys joined with dots, `path[n]` for path segments."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, below in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), below)
        elif isinstance(value, list):
            for index, below in enumerate(value[:MAX_LIST]):
                walk(f"{prefix}[{index}]", below)
        elif isinstance(value, bool):
            flat[prefix] = "true" if value else "false"
        elif value is not None:
            flat[prefix] = str(value)

    walk("", parameters)
    if "path.path" in flat:
        flat["path"] = flat["path.path"]  # fasttemplate's `{{path}}` is the directory itself
        segments = parameters["path"]["segments"]
        flat.update({f"path[{i}]": s for i, s in enumerate(segments)})
    return flat


def _go_field(parameters: dict[str, Any], dotted: str, original: str) -> str:
    value: Any = parameters
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return original
        value = value[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    return original if isinstance(value, dict | list) or value is None else str(value)
