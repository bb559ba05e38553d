"""The dataset root: where every product lands, addressed by paths relative to the root.

Writers never leave a partial file behind: content goes to a temporary name in the same folder and
is renamed into place when complete (rename is atomic on POSIX). Partitioned tables are one file
per partition, so concurrent partitions never write the same object. The interface is kept to what
an object store also offers (put whole objects, list by prefix), so an S3 root can implement it.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import threading
from pathlib import Path
from typing import IO, Iterator

from shipchips_core.dataset import paths


class LocalStorage:
    """A dataset root on the local filesystem."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self._made_dirs: set[Path] = set()
        self._deferred_sync = False

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def __getstate__(self) -> dict:  # a worker process starts with its own directory cache and sync mode
        return {"root": self.root}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["root"])

    def path(self, rel: str) -> Path:
        """Absolute local path of `rel` (a relative, forward-slash path under the root)."""
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts:
            raise ValueError(f"storage path must be relative and inside the root: {rel!r}")
        return self.root / rel_path

    def uri(self, rel: str) -> str:
        return self.path(rel).as_uri()

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    def read_bytes(self, rel: str) -> bytes:
        return self.path(rel).read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> str:
        with self.open_write(rel) as fh:
            fh.write(data)
        return rel

    @contextlib.contextmanager
    def open_write(self, rel: str, mode: str = "wb") -> Iterator[IO]:
        """Write to a temporary sibling, then rename into place; nothing lands on error."""
        with self.temporary_path(rel) as tmp:
            with open(tmp, mode) as fh:
                yield fh

    @contextlib.contextmanager
    def temporary_path(self, rel: str) -> Iterator[Path]:
        """A temporary local path for a writer (e.g. GDAL) that is renamed to `rel` once complete and
        on disk (fsync'd now, or by the enclosing `deferred_sync`)."""
        final = self.path(rel)
        self._ensure_dir(final.parent)
        # unique among live writers (pid, thread, counter); a crashed writer's leftover is overwritten
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.{next(_COUNTER)}.tmp")
        try:
            yield tmp
            if not self._deferred_sync:
                _fsync_file(tmp)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Write many files with one flush of the filesystem at the end instead of an fsync each.
        Files are renamed into place as they complete; all of them are durable when this exits."""
        if self._deferred_sync:  # nested: the outermost block syncs
            yield
            return
        self._deferred_sync = True
        try:
            yield
        finally:
            self._deferred_sync = False
            self._made_dirs.clear()
            _sync_filesystem(self.root)

    def _ensure_dir(self, folder: Path) -> None:
        """mkdir -p, remembered inside a `deferred_sync` block (many files share few folders)."""
        if folder in self._made_dirs:
            return
        folder.mkdir(parents=True, exist_ok=True)
        if self._deferred_sync:
            self._made_dirs.add(folder)

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Relative paths of the files under `prefix` ending in `suffix`, sorted; temporaries skipped."""
        base = self.path(prefix)
        if not base.exists():
            return []
        found = []
        for p in base.rglob("*"):
            if p.is_file() and not p.name.startswith(".") and p.name.endswith(suffix):
                found.append(p.relative_to(self.root).as_posix())
        return sorted(found)

    def delete(self, rel: str) -> None:
        self.path(rel).unlink(missing_ok=True)


_COUNTER = itertools.count()
_LIBC = ctypes.CDLL(None, use_errno=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_filesystem(folder: Path) -> None:
    """Flush every pending write of the filesystem holding `folder` (Linux syncfs; else sync)."""
    syncfs = getattr(_LIBC, "syncfs", None)
    if syncfs is None or not folder.exists():
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def open_storage(root: str) -> LocalStorage:
    """The storage for a configured dataset root (local paths today; `s3://` is planned)."""
    if root.startswith("s3://"):
        raise NotImplementedError(f"dataset root {root!r}: S3 roots are not supported yet")
    return LocalStorage(root)


__all__ = ["LocalStorage", "open_storage", "layout"]
