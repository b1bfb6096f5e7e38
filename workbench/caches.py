"""The process's caches, in one place: what a long-lived process (a watcher, the TUI) keeps.

Every in-memory cache of workbench is an ``LRU`` made here: frames of store objects, per-file
profiles and sketches, per-file validation rows, loaded models, drift reference frames. Each
is keyed by content (object hashes), so none can go stale; they are bounded by size.
``clear_process_caches`` empties them all — the one public way to start from cold (tests call
it before each test, a bench before each cold measurement) instead of reaching into modules.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

_ALL: weakref.WeakSet[LRU] = weakref.WeakSet()


def clear_process_caches() -> None:
    """Empty every process cache (``LRU``) that exists."""
    for cache in list(_ALL):
        cache.clear()


class LRU:
    """A small thread-safe LRU bounded by a total size (bytes or entries)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.used = 0
        self.lock = threading.Lock()
        _ALL.add(self)

    def get(self, key: str) -> Any:
        with self.lock:
            hit = self.items.get(key)
            if hit is None:
                return None
            self.items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: Any, size: int = 1) -> None:
        if size > self.budget:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self.items[key] = (value, size)
            self.used += size
            while self.used > self.budget:
                _, (_, dropped) = self.items.popitem(last=False)
                self.used -= dropped

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.used = 0

    def keep_only(self, keep: Any) -> None:
        """Drop every entry whose key ``keep(key)`` rejects."""
        with self.lock:
            for key in [k for k in self.items if not keep(k)]:
                self.used -= self.items.pop(key)[1]
