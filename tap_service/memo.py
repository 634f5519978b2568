"""Answers worked out from the catalogue, kept by key until the catalogue is read again.

A client repeating a query (TOPCAT re-running it, a script polling, a page reloaded) should
not pay again for what depends only on its text and the published tables. Thread-safe; bounded
by starting afresh when full; cleared when the catalogue is re-read (``clear``), and a value is
kept only with the catalogue it was worked out from, so one computed across a reload is never
served for the new catalogue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class Memo(Generic[Value]):
    """``get(key, catalog, compute)``: the value computed for ``key`` against ``catalog``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._known: dict[Hashable, tuple[object, Value]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, catalog: object, compute: Callable[[], Value]) -> Value:
        """The value kept for ``key`` and this very ``catalog``, else ``compute()`` (kept
        unless None; an exception passes through and nothing is kept)."""
        with self._lock:
            known = self._known.get(key)
        if known is not None and known[0] is catalog:
            return known[1]
        value = compute()
        if value is not None:
            with self._lock:
                if len(self._known) >= self._size:
                    self._known.clear()
                self._known[key] = (catalog, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._known.clear()
