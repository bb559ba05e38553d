"""The dataset root: where every product lands, addressed by paths relative to the root.

Writers never leave a partial file behind: content goes to a temporary name in the same folder and
is renamed into place when complete (rename is atomic on POSIX). A write the environment refuses
(disk full, read-only, not permitted) raises `dataset.faults.StorageFault` naming the path.
Partitioned tables are one file per partition, so concurrent partitions never write the same object. The interface is kept to what
an object store also offers (put whole objects, list by prefix): `s3_storage.S3Storage` implements it
for `s3://` roots. Code that works with either uses `location` (to show), `local_copy` (to read with
a library that wants a path) and `temporary_path` (to write with one); `path` is the local root's own.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import threading
from pathlib import Path
from typing import IO, Iterator

from shipchips_core.dataset import faults
from shipchips_core.dataset.drop_behind import DropBehind


class LocalStorage:
    """A dataset root on the local filesystem."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self._root = str(self.root)
        self._made_dirs: set[str] = set()
        self._deferred_sync = False
        self._drop_behind: DropBehind | None = None

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

    def location(self, rel: str) -> str:
        """Where `rel` is, for people (logs, metadata, the demo's summary): its absolute path."""
        return str(self.path(rel))

    @contextlib.contextmanager
    def local_copy(self, rel: str) -> Iterator[Path]:
        """A local file holding `rel`, for readers that need a path: the file itself here."""
        yield self.path(rel)

    def fsspec_source(self, rel: str) -> tuple[str, None]:
        """(`path`, `filesystem`) for pyarrow / pandas readers: the local path, no filesystem."""
        return str(self.path(rel)), None

    def duckdb_pattern(self, con, rel: str) -> str:
        """The glob of every parquet file under `rel` as DuckDB reads it."""
        return str(self.path(rel)) + "/**/*.parquet"

    def modified(self, rel: str) -> float:
        return self.path(rel).stat().st_mtime

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    def read_bytes(self, rel: str) -> bytes:
        return self.path(rel).read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> str:
        """`data` as the file `rel`, through a temporary name like every write. The path is handled
        as a string and the file with plain descriptors: a chip writes five files, and `Path`
        arithmetic and `open()`'s buffered file objects cost as much CPU as the kernel's own work."""
        final = self._local(rel)
        tmp = self._temporary_name(final)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            self._land(tmp, final, len(data))
        except BaseException as exc:
            _abandon(exc, tmp, final)
            raise
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
        final = self._local(rel)
        tmp = self._temporary_name(final)
        try:
            yield Path(tmp)
            self._land(tmp, final, None)
        except BaseException as exc:
            _abandon(exc, tmp, final)
            raise

    def _local(self, rel: str) -> str:
        """`path(rel)` as a string; plain relative paths skip `Path`'s parsing."""
        if rel.startswith("/") or "//" in rel or "./" in rel or rel.endswith("/") or rel.endswith("."):
            return str(self.path(rel))  # absolute, or to normalise (or to refuse) as `path` does
        return f"{self._root}/{rel}"

    def _temporary_name(self, final: str) -> str:
        """The folder made, and a name there unique among live writers (pid, thread, counter); a
        crashed writer's leftover is overwritten."""
        folder, _, name = final.rpartition("/")
        try:
            self._ensure_dir(folder)
        except OSError as exc:
            _raise_if_environment(exc, Path(final))
            raise
        return f"{folder}/{TEMP_PREFIX}{name}.{os.getpid()}.{threading.get_ident()}.{next(_COUNTER)}{TEMP_SUFFIX}"

    def _land(self, tmp: str, final: str, size: int | None) -> None:
        """A complete temporary renamed into place, durable now or by the enclosing `deferred_sync`."""
        if not self._deferred_sync:
            _fsync_file(tmp)
        elif self._drop_behind is not None:
            self._drop_behind.landed(tmp, size)
        os.replace(tmp, final)

    @contextlib.contextmanager
    def deferred_sync(self, drop_behind: bool = False) -> Iterator[None]:
        """Write many files with one flush of the filesystem at the end instead of an fsync each.
        Files are renamed into place as they complete; all of them are durable when this exits.
        `drop_behind`: the files are write-once output (chips): each one's write-back starts as it
        lands and its pages leave the page cache a few files later (`drop_behind.py`)."""
        if self._deferred_sync:  # nested: the outermost block syncs
            yield
            return
        self._deferred_sync = True
        self._drop_behind = DropBehind() if drop_behind else None
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            self._deferred_sync = False
            self._made_dirs.clear()
            try:
                _sync_filesystem(self.root)
            except OSError:
                if not failed:  # a sync error must not hide the error that is already on its way
                    raise
            finally:
                if self._drop_behind is not None:
                    self._drop_behind.drain()
                    self._drop_behind = None

    def _ensure_dir(self, folder: str) -> None:
        """mkdir -p, remembered inside a `deferred_sync` block (many files share few folders). Below
        a folder made earlier in the block, the missing ones are made top-down, one mkdir each, with
        no lookups of the folders above (a chip's `{mmsi}/{day}` under its split's folder)."""
        made = self._made_dirs
        if folder in made:
            return
        if not self._deferred_sync:
            os.makedirs(folder, exist_ok=True)
            return
        new = [folder]  # the folder and those above it not made in this block, bottom-up
        while (above := os.path.dirname(new[-1])) not in made and above.startswith(self._root) and above != new[-1]:
            new.append(above)
        if above in made:
            for missing in reversed(new):
                _make_dir(missing)
        else:
            os.makedirs(folder, exist_ok=True)
        made.update(new)

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

    def glob(self, pattern: str) -> list[str]:
        """Files matching `pattern`, `*` standing for one path segment, hidden temporaries included
        (the cleanup looks for them), sorted."""
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob(pattern) if p.is_file())

    def delete(self, rel: str) -> None:
        self.path(rel).unlink(missing_ok=True)


