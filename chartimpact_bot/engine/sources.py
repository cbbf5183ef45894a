"""Chart sources: files by repository-relative path, from a directory, a git ref, or memory.

A source never exposes anything outside its root: paths are normalized POSIX paths, links
that point outside are left out, and `..` never resolves above the root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core.errors import SourceError
from ..core.model import Revision

_GIT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What a listing knows of a file without reading it.

    `digest` is the git blob id when the source knows it cheaply: equal digests mean equal
    content, which is how unaffected charts are skipped without reading them.
    """

    size: int
    digest: str | None = None
    # For a symbolic link: the source path it resolves to. Whether a chart may use it depends
    # on where the chart is, so the materializer decides (see charts.py).
    link: str | None = None


class ChartSource(Protocol):
    """Files by path. Paths are relative to the source root, POSIX, without a leading './'."""

    @property
    def revision(self) -> Revision: ...

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        """Every regular file at or below `prefix` ("" for the whole source)."""
        ...

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Contents of the given listed files; raises SourceError for a path that is not listed."""
        ...

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        """Symbolic links at or below `prefix` that are not listed, each with the reason: they
        leave the source, point into a repository's `.git`, at a directory or at nothing."""
        ...


def clean_path(path: str) -> str | None:
    """Normalize a relative POSIX path; None when it is absolute or climbs above the root."""
    if path.startswith("/") or "\\" in path or "\0" in path:
        return None
    normalized = posixpath.normpath(path) if path else "."
    if normalized == ".":
        return ""
    if normalized == ".." or normalized.startswith("../"):
        return None
    return normalized


def is_plain_path(path: str) -> bool:
    """Whether a path from a listing someone else wrote (a git tree, GitHub's tree API) names a
    file below the root as it stands: no `.`, `..` or empty components, nothing absolute. Git
    itself never records such paths; a crafted tree object can."""
    if not path or path.startswith("/") or "\\" in path or "\0" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
# A symbolic link holds a path: anything longer than PATH_MAX is not one (and is not fetched).
MAX_LINK_TARGET_BYTES = 4096


def resolve_links(
    files: Mapping[str, FileEntry], targets: Mapping[str, str]
) -> tuple[dict[str, FileEntry], dict[str, str]]:
    """Symbolic links (path -> target text) of a listing of regular `files`: those that end,
    possibly through other links, at a regular file of the listing, as that file (with `link`
    naming the file at the end of the chain), and the others with the reason they are left out.

    The chain is followed to its end: a link to a link must be judged by where the last one
    points, or `b -> a -> ../../outside` would pass a check made on `b`'s target alone."""
    resolved: dict[str, FileEntry] = {}
    left_out: dict[str, str] = {}
    for path, target in targets.items():
        current, text = path, target
        for _ in range(MAX_LINK_HOPS):
            nxt = clean_path(posixpath.join(posixpath.dirname(current), text))
            if not nxt or nxt not in targets or nxt == current:
                break
            current, text = nxt, targets[nxt]
        else:
            nxt = None
        if nxt and nxt in files and nxt not in targets:
            resolved[path] = dataclasses.replace(files[nxt], link=nxt)
        else:
            left_out[path] = f"it does not point at a file of the commit ('{target[:200]}')"
    return resolved, left_out


