"""A one-element mailbox: the newest item replaces any unprocessed one (latest-frame-wins)."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["LatestSlot"]


class LatestSlot(Generic[T]):
    """Thread-safe holder of the most recent item.

    ``put`` never blocks and overwrites an item nobody has taken yet
    (counted in ``dropped``); ``take`` waits up to ``timeout`` seconds for an
    item and removes it (None on timeout or after ``close``). A consumer
    slower than the producer therefore always works on the newest data and
    no queue builds up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._has = False
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._has:
                self.dropped += 1
            self._item, self._has = item, True
            self.received += 1
            self._cond.notify()

    def take(self, timeout: float | None = None) -> T | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._has or self._closed, timeout):
                return None
            if not self._has:
                return None
            item, self._item, self._has = self._item, None, False
            return item

    def peek(self) -> T | None:
        """The waiting item, if any, without taking it."""
        with self._cond:
            return self._item if self._has else None

    def close(self) -> None:
        """Wake every waiting ``take`` (which then returns None)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
