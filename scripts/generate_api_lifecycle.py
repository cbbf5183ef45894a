"""Regenerate `chartimpact_bot/core/kubernetes/api_lifecycle.json`: for every built-in apiVersion and
kind, the Kubernetes release that introduced it, deprecated it and removed it, and its replacement.

Two sources, both upstream:

- the prerelease-lifecycle markers (`zz_generated.prerelease-lifecycle.go` in each group/version
  package, generated from the `+k8s:prerelease-lifecycle-gen` tags of types.go) of the three
  repositories that publish the built-in APIs: https://github.com/kubernetes/api,
  https://github.com/kubernetes/apiextensions-apiserver (CustomResourceDefinition) and
  https://github.com/kubernetes/kube-aggregator (APIService), read at every release tag `v0.N.0`
  of a checkout of each; a package deleted after its removal keeps the markers of the last tag
  that had it;
- the OpenAPI schemas of each release that the `kubernetes-validate` package ships (the
  `x-kubernetes-group-version-kind` of its definitions): what a release really serves, which
  overrides a marker's planned removal (an alpha API kept past its default date).

A new Kubernetes release is one regeneration: upgrade `kubernetes-validate` in requirements.txt,
fetch the new k8s.io/api tags, and run

    python -m scripts.generate_api_lifecycle API_CHECKOUT APIEXTENSIONS_CHECKOUT AGGREGATOR_CHECKOUT

(docs/validation.md). The output is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from chartimpact_bot.core.kubernetes.apis import BUILTIN_GROUPS
from chartimpact_bot.core.validation.schemas import schema_versions, served_kinds

OUTPUT = Path(__file__).resolve().parent.parent / "chartimpact_bot" / "core" / "kubernetes" / "api_lifecycle.json"
FIRST_TAG_WITH_MARKERS = 19  # k8s.io/api v0.19.0: the markers began with Kubernetes 1.19
RELEASE_TAG = re.compile(r"v0\.(?P<minor>\d+)\.0")
LIFECYCLE_FILE = "zz_generated.prerelease-lifecycle.go"
MARKER = re.compile(
    r"func \(in \*(?P<kind>\w+)\) APILifecycle(?P<what>Introduced|Deprecated|Removed)\(\) \(major, minor int\) \{\s*"
    r"return (?P<major>\d+), (?P<minor>\d+)"
)
REPLACEMENT = re.compile(
    r"func \(in \*(?P<kind>\w+)\) APILifecycleReplacement\(\) schema\.GroupVersionKind \{\s*"
    r'return schema\.GroupVersionKind\{Group: "(?P<group>[^"]*)", '
    r'Version: "(?P<version>[^"]*)", Kind: "(?P<to>[^"]*)"\}'
)
GROUP_NAME = re.compile(r'GroupName\s*=\s*"(?P<group>[^"]*)"')
# Kinds of the API machinery every group version lists, not resources a chart creates.
META_KINDS = frozenset({"DeleteOptions", "WatchEvent", "Status", "APIGroup", "APIVersions", "APIResourceList"})


@dataclass
class Lifecycle:
    introduced: str | None = None
    deprecated: str | None = None
    removed: str | None = None
    replacement: str | None = None
    served: list[str] = field(default_factory=list)  # schema versions that serve it


def _git(checkout: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(checkout), *args], check=True, capture_output=True, text=True).stdout


def _release_tags(checkout: Path) -> list[tuple[int, str]]:
    tags = []
    for tag in _git(checkout, "tag", "--list", "v0.*").split():
        release = RELEASE_TAG.fullmatch(tag)  # v0.36.0, not v0.37.0-beta.0 nor v0.36.1
        if release is not None and int(release["minor"]) >= FIRST_TAG_WITH_MARKERS:
            tags.append((int(release["minor"]), tag))
    return sorted(tags)


def markers(checkout: Path) -> dict[tuple[str, str], Lifecycle]:
    """(apiVersion, kind) → its markers, each from the newest release tag that has them."""
    found: dict[tuple[str, str], Lifecycle] = {}
    for _, tag in _release_tags(checkout):
        for path in _git(checkout, "ls-tree", "-r", "--name-only", tag).splitlines():
            if not path.endswith("/" + LIFECYCLE_FILE):
                continue
            package = path.rsplit("/", 1)[0]
            group_match = GROUP_NAME.search(_git(checkout, "show", f"{tag}:{package}/register.go"))
            if group_match is None:
                continue
            group, version = group_match["group"], package.rsplit("/", 1)[-1]
            if group not in BUILTIN_GROUPS:
                continue  # admission/, imagepolicy/: reviews sent to webhooks, never created
            api_version = f"{group}/{version}" if group else version
            text = _git(checkout, "show", f"{tag}:{path}")
            seen: dict[str, Lifecycle] = {}
            for match in MARKER.finditer(text):
                entry = seen.setdefault(match["kind"], Lifecycle())
                setattr(entry, match["what"].lower(), f"{match['major']}.{match['minor']}")
            for match in REPLACEMENT.finditer(text):
                to_group, to_version = match["group"], match["version"]
                to_api = f"{to_group}/{to_version}" if to_group else to_version
                seen.setdefault(match["kind"], Lifecycle()).replacement = f"{to_api} {match['to']}"
            for kind, entry in seen.items():
                found[(api_version, kind)] = entry  # a newer tag's markers win
    return found


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def lifecycle(checkouts: list[Path]) -> dict[tuple[str, str], Lifecycle]:
    """The markers reconciled with what each release's schemas serve."""
    entries: dict[tuple[str, str], Lifecycle] = {}
    for checkout in checkouts:
        entries.update(markers(checkout))
    versions = schema_versions()
    for version in versions:
        for api_version, kind in served_kinds(version):
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            if group not in BUILTIN_GROUPS or kind in META_KINDS:
                continue
            entries.setdefault((api_version, kind), Lifecycle()).served.append(version)
    newest = versions[-1]
    for entry in entries.values():
        if not entry.served:
            continue  # removed before the oldest schemas: the markers say when
        first = entry.served[0]
        # Served by the oldest schemas with no marker: introduced earlier, when is not known here.
        if first != versions[0] and (entry.introduced is None or _minor(entry.introduced) > _minor(first)):
            entry.introduced = first
        last = entry.served[-1]
        if last == newest:
            # Still served by the newest release: a marker's removal not yet past is a plan;
            # one already past did not happen (alpha APIs outlive their default dates).
            if entry.removed is not None and _minor(entry.removed) <= _minor(newest):
                entry.removed = None
        else:
            entry.removed = f"1.{_minor(last) + 1}"
    for entry in entries.values():  # an alpha moved on before its default deprecation date
        if entry.deprecated and entry.removed and _minor(entry.deprecated) >= _minor(entry.removed):
            entry.deprecated = None
    return {key: entry for key, entry in entries.items() if not key[1].endswith("List") and key[1] not in META_KINDS}