def under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` itself or inside the directory `prefix` ("" is the root)."""
    return not prefix or path == prefix or path.startswith(prefix + "/")


def git_blob_id(content: bytes) -> str:
    """The id git gives a blob, so directory and git sources agree on digests."""
    header = f"blob {len(content)}\0".encode()
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


def read_file(source: ChartSource, path: str) -> bytes:
    return source.read_many([path])[path]


class MemorySource:
    """Files held in memory: for tests and for content fetched elsewhere (GitHub blobs)."""

    def __init__(self, files: Mapping[str, bytes], revision: Revision | None = None) -> None:
        self._files: dict[str, bytes] = {}
        for raw_path, content in files.items():
            path = clean_path(raw_path)
            if not path:
                raise SourceError(f"path '{raw_path}' is not a relative path inside the source")
            self._files[path] = content
        self._revision = revision or Revision()

    @property
    def revision(self) -> Revision:
        return self._revision

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        return {
            path: FileEntry(size=len(content), digest=git_blob_id(content))
            for path, content in self._files.items()
            if under(path, prefix)
        }

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for path in paths:
            if path not in self._files:
                raise SourceError(f"file '{path}' is not in the source")
            out[path] = self._files[path]
        return out

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        return {}


class DirectorySource:
    """A directory on disk. Symbolic links are followed only when they stay inside the root."""

    def __init__(self, root: str | os.PathLike[str], revision: Revision | None = None) -> None:
        self._root = Path(root).resolve()
        if not self._root.is_dir():
            raise SourceError(f"'{root}' is not a directory")
        self._revision = revision or Revision()
        self._listings: dict[str, dict[str, FileEntry]] = {}
        # Regular files found by a walk: known to be inside the root, read without re-checking.
        self._regular: set[str] = set()
        self._left_out: dict[str, str] = {}

    @property
    def root(self) -> Path:
        return self._root

    @property
    def revision(self) -> Revision:
        return self._revision

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        cached = self._listings.get(prefix)
        if cached is None:
            cached = self._walk(prefix)
            self._listings[prefix] = cached
        return cached

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for path in paths:
            real = self._root / path if path in self._regular else self._inside(path)
            if real is None or not real.is_file():
                raise SourceError(f"file '{path}' is not in '{self._root.name}'")
            try:
                out[path] = real.read_bytes()
            except OSError as exc:
                raise SourceError(f"cannot read '{path}': {exc.strerror}") from exc
        return out

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        self.list_files(prefix)
        return {path: why for path, why in self._left_out.items() if under(path, prefix)}

    def _inside(self, path: str) -> Path | None:
        """The real location of `path`, or None when it (or a link on the way) leaves the root."""
        relative = clean_path(path)
        if relative is None or ".git" in relative.split("/"):
            return None
        real = (self._root / relative).resolve()
        if real != self._root and self._root not in real.parents:
            return None
        if ".git" in real.relative_to(self._root).parts:
            return None  # a repository's own files (its config holds tokens) are never chart content
        return real

    def _walk(self, prefix: str) -> dict[str, FileEntry]:
        start = self._inside(prefix)
        if start is None or not start.exists():
            return {}
        if start.is_file():
            return {prefix: FileEntry(size=start.stat().st_size)}
        found: dict[str, FileEntry] = {}
        pending = [prefix]
        while pending:
            directory = pending.pop()
            with os.scandir(self._root / directory if directory else self._root) as entries:
                for entry in entries:
                    relative = f"{directory}/{entry.name}" if directory else entry.name
                    if entry.is_symlink():
                        # Followed only when the target is a file inside the root.
                        real = self._inside(relative)
                        if real is not None and real.is_file():
                            target = real.relative_to(self._root).as_posix()
                            found[relative] = FileEntry(size=real.stat().st_size, link=target)
                        else:
                            self._left_out[relative] = _link_problem(os.readlink(self._root / relative), real)
                    elif entry.is_dir(follow_symlinks=False):
                        if entry.name != ".git":
                            pending.append(relative)
                    elif entry.is_file(follow_symlinks=False):
                        found[relative] = FileEntry(size=entry.stat(follow_symlinks=False).st_size)
                        self._regular.add(relative)
        return dict(sorted(found.items()))


def _link_problem(target: str, real: Path | None) -> str:
    if real is None:
        return f"it points outside the source or into .git ('{target}')"
    return f"it points at a directory ('{target}')" if real.is_dir() else f"it points at nothing ('{target}')"


class GitRefSource:
    """One commit of a local git repository, read through git: never the work tree."""

    def __init__(self, repo: str | os.PathLike[str], ref: str) -> None:
        if shutil.which("git") is None:
            raise SourceError("git is not installed, so a git ref cannot be read")
        self._repo = Path(repo)
        if not self._repo.is_dir():
            raise SourceError(f"repository '{repo}' is not a directory")
        self._ref = ref
        sha = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if not sha.strip():
            raise SourceError(f"git ref '{ref}' does not name a commit in '{repo}'")
        self._sha = sha.strip().decode()
        self._listing: dict[str, FileEntry] | None = None
        self._left_out: dict[str, str] = {}

    @property
    def revision(self) -> Revision:
        return Revision(ref=self._ref, sha=self._sha)

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        listing = self._full_listing()
        if not prefix:
            return listing
        return {path: entry for path, entry in listing.items() if under(path, prefix)}

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        listing = self._full_listing()
        wanted = list(dict.fromkeys(paths))
        for path in wanted:
            if path not in listing:
                raise SourceError(f"file '{path}' is not in {self._ref}")
        blob_ids = [listing[path].digest for path in wanted]
        contents = self._cat_blobs([b for b in blob_ids if b is not None])
        return {path: contents[str(blob)] for path, blob in zip(wanted, blob_ids, strict=True)}

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        self._full_listing()
        return {path: why for path, why in self._left_out.items() if under(path, prefix)}

    def _full_listing(self) -> dict[str, FileEntry]:
        if self._listing is not None:
            return self._listing
        raw = self._git("ls-tree", "-r", "-z", "--long", "--full-tree", self._sha)
        files: dict[str, FileEntry] = {}
        links: dict[str, str] = {}
        for record in raw.split(b"\0"):
            if not record:
                continue
            meta, _, path_bytes = record.partition(b"\t")
            mode, kind, blob, size = meta.split()
            path = path_bytes.decode("utf-8", "surrogateescape")
            if kind != b"blob" or not is_plain_path(path):
                continue  # submodules carry no chart content we can read
            if mode == b"120000":
                if size.isdigit() and int(size) <= MAX_LINK_TARGET_BYTES:
                    links[path] = blob.decode()
                else:
                    self._left_out[path] = "its target is not a path (too long, or missing from the clone)"
                continue
            if not size.isdigit():  # `BAD`: the blob is missing (a partial or damaged clone)
                self._left_out[path] = "its content is not in the repository (a partial clone?)"
                continue
            files[path] = FileEntry(size=int(size), digest=blob.decode())
        self._resolve_links(files, links)
        self._listing = files
        return files

    def _resolve_links(self, files: dict[str, FileEntry], links: dict[str, str]) -> None:
        """A link to a file inside the commit reads as that file; any other link is left out."""
        if not links:
            return
        targets = self._cat_blobs(list(set(links.values())))
        texts = {path: targets[blob].decode("utf-8", "surrogateescape") for path, blob in links.items()}
        resolved, left_out = resolve_links(files, texts)
        files.update(resolved)
        self._left_out.update(left_out)

    def _cat_blobs(self, blob_ids: list[str]) -> dict[str, bytes]:
        if not blob_ids:
            return {}
        unique = list(dict.fromkeys(blob_ids))
        output = self._git("cat-file", "--batch", stdin=("\n".join(unique) + "\n").encode())
        contents: dict[str, bytes] = {}
        offset = 0
        for blob in unique:
            header_end = output.index(b"\n", offset)
            header = output[offset:header_end].split()
            if len(header) < 3 or header[1] != b"blob":
                raise SourceError(f"git could not read blob {blob} of {self._ref}")
            size = int(header[2])
            start = header_end + 1
            contents[blob] = output[start : start + size]
            offset = start + size + 1
        return contents

    def _git(self, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
        try:
            done = subprocess.run(
                ["git", "-C", str(self._repo), *args],
                input=stdin,
                capture_output=True,
                timeout=_GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"git {args[0]} timed out in '{self._repo}'") from exc
        if check and done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            detail = reason[-1] if reason else f"exit code {done.returncode}"
            raise SourceError(f"git {args[0]} failed in '{self._repo}': {detail}")
        return done.stdout


class SnapshotSource:
    """Part of another source, carried whole: a listing and the contents of the files in it.

    Picklable, so an analysis planned where the files were fetched (the App's event loop) runs
    in another process without reaching back for them.
    """

    def __init__(
        self,
        revision: Revision,
        listing: Mapping[str, FileEntry],
        contents: Mapping[str, bytes],
        left_out: Mapping[str, str] | None = None,
    ) -> None:
        self._revision = revision
        self._listing = dict(listing)
        self._contents = dict(contents)
        self._left_out = dict(left_out or {})

    @property
    def revision(self) -> Revision:
        return self._revision

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        return {path: entry for path, entry in self._listing.items() if under(path, prefix)}

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for path in paths:
            content = self._contents.get(path)
            if content is None:
                raise SourceError(f"file '{path}' is not in the files fetched for this analysis")
            out[path] = content
        return out

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        return {path: why for path, why in self._left_out.items() if under(path, prefix)}

    def holds(self, path: str) -> bool:
        """Whether the snapshot carries the file's contents (not only its listing entry)."""
        return path in self._contents

    def __getstate__(self) -> tuple[Revision, dict[str, FileEntry], dict[str, bytes], dict[str, str]]:
        return self._revision, self._listing, self._contents, self._left_out

    def __setstate__(self, state: tuple[Revision, dict[str, FileEntry], dict[str, bytes], dict[str, str]]) -> None:
        self._revision, self._listing, self._contents, self._left_out = state
