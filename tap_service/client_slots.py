"""How many queries one client runs at once: a client that sends many in parallel waits its
turn (503, Retry-After) instead of taking every database connection from everybody else.

Counted per server process (``xpha serve --workers N`` multiplies the bound by N), by the
caller's quota key (its user, else its address).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from tap_service.errors import TransientFault


class ClientSlots:
    """A counter of running queries per client with a fixed bound."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, client: str) -> Callable[[], None]:
        """A slot for ``client`` (TransientFault when it has none left); call the returned
        function, exactly once, when its query is done."""
        with self._lock:
            if self._running[client] >= self.per_client:
                raise TransientFault(
                    f"you are running {self._running[client]} queries at once, the most one "
                    "client may; wait for one to finish (or use /tap/async)"
                )
            self._running[client] += 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._running[client] -= 1
                if self._running[client] <= 0:
                    del self._running[client]

        return release
