"""Local caches: retrieved instances on disk, decoded objects in memory, and prefetch order.

Disk file names are a hash of the key, never the key itself: a UID (or anything else a PACS or
a peer chose) never becomes a path. Writes are atomic (temporary file + rename), so a reader
never sees half an instance and a crash leaves no torn file behind.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_SUFFIX = ".dcm"


class DiskCache:
    """Bytes on local disk under a size cap, least recently used evicted first."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"a cache needs a positive size cap, got {max_bytes}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()  # file name → size, LRU first
        self._bytes = 0
        self._load()

    def _load(self) -> None:
        """Adopt what a previous run left, oldest access first; drop half-written files."""
        found = []
        for path in self.root.glob(f"*/*{_SUFFIX}"):
            st = path.stat()
            found.append((st.st_mtime_ns, path.name, st.st_size))
        for leftover in self.root.glob("*/.*.part"):
            leftover.unlink(missing_ok=True)
        for _, name, size in sorted(found):
            self._entries[name] = size
            self._bytes += size
        self._evict(0)

    @staticmethod
    def _name(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest() + _SUFFIX

    def _path(self, name: str) -> Path:
        return self.root / name[:2] / name

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return self._name(key) in self._entries

    def get(self, key: str) -> Path | None:
        """The file holding ``key``'s bytes, marked as just used; None if not cached."""
        name = self._name(key)
        with self._lock:
            if name not in self._entries:
                return None
            self._entries.move_to_end(name)
        path = self._path(name)
        try:
            os.utime(path)  # the access order survives a restart
        except FileNotFoundError:  # removed behind our back
            self.discard(key)
            return None
        return path

    def read(self, key: str) -> bytes | None:
        path = self.get(key)
        try:
            return path.read_bytes() if path is not None else None
        except FileNotFoundError:
            self.discard(key)
            return None

    def put(self, key: str, data: bytes) -> Path:
        """Store ``data`` under ``key`` atomically, evicting least recently used entries."""
        if len(data) > self.max_bytes:
            raise ValueError(f"{len(data)} bytes do not fit a cache of {self.max_bytes} bytes")
        name = self._name(key)
        path = self._path(name)
        path.parent.mkdir(exist_ok=True)
        tmp = path.parent / f".{name}.{threading.get_ident()}.part"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the whole new one
        with self._lock:
            self._bytes -= self._entries.pop(name, 0)
            self._entries[name] = len(data)
            self._bytes += len(data)
            victims = self._evict_locked(0)
        for victim in victims:
            victim.unlink(missing_ok=True)
        return path

    def discard(self, key: str) -> None:
        name = self._name(key)
        with self._lock:
            self._bytes -= self._entries.pop(name, 0)
        self._path(name).unlink(missing_ok=True)

    def _evict(self, extra: int) -> None:
        with self._lock:
            victims = self._evict_locked(extra)
        for victim in victims:
            victim.unlink(missing_ok=True)

    def _evict_locked(self, extra: int) -> list[Path]:
        victims = []
        while self._entries and self._bytes + extra > self.max_bytes:
            name, size = self._entries.popitem(last=False)
            self._bytes -= size
            victims.append(self._path(name))
        return victims


def default_size_of(value: object) -> int:
    """Bytes held by ``value``: ``nbytes`` for arrays, ``len`` for bytes, else getsizeof."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return sys.getsizeof(value)


class MemoryLRU(Generic[K, V]):
    """A byte-size-aware LRU map (decoded frames, rendered tiles…), safe across threads."""

    def __init__(self, max_bytes: int, size_of: Callable[[V], int] = default_size_of) -> None:
        if max_bytes <= 0:
            raise ValueError(f"a cache needs a positive size cap, got {max_bytes}")
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: K, value: V) -> bool:
        """Keep ``value``; False (and nothing kept) when it alone exceeds the cap."""
        size = self._size_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return False
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted
            return True

    def pop(self, key: K) -> V | None:
        with self._lock:
            item = self._items.pop(key, None)
            if item is None:
                return None
            self._bytes -= item[1]
            return item[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def prefetch_order(center: int, count: int) -> Iterator[int]:
    """Indices outward from the slice being viewed: i, i+1, i-1, i+2, i-2, … within [0, count)."""
    if count <= 0:
        return
    center = min(max(center, 0), count - 1)
    yield center
    for step in range(1, count):
        if center + step < count:
            yield center + step
        if center - step >= 0:
            yield center - step
        if center + step >= count and center - step < 0:
            return
