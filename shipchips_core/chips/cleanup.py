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

import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterable

import pandas as pd

from shipchips_core.dataset import paths as layout
from shipchips_core.dataset.storage import TEMP_PREFIX, TEMP_SUFFIX, writer_alive

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


def day_files(storage, day: date) -> list[str]:
    """Every file of the day's chip and label folders, `{chips,labels}/{split}/{mmsi}/{day}/*`
    (hidden temporaries of a local root included), relative to the root, sorted."""
    return sorted(rel for tree in PRODUCT_TREES for rel in storage.glob(f"{tree}/*/*/{day.isoformat()}/*"))


def _table_temporaries(storage, day: date) -> list[str]:
    """Temporaries in the day's partition folders of every table and index, and the QA report's."""
    report = layout.qa_report(day)
    report_dir, report_name = report.rsplit("/", 1)
    found = [*storage.glob(f"{layout.TABLES}/*/date={day.isoformat()}/*"),
             *storage.glob(f"indexes/*/date={day.isoformat()}/*"),
             *storage.glob(f"{report_dir}/{TEMP_PREFIX}{report_name}.*{TEMP_SUFFIX}")]
    return sorted(rel for rel in found if _TEMPORARY.match(rel.rsplit("/", 1)[-1]))


def remove_orphans(storage, day: date, chips: pd.DataFrame, tiles: pd.DataFrame, now: float | None = None) -> Cleanup:
    """Remove the day's files that neither `chips` nor `tiles` (the day's stored tables) references,
    and the stale temporaries of earlier runs; empty day folders of a local root go too. (An S3 root
    holds no temporaries: its writers stage locally and put whole objects.)"""
    now = time.time() if now is None else now
    keep = referenced_paths([chips, tiles])
    done = Cleanup()
    for rel in day_files(storage, day):
        if _TEMPORARY.match(rel.rsplit("/", 1)[-1]):
            _remove_temporary(storage, rel, now, done)
        elif rel not in keep:
            storage.delete(rel)
            done.orphans.append(rel)
    for rel in _table_temporaries(storage, day):
        _remove_temporary(storage, rel, now, done)
    root = getattr(storage, "root", None)
    if isinstance(root, Path):  # a local root's folders; object stores have none
        for folder in sorted({(root / rel).parent for rel in done.orphans + done.temporaries}):
            try:
                folder.rmdir()  # only when empty; the vessel's folder may hold other days
            except OSError:
                pass
    return done


def _remove_temporary(storage, rel: str, now: float, done: Cleanup) -> None:
    match = _TEMPORARY.match(rel.rsplit("/", 1)[-1])
    try:
        age = now - storage.modified(rel)
    except FileNotFoundError:
        return  # its writer renamed it into place meanwhile
    if match and writer_alive(int(match.group(1))) and age < STALE_TEMPORARY_S:
        done.kept_live_temporaries.append(rel)
        return
    storage.delete(rel)
    done.temporaries.append(rel)

