"""The dataset root: where every product lands, addressed by paths relative to the root.

Writers never leave a partial file behind: content goes to a temporary name in the same folder and
is renamed into place when complete (rename is atomic on POSIX). Partitioned tables are one file
per partition, so concurrent partitions never write the same object. The interface is kept to what
an object store also offers (put whole objects, list by prefix), so an S3 root can implement it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from . import layout


class LocalStorage:
    """A dataset root on the local filesystem."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

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
        """Write to a temporary sibling, fsync, then rename into place; nothing lands on error."""
        with self.temporary_path(rel) as tmp:
            with open(tmp, mode) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())

    @contextlib.contextmanager
    def temporary_path(self, rel: str) -> Iterator[Path]:
        """A temporary local path for a writer (e.g. GDAL) that is renamed to `rel` on success."""
        final = self.path(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

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


def open_storage(root: str) -> LocalStorage:
    """The storage for a configured dataset root (local paths today; `s3://` is planned)."""
    if root.startswith("s3://"):
        raise NotImplementedError(f"dataset root {root!r}: S3 roots are not supported yet")
    return LocalStorage(root)


__all__ = ["LocalStorage", "open_storage", "layout"]
