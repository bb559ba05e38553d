"""Cut and write every chip of a partition: one `chips` row per attempt, whatever happens to it.

Candidates come from `matching.match_candidates`. Each scene's chips are split among the worker
processes along block boundaries (`slicing`), and each process cuts its slice in block order from
one reader told all its chips up front, so every block is fetched and decoded once per process.
This process cuts the first slice itself while the others run; with `chips.executor: dask` every
slice of `chips.min_chips_per_worker` chips or more is a task on a Dask cluster instead
(`executors`), with the same rows and files. A scene that cannot be opened fails
only its own chips; a chip that cannot be cut or written fails only itself; both are rows with the
reason. Gated-out chips are rows with status `dropped` and the gate's reason, and so is every chip
but the best of a ship seen twice in one datatake (`duplicates`: tile overlaps). An environment fault
(disk full, read-only root, permission denied: `dataset.faults.StorageFault`, naming the path) is no
chip's own: it fails the partition at once.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import rasterio

from shipchips_core.ais import fact_limits
from shipchips_core.ais.vessels import CHECK_FIELDS, VESSEL_FIELDS, latest_vessel_facts
from shipchips_core.chips import documents, executors, files
from shipchips_core.chips.duplicates import drop_duplicate_datatakes
from shipchips_core.chips.executors import ProgressFn
from shipchips_core.chips.gating import gate
from shipchips_core.chips.masks import derive_masks
from shipchips_core.chips.reader import GDAL_HTTP_ENV, SceneReader
from shipchips_core.chips.slicing import split_chips
from shipchips_core.config import Config
from shipchips_core.dataset import faults, ids, paths
from shipchips_core.dataset.schemas import CHIPS, empty_frame
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.matching.candidates import MATCH_OK
from shipchips_core.sentinel2.bands import BAND_NAMES
from shipchips_core.sentinel2.radiometry import RadiometryRule

log = logging.getLogger(__name__)

GRID_M = 10.0  # the chips' grid: the scene's 10 m bands
NOT_ATTEMPTED = ("no_position", "outside_footprint")


@dataclass(frozen=True)
class ChipJob:
    """What a partition's chips need besides the candidates themselves (picklable for workers)."""

    storage: LocalStorage
    day: date
    cfg: Config

    @property
    def band_assets(self) -> tuple[str, ...]:
        return self.cfg.chips.band_assets

    @functools.cached_property
    def config_digest(self) -> str:
        """The provenance hash every chip's metadata carries (hashing the config per chip cost ~0.3 ms)."""
        return self.cfg.digest()


@dataclass(frozen=True)
class SliceTask:
    """A contiguous, block-sorted run of one scene's candidates, cut by one process."""

    scene: dict
    candidates: list[dict]


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


def cut_slices(job: ChipJob, tasks: list[SliceTask], vessels: dict[int, dict],
               on_attempt: Callable[[int], None] | None = None) -> list[dict]:
    """Cut slices one after the other; their files are durable when this returns (one filesystem
    flush for all of them rather than an fsync per file)."""
    with job.storage.deferred_sync():
        return [row for task in tasks for row in cut_slice(job, task, vessels, on_attempt)]


def cut_slice(job: ChipJob, task: SliceTask, vessels: dict[int, dict],
              on_attempt: Callable[[int], None] | None = None) -> list[dict]:
    """Cut one slice of a scene's candidates (in a worker process or inline)."""
    scene = task.scene
    rule = RadiometryRule(scene["radiometry_rule"], float(scene["dn_scale"]), float(scene["dn_offset"]))
    base_rows = [_base_row(job, scene, cand, rule) for cand in task.candidates]
    hrefs = {a: scene[f"href_{a}"] for a in (*job.band_assets, "scl")}
    with rasterio.Env(**GDAL_HTTP_ENV):
        try:
            reader = SceneReader(hrefs, rule, job.band_assets)
        except Exception as exc:  # one unreadable scene fails only its own chips
            log.warning("scene %s unreadable: %s", scene["scene_id"], exc)
            _tick(on_attempt, len(base_rows))
            return [_finish(r, "failed", f"scene_unreadable: {exc}") for r in base_rows]
        with reader:
            for cand in task.candidates:
                if cand["match_status"] == MATCH_OK:
                    reader.expect(cand["x_utm"], cand["y_utm"], job.cfg.chips.size)
            rows = []
            for row, cand in zip(base_rows, task.candidates):
                rows.append(_attempt(job, reader, row, cand, scene, vessels))
                _tick(on_attempt, 1)
            return rows


