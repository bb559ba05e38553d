"""Cut and write every chip of a partition: one `chips` row per attempt, whatever happens to it.

Candidates come from `matching.match_candidates`. A scene that cannot be opened fails only its own
chips; a chip that cannot be cut or written fails only itself; both are rows with the reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import rasterio

from . import __version__, ids, layout, products
from .chipper import BAND_NAMES, GDAL_HTTP_ENV, RGBN_ASSETS, WAVELENGTHS_UM, ChipArrays, SceneReader
from .config import Config
from .matching import MATCH_OK
from .radiometry import RadiometryRule
from .schemas import CHIPS, empty_frame
from .storage import LocalStorage

log = logging.getLogger(__name__)

STACK_ASSETS = {"rgbn": RGBN_ASSETS, "rgbn_swir": (*RGBN_ASSETS, "swir16", "swir22")}
NOT_ATTEMPTED = ("no_position", "outside_footprint")
VESSEL_FIELDS = ("ship_name", "imo", "call_sign", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d", "length_m", "beam_m", "nav_status")


@dataclass(frozen=True)
class ChipJob:
    """What a partition's chips need besides the candidates themselves."""

    storage: LocalStorage
    day: date
    cfg: Config

    @property
    def band_assets(self) -> tuple[str, ...]:
        return STACK_ASSETS[self.cfg.chips.stack]


def vessel_facts(ais: pd.DataFrame) -> dict[int, dict]:
    """Static data per MMSI (the last report of the day carries the latest static join)."""
    if ais.empty:
        return {}
    last = ais.sort_values(["mmsi", "time_utc"]).groupby("mmsi").tail(1)
    return {int(r["mmsi"]): {k: products._clean(r[k]) for k in VESSEL_FIELDS} for _, r in last.iterrows()}


def cut_partition(job: ChipJob, candidates: pd.DataFrame, scenes: pd.DataFrame, ais: pd.DataFrame) -> tuple[pd.DataFrame, Counter]:
    """Chip every candidate placed inside its scene; returns the `chips` table and the counts of
    candidates that never became an attempt (no position, or outside the scene's footprint)."""
    not_attempted = candidates["match_status"].isin(NOT_ATTEMPTED)
    counts = Counter(candidates.loc[not_attempted, "match_status"])
    positioned = candidates[~not_attempted]
    vessels = vessel_facts(ais)
    rows: list[dict] = []
    scene_by_id = scenes.set_index(["collection", "scene_id"])
    with rasterio.Env(**GDAL_HTTP_ENV):
        for (collection, scene_id), group in positioned.groupby(["collection", "scene_id"], sort=True):
            scene = scene_by_id.loc[(collection, scene_id)]
            rows.extend(_chip_scene(job, scene, group, vessels))
    if not rows:
        return empty_frame("chips"), counts
    df = pd.DataFrame(rows, columns=list(CHIPS.columns))
    df["acq_time"] = pd.to_datetime(df["acq_time"], utc=True).dt.as_unit("ns")
    for col in ("mmsi", "epsg"):
        df[col] = df[col].astype("int64")
    df["edge_padded"] = df["edge_padded"].astype(bool)
    return df.sort_values("tile_id").reset_index(drop=True), counts


def _chip_scene(job: ChipJob, scene: pd.Series, group: pd.DataFrame, vessels: dict[int, dict]) -> list[dict]:
    rule = RadiometryRule(scene["radiometry_rule"], float(scene["dn_scale"]), float(scene["dn_offset"]))
    base_rows = [_base_row(job, scene, cand, rule) for cand in group.to_dict("records")]
    hrefs = {a: scene[f"href_{a}"] for a in (*job.band_assets, "scl")}
    try:
        reader = SceneReader(hrefs, rule, job.band_assets)
    except Exception as exc:  # one unreadable scene fails only its own chips
        log.warning("scene %s unreadable: %s", scene.name[1], exc)
        return [_finish(r, "failed", f"scene_unreadable: {exc}") for r in base_rows]
    rows = []
    with reader:
        for row, cand in zip(base_rows, group.to_dict("records")):
            if cand["match_status"] != MATCH_OK:
                rows.append(_finish(row, "dropped", cand["match_status"]))
                continue
            try:
                rows.append(_cut_and_write(job, reader, row, cand, scene, vessels.get(int(cand["mmsi"]), {})))
            except Exception as exc:  # one broken chip never sinks the partition
                log.warning("chip %s (mmsi %s, scene %s) failed: %s", row["tile_id"], row["mmsi"], row["scene_id"], exc)
                rows.append(_finish(row, "failed", f"{type(exc).__name__}: {exc}"))
    return rows


def _base_row(job: ChipJob, scene: pd.Series, cand: dict, rule: RadiometryRule) -> dict:
    return {
        "tile_id": ids.tile_id(cand["mmsi"], cand["acq_time"], cand["lat"], cand["lon"]),
        "mmsi": int(cand["mmsi"]),
        "scene_id": scene.name[1],
        "collection": scene.name[0],
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
    }


