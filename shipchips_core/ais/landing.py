"""Rolling landing files for the collector: journaled off the event loop, renamed when complete.

Each (day folder, kind) has one open file. The receive loop only appends its lines to a list in
memory; every `sync_seconds` they are handed to the journal writer thread (`journal.py`), which
appends them to the file's hidden journal and fsyncs it (group commit): a message is durable, also
against SIGKILL or a power cut, within about `sync_seconds` of its arrival. The file rolls after
`flush_messages` lines or `flush_seconds`: its journal is renamed to the landing name, so readers
only ever see whole files. The receive loop never waits for the disk unless more than `max_pending`
lines wait for the writer (a disk slower than the stream): that bound, plus one interval's lines, is
all the memory landing takes.

A killed run leaves its open journals behind; `journal.recover_journals` lands them (up to their
last complete line) before the next run writes anything. Hidden `.{name}.*.tmp` files of older
versions are deleted by `remove_stale_temporaries`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shipchips_core.ais.journal import JournalFile, JournalWriter, LandingError, journal_path

log = logging.getLogger(__name__)
KINDS = ("aisstream", "quarantine")
STALE_SCAN_DAYS = 7  # a killed run was writing the newest day folders; older ones are never reopened
__all__ = ["Lander", "LandingError", "remove_stale_temporaries"]


@dataclass(eq=False)
class _OpenFile:
    journal: JournalFile
    opened: float
    count: int = 0  # lines written to this file so far
    lines: list[bytes] = field(default_factory=list)  # not yet handed to the writer


class Lander:
    """Rolling per-day landing files; `stats` gets `committed`, `flushed`, `files` and
    `files_written` updated. `storage` must be a local root (it has `path`)."""

    def __init__(self, storage: Any, stats: Any, *, flush_messages: int, flush_seconds: float, max_pending: int,
                 sync_seconds: float = 0.1, shipper: Any = None):
        self.storage, self.stats = storage, stats
        self.flush_messages, self.flush_seconds, self.max_pending = flush_messages, flush_seconds, max_pending
        self.sync_seconds = sync_seconds
        self._open: dict[tuple[str, str], _OpenFile] = {}
        self._closing: list[_OpenFile] = []  # rolled since the last commit
        self._buffered = 0  # lines in memory, not yet handed to the writer
        self._writes = 0
        self._next_commit = time.monotonic() + sync_seconds
        self._seq = 0
        # with an s3:// root `storage` is the local spool and `shipper` puts each landed file in the bucket
        self.shipper = shipper
        self._writer = JournalWriter(storage.path(""), stats, on_landed=shipper.ship if shipper else None)

    # -- the receive loop's side: never blocks ---------------------------------------------------
    def write(self, folder: str, kind: str, epoch_ms: int, line: bytes) -> None:
        f = self._open.get((folder, kind)) or self._start(folder, kind, epoch_ms)
        f.lines.append(line)
        f.count += 1
        self._buffered += 1
        if f.count >= self.flush_messages:
            self._roll((folder, kind))
        self._writes += 1
        # a busy stream may not let the timer task run (recv returns at once while frames wait):
        # the receive path then commits on time itself; the clock is read every 64th line only
        if not self._writes & 63 and time.monotonic() >= self._next_commit:
            self.tick()

    @property
    def backlogged(self) -> bool:
        return self._buffered + self._writer.uncommitted > self.max_pending

    async def wait_backlog(self) -> None:
        """Wait for the writer to catch up (the stream then waits in the socket, not in memory)."""
        while self.backlogged:
            self.commit()
            await asyncio.sleep(self.sync_seconds / 4)
        self.check()

    def roll_due(self, now: float) -> None:
        for key, f in list(self._open.items()):
            if now - f.opened >= self.flush_seconds:
                self._roll(key)

    def commit(self) -> None:
        """Hand every buffered line, and the files rolled since, to the writer (one group commit)."""
        self.check()
        appends = [(f.journal, f.lines) for f in (*self._closing, *self._open.values()) if f.lines]
        if not appends and not self._closing:
            return
        for f in (*self._closing, *self._open.values()):
            f.lines = []
        self._writer.submit(appends, [f.journal for f in self._closing])
        self._closing, self._buffered = [], 0

    def check(self) -> None:
        """Raise the writer's failure (disk full, permissions: it names the file)."""
        if self._writer.error is not None:
            raise self._writer.error

    def tick(self) -> None:
        now = time.monotonic()
        self._next_commit = now + self.sync_seconds
        self.roll_due(now)
        self.commit()

    async def flush_periodically(self) -> None:
        """The durability bound: commit every `sync_seconds`; and the time bound of the files:
        roll every file older than `flush_seconds`, even when the stream is quiet."""
        while True:
            await asyncio.sleep(max(0.0, self._next_commit - time.monotonic()))
            if time.monotonic() >= self._next_commit:
                self.tick()

    async def close(self) -> None:
        """Roll every open file and wait until all are landed; then the writer thread ends."""
        for key in list(self._open):
            self._roll(key)
        if self._writer.error is None:
            self.commit()
        await asyncio.to_thread(self._writer.stop)
        self.check()

    # -- rolling ----------------------------------------------------------------------------------
    def _start(self, folder: str, kind: str, epoch_ms: int) -> _OpenFile:
        while True:  # never replace a file an earlier run landed (a restart reuses sequence numbers)
            rel = f"{folder}/{kind}-{epoch_ms}-{self._seq:06d}.jsonl"
            self._seq += 1
            final = self.storage.path(rel)
            if not final.exists() and not journal_path(final).exists() and not (self.shipper and self.shipper.landed(rel)):
                break
        f = self._open[(folder, kind)] = _OpenFile(JournalFile(final), time.monotonic())
        return f

    def _roll(self, key: tuple[str, str]) -> None:
        self._closing.append(self._open.pop(key))


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
