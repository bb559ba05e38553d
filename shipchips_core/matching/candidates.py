"""Match planned vessels to scenes: each vessel's position at the instant MSI imaged it.

A candidate is (vessel, scene) where the scene's `datetime` falls in the vessel's plan window.
Its position comes from `tracks.interpolate_positions` at the sensing time of the ship's own row
(`sentinel2.sensing`: the row depends on the position, so the time and the position are iterated);
candidates without a position, above the uncertainty bound, or outside the scene footprint are kept
with a `match_status` saying why. The uncertainty includes the timing model's own error times the
ship's speed.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from shipchips_core.config import MatchingConfig
from shipchips_core.dataset.match_statuses import MATCH_OK, NO_POSITION, OUTSIDE_FOOTPRINT, UNCERTAINTY_TOO_HIGH
from shipchips_core.dataset.schemas import empty_frame
from shipchips_core.matching import reach
from shipchips_core.matching.tracks import KNOT_MS, METHOD_NONE, _distance_m, interpolate_positions
from shipchips_core.sentinel2 import detectors
from shipchips_core.sentinel2.sensing import REFERENCE_BAND, SceneTiming, tile_centre

log = logging.getLogger(__name__)
FIX_WINDOW_MARGIN_S = 900.0  # far beyond any sensing offset of a tile (a few seconds)

SENSING_ITERATIONS = 2  # a row moves ~v·Δt ≤ 80 m after the first pass: ≤ 12 ms; the second settles it


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


def candidate_pairs(plan: pd.DataFrame, scenes: pd.DataFrame, collections: tuple[str, ...] = (),
                    bounds: pd.DataFrame | None = None, max_gap_s: float = 0.0) -> pd.DataFrame:
    """(plan row, distinct ok scene) pairs whose scene datetime lies in the plan window; given the
    vessels' track `bounds` (`reach.track_bounds`), only the scenes whose footprint they can reach."""
    ok = distinct_acquisitions(scenes, collections)
    if plan.empty or ok.empty:
        return pd.DataFrame(columns=["plan_id", "mmsi", "scene_id", "collection", "acq_time", "epsg", "footprint_wkt",
                                     "grid_origin_x", "grid_origin_y"])
    grid = [c for c in ("grid_origin_x", "grid_origin_y", "href_granule_metadata") if c in ok.columns]
    left = plan[["plan_id", "mmsi", "window_start", "window_end"]]
    right = ok[["scene_id", "collection", "datetime", "epsg", "footprint_wkt", *grid]]
    if bounds is None:
        pairs = left.merge(right, how="cross")
    else:
        v, s = reach.near_pairs(left["mmsi"].to_numpy(), right["footprint_wkt"], bounds, max_gap_s)
        pairs = pd.concat([left.iloc[v].reset_index(drop=True), right.iloc[s].reset_index(drop=True)], axis=1)
    inside = (pairs["datetime"] >= pairs["window_start"]) & (pairs["datetime"] <= pairs["window_end"])
    pairs = pairs[inside].rename(columns={"datetime": "acq_time"})
    return pairs.drop(columns=["window_start", "window_end"]).reset_index(drop=True)


def pairs_in_window(plan: pd.DataFrame, scenes: pd.DataFrame, collections: tuple[str, ...] = ()) -> int:
    """How many pairs `candidate_pairs` makes without bounds, counted without making them."""
    ok = distinct_acquisitions(scenes, collections)
    if plan.empty or ok.empty:
        return 0
    t = ok["datetime"].to_numpy("datetime64[ns]")
    starts = np.sort(plan["window_start"].to_numpy("datetime64[ns]"))
    ends = np.sort(plan["window_end"].to_numpy("datetime64[ns]"))
    return int((np.searchsorted(starts, t, "right") - np.searchsorted(ends, t, "left")).sum())


