"""Kustomize patch files: partial manifests an overlay applies to a resource of its base.

An overlay's `podinfo-values.yaml` that patches a HelmRelease looks like a HelmRelease with no
chart. Overlays are not built (that needs `kustomize build`), so such a file is not a deployment
of its own: it is reported as a patch that is not applied, never as a broken release.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..documents import split_documents
from ..yamlio import load_untrusted

KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
PATCHED_KINDS = frozenset({"Application", "ApplicationSet", "HelmRelease"})


@dataclass(frozen=True, slots=True)
class Patch:
    """A deployment manifest of a patch file: what it patches, and where it is applied from."""

    kind: str
    name: str
    file: str
    kustomization: str
    text: str  # the document, so that a change to it is told from no change


def patch_files(files: Mapping[str, str]) -> dict[str, str]:
    """Each file a kustomization among `files` applies as a patch → that kustomization's path."""
    found: dict[str, str] = {}
    for path, text in sorted(files.items()):
        if posixpath.basename(path) not in KUSTOMIZATION_FILES:
            continue
        for relative in _patch_paths(text):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), relative))
            if not target.startswith("../"):
                found.setdefault(target, path)
    return found


def patches(files: Mapping[str, str], patched: Mapping[str, str]) -> list[Patch]:
    """The Applications, ApplicationSets and HelmReleases of the patch files among `files`."""
    found = []
    for path, kustomization in sorted(patched.items()):
        text = files.get(path)
        if text is None:
            continue
        for _, document in split_documents(text):
            body = _load(document)
            if not isinstance(body, dict) or body.get("kind") not in PATCHED_KINDS:
                continue
            metadata: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
            name = str(metadata.get("name") or "?")[:200]
            if body["kind"] == "HelmRelease" and metadata.get("namespace"):  # as HelmReleases are named
                name = f"{str(metadata['namespace'])[:100]}/{name}"
            found.append(Patch(str(body["kind"]), name, path, kustomization, document))
    return found


def _patch_paths(text: str) -> Iterator[str]:
    body = _load(text)
    if not isinstance(body, dict):
        return
    for entry in _list(body.get("patches")):  # [{path: x.yaml, target: {…}}] (or inline `patch:`)
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            yield entry["path"]
    for entry in _list(body.get("patchesStrategicMerge")):  # the older form: file names
        if isinstance(entry, str) and "\n" not in entry:
            yield entry


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _load(text: str) -> Any:
    try:
        return load_untrusted(text)
    except (yaml.YAMLError, ValueError):
        return None
