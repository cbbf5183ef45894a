"""Writes the audit entries of deliveries that created no job, behind the webhook's answer.

An accepted delivery's entry is written with its job, in the same atomic change (store/base.py),
so it is durable before the 202. Every other outcome (ignored, duplicate, rejected: 401, 400,
413, 503…) goes through this writer: `record` only appends to a bounded buffer and never waits
or raises, so the answer is never slowed or turned into an error by the audit log, and a flood
of unsigned deliveries costs one store write per batch instead of one per delivery (on sqlite
that write shares the store's one thread with intake).

What that costs, by design: entries still buffered when the process dies (kill -9) are lost,
at most `interval` seconds of them; entries beyond `capacity` while the store is slow or down,
and a batch the store refused, are dropped, counted (`on_dropped`) and logged. A clean shutdown
writes what is buffered (`close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

import structlog

from .audit import AuditEntry
from .store import JobStore
from .store.base import Clock

log = structlog.get_logger(__name__)
CAPACITY = 10_000  # entries are at most ~1 KB each: 10 MB of memory at worst
BATCH = 100  # one write of 100 holds sqlite's one thread ~2 ms: intake waits no longer than that
INTERVAL_SECONDS = 0.5
Dropped = Callable[[int], None]


class AuditWriter:
    def __init__(
        self,
        store: JobStore,
        *,
        max_entries: int,
        capacity: int = CAPACITY,
        batch: int = BATCH,
        interval: float = INTERVAL_SECONDS,
        on_dropped: Dropped | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.clock = clock  # the time entries are stamped with (tests move it)
        self._store = store
        self._max_entries = max_entries
        self._capacity = capacity
        self._batch = batch
        self._interval = interval
        self._on_dropped = on_dropped
        self._buffer: deque[AuditEntry] = deque()
        self._full = asyncio.Event()  # a batch is ready: write it without waiting for the interval
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one write at a time, so entries keep their order
        self._warned = False  # one warning per episode of drops, not one log line per delivery of a flood

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def record(self, entry: AuditEntry) -> None:
        """Buffer an entry for the next batch; drop it (counted) when the buffer is full."""
        if len(self._buffer) >= self._capacity:
            self._dropped(1, "the audit buffer is full")
            return
        self._buffer.append(entry)
        if len(self._buffer) >= self._batch:
            self._full.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def flush(self) -> None:
        """Write everything buffered now (tests, shutdown)."""
        while self._buffer:
            await self._write_batch()

    async def close(self, timeout: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(timeout):
                await self.flush()
        except TimeoutError:
            self._dropped(len(self._buffer), "the store did not take the audit entries before shutdown")
            self._buffer.clear()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._interval)
            self._full.clear()
            await self.flush()

    async def _write_batch(self) -> None:
        async with self._lock:
            batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
            if not batch:
                return
            try:
                await self._store.record_deliveries(batch, max_entries=self._max_entries)
            except Exception as exc:
                # The store's own trouble shows on /readyz and in the deliveries' answers (503).
                self._dropped(len(batch), f"the store refused them: {type(exc).__name__}: {exc}")
            else:
                self._warned = False

    def _dropped(self, count: int, reason: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("audit entries dropped (see chartimpact_audit_dropped_total)", entries=count, reason=reason)
        if self._on_dropped is not None:
            self._on_dropped(count)