def fix_windows(plan: pd.DataFrame, scenes: pd.DataFrame, collections: tuple[str, ...] = (),
                bounds: pd.DataFrame | None = None, max_gap_s: float = 0.0) -> pd.DataFrame:
    """Per vessel with a candidate, the span (mmsi, start, end) its sensing times can fall in: its scenes'
    acquisition times widened by FIX_WINDOW_MARGIN_S (a granule's sensing offset is seconds). Matching
    needs only the fixes inside it and the nearest one either side (`AisDataset.fixes_near`)."""
    pairs = candidate_pairs(plan, scenes, collections, bounds, max_gap_s)
    if pairs.empty:
        return pd.DataFrame({"mmsi": pd.Series(dtype="int64"), "start": pd.Series(dtype="datetime64[ns, UTC]"),
                             "end": pd.Series(dtype="datetime64[ns, UTC]")})
    acq = pd.to_datetime(pairs["acq_time"], utc=True)
    margin = pd.Timedelta(seconds=FIX_WINDOW_MARGIN_S)
    by_vessel = pd.DataFrame({"mmsi": pairs["mmsi"].astype("int64"), "t": acq}).groupby("mmsi")["t"]
    spans = by_vessel.agg(start="min", end="max").reset_index()
    return spans.assign(start=spans["start"] - margin, end=spans["end"] + margin)


def match_candidates(
    plan: pd.DataFrame, scenes: pd.DataFrame, ais: pd.DataFrame, cfg: MatchingConfig, collections: tuple[str, ...] = (),
    bounds: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every candidate with its interpolated position, scene-CRS coordinates and match status;
    `collections` (the configured order) decides which item of a duplicated acquisition is used.
    Pairs reach only as far as the day's track `bounds` (default: those of `ais`; give the whole day's
    when `ais` is a part of it, so the pairs do not depend on which fixes were read)."""
    bounds = reach.track_bounds(ais) if bounds is None else bounds
    pairs = candidate_pairs(plan, scenes, collections, bounds, cfg.max_gap_seconds)
    timing, maps = _timing_models(pairs), _detector_maps(pairs)
    acq_time = pd.to_datetime(pairs["acq_time"], utc=True)  # typed even when there is no pair
    sensing = acq_time
    for _ in range(SENSING_ITERATIONS + 1):
        out = _positions_at(pairs, ais, sensing, cfg)
        out["detector_parity"] = _parities(out, maps)
        sensing = _reference_times(out, timing)
    out["reference_band"] = REFERENCE_BAND
    out["sensing_offset_s"] = (sensing - acq_time).dt.total_seconds()
    out["sensing_time"] = sensing
    out["timing_error_s"] = _timing_error_s(out, timing)
    out["track_speed_m_s"] = out["scene_id"].map({k: t.track.speed_m_s for k, t in timing.items()}).astype("float64")
    out["uncertainty_m"] = out["uncertainty_m"] + _speed_m_s(out) * out["timing_error_s"]
    out["match_status"] = _status(out, cfg)
    if out.empty:
        return empty_frame("chip_candidates")
    return out.sort_values(["scene_id", "mmsi"], kind="stable").reset_index(drop=True)


def _positions_at(pairs: pd.DataFrame, ais: pd.DataFrame, when: pd.Series, cfg: MatchingConfig) -> pd.DataFrame:
    pos = interpolate_positions(ais, pd.DataFrame({"mmsi": pairs["mmsi"], "time_utc": when}), cfg.max_gap_seconds)
    out = pd.concat([pairs, pos], axis=1)
    out["x_utm"], out["y_utm"] = np.nan, np.nan
    for epsg, idx in out.groupby("epsg").groups.items():
        to_utm = Transformer.from_crs(4326, int(epsg), always_xy=True)
        x, y = to_utm.transform(out.loc[idx, "lon"].to_numpy(), out.loc[idx, "lat"].to_numpy())
        out.loc[idx, "x_utm"], out.loc[idx, "y_utm"] = x, y
    return out


def _timing_models(pairs: pd.DataFrame) -> dict[str, SceneTiming]:
    """One sensing-time model per scene: its tile centre from the grid origin, else the footprint's."""
    models = {}
    for scene_id, g in pairs.groupby("scene_id", sort=False):
        row = g.iloc[0]
        epsg = int(row["epsg"])
        ox, oy = row.get("grid_origin_x"), row.get("grid_origin_y")
        if ox is not None and oy is not None and pd.notna(ox) and pd.notna(oy):
            cx, cy = tile_centre(float(ox), float(oy))
        else:  # no grid published: the footprint's centre is the best guess of the granule's
            c = shapely.from_wkt(row["footprint_wkt"]).centroid
            cx, cy = Transformer.from_crs(4326, epsg, always_xy=True).transform(c.x, c.y)
        models[scene_id] = SceneTiming.for_scene(pd.Timestamp(row["acq_time"]).to_pydatetime(), epsg, cx, cy)
    return models


