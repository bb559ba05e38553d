"""Write-once files out of the page cache behind the writer: write-back started as each file lands,
its pages dropped a few files later. Only large files (a COG) are handled so; small ones are left to
the kernel's flusher, which writes them back merged with their neighbours.

A day's chips are written once and read again, if at all, by a training job days later. Left in the
page cache they grow it by every byte written (a 1,000-chip day: 0.8 GB), each page a page of free
memory taken anew; dropped behind the writer, the cache recycles the same few megabytes instead.
Where a VM hands free memory back to its host (free page reporting, balloon drivers), a page taken
anew costs ~10x a recycled one (measured here: 8-15 against ~1 us of CPU per 4 KiB), which made the
page cache the largest kernel cost of writing chips; elsewhere it saves the reclaim of those pages
and keeps the cache for what is read again. HDFS's `drop.cache.behind.writes` and PostgreSQL's
`*_flush_after` are the same two calls (Linux `sync_file_range`, `posix_fadvise(DONTNEED)`).

Both calls are hints: a page still under write-back when its file is dropped stays cached, a platform
without them keeps every page, and durability still comes from the caller's fsync or syncfs.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from collections import deque
from pathlib import Path

# Large files landed between a file's landing and its drop: by then its write-back (a COG, ~0.8 MB) is done.
# On the chip benchmark 4, 10, 40 and 160 files were alike within its noise; fewer hold fewer pages.
BEHIND_FILES = 10
# Smaller files are left to the final sync: each early write-back is an I/O request of its own, which
# the kernel's flusher would have merged with its neighbours'. Measured on 1,000 chips' five files
# (0.82 MB, 30, 6, 5 and 2 kB), machine CPU with the write-back: every file kept 2.96-4.21 s, every
# file dropped 1.73-3.05 s, files from 256 KiB dropped (the COGs) 1.44-1.98 s.
MIN_BYTES = 256 * 1024

SYNC_FILE_RANGE_WRITE = 2  # start write-back of the range's dirty pages, do not wait (linux/fs.h)

_LIBC = ctypes.CDLL(None, use_errno=True)
_SYNC_FILE_RANGE = getattr(_LIBC, "sync_file_range", None)
if _SYNC_FILE_RANGE is not None:
    _SYNC_FILE_RANGE.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
_MINCORE = getattr(_LIBC, "mincore", None)
if _MINCORE is not None:
    _LIBC.mmap.restype = ctypes.c_void_p
    _LIBC.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
    _LIBC.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    _MINCORE.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)


def supported() -> bool:
    """Whether this platform has both calls (Linux); elsewhere `DropBehind` keeps every page."""
    return _SYNC_FILE_RANGE is not None and hasattr(os, "posix_fadvise")


class DropBehind:
    """Files of `min_bytes` or more handed to `landed` leave the page cache `behind` such files later,
    the rest at `drain`; smaller ones stay cached until the kernel needs their pages."""

    def __init__(self, behind: int = BEHIND_FILES, min_bytes: int = MIN_BYTES):
        self.behind, self.min_bytes = behind, min_bytes
        self._open: deque[int] = deque()  # descriptors of landed files not dropped yet, oldest first
        self._lock = threading.Lock()  # writers may share a storage across threads

    def landed(self, path: str | Path, size: int | None = None) -> None:
        """`path` is complete (closed; `size` bytes, if the caller knows): if it is large enough,
        start its write-back and drop the one `behind` files ago."""
        if not supported():
            return
        try:
            if (os.stat(path).st_size if size is None else size) < self.min_bytes:
                return
            fd = os.open(path, os.O_RDONLY)  # the descriptor outlives the rename into place
        except OSError:
            return  # the caller's own rename or sync reports what is wrong with the file
        _SYNC_FILE_RANGE(fd, 0, 0, SYNC_FILE_RANGE_WRITE)  # a write-back error surfaces at the sync
        with self._lock:
            self._open.append(fd)
            due = self._open.popleft() if len(self._open) > self.behind else None
        if due is not None:
            _drop(due)

    def drain(self) -> None:
        """Drop every file still held (after the caller's sync: their pages are clean by then)."""
        with self._lock:
            due, self._open = list(self._open), deque()
        for fd in due:
            _drop(fd)


def _drop(fd: int) -> None:
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass  # a hint the filesystem refused: the pages just stay cached
    finally:
        os.close(fd)


def cached_bytes(path: Path) -> int | None:
    """How much of a file the page cache holds now (mincore, by page); None where that is unknown."""
    size = os.path.getsize(path)
    if _MINCORE is None or size == 0:
        return None if _MINCORE is None else 0
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = _LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            return None
        try:
            pages = -(-size // mmap.PAGESIZE)
            vec = ctypes.create_string_buffer(pages)
            if _MINCORE(addr, size, vec) != 0:
                return None
            return min(size, sum(b & 1 for b in vec.raw) * mmap.PAGESIZE)
        finally:
            _LIBC.munmap(addr, size)
    finally:
        os.close(fd)