def _finish(row: dict, status: str, reason: str | None) -> dict:
    return {**row, "status": status, "reason": reason}


def _cut_and_write(job: ChipJob, reader: SceneReader, row: dict, cand: dict, scene: pd.Series, vessel: dict) -> dict:
    chip = reader.cut(row["x_utm"], row["y_utm"], job.cfg.chips.size)
    fractions = chip.fractions()
    row = {**row, **fractions, "ship_row": chip.ship_row, "ship_col": chip.ship_col, "edge_padded": chip.edge_padded}
    if fractions["valid_fraction"] < job.cfg.chips.min_valid_fraction:
        return _finish(row, "dropped", "mostly_outside_valid_data")
    split, mmsi, tile = row["split"], row["mmsi"], row["tile_id"]
    paths = {
        "tif_path": layout.chip_tif(split, mmsi, job.day, tile),
        "meta_path": layout.chip_metadata(split, mmsi, job.day, tile),
        "label_path": layout.label_json(split, mmsi, job.day, tile),
        "quicklook_path": layout.chip_quicklook(split, mmsi, job.day, tile) if job.cfg.chips.quicklook else None,
    }
    products.write_cog(job.storage, paths["tif_path"], chip)
    if paths["quicklook_path"]:
        job.storage.write_bytes(paths["quicklook_path"], products.quicklook_jpeg(chip))
    products.write_json(job.storage, paths["label_path"], products.label_document(tile, chip, cand, vessel))
    products.write_json(job.storage, paths["meta_path"], metadata_document(job, row, chip, cand, scene, vessel))
    return _finish({**row, **paths}, "ok", None)


def metadata_document(job: ChipJob, row: dict, chip: ChipArrays, cand: dict, scene: pd.Series, vessel: dict) -> dict:
    """The chip's metadata JSON (SPEC-NOTES §5). Run id and wall-clock time are kept out of the
    file so re-runs are byte-identical; they live in the table's lineage record instead."""
    size = chip.reflectance.shape[1]
    t = chip.transform
    west, north = t.c, t.f
    east, south = west + size * t.a, north + size * t.e
    clean = products._clean
    return {
        "schema_version": products.METADATA_SCHEMA_VERSION,
        "tile_id": row["tile_id"],
        "split": row["split"],
        "vessel": {"mmsi": row["mmsi"], "name": vessel.get("ship_name"), "imo": vessel.get("imo"),
                   "call_sign": vessel.get("call_sign"), "ship_type": vessel.get("ship_type"),
                   "length_m": vessel.get("length_m"), "beam_m": vessel.get("beam_m")},
        "ais": {"interpolation_method": row["interp_method"], "gap_before_s": clean(row["gap_before_s"]),
                "gap_after_s": clean(row["gap_after_s"]), "position_uncertainty_m": round(row["uncertainty_m"], 3),
                "position_uncertainty_px": round(row["uncertainty_m"] / abs(t.a), 3),
                "lon": round(row["lon"], 7), "lat": round(row["lat"], 7),
                "sog_kn": clean(cand.get("sog_kn")), "cog_deg": clean(cand.get("cog_deg"))},
        "scene": {"id": row["scene_id"], "collection": row["collection"],
                  "datetime": pd.Timestamp(row["acq_time"]).isoformat(), "platform": clean(scene["platform"]),
                  "mgrs_tile": clean(scene["mgrs_tile"]), "processing_baseline": clean(scene["processing_baseline"]),
                  "radiometry_rule": row["radiometry_rule"], "dn_scale": float(scene["dn_scale"]),
                  "dn_offset": float(scene["dn_offset"]), "cloud_cover": clean(scene["cloud_cover"]),
                  "sun_azimuth": clean(scene["sun_azimuth"]), "sun_elevation": clean(scene["sun_elevation"]),
                  "assets": {a: scene[f"href_{a}"] for a in (*job.band_assets, "scl")}},
        "chip": {"crs": f"EPSG:{row['epsg']}", "transform": [t.a, t.b, t.c, t.d, t.e, t.f], "width": size, "height": size,
                 "gsd_m": abs(t.a), "dtype": "float32", "units": "reflectance", "nodata": "NaN",
                 "bands": [{"name": BAND_NAMES[a], "asset": a, "wavelength_um": WAVELENGTHS_UM[a]} for a in chip.band_assets],
                 "ship_pixel": {"row": round(chip.ship_row, 3), "col": round(chip.ship_col, 3)},
                 "bbox_utm": [west, south, east, north], "edge_padded": chip.edge_padded},
        "qa": {k: clean(round(v, 6)) for k, v in chip.fractions().items()},
        "provenance": {"software": "shipchips", "software_version": __version__, "config_hash": job.cfg.digest()},
    }