def _detector_maps(pairs: pd.DataFrame) -> dict[str, detectors.DetectorMap]:
    """Each scene's detector map from its granule metadata; a scene without one (or whose metadata
    cannot be read) leaves its ships' detector parity unknown, and the model's error says so."""
    maps = {}
    if "href_granule_metadata" not in pairs.columns:
        return maps
    for scene_id, href in pairs.groupby("scene_id", sort=False)["href_granule_metadata"].first().items():
        if href is None or pd.isna(href):
            continue
        try:
            maps[scene_id] = detectors.load(str(href))
        except (OSError, ValueError) as exc:
            log.warning("scene %s: granule metadata %s unreadable, detector parity unknown: %s", scene_id, href, exc)
    return maps


def _parities(out: pd.DataFrame, maps: dict[str, detectors.DetectorMap]) -> np.ndarray:
    parity = np.zeros(len(out), dtype="int64")
    for scene_id, idx in out.groupby("scene_id").groups.items():
        if scene_id in maps:
            parity[out.index.get_indexer(idx)] = maps[scene_id].parity(out.loc[idx, "x_utm"], out.loc[idx, "y_utm"])
    return parity


def _reference_times(out: pd.DataFrame, timing: dict[str, SceneTiming]) -> pd.Series:
    """When the reference band imaged each candidate (its row's time, plus the band's offset on its
    detector's parity); the granule's `datetime` where it has no position yet."""
    offset = np.zeros(len(out))
    for scene_id, idx in out.groupby("scene_id").groups.items():
        model, rows = timing[scene_id], out.index.get_indexer(idx)
        band = np.array([model.band_offset_s(REFERENCE_BAND, int(p)) for p in out["detector_parity"].to_numpy()[rows]])
        offset[rows] = model.row_offset_s(out.loc[idx, "x_utm"], out.loc[idx, "y_utm"]) + band
    offset = np.nan_to_num(offset, nan=0.0)
    return pd.to_datetime(out["acq_time"], utc=True) + pd.to_timedelta(np.round(offset * 1e9).astype("int64"), unit="ns")


def _timing_error_s(out: pd.DataFrame, timing: dict[str, SceneTiming]) -> np.ndarray:
    err = np.zeros(len(out))
    for scene_id, idx in out.groupby("scene_id").groups.items():
        rows = out.index.get_indexer(idx)
        known = out["detector_parity"].to_numpy()[rows] != 0
        model, x, y = timing[scene_id], out.loc[idx, "x_utm"], out.loc[idx, "y_utm"]
        err[rows] = np.where(known, model.error_s(x, y, parity_known=True), model.error_s(x, y))
    return np.nan_to_num(err, nan=0.0)


def _speed_m_s(out: pd.DataFrame) -> np.ndarray:
    """The ship's speed over the timing error: SOG, else the speed between the fixes used, else
    `tracks`' worst case stands (the uncertainty is already infinite without a position)."""
    sog = out["sog_kn"].to_numpy("float64", na_value=np.nan) * KNOT_MS
    span = (out["fix_after_time"] - out["fix_before_time"]).dt.total_seconds().to_numpy("float64", na_value=np.nan)
    chord = _distance_m(out["fix_before_lon"].to_numpy("float64"), out["fix_before_lat"].to_numpy("float64"),
                        out["fix_after_lon"].to_numpy("float64"), out["fix_after_lat"].to_numpy("float64"))
    chord = chord / np.where(span > 0, span, np.nan)
    return np.nan_to_num(np.where(np.isfinite(sog), sog, chord), nan=0.0)



def _status(df: pd.DataFrame, cfg: MatchingConfig) -> np.ndarray:
    status = np.full(len(df), MATCH_OK, dtype=object)
    if df.empty:
        return status
    footprints = shapely.from_wkt(df["footprint_wkt"].to_numpy())
    has_pos = df["method"].to_numpy() != METHOD_NONE
    inside = np.zeros(len(df), dtype=bool)
    inside[has_pos] = shapely.contains_xy(footprints[has_pos], df["lon"].to_numpy()[has_pos], df["lat"].to_numpy()[has_pos])
    status[~inside] = OUTSIDE_FOOTPRINT
    status[df["uncertainty_m"].to_numpy() > cfg.max_uncertainty_m] = UNCERTAINTY_TOO_HIGH
    status[~has_pos] = NO_POSITION
    return status
