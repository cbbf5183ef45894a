"""GitHubSource: a commit of a repository as a ChartSource, read through the REST API.

One recursive tree call lists every path and blob SHA of a commit (walking sub-trees when
GitHub truncates a large tree). Contents come from `git/blobs/{sha}` through a size-bounded cache
keyed by SHA and shared by all jobs: a file unchanged between base and head, or between two
pushes, is fetched once.

The analysis library is synchronous and runs in a worker thread; blobs it asks for that are not
cached yet are fetched on the event loop, all of one request at once.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from ..core.errors import AnalysisError, SourceError
from ..core.model import Revision
from ..engine.sources import MAX_LINK_TARGET_BYTES, FileEntry, is_plain_path, resolve_links, under
from .client import GitHubClient

FETCH_CONCURRENCY = 8
# Entries (files, directories, links) of one commit: GitHub's own recursive listing stops at
# 100,000; large monorepos of charts stay well below this.
MAX_TREE_ENTRIES = 200_000
FETCH_TIMEOUT_SECONDS = 300


class BlobCache:
    """Blob contents by SHA, bounded by total bytes (least recently used go first)."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._blobs: LRUCache[str, bytes] = LRUCache(maxsize=max_bytes, getsizeof=len)
        self._lock = threading.Lock()
        # Fetches under way (on the event loop): a second asker awaits the first fetch.
        self.in_flight: dict[str, asyncio.Future[bytes]] = {}

    def get(self, sha: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(sha)

    def put(self, sha: str, content: bytes) -> None:
        with self._lock:
            if len(content) <= self._blobs.maxsize:
                self._blobs[sha] = content


@dataclass(frozen=True, slots=True)
class Tree:
    """A commit's files by path, and the symbolic links left out of them (with the reason)."""

    files: dict[str, FileEntry]
    left_out: dict[str, str]


class TreeCache:
    """Listings by commit SHA: a commit never changes, so its tree is fetched once. Bounded by
    the entries held in all, not by the number of trees: one tree may hold 200,000."""

    def __init__(self, max_entries: int = 2 * MAX_TREE_ENTRIES) -> None:
        self._trees: LRUCache[str, Tree] = LRUCache(
            maxsize=max_entries, getsizeof=lambda tree: len(tree.files) + len(tree.left_out) + 1
        )

    def get(self, key: str) -> Tree | None:
        return self._trees.get(key)

    def put(self, key: str, tree: Tree) -> None:
        self._trees[key] = tree


async def fetch_tree(client: GitHubClient, owner: str, repo: str, sha: str) -> Tree:
    """Every blob of a commit by path; symbolic links that stay inside the commit read as their target."""
    tree = await client.getitem(
        "/repos/{owner}/{repo}/git/trees/{sha}?recursive=1", {"owner": owner, "repo": repo, "sha": sha}
    )
    entries: list[dict[str, Any]] = list(tree.get("tree", []))
    if tree.get("truncated"):
        walk = _Walk(client, owner, repo)
        await walk.directory(sha, "")
        entries = walk.entries
    if len(entries) > MAX_TREE_ENTRIES:
        raise TreeTooLarge(f"commit {sha[:12]} lists more than {MAX_TREE_ENTRIES:,} files and directories")
    files: dict[str, FileEntry] = {}
    links: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for entry in entries:
        if entry.get("type") != "blob":
            continue
        path = str(entry["path"])
        if not is_plain_path(path):
            continue  # `..` or an absolute path: a crafted tree, never a file of the commit
        if entry.get("mode") == "120000":
            if int(entry.get("size") or 0) <= MAX_LINK_TARGET_BYTES:
                links[path] = str(entry["sha"])
            else:
                left_out[path] = "its target is not a path (it is too long)"
            continue
        files[path] = FileEntry(size=int(entry.get("size") or 0), digest=str(entry["sha"]))
    if links:
        # Each distinct target once, a few at a time: a commit may hold any number of links
        # to the same blob, and this runs in the server process.
        semaphore = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def target(blob: str) -> tuple[str, str]:
            async with semaphore:
                content = await _blob(client, owner, repo, blob)
            return blob, content[:MAX_LINK_TARGET_BYTES].decode("utf-8", "replace")

        texts = dict(await asyncio.gather(*(target(blob) for blob in set(links.values()))))
        resolved, unresolved = resolve_links(files, {path: texts[blob] for path, blob in links.items()})
        files.update(resolved)
        left_out.update(unresolved)
    return Tree(files, left_out)


class TreeTooLarge(AnalysisError):
    """A commit lists more entries than one analysis may hold in the server."""


class _Walk:
    """A truncated tree, one directory at a time (GitHub truncates beyond 100,000 entries / 7 MB),
    a few requests at a time and stopped at MAX_TREE_ENTRIES: the listing is held in the server
    process, and a push of a million empty files costs its author nothing."""

    def __init__(self, client: GitHubClient, owner: str, repo: str) -> None:
        self.client, self.owner, self.repo = client, owner, repo
        self.entries: list[dict[str, Any]] = []
        self.seen = 0
        self.semaphore = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def directory(self, sha: str, prefix: str) -> None:
        async with self.semaphore:
            tree = await self.client.getitem(
                "/repos/{owner}/{repo}/git/trees/{sha}", {"owner": self.owner, "repo": self.repo, "sha": sha}
            )
        subtrees = []
        for entry in tree.get("tree", []):
            self.seen += 1
            if self.seen > MAX_TREE_ENTRIES:
                raise TreeTooLarge(f"the commit lists more than {MAX_TREE_ENTRIES:,} files and directories")
            path = f"{prefix}{entry['path']}"
            if entry.get("type") == "tree":
                subtrees.append((str(entry["sha"]), f"{path}/"))
            else:
                self.entries.append({**entry, "path": path})
        await asyncio.gather(*(self.directory(s, p) for s, p in subtrees))


async def _blob(client: GitHubClient, owner: str, repo: str, sha: str) -> bytes:
    answer = await client.getitem("/repos/{owner}/{repo}/git/blobs/{sha}", {"owner": owner, "repo": repo, "sha": sha})
    if answer.get("encoding") == "base64":
        return base64.b64decode(answer.get("content", ""))
    return str(answer.get("content", "")).encode()


class GitHubSource:
    """One commit, for the synchronous analysis library (see the module documentation)."""

    def __init__(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        *,
        revision: Revision,
        tree: Tree,
        blobs: BlobCache,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._client = client
        self._owner, self._repo = owner, repo
        self._revision = revision
        self._listing = tree.files
        self._left_out = tree.left_out
        self._blobs = blobs
        self._loop = loop
        self._semaphore = asyncio.Semaphore(FETCH_CONCURRENCY)

    @property
    def revision(self) -> Revision:
        return self._revision

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        if not prefix:
            return self._listing
        return {path: entry for path, entry in self._listing.items() if under(path, prefix)}

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        return {path: why for path, why in self._left_out.items() if under(path, prefix)}

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(paths))
        for path in wanted:
            if path not in self._listing:
                raise SourceError(f"file '{path}' is not in {self._revision.ref or self._revision.sha}")
        missing = sorted(
            {str(self._listing[p].digest) for p in wanted if self._blobs.get(str(self._listing[p].digest)) is None}
        )
        if missing:
            future = asyncio.run_coroutine_threadsafe(self.prefetch_blobs(missing), self._loop)
            future.result(timeout=FETCH_TIMEOUT_SECONDS)
        out = {}
        for path in wanted:
            content = self._blobs.get(str(self._listing[path].digest))
            if content is None:  # evicted between fetch and read: the cache is smaller than one request
                content = asyncio.run_coroutine_threadsafe(
                    self._fetch(str(self._listing[path].digest)), self._loop
                ).result(timeout=FETCH_TIMEOUT_SECONDS)
            out[path] = content
        return out

    async def prefetch(self, paths: Iterable[str]) -> None:
        """Fetch the blobs of these paths (those in the listing) that are not cached yet."""
        shas = {str(self._listing[p].digest) for p in paths if p in self._listing}
        await self.prefetch_blobs(sorted(s for s in shas if self._blobs.get(s) is None))

    async def prefetch_blobs(self, shas: list[str]) -> None:
        await asyncio.gather(*(self._fetch(sha) for sha in shas))

    async def _fetch(self, sha: str) -> bytes:
        cached = self._blobs.get(sha)
        if cached is not None:
            return cached
        pending = self._blobs.in_flight.get(sha)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._blobs.in_flight[sha] = future
        try:
            async with self._semaphore:
                content = await _blob(self._client, self._owner, self._repo, sha)
            self._blobs.put(sha, content)
            future.set_result(content)
            return content
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unawaited future does not warn
            raise
        finally:
            del self._blobs.in_flight[sha]
