"""The durable job store (base.py says what it promises) and `open_store` for CHARTIMPACT_QUEUE_URL."""

from .base import Added, JobStore, Page, ResultLimits, Retention, StoreError
from .factory import open_store

__all__ = ["Added", "JobStore", "Page", "ResultLimits", "Retention", "StoreError", "open_store"]
