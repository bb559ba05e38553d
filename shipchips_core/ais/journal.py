"""Landing journals: the collector's open landing files, appended and made durable by group commit.

Each open landing file `ais/YYYYMMDD/{kind}-{ms}-{seq}.jsonl` is first a hidden, append-only journal
`.{kind}-{ms}-{seq}.jsonl.journal` beside it. The receive loop only buffers lines in memory; every
`sync_seconds` (~0.1 s) it hands what arrived to `JournalWriter`, whose thread appends each file's
lines with one `write` and makes them durable with one `fsync` per file (a group commit: one fsync
covers every message of the interval, whatever the rate). When the file rolls (`flush_messages` or
`flush_seconds`) its journal is renamed to the landing name and the folder entry fsynced, so readers
only ever see whole files and the number of files is what the flush settings make it.

A SIGKILL, OOM kill or power cut therefore loses at most what arrived since the last commit (plus
what sat in socket buffers). `recover_journals` runs before a restart writes anything: it cuts each
journal left behind at its last complete line (a torn tail of a power cut) and renames it into the
landing layout; a journal without a complete line is deleted.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)
SUFFIX = ".journal"
KINDS = ("aisstream", "quarantine")
SCAN_DAYS = 7  # a killed run was writing the newest day folders; older ones are never reopened


class LandingError(RuntimeError):
    """A landing file could not be written (disk full, permissions): the collector must stop. The
    message names the file and the system error."""


def journal_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{SUFFIX}")


def final_path(journal: Path) -> Path:
    return journal.with_name(journal.name[1 : -len(SUFFIX)])


@dataclass(eq=False)
class JournalFile:
    """One landing file while it is open: where it goes, and its journal's descriptor (thread side)."""

    final: Path
    fd: int | None = None
    lines: int = 0  # lines committed so far


@dataclass
class _Commit:
    appends: list[tuple[JournalFile, list[bytes]]] = field(default_factory=list)
    closes: list[JournalFile] = field(default_factory=list)
    lines: int = 0


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a regular file may take a write in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync(fd: int) -> None:
    os.fsync(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """The writer thread: applies commits in order (append, fsync, then roll the closed files).

    `stats` gets `committed` (lines durable in journals or landed files), `flushed` (lines in
    renamed landing files), `files` and `files_written`. The first failure stops the thread; it is
    kept in `error` (a LandingError naming the path) for the receive loop to raise."""

    def __init__(self, root: Path, stats: Any, on_landed: Callable[[str], None] | None = None):
        self.root, self.stats = root, stats
        # called with each landed file's relative path once it is durable (e.g. to put it in a bucket)
        self.on_landed = on_landed
        self.error: LandingError | None = None
        self.submitted = 0  # lines handed to the thread (loop side)
        self.committed = 0  # of which durable (thread side)
        self._queue: queue.SimpleQueue[_Commit | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ais-journal", daemon=True)
        self._thread.start()

    # -- the receive loop's side ------------------------------------------------------------------
    def submit(self, appends: list[tuple[JournalFile, list[bytes]]], closes: list[JournalFile]) -> None:
        n = sum(len(lines) for _, lines in appends)
        self.submitted += n
        self._queue.put(_Commit(appends, closes, n))

    @property
    def uncommitted(self) -> int:
        return self.submitted - self.committed

    def stop(self, timeout: float | None = None) -> None:
        """Apply everything submitted, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            commit, last = self._queue.get(), False
            if commit is None:
                return
            while not last:  # a disk that fell behind catches up: everything queued is one commit
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                else:
                    commit.appends += more.appends
                    commit.closes += more.closes
                    commit.lines += more.lines
            if self.error is not None:
                if last:
                    return
                continue  # after a failure nothing more is written; the loop raises the error
            try:
                self._apply(commit)
            except OSError as exc:
                self.error = LandingError(f"cannot write AIS landing file {exc.filename or '?'}: "
                                          f"[Errno {exc.errno}] {exc.strerror or exc}")
                log.error("%s", self.error)
            if last:
                return

    def _apply(self, commit: _Commit) -> None:
        per_file: dict[JournalFile, list[bytes]] = {}  # one write per file, lines in arrival order
        for jf, lines in commit.appends:
            per_file.setdefault(jf, []).extend(lines)
        written: dict[int, JournalFile] = {}
        for jf, lines in per_file.items():
            if not lines:
                continue
            path = journal_path(jf.final)
            try:
                if jf.fd is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    jf.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
                _write_all(jf.fd, b"\n".join(lines) + b"\n")
            except OSError as exc:
                raise _named(exc, path) from None
            jf.lines += len(lines)
            written[jf.fd] = jf
        for fd, jf in written.items():  # the group commit: one fsync per file for the whole interval
            try:
                _fsync(fd)
            except OSError as exc:
                raise _named(exc, journal_path(jf.final)) from None
        self.committed += commit.lines
        self.stats.committed += commit.lines
        folders, landed = set(), []
        for jf in commit.closes:
            if jf.fd is None:  # never got a line
                continue
            os.close(jf.fd)
            jf.fd = None
            try:
                os.replace(journal_path(jf.final), jf.final)
            except OSError as exc:
                raise _named(exc, jf.final) from None
            folders.add(jf.final.parent)
            self.stats.flushed += jf.lines
            landed.append(jf.final.relative_to(self.root).as_posix())
            self.stats.files.append(landed[-1])
            self.stats.files_written += 1
        for folder in folders:  # the renames themselves survive a power cut
            try:
                _fsync_dir(folder)
            except OSError as exc:
                raise _named(exc, folder) from None
        for rel in landed if self.on_landed else ():
            self.on_landed(rel)  # an OSError (StorageFault) names the object and stops the collector


def _named(exc: OSError, path: Path) -> OSError:
    """The same error with the path it concerns (os.write and fsync name none)."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def recover_journals(root: Path) -> tuple[int, int, int]:
    """Land the journals a killed run left in the newest day folders and the quarantine folder:
    each is cut at its last complete line and renamed to its landing name (never over a landed
    file). Returns (files landed, lines in them, bytes of torn tails dropped)."""
    base = root / "ais"
    if not base.is_dir():
        return 0, 0, 0
    days = sorted((p for p in base.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: p.name)
    files = lines = torn = 0
    for folder in [*days[-SCAN_DAYS:], base / "quarantine"]:
        landed = False
        for kind in KINDS:
            for journal in sorted(folder.glob(f".{kind}-*.jsonl{SUFFIX}")):
                data = journal.read_bytes()
                keep = data.rfind(b"\n") + 1
                torn += len(data) - keep
                if keep == 0:
                    journal.unlink()
                    continue
                if keep < len(data):
                    os.truncate(journal, keep)
                fd = os.open(journal, os.O_RDONLY)
                try:
                    _fsync(fd)
                finally:
                    os.close(fd)
                target = final_path(journal)
                n = 0
                while target.exists():  # cannot happen unless someone copied files in: never overwrite
                    n += 1
                    target = target.with_name(f"{final_path(journal).stem}-recovered{n}.jsonl")
                os.replace(journal, target)
                files, lines, landed = files + 1, lines + data.count(b"\n", 0, keep), True
        if landed:
            _fsync_dir(folder)
    if files or torn:
        log.warning("recovered %d landing journal(s) of an interrupted run: %d lines landed, %d torn bytes dropped",
                    files, lines, torn)
    return files, lines, torn
