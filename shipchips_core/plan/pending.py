"""`plan/pending.csv`: the targets still waiting for a matured day, for people to read.

Rebuilt from the stored plan partitions each time a day's plan is made or resolved. A day is
pending while it has an `acquisition_plan` partition and no `plan_status` one yet. The file is
written whole and renamed into place; two days finishing at once can each miss the other's
newest change, which the next rebuild restores (the tables, not this file, are the record).
"""

from __future__ import annotations

import io

from datetime import date

import pandas as pd

from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.plan.acquisition import pending_rows

PLAN_TABLE = "acquisition_plan"
STATUS_TABLE = "plan_status"


def _stored_days(storage: LocalStorage, table: str) -> dict[date, str]:
    days = {}
    for rel in storage.list(paths.table_dataset(table), ".parquet"):
        part = rel.split("/")[-2]
        if part.startswith("date="):
            days[date.fromisoformat(part[5:])] = rel
    return days


def write_pending_csv(storage: LocalStorage, day: date, plan_of_day: pd.DataFrame | None) -> int:
    """Rewrite `plan/pending.csv`; `plan_of_day` is `day`'s plan not yet stored (None once the day
    is resolved). Returns the number of pending rows."""
    resolved = _stored_days(storage, STATUS_TABLE)
    plans = [
        pd.read_parquet(io.BytesIO(storage.read_bytes(rel)))
        for d, rel in sorted(_stored_days(storage, PLAN_TABLE).items())
        if d != day and d not in resolved
    ]
    if plan_of_day is not None:
        plans.append(plan_of_day)
    rows = pending_rows(plans)
    with storage.open_write(paths.plan_pending_csv(), "w") as fh:
        rows.to_csv(fh, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return len(rows)
