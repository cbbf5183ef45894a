"""Remote chart archives kept on disk by the sha256 of their content, shared by every job and
process of a machine.

A file is named by its digest and checked against it whenever it is read: a damaged or
tampered file is dropped and fetched again, never used. Files are written whole (a temporary
file renamed into place), so concurrent jobs never read half an archive. The directory is kept
under a size bound by removing the files read least recently.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from pathlib import Path

DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX = ".blob"


class ArchiveCache:
    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        """The content whose sha256 is `digest` (hex), or None: not cached, or no longer intact."""
        path = self._path(digest)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently read: the last to be evicted
        return data

    def put(self, digest: str, data: bytes) -> None:
        """Keep `data` under `digest`, which it must match; a failure to write is no error
        (the next job fetches again)."""
        path = self._path(digest)
        if path is None or hashlib.sha256(data).hexdigest() != digest or len(data) > self.max_bytes:
            return
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
            partial.replace(path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        self._evict()

    def _path(self, digest: str) -> Path | None:
        return self.directory / f"sha256-{digest}{_SUFFIX}" if _DIGEST.match(digest) else None

    def _evict(self) -> None:
        """Remove the least recently read files until the rest fit the bound."""
        with self._lock:
            entries: list[tuple[float, int, Path]] = []
            try:
                with os.scandir(self.directory) as scan:
                    for entry in scan:
                        if entry.name.endswith(_SUFFIX) and entry.is_file(follow_symlinks=False):
                            stat = entry.stat(follow_symlinks=False)
                            entries.append((stat.st_mtime, stat.st_size, Path(entry.path)))
            except OSError:
                return
            total = sum(size for _, size, _ in entries)
            for _, size, path in sorted(entries, key=lambda e: (e[0], e[2].name)):
                if total <= self.max_bytes:
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
                total -= size
