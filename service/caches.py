"""Per-process caches shared by request threads: a cachetools cache behind a lock."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from cachetools import Cache

K = TypeVar("K")
V = TypeVar("V")


class Locked(Generic[K, V]):
    """A cachetools cache (LRU, TTL, ...) made safe for threads, which cachetools' are not."""

    def __init__(self, cache: Cache[K, V]) -> None:
        self._cache = cache
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._cache[key] = value
