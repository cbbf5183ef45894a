"""A chart a deployment manifest takes from a chart repository (issue 13): an Argo CD
Application's `repoURL` + `chart` + `targetRevision`, a Flux HelmRelease's HelmRepository or
OCIRepository. It is fetched at render time, at the version each side names, and mounted below
`mount` beside the repository's files so that values files of the repository and of the chart
are read alike."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MOUNT_ROOT = "@remote"  # no repository path of a chart starts so: Git trees rarely hold `@` names


@dataclass(frozen=True, slots=True)
class RemoteChart:
    """`repository`: an `http(s)://` Helm repository or an `oci://` registry path; `version`:
    the version or constraint the manifest names (None: the highest)."""

    repository: str
    name: str
    version: str | None = None
    # Where the manifest names the version (repository file, 1-based line): a version bump's
    # signals point there. Not part of what the chart is: moving the manifest changes nothing.
    manifest: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def display(self) -> str:
        """How reports name the chart: its repository and name, without any credentials."""
        return f"{public_url(self.repository).rstrip('/')}/{self.name}"

    @property
    def mount(self) -> str:
        """Where the chart's files appear beside the repository's: one path per repository and
        chart, the same at both versions (the two sides are compared as one chart)."""
        plain = re.sub(r"[^A-Za-z0-9._-]+", "_", self.display.split("://", 1)[-1]).strip("._") or "chart"
        return f"{MOUNT_ROOT}/{plain[:200]}"


def chart_repository(url: str) -> str | None:
    """A manifest's repository URL as the fetchers take it: `http(s)://` and `oci://` as written;
    a bare `host/path` is an OCI registry (Argo CD's spelling for OCI Helm repositories). None for
    what is no chart repository (a git URL)."""
    text = url.strip()
    scheme, found, rest = text.partition("://")
    if found:
        if scheme.lower() in ("http", "https", "oci") and rest.strip("/"):
            return f"{scheme.lower()}://{rest}"
        return None
    if text.startswith("git@") or text.endswith(".git") or not re.match(r"^[A-Za-z0-9.-]+(:\d+)?/", text):
        return None
    return f"oci://{text}"


def public_url(url: str) -> str:
    """A repository URL as a report may show it: scheme, host, port and path only. User names,
    passwords (which may hold `@` themselves), query strings and fragments are left out: a token
    is as often in the query as in the user part."""
    text = url.strip()
    scheme, found, rest = text.partition("://")
    if not found:
        return text.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    # The last `@` ends the user part, whatever it holds (`/` and `@` in a password included);
    # a chart repository's path with an `@` in it is shown shortened, never a password.
    rest = rest.split("#", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{rest}"
