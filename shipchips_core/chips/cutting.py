"""A slice of a scene's chips cut, gated and written: the part of `job` a worker process runs.

A task (`SliceTask`) is one scene's block-sorted candidates; `cut_slices` cuts them from one
`SceneReader` told all of them up front, and returns one `chips` row (a dict) per attempt. Whatever
happens to a chip becomes its row: a scene that cannot be opened fails only its own chips, a chip
that cannot be cut or written fails only itself, a gated-out chip is `dropped` with the gate's
reason. An environment fault (`dataset.faults.StorageFault`, naming the path) is no chip's own and
is raised. This module imports no table schema (pandera) and no matcher: a spawned worker starts
on what cutting needs (`tests/core/chips/test_cutting.py` keeps it so).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import rasterio

from shipchips_core.ais import fact_limits
from shipchips_core.chips import documents, files
from shipchips_core.chips.gating import gate
from shipchips_core.chips.masks import derive_masks
from shipchips_core.chips.reader import GDAL_HTTP_ENV, SceneReader
from shipchips_core.config import Config
from shipchips_core.dataset import faults, ids, paths
from shipchips_core.dataset.match_statuses import MATCH_OK
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.bands import BAND_NAMES
from shipchips_core.sentinel2.radiometry import RadiometryRule

log = logging.getLogger(__name__)


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


def cut_slices(job: ChipJob, tasks: list[SliceTask], vessels: dict[int, dict],
               on_attempt: Callable[[int], None] | None = None) -> list[dict]:
    """Cut slices one after the other; their files are durable when this returns (one filesystem
    flush for all of them rather than an fsync per file) and leave the page cache behind the writer
    (nothing here reads them again)."""
    with job.storage.deferred_sync(drop_behind=True):
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