class Location(str):
    """Where a stored product is (a local path or an s3:// URI), for a person to open: the Dagster
    layer shows it as a path."""


TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"  # a writer's temporary: `.{name}.{pid}.{thread}.{n}.tmp`


def writer_alive(pid: int) -> bool:
    """Whether the process that named a temporary after its pid may still be writing it."""
    if pid == os.getpid():
        return True  # this process may be writing another partition's file there right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


_COUNTER = itertools.count()


def _make_dir(folder: str) -> None:
    try:
        os.mkdir(folder)
    except FileExistsError:
        if not os.path.isdir(folder):
            raise


def _write_all(fd: int, data) -> None:
    view, written = memoryview(data).cast("B"), 0
    while written < len(view):
        written += os.write(fd, view[written:])


def _abandon(exc: BaseException, tmp: str, final: str) -> None:
    """A failed write: its temporary removed, the environment's refusal raised as a StorageFault."""
    try:  # judged while the partial file still takes its space
        _raise_if_environment(exc, Path(final))
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _raise_if_environment(exc: BaseException, final: Path) -> None:
    """Raise a StorageFault naming `final` when the environment refused the write (see `faults`)."""
    fault = faults.storage_fault(exc, final)
    if fault is not None and fault is not exc:
        raise fault from exc
_LIBC = ctypes.CDLL(None, use_errno=True)


def _fsync_file(path: str | Path) -> None:
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
            code = ctypes.get_errno()
            if code != errno.ENOSYS:  # a write-back error (EIO, ENOSPC): the files are not durable
                fault = faults.storage_fault(OSError(code, os.strerror(code), str(folder)), folder)
                raise fault or OSError(code, f"syncing the filesystem holding {folder}: {os.strerror(code)}", str(folder))
            os.sync()
    finally:
        os.close(fd)


def open_storage(root: str, s3=None):
    """The storage for a configured dataset root: a local folder, or `s3://bucket/prefix` reached as
    the `s3` config section (`S3Config`) says."""
    if root.startswith("s3://"):
        from shipchips_core.dataset.s3_storage import S3Storage

        return S3Storage(root, s3)
    return LocalStorage(root)


def is_remote(storage) -> bool:
    """True for a root that is no local folder (no `path`, no fsync, no journals)."""
    return not isinstance(storage, LocalStorage)


__all__ = ["LocalStorage", "is_remote", "open_storage"]
