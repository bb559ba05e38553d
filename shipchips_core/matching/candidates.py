"""Match planned vessels to scenes: each vessel's position at the scene's sensing time.

A candidate is (vessel, scene) where the scene's `datetime` falls in the vessel's plan window.
Its position comes from `tracks.interpolate_positions`; candidates without a position, above the
uncertainty bound, or outside the scene footprint are kept with a `match_status` saying why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from shipchips_core.config import MatchingConfig
from shipchips_core.dataset.schemas import empty_frame
from shipchips_core.matching.tracks import METHOD_NONE, interpolate_positions

MATCH_OK = "ok"


def distinct_acquisitions(scenes: pd.DataFrame, collections: tuple[str, ...] = ()) -> pd.DataFrame:
    """The ok scenes with one item per acquisition (MGRS tile + sensing second).

    Earth Search serves the same granule in `sentinel-2-l2a` and `sentinel-2-c1-l2a`; chipping both
    would make two chips of one observation (one tile_id). The collection listed first in the
    config wins; scenes without an MGRS tile are all kept.
    """
    ok = scenes[scenes["status"] == "ok"].copy()
    rank = {c: i for i, c in enumerate(collections)}
    ok["_rank"] = ok["collection"].map(rank).fillna(len(rank))
    ok["_acq"] = ok["mgrs_tile"].fillna(ok["scene_id"]) + "@" + ok["datetime"].dt.floor("s").astype(str)
    ok = ok.sort_values(["_rank", "collection", "scene_id"]).drop_duplicates("_acq", keep="first")
    return ok.drop(columns=["_rank", "_acq"]).sort_index()


def candidate_pairs(plan: pd.DataFrame, scenes: pd.DataFrame, collections: tuple[str, ...] = ()) -> pd.DataFrame:
    """(plan row, distinct ok scene) pairs whose scene datetime lies in the plan window."""
    ok = distinct_acquisitions(scenes, collections)
    if plan.empty or ok.empty:
        return pd.DataFrame(columns=["plan_id", "mmsi", "scene_id", "collection", "acq_time", "epsg", "footprint_wkt"])
    pairs = plan[["plan_id", "mmsi", "window_start", "window_end"]].merge(
        ok[["scene_id", "collection", "datetime", "epsg", "footprint_wkt"]], how="cross"
    )
    inside = (pairs["datetime"] >= pairs["window_start"]) & (pairs["datetime"] <= pairs["window_end"])
    pairs = pairs[inside].rename(columns={"datetime": "acq_time"})
    return pairs.drop(columns=["window_start", "window_end"]).reset_index(drop=True)


def match_candidates(
    plan: pd.DataFrame, scenes: pd.DataFrame, ais: pd.DataFrame, cfg: MatchingConfig, collections: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Every candidate with its interpolated position, scene-CRS coordinates and match status;
    `collections` (the configured order) decides which item of a duplicated acquisition is used."""
    pairs = candidate_pairs(plan, scenes, collections)
    pos = interpolate_positions(ais, pairs.rename(columns={"acq_time": "time_utc"})[["mmsi", "time_utc"]], cfg.max_gap_seconds)
    out = pd.concat([pairs, pos], axis=1)
    out["x_utm"], out["y_utm"] = np.nan, np.nan
    for epsg, idx in out.groupby("epsg").groups.items():
        to_utm = Transformer.from_crs(4326, int(epsg), always_xy=True)
        x, y = to_utm.transform(out.loc[idx, "lon"].to_numpy(), out.loc[idx, "lat"].to_numpy())
        out.loc[idx, "x_utm"], out.loc[idx, "y_utm"] = x, y
    out["match_status"] = _status(out, cfg)
    if out.empty:
        return empty_frame("chip_candidates")
    return out.sort_values(["scene_id", "mmsi"], kind="stable").reset_index(drop=True)


def _status(df: pd.DataFrame, cfg: MatchingConfig) -> np.ndarray:
    status = np.full(len(df), MATCH_OK, dtype=object)
    if df.empty:
        return status
    footprints = shapely.from_wkt(df["footprint_wkt"].to_numpy())
    has_pos = df["method"].to_numpy() != METHOD_NONE
    inside = np.zeros(len(df), dtype=bool)
    inside[has_pos] = shapely.contains_xy(footprints[has_pos], df["lon"].to_numpy()[has_pos], df["lat"].to_numpy()[has_pos])
    status[~inside] = "outside_footprint"
    status[df["uncertainty_m"].to_numpy() > cfg.max_uncertainty_m] = "uncertainty_too_high"
    status[~has_pos] = "no_position"
    return status
