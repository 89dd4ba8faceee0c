"""Whether the exchange answered lately, as the sync worker last saw it.

The worker updates it after every probe; services read it (for example to apply the offline
limits to a payment). Thread-safe; holds no Qt and no network code.
"""

from __future__ import annotations

import datetime as dt
import threading


class Connectivity:
    """The latest reachability of the exchange. Starts as offline until a probe succeeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._online = False
        self._last_contact: dt.datetime | None = None

    def mark(self, *, online: bool, at: dt.datetime) -> None:
        """Record a probe's result. Called by the sync worker's thread."""
        with self._lock:
            self._online = online
            if online:
                self._last_contact = at

    @property
    def online(self) -> bool:
        with self._lock:
            return self._online

    @property
    def last_contact(self) -> dt.datetime | None:
        with self._lock:
            return self._last_contact
