"""Disk and memory caches evict least recently used under their caps; names never leak keys."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from site_gateway.cache import DiskCache, MemoryLRU, prefetch_order


def test_disk_cache_round_trips_and_names_files_by_hash(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, max_bytes=1000)
    key = "instance:1.2.840.99999.1.2.3"
    path = cache.put(key, b"x" * 100)
    assert cache.read(key) == b"x" * 100
    assert key in cache
    assert "1.2.840" not in str(path.relative_to(tmp_path))
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_hostile_keys_stay_inside_the_cache(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache", max_bytes=1000)
    for key in ("../../escape", "/etc/passwd", "a/../../b", "\x00"):
        assert cache.put(key, b"data").resolve().is_relative_to((tmp_path / "cache").resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_disk_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, max_bytes=300)
    for key in "abc":
        cache.put(key, b"." * 100)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", b"." * 100)
    assert "b" not in cache
    assert all(k in cache for k in "acd")
    assert cache.size_bytes == 300
    assert len(list(tmp_path.glob("*/*.dcm"))) == 3


def test_disk_cache_refuses_what_cannot_fit(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, max_bytes=10)
    with pytest.raises(ValueError, match="do not fit"):
        cache.put("big", b"." * 11)


def test_disk_cache_survives_a_restart_in_lru_order(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, max_bytes=300)
    for i, key in enumerate("abc"):
        path = cache.put(key, b"." * 100)
        os.utime(path, ns=(i * 10**9, i * 10**9))
    (path.parent / ".leftover.part").write_bytes(b"half")
    again = DiskCache(tmp_path, max_bytes=300)
    assert again.size_bytes == 300
    again.put("d", b"." * 100)
    assert "a" not in again
    assert again.read("c") == b"." * 100
    assert not list(tmp_path.glob("*/.*.part"))


def test_replacing_a_key_keeps_the_size_right(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, max_bytes=1000)
    cache.put("k", b"." * 100)
    cache.put("k", b"." * 50)
    assert (cache.size_bytes, len(cache)) == (50, 1)
    cache.discard("k")
    assert (cache.size_bytes, cache.get("k")) == (0, None)


def test_memory_lru_counts_bytes_and_evicts() -> None:
    lru: MemoryLRU[int, np.ndarray] = MemoryLRU(max_bytes=3 * 512 * 512 * 2)
    frames = {i: np.zeros((512, 512), np.int16) for i in range(4)}
    for i in range(3):
        assert lru.put(i, frames[i])
    assert lru.get(0) is frames[0]
    lru.put(3, frames[3])
    assert 1 not in lru
    assert [k in lru for k in (0, 2, 3)] == [True, True, True]
    assert lru.size_bytes == 3 * 512 * 512 * 2
    assert not lru.put(9, np.zeros((1024, 1024), np.int16))  # larger than the whole cap
    assert lru.pop(0) is frames[0]
    assert lru.size_bytes == 2 * 512 * 512 * 2


def test_memory_lru_takes_a_size_function() -> None:
    lru: MemoryLRU[str, str] = MemoryLRU(max_bytes=10, size_of=len)
    lru.put("a", "12345")
    lru.put("b", "123456")
    assert "a" not in lru
    assert lru.get("b") == "123456"


@pytest.mark.parametrize(
    ("center", "count", "expected"),
    [
        (5, 10, [5, 6, 4, 7, 3, 8, 2, 9, 1, 0]),
        (0, 4, [0, 1, 2, 3]),
        (3, 4, [3, 2, 1, 0]),
        (0, 1, [0]),
        (7, 0, []),
        (99, 3, [2, 1, 0]),
    ],
)
def test_prefetch_goes_outward_from_the_viewed_slice(
    center: int, count: int, expected: list[int]
) -> None:
    assert list(prefetch_order(center, count)) == expected
