"""Rolling landing files for the collector: buffered in memory, written off the event loop.

Each (day folder, kind) has one open file, i.e. a list of lines in memory. It rolls after
`flush_messages` lines or `flush_seconds`, and is then handed to a single writer thread that writes it
through `storage.write_bytes` (temporary name, fsync, rename) and fsyncs the folder: readers only ever
see whole files, and a message is durable once its file is renamed. The receive loop never waits for
the disk unless more than `max_pending` lines are queued for the writer (a disk slower than the
stream): that bound, plus the open files, is all the memory landing takes.

A run killed while writing leaves a hidden `.{name}.*.tmp`; readers skip hidden files and
`remove_stale_temporaries` deletes them before the next run writes anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
KINDS = ("aisstream", "quarantine")
STALE_SCAN_DAYS = 7  # a killed run was writing the newest day folders; older ones are never reopened


class LandingError(RuntimeError):
    """A landing file could not be written (disk full, permissions): the collector must stop."""


@dataclass
class _OpenFile:
    rel: str
    opened: float
    kind: str
    lines: list[bytes] = field(default_factory=list)


class Lander:
    """Rolling per-day landing files; `stats` gets `flushed`, `files` and `files_written` updated."""

    def __init__(self, storage: Any, stats: Any, *, flush_messages: int, flush_seconds: float, max_pending: int):
        self.storage, self.stats = storage, stats
        self.flush_messages, self.flush_seconds, self.max_pending = flush_messages, flush_seconds, max_pending
        self._open: dict[tuple[str, str], _OpenFile] = {}
        self._pending: deque[tuple[Future, int]] = deque()  # (write, lines) in submission order
        self._pending_lines = 0
        self._seq = 0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ais-landing")

    # -- the receive loop's side: never blocks ---------------------------------------------------
    def write(self, folder: str, kind: str, epoch_ms: int, line: bytes) -> None:
        f = self._open.get((folder, kind)) or self._start(folder, kind, epoch_ms)
        f.lines.append(line)
        if len(f.lines) >= self.flush_messages:
            self._roll((folder, kind))

    @property
    def backlogged(self) -> bool:
        return self._pending_lines > self.max_pending

    async def wait_backlog(self) -> None:
        """Wait for the writer to catch up (the stream then waits in the socket, not in memory)."""
        while self.backlogged:
            await asyncio.wait([asyncio.wrap_future(self._pending[0][0])])
            self._reap()

    def roll_due(self, now: float) -> None:
        for key, f in list(self._open.items()):
            if now - f.opened >= self.flush_seconds:
                self._roll(key)
        self._reap()

    async def flush_periodically(self) -> None:
        """The time bound: roll every file older than `flush_seconds`, even when the stream is quiet."""
        while True:
            due = min((f.opened + self.flush_seconds for f in self._open.values()), default=None)
            wait = self.flush_seconds if due is None else max(0.0, due - time.monotonic())
            await asyncio.sleep(wait)
            self.roll_due(time.monotonic())

    async def close(self) -> None:
        """Roll every open file and wait until all are durable; then the writer thread ends."""
        for key in list(self._open):
            self._roll(key)
        try:
            while self._pending:
                await asyncio.wait([asyncio.wrap_future(self._pending[0][0])])
                self._reap()
        finally:
            self._writer.shutdown(wait=True)

    # -- rolling ----------------------------------------------------------------------------------
    def _start(self, folder: str, kind: str, epoch_ms: int) -> _OpenFile:
        while True:  # never replace a file an earlier run landed (a restart reuses sequence numbers)
            rel = f"{folder}/{kind}-{epoch_ms}-{self._seq:06d}.jsonl"
            self._seq += 1
            if not self.storage.exists(rel):
                break
        f = self._open[(folder, kind)] = _OpenFile(rel, time.monotonic(), kind)
        return f

    def _roll(self, key: tuple[str, str]) -> None:
        f = self._open.pop(key)
        future = self._writer.submit(self._land, f.rel, f.lines)
        self._pending.append((future, len(f.lines)))
        self._pending_lines += len(f.lines)

    def _reap(self) -> None:
        """Forget finished writes; a failed one stops the collector (its lines are lost)."""
        while self._pending and self._pending[0][0].done():
            future, n = self._pending.popleft()
            self._pending_lines -= n
            if future.exception() is not None:
                raise LandingError(f"landing failed: {future.exception()}") from future.exception()

    def _land(self, rel: str, lines: list[bytes]) -> None:
        """Writer thread: one file, temp name + fsync + rename, then the folder's entry is made durable."""
        lines.append(b"")
        self.storage.write_bytes(rel, b"\n".join(lines))
        _fsync_dir(self.storage, rel)
        self.stats.flushed += len(lines) - 1
        self.stats.files.append(rel)
        self.stats.files_written += 1
        log.debug("landed %s (%d lines)", rel, len(lines) - 1)


def _fsync_dir(storage: Any, rel: str) -> None:
    path = getattr(storage, "path", None)
    if path is None:  # an object store has no folders to sync
        return
    fd = os.open(path(rel).parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(storage: Any) -> int:
    """Delete the hidden temporaries a killed collector left in the newest day folders and the
    quarantine folder; call it before writing. Returns how many were removed."""
    path = getattr(storage, "path", None)
    root = path("ais") if path is not None else None
    if root is None or not root.is_dir():
        return 0
    days = sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: p.name)
    folders = days[-STALE_SCAN_DAYS:] + [root / "quarantine"]
    removed = 0
    for folder in folders:
        for kind in KINDS:
            for tmp in folder.glob(f".{kind}-*.tmp"):
                tmp.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.warning("removed %d partial landing file(s) left by an interrupted run", removed)
    return removed
