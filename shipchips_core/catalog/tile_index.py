"""The tile index: one row per chip written, joined with scene and vessel facts.

Stored at `indexes/tiles.parquet` as a hive-partitioned GeoParquet dataset (one file a day, see `dataset/paths`
and `catalog/geoparquet`), and opened as one DuckDB view over every day by `sql_models` (the `tiles` view).
"""

from __future__ import annotations

import pandas as pd

from shipchips_core.ais.vessels import latest_vessel_facts
from shipchips_core.catalog import geoparquet
from shipchips_core.dataset.schemas import TILE_INDEX, empty_frame


def build_tile_index(chips: pd.DataFrame, scenes: pd.DataFrame, ais: pd.DataFrame, chip_size: int = 256) -> pd.DataFrame:
    """Rows of `tile_index` for the ok chips of one day, with their GeoParquet geometry (chips of `chip_size` px)."""
    ok = chips[chips["status"] == "ok"].drop(columns=["status", "reason"])
    if ok.empty:
        return empty_frame("tile_index")
    scene_facts = scenes[["collection", "scene_id", "mgrs_tile", "platform", "cloud_cover"]].rename(
        columns={"cloud_cover": "scene_cloud_cover"}
    )
    vessels = latest_vessel_facts(ais)[["mmsi", "ship_name", "ship_type", "length_m", "beam_m"]].rename(
        columns={"ship_name": "vessel_name"}
    )
    out = ok.merge(scene_facts, on=["collection", "scene_id"], how="left").merge(vessels, on="mmsi", how="left")
    out["ship_type"] = out["ship_type"].astype("Int64")
    for col in ("tif_path", "meta_path", "label_path"):
        out[col] = out[col].astype(str)
    out = geoparquet.add_geometry(out, chip_size)
    return out[list(TILE_INDEX.columns)].sort_values("tile_id").reset_index(drop=True)
