"""The digest of everything an analysis' report depends on: the result cache's key.

Two analyses with the same digest publish the same report, so the digest covers:

- the engine: the package version (a new release may render, diff or detect differently) and
  the cache's own format;
- the repository: entries are per repository, so an installation cannot learn from a fast
  answer that another one analyzed the very same files;
- the parsed configuration (`.chartimpact.yml` is also one of the files below);
- the worker options that change results (signals on or off, render limits, the Helm backend,
  the time budget; a new WorkerOptions field is covered without a change here);
- the secret-fingerprint key, as the HMAC key of the whole digest: a report's fingerprints
  depend on it, and the digest (stored in a possibly shared store) reveals nothing of it;
- for each side, every file the analysis reads, by path, git blob id, size and link target,
  and the symbolic links left out of the commit (they become warnings). The listing carries the
  blob ids, so no file needs fetching to compute it.

Not covered, by design: remote chart dependencies fetched over HTTP (an unpinned version range
may resolve to a newer chart). That is what the cache entries' expiry bounds
(RESULT_CACHE_TTL_HOURS). Nor the commits' SHAs and refs: the same tree pushed again is the
same analysis, and the runner writes the current revisions into the report it takes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from .. import __version__
from ..core.config import AnalysisConfig
from ..engine.sources import FileEntry
from .analysis_process import WorkerOptions

ENGINE_VERSION = __version__
CACHE_FORMAT = 1  # change with anything that makes a stored report mean something else

_encoder = msgspec.msgpack.Encoder(order="deterministic")


@dataclasses.dataclass(frozen=True, slots=True)
class SideInputs:
    """One side of an analysis as far as its report is concerned."""

    listing: Mapping[str, FileEntry]  # the commit's files
    read: Iterable[str]  # the paths the analysis reads (absent ones are ignored)
    left_out: Mapping[str, str]  # symbolic links left out, with the reason


def input_digest(
    *,
    repository: str,
    config: AnalysisConfig,
    options: WorkerOptions,
    base: SideInputs,
    head: SideInputs,
    only: tuple[str, ...] | None = None,
) -> str | None:
    """Hex digest of an analysis' inputs; None when they cannot be named exactly (a file
    without a blob id, a configuration value MessagePack cannot hold): such a run is not cached."""
    sides = [_side(side) for side in (base, head)]
    if None in sides:
        return None
    document: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "engine": ENGINE_VERSION,
        "repository": repository.lower(),
        "config": config,
        # The key itself is the HMAC's key below, never part of what is hashed.
        "options": dataclasses.replace(options, fingerprint_key=b""),
        "base": sides[0],
        "head": sides[1],
        # The chart directories asked for (POST /api/compare): the report lists only those.
        "only": sorted(only) if only is not None else None,
    }
    try:
        encoded = _encoder.encode(document)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return None
    return hmac.new(options.fingerprint_key, encoded, hashlib.sha256).hexdigest()


def _side(side: SideInputs) -> dict[str, Any] | None:
    files = []
    for path in sorted(set(side.read)):
        entry = side.listing.get(path)
        if entry is None:
            continue
        if entry.digest is None:
            return None
        files.append((path, entry.digest, entry.size, entry.link))
    return {"files": files, "left_out": sorted(side.left_out.items())}