def _tick(on_attempt: Callable[[int], None] | None, n: int) -> None:
    if on_attempt is not None:
        on_attempt(n)


def _attempt(job: ChipJob, reader: SceneReader, row: dict, cand: dict, scene: dict, vessels: dict) -> dict:
    if cand["match_status"] != MATCH_OK:
        return _finish(row, "dropped", cand["match_status"])
    try:
        return _cut_and_write(job, reader, row, cand, scene, vessels.get(int(cand["mmsi"]), {}))
    except Exception as exc:  # one broken chip never sinks the partition; a full or read-only disk does
        fault = faults.environment_fault(exc)
        if fault is exc:
            raise
        if fault is not None:
            raise fault from exc
        log.warning("chip %s (mmsi %s, scene %s) failed: %s", row["tile_id"], row["mmsi"], row["scene_id"], exc)
        return _finish(row, "failed", f"{type(exc).__name__}: {exc}")


def _base_row(job: ChipJob, scene: dict, cand: dict, rule: RadiometryRule) -> dict:
    return {
        "tile_id": ids.tile_id(cand["mmsi"], cand["acq_time"], cand["lat"], cand["lon"]),
        "mmsi": int(cand["mmsi"]),
        "scene_id": scene["scene_id"],
        "collection": scene["collection"],
        "acq_time": cand["acq_time"],
        "split": ids.split_for_mmsi(cand["mmsi"], job.cfg.splits.train, job.cfg.splits.val),
        "lon": float(cand["lon"]),
        "lat": float(cand["lat"]),
        "epsg": int(scene["epsg"]),
        "x_utm": float(cand["x_utm"]),
        "y_utm": float(cand["y_utm"]),
        "ship_row": np.nan,
        "ship_col": np.nan,
        "interp_method": cand["method"],
        "gap_before_s": cand["gap_before_s"],
        "gap_after_s": cand["gap_after_s"],
        "uncertainty_m": float(cand["uncertainty_m"]),
        "valid_fraction": np.nan,
        "cloud_fraction": np.nan,
        "land_fraction": np.nan,
        "water_fraction": np.nan,
        "edge_padded": False,
        "radiometry_rule": rule.name,
        "bands": ",".join(BAND_NAMES[a] for a in job.band_assets),
        "tif_path": None,
        "quicklook_path": None,
        "meta_path": None,
        "label_path": None,
        "mask_path": None,
        "dropped_facts": None,
    }


def _finish(row: dict, status: str, reason: str | None) -> dict:
    return {**row, "status": status, "reason": reason}


def _cut_and_write(job: ChipJob, reader: SceneReader, row: dict, cand: dict, scene: dict, vessel: dict) -> dict:
    chips_cfg = job.cfg.chips
    chip = reader.cut(row["x_utm"], row["y_utm"], chips_cfg.size)
    masks = derive_masks(chip.reflectance, chip.scl, chip.band_assets, chips_cfg.ndwi_water_threshold)
    qa = masks.fractions(chips_cfg.gating.centre_px)
    row = {**row, **{k: qa[k] for k in ("valid_fraction", "cloud_fraction", "land_fraction", "water_fraction")},
           "ship_row": chip.ship_row, "ship_col": chip.ship_col, "edge_padded": chip.edge_padded}
    reason = gate(qa, chips_cfg.gating)
    if reason:
        return _finish(row, "dropped", reason)
    split, mmsi, tile = row["split"], row["mmsi"], row["tile_id"]
    row.update(
        tif_path=paths.chip_tif(split, mmsi, job.day, tile),
        mask_path=paths.chip_masks(split, mmsi, job.day, tile),
        meta_path=paths.chip_metadata(split, mmsi, job.day, tile),
        label_path=paths.label_json(split, mmsi, job.day, tile),
        quicklook_path=paths.chip_quicklook(split, mmsi, job.day, tile) if chips_cfg.quicklook else None,
    )
    files.write_cog(job.storage, row["tif_path"], chip)
    files.write_masks(job.storage, row["mask_path"], chip, masks)
    if row["quicklook_path"]:
        job.storage.write_bytes(row["quicklook_path"], files.quicklook_jpeg(chip))
    label = documents.label_document(tile, chip, cand, vessel)
    files.write_json(job.storage, row["label_path"], label)
    meta = documents.metadata_document(row, chip, cand, scene, vessel, qa, job.config_digest)
    files.write_json(job.storage, row["meta_path"], meta)
    return _finish({**row, "dropped_facts": fact_limits.format_dropped(label["dropped_facts"])}, "ok", None)
