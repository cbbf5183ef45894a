"""`open_store(url)`: the job store CHARTIMPACT_QUEUE_URL names (CONTRACT §3)."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from .base import Clock, JobStore

DEFAULT_REDIS_PREFIX = "chartimpact"


async def open_store(url: str, *, clock: Clock = time.time, redis_prefix: str = DEFAULT_REDIS_PREFIX) -> JobStore:
    """Open the store at `url`, creating or upgrading its schema.

    - `sqlite:///relative/path.sqlite3` (three slashes: relative to the working directory),
      `sqlite:////absolute/path.sqlite3`, or `sqlite:///:memory:`;
    - `redis://[user:password@]host:port/db` and `rediss://…` (TLS), as redis-py reads them;
      `?prefix=name` namespaces the keys, so several deployments can share one server;
    - `memory://`: an in-memory sqlite store, for tests and throwaway runs.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from .sqlite import SqliteJobStore  # noqa: PLC0415

        return await SqliteJobStore.open(":memory:", clock=clock)
    if scheme == "sqlite":
        from .sqlite import SqliteJobStore  # noqa: PLC0415

        return await SqliteJobStore.open(sqlite_path(url), clock=clock)
    if scheme in ("redis", "rediss"):
        from .redis import RedisJobStore  # noqa: PLC0415

        return await RedisJobStore.open(url, clock=clock, prefix=redis_prefix)
    raise ValueError(f"CHARTIMPACT_QUEUE_URL must be a sqlite://, redis://, rediss:// or memory:// URL, not {url!r}")


def sqlite_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc:
        raise ValueError(f"a sqlite URL has no host: write sqlite:///{parts.netloc}{parts.path}, not {url!r}")
    path = unquote(parts.path)
    # urlsplit keeps the slash after the empty host: "/data/x" is relative, "//data/x" absolute.
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ValueError(f"a sqlite URL needs a file path, as in sqlite:///./data/chartimpact.sqlite3, not {url!r}")
    return path