def render(entries: dict[tuple[str, str], Lifecycle], checkouts: list[Path]) -> str:
    tags = [_release_tags(checkout) for checkout in checkouts]
    document = {
        "source": {
            "markers": "zz_generated.prerelease-lifecycle.go of k8s.io/api, k8s.io/apiextensions-apiserver and "
            f"k8s.io/kube-aggregator, release tags {tags[0][0][1]} to {max(t[-1] for t in tags)[1]}",
            "served": "the OpenAPI schemas of kubernetes-validate (its x-kubernetes-group-version-kind)",
            "generator": "python -m scripts.generate_api_lifecycle",
        },
        "schemaVersions": schema_versions(),
        "apis": [
            {
                "apiVersion": api_version,
                "kind": kind,
                "introduced": entry.introduced,
                "deprecated": entry.deprecated,
                "removed": entry.removed,
                "replacement": entry.replacement,
            }
            for (api_version, kind), entry in sorted(entries.items())
        ],
    }
    return json.dumps(document, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkouts",
        type=Path,
        nargs=3,
        help="git checkouts (or bare clones), with their tags, of k8s.io/api, k8s.io/apiextensions-apiserver"
        " and k8s.io/kube-aggregator",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render(lifecycle(args.checkouts), args.checkouts)
    args.output.write_text(text, encoding="utf-8")
    count = text.count('"apiVersion": ')
    print(f"wrote {args.output} ({count} APIs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
