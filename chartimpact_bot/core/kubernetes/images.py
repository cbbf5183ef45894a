"""Container image references: `ghcr.io/org/app:1.2@sha256:…` read the way Docker reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..semver import Version


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def version(self) -> Version | None:
        return Version.parse(self.tag) if self.tag else None

    @property
    def mutable(self) -> bool:
        """Whether the reference can point at other code tomorrow: `latest` or no tag, no digest."""
        return self.digest is None and self.tag in (None, "latest")


def parse_image(reference: Any) -> ImageRef | None:
    """Registry, repository, tag and digest; Docker Hub's implied `library/` included."""
    if not isinstance(reference, str) or not reference.strip():
        return None
    rest = reference.strip()
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, remainder
    else:
        registry, repository = "docker.io", rest
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(registry, repository, tag, digest)
