"""A least-recently-used cache bounded by the bytes its values take, shared by all sessions.

Streamlit's ``st.cache_resource`` bounds a cache by its number of entries only: eight
entries of a 2 GB dataset hold 16 GB. Datasets differ in size by a factor of a thousand
(the 8x8 digits take 130 KB, MNIST 55 MB), so the server's dataset cache is bounded by
bytes instead. Plain Python, no Streamlit, so it is tested on its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteBoundedCache(Generic[V]):
    """Values by key, at most ``max_bytes`` together, least recently used evicted first.

    The value just stored is always kept, even when it alone is larger than the bound (it
    is the one a page is about to show); everything else is evicted to make room for it.
    Loads of different keys run in parallel; two sessions asking for the same missing key
    load it once.

    Args:
        max_bytes: bound of the sum of ``size_of(value)``.
        size_of: bytes a value takes.
    """

    def __init__(self, max_bytes: int, *, size_of: Callable[[V], int]):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0; got {max_bytes}.")
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        """The value of ``key``, loaded with ``load()`` (and stored) when absent.
        An exception from ``load`` propagates and nothing is stored."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another session may have loaded it meanwhile
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
            try:
                value = load()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            self.put(key, value)
            return value

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value`` under ``key`` as the most recently used, evicting the least
        recently used entries until the others fit beside it."""
        size = int(self._size_of(value))
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (value, size)
            while len(self._entries) > 1 and self.nbytes > self.max_bytes:
                self._entries.popitem(last=False)

    def pop(self, key: Hashable) -> None:
        """Forget ``key`` (for a value that changed on disk)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[Hashable]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    @property
    def nbytes(self) -> int:
        return sum(size for _, size in self._entries.values())
