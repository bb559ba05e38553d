"""A partition's re-run leaves exactly the files its tables point at.

A re-run that makes fewer chips (a stricter config, a scene withdrawn) would leave the earlier chips'
files on disk with no row pointing at them, and a run killed half-way leaves its hidden temporaries;
anyone listing `chips/` would train on them. `remove_orphans` runs once the new files, the `chips`
table and the tile index of the day are all written (in that order), so at no moment does a stored
row point at a removed file: it removes

- every file under the day's chip and label folders (`chips/*/*/{day}/`, `labels/*/*/{day}/`) that
  no row of the day's `chips` table or tile index references, and
- the hidden temporaries (`.{name}.{pid}.{thread}.{n}.tmp`, see `storage`) in those folders and in
  the day's table, index and QA report folders, unless their writer is still running here and they
  are younger than `STALE_TEMPORARY_S`.

A partition's runs must not overlap (Dagster runs one at a time per partition): a second run's files
would be another run's orphans.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterable

import pandas as pd

from shipchips_core.dataset import paths as layout
from shipchips_core.dataset.storage import TEMP_PREFIX, TEMP_SUFFIX, LocalStorage

PATH_COLUMNS = ("tif_path", "mask_path", "quicklook_path", "meta_path", "label_path")
PRODUCT_TREES = ("chips", "labels")  # {tree}/{split}/{mmsi}/{day}/...
STALE_TEMPORARY_S = 3600.0
_TEMPORARY = re.compile(rf"^{re.escape(TEMP_PREFIX)}.+\.(\d+)\.\d+\.\d+{re.escape(TEMP_SUFFIX)}$")


@dataclass
class Cleanup:
    """What `remove_orphans` removed (paths relative to the root)."""

    orphans: list[str] = field(default_factory=list)
    temporaries: list[str] = field(default_factory=list)
    kept_live_temporaries: list[str] = field(default_factory=list)


def referenced_paths(tables: Iterable[pd.DataFrame]) -> set[str]:
    """Every file path a row of `tables` points at (the path columns they have, nulls skipped)."""
    out: set[str] = set()
    for df in tables:
        for col in PATH_COLUMNS:
            if col in df.columns:
                out.update(p for p in df[col].dropna() if isinstance(p, str) and p and p != "None")
    return out


def day_folders(storage: LocalStorage, day: date) -> list[Path]:
    """The day's chip and label folders: `{chips,labels}/{split}/{mmsi}/{day}/` as they exist."""
    return sorted(d for tree in PRODUCT_TREES for d in storage.root.glob(f"{tree}/*/*/{day.isoformat()}") if d.is_dir())


def _table_folders(storage: LocalStorage, day: date) -> list[Path]:
    """The day's partition folders of every table and index, and the QA report folder."""
    found = [*storage.root.glob(f"{layout.TABLES}/*/date={day.isoformat()}"),
             *storage.root.glob(f"indexes/*/date={day.isoformat()}")]
    return sorted(p for p in found if p.is_dir())


def remove_orphans(storage: LocalStorage, day: date, chips: pd.DataFrame, tiles: pd.DataFrame,
                   now: float | None = None) -> Cleanup:
    """Remove the day's files that neither `chips` nor `tiles` (the day's stored tables) references,
    and the stale temporaries of earlier runs; empty day folders go too."""
    now = time.time() if now is None else now
    keep = referenced_paths([chips, tiles])
    done = Cleanup()
    folders = day_folders(storage, day)
    for folder in folders:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            rel = path.relative_to(storage.root).as_posix()
            if _TEMPORARY.match(path.name):
                _remove_temporary(storage, path, now, done)
            elif rel not in keep:
                path.unlink(missing_ok=True)
                done.orphans.append(rel)
    report_dir = storage.path(layout.qa_report(day)).parent
    for folder in _table_folders(storage, day):
        for path in sorted(folder.iterdir()):
            if path.is_file() and _TEMPORARY.match(path.name):
                _remove_temporary(storage, path, now, done)
    if report_dir.is_dir():
        for path in sorted(report_dir.glob(f"{TEMP_PREFIX}{Path(layout.qa_report(day)).name}.*{TEMP_SUFFIX}")):
            _remove_temporary(storage, path, now, done)
    for folder in folders:
        try:
            folder.rmdir()  # only when empty; the vessel's folder may hold other days
        except OSError:
            pass
    return done


def _remove_temporary(storage: LocalStorage, path: Path, now: float, done: Cleanup) -> None:
    rel = path.relative_to(storage.root).as_posix()
    match = _TEMPORARY.match(path.name)
    try:
        age = now - path.stat().st_mtime
    except FileNotFoundError:
        return  # its writer renamed it into place meanwhile
    if match and _alive(int(match.group(1))) and age < STALE_TEMPORARY_S:
        done.kept_live_temporaries.append(rel)
        return
    path.unlink(missing_ok=True)
    done.temporaries.append(rel)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process may be writing another partition's file there right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
