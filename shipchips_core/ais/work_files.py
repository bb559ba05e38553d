"""The hidden work files of a day's AIS beside its partition file, and the sweep of a killed run's.

A run streams the day into its partition folder, so that storing it is a rename: the day's
stage in `.ais-work-{pid}-*/`, the staged file `.staged-{pid}-{thread}-{name}`, and the
finished file before it is checked, `.{name}.{pid}.writing`; DuckDB queries over the stored day spill
to `.duckdb_spill-{pid}/`. A killed run leaves them behind, up to a world day's size. Each name
carries its writer's pid; `remove_stale` removes those whose writer is no longer running. It runs
when the day's `ais_snapshots` starts staging, the one moment the folder belongs to one run (a
partition's runs do not overlap, and every reader of the day comes after it). With the dataset
root in a bucket, a day's staged file and each stage's local copy of it live in a folder of their own
in the system's temporary directory, `shipchips-ais-{pid}-*/` (`local_folder`), removed with their
handle; a killed process's are swept when the next one is made.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from shipchips_core.dataset.storage import writer_alive

WORK_PREFIX = ".ais-work-"
SPILL_PREFIX = ".duckdb_spill-"
LOCAL_PREFIX = "shipchips-ais-"
_LEFTOVER = re.compile(
    rf"^(?:{re.escape(WORK_PREFIX)}(?P<work>\d+)-.+|\.staged-(?P<staged>\d+)-\d+-.+"
    rf"|\..+\.(?P<writing>\d+)\.writing|{re.escape(SPILL_PREFIX)}(?P<spill>\d+)"
    rf"|{re.escape(LOCAL_PREFIX)}(?P<local>\d+)-.+)$"
)


def work_prefix() -> str:
    """The prefix of this process's work folders (`tempfile.TemporaryDirectory(prefix=...)`)."""
    return f"{WORK_PREFIX}{os.getpid()}-"


def spill_dir(folder: Path) -> Path:
    """This process's DuckDB spill folder for queries over a day stored in `folder`."""
    return Path(folder) / f"{SPILL_PREFIX}{os.getpid()}"


def local_folder() -> Path:
    """A new folder of this process in the system's temporary directory (after sweeping those of
    processes no longer running); its owner removes it."""
    remove_stale(Path(tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix=f"{LOCAL_PREFIX}{os.getpid()}-"))


def remove_stale(folder: Path) -> list[Path]:
    """Remove the AIS work files in `folder` whose writer is not running; returns what was removed."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for entry in sorted(Path(folder).iterdir()):
        match = _LEFTOVER.match(entry.name)
        if match is None or writer_alive(int(next(g for g in match.groups() if g))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed

