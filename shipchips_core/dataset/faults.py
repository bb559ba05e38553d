"""Environment faults: the disk is full, the root is read-only, a folder may not be written.

Such a fault is no property of one chip or one table: every later write fails the same way, so
counting it per chip (`failed` rows) would sink a day silently. `storage_fault` recognises one,
from the error's errno where there is one, else (GDAL and DuckDB report a full disk in their own
words, e.g. a TIFF seek error) by looking at the filesystem holding the path at the moment the write
failed; the writer then raises `StorageFault`, an `OSError` whose message names the path, and the run
fails at once.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only filesystem",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
# what a full or read-only disk says wherever it is hit (a refused permission outside the storage
# layer may be one source file's, so only a write through `storage` turns EACCES/EPERM into a fault)
WRITE_SIDE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
# below this many free bytes a filesystem counts as full: a chip's files take ~1-2 MB
NEARLY_FULL_BYTES = 16 * 1024 * 1024


class StorageFault(OSError):
    """A write refused by the environment (full, read-only, not permitted); names the path. Fails the
    run: retrying chip by chip cannot help."""


def _errno_in_chain(exc: BaseException, errnos=frozenset(ENVIRONMENT_ERRNOS)) -> tuple[int, str | None] | None:
    """The first of `errnos` in `exc`'s chain (cause and context), with its filename."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in errnos:
            return exc.errno, exc.filename
        exc = exc.__cause__ or exc.__context__
    return None


def filesystem_state(folder: Path) -> tuple[int, str] | None:
    """(errno, why) when the filesystem holding `folder` refuses writes now: read-only, not writable
    by us, or (nearly) full; None when it looks writable."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS, "the filesystem is mounted read-only"
    if not os.access(folder, os.W_OK):
        return errno.EACCES, f"{folder} is not writable by uid {os.geteuid()}"
    free = (st.f_bfree if os.geteuid() == 0 else st.f_bavail) * st.f_frsize
    if free < NEARLY_FULL_BYTES:
        return errno.ENOSPC, f"{free} bytes free of {st.f_blocks * st.f_frsize}"
    if st.f_files and st.f_ffree == 0:
        return errno.ENOSPC, "no free inodes"
    return None


def storage_fault(exc: BaseException, path: Path) -> StorageFault | None:
    """The environment fault behind `exc`, raised while writing `path`, or None when the failure is
    the write's own (bad data, a bug): those stay the caller's to report."""
    if isinstance(exc, StorageFault):
        return exc
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: not ours to rename
        return None
    found = _errno_in_chain(exc)
    detail = f"{type(exc).__name__}: {exc}"
    if found is None:
        state = filesystem_state(Path(path).parent)
        if state is None:
            return None
        code, why = state
        detail = f"{why}; the writer said {detail}"
    else:
        code = found[0]
    return StorageFault(code, f"{ENVIRONMENT_ERRNOS[code]} ({errno.errorcode[code]}) writing {path}: {detail}", str(path))


def environment_fault(exc: BaseException, errnos=WRITE_SIDE_ERRNOS) -> StorageFault | None:
    """`exc` as a StorageFault if it is one or carries one of `errnos` (with its filename); None
    otherwise. For errors raised outside the storage layer, where no path is being written."""
    if isinstance(exc, StorageFault):
        return exc
    found = _errno_in_chain(exc, errnos) if isinstance(exc, Exception) else None
    if found is None:
        return None
    code, filename = found
    where = filename or "an unnamed path"
    return StorageFault(code, f"{ENVIRONMENT_ERRNOS[code]} ({errno.errorcode[code]}) at {where}: {exc}", filename)
