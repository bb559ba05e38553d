"""Cut and write every chip of a partition: one `chips` row per attempt, whatever happens to it.

Candidates come from `matching.match_candidates`. Each scene's chips are split among the worker
processes along block boundaries (`slicing`), and each process cuts its slices (`cutting`) in block
order from one reader told all its chips up front, so every block is fetched and decoded once per
process. This process cuts the first slice itself while the others run; with `chips.executor: dask`
every slice of `chips.min_chips_per_worker` chips or more is a task on a Dask cluster instead
(`executors`), with the same rows and files. The rows become the `chips` table here, and every chip
but the best of a ship seen twice in one datatake is dropped (`duplicates`: tile overlaps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from shipchips_core.ais.vessels import CHECK_FIELDS, VESSEL_FIELDS, latest_vessel_facts
from shipchips_core.chips import documents, executors
from shipchips_core.chips.cutting import ChipJob, SliceTask, cut_slices
from shipchips_core.chips.duplicates import drop_duplicate_datatakes
from shipchips_core.chips.executors import ProgressFn
from shipchips_core.chips.slicing import split_chips
from shipchips_core.dataset.match_statuses import MATCH_OK, NO_POSITION, OUTSIDE_FOOTPRINT
from shipchips_core.dataset.schemas import CHIPS, empty_frame

__all__ = ["ChipJob", "ProgressFn", "SliceTask", "cut_partition", "cut_slices", "vessel_facts"]

GRID_M = 10.0  # the chips' grid: the scene's 10 m bands
NOT_ATTEMPTED = (NO_POSITION, OUTSIDE_FOOTPRINT)


def vessel_facts(ais: pd.DataFrame) -> dict[int, dict]:
    """The latest facts per MMSI (within `fact_limits`), as the chip documents carry them."""
    latest = latest_vessel_facts(ais)
    fields = (*VESSEL_FIELDS, *CHECK_FIELDS)
    return {int(r["mmsi"]): {k: documents.clean(r[k]) for k in fields} for r in latest.to_dict("records")}


def cut_partition(job: ChipJob, candidates: pd.DataFrame, scenes: pd.DataFrame, ais: pd.DataFrame,
                  progress: ProgressFn | None = None) -> tuple[pd.DataFrame, Counter]:
    """Chip every candidate placed inside its scene; returns the `chips` table and the counts of
    candidates that never became an attempt (no position, or outside the scene's footprint).
    `progress`, if given, is called in this process as attempts finish (a worker's all at once when
    its slices end); it changes nothing written."""
    not_attempted = candidates["match_status"].isin(NOT_ATTEMPTED)
    counts = Counter(candidates.loc[not_attempted, "match_status"])
    attempts = candidates[~not_attempted]
    facts, tally = vessel_facts(ais), executors.Tally(len(attempts), progress)
    if job.cfg.chips.executor == "dask":
        slices = _scene_slices(attempts, scenes, job.cfg.chips.size, _dask_parts(job))
        tasks = [[task] for scene_slices in slices for task in scene_slices if task is not None]
        rows = executors.run_dask(cut_slices, job, tasks, [_facts_for(t, facts) for t in tasks], tally)
    else:
        groups = _worker_groups(attempts, scenes, _worker_count(job, _ok_count(attempts)), job.cfg.chips.size)
        rows = executors.run_local(cut_slices, job, groups, [_facts_for(g, facts) for g in groups], tally)
    if not rows:
        return empty_frame("chips"), counts
    df = pd.DataFrame(rows, columns=list(CHIPS.columns))
    df["acq_time"] = pd.to_datetime(df["acq_time"], utc=True).dt.as_unit("ns")
    for col in ("mmsi", "epsg"):
        df[col] = df[col].astype("int64")
    df["edge_padded"] = df["edge_padded"].astype(bool)
    df["kept_tile_id"] = pd.Series(None, index=df.index, dtype=object)
    df = drop_duplicate_datatakes(df, scenes, job.storage)
    return df.sort_values("tile_id").reset_index(drop=True), counts


def _ok_count(attempts: pd.DataFrame) -> int:
    return int((attempts["match_status"] == MATCH_OK).sum())


def _worker_count(job: ChipJob, n_chips: int) -> int:
    return max(1, min(job.cfg.chips.workers, n_chips // job.cfg.chips.min_chips_per_worker))


def _dask_parts(job: ChipJob) -> Callable[[pd.DataFrame], int]:
    """On Dask a scene is cut in slices of at least `min_chips_per_worker` chips, one task each:
    many more tasks than workers, so the cluster balances them and a lost worker loses little."""
    return lambda group: max(1, _ok_count(group) // job.cfg.chips.min_chips_per_worker)


def _worker_groups(attempts: pd.DataFrame, scenes: pd.DataFrame, workers: int, size: int) -> list[list[SliceTask]]:
    """Per worker, its slice of every scene (split along block boundaries, in block order)."""
    groups: list[list[SliceTask]] = [[] for _ in range(workers)]
    for slices in _scene_slices(attempts, scenes, size, lambda _: workers):
        for worker, task in enumerate(slices):
            if task is not None:
                groups[worker].append(task)
    return groups


def _scene_slices(attempts: pd.DataFrame, scenes: pd.DataFrame, size: int,
                  parts_of: Callable[[pd.DataFrame], int]) -> Iterator[list[SliceTask | None]]:
    """Per scene, in scene order, its `parts_of(candidates)` block-aligned slices, the largest
    first (None for a part left empty)."""
    scene_by_key = {(s["collection"], s["scene_id"]): s for s in scenes.to_dict("records")}
    for key, group in attempts.groupby(["collection", "scene_id"], sort=True):
        scene, group = scene_by_key[key], group.sort_values("mmsi", kind="stable")
        records = group.to_dict("records")
        rows, cols = _grid_position(scene, group)
        yield [SliceTask(scene=scene, candidates=[records[i] for i in part]) if len(part) else None
               for part in split_chips(rows, cols, parts_of(group), size)]


def _facts_for(tasks: list[SliceTask], facts: dict[int, dict]) -> dict[int, dict]:
    """The vessel facts a group of slices needs: a task ships only its own vessels."""
    return {m: facts[m] for t in tasks for c in t.candidates if (m := int(c["mmsi"])) in facts}


def _grid_position(scene: dict, group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (row, col) of each candidate on the scene's 10 m grid; zeros (one block, stable
    order) when the item published no grid origin."""
    origin_x, origin_y = scene.get("grid_origin_x"), scene.get("grid_origin_y")
    if origin_x is None or pd.isna(origin_x):
        return np.zeros(len(group)), np.zeros(len(group))
    cols = (group["x_utm"].to_numpy() - origin_x) / GRID_M
    rows = (origin_y - group["y_utm"].to_numpy()) / GRID_M
    return rows, cols
