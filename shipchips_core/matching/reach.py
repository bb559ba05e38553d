"""Which scenes a vessel can be seen in: its track's box grown by the farthest dead reckoning.

Every position matching computes lies in the lon/lat box of the fixes it uses (linear interpolation
between two of them) or within `max_gap_s` at a valid SOG of one of them (dead reckoning). A scene
whose footprint misses that box could only make an `outside_footprint` candidate, so it is not paired:
a world day pairs each vessel with the scenes around it, not with every scene of the day. The test is
conservative: a vessel without fixes keeps every scene, a track across the antimeridian (its box spans
every longitude) or reaching a pole keeps every scene in its band of latitude, and a scene without a
footprint pairs with every vessel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from shipchips_core.ais.clean import VALID_RANGES
from shipchips_core.matching.tracks import EARTH_RADIUS_M, KNOT_MS

BOUNDS_COLUMNS = ("min_lon", "min_lat", "max_lon", "max_lat")
MAX_SOG_M_S = VALID_RANGES["sog_kn"][1] * KNOT_MS  # the cleaning nulls any faster SOG
M_PER_DEG = EARTH_RADIUS_M * np.pi / 180.0


def track_bounds(fixes: pd.DataFrame) -> pd.DataFrame:
    """mmsi and BOUNDS_COLUMNS of each vessel's fixes (`AisDataset.track_bounds` for a stored day)."""
    if fixes.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "mmsi" else "float64") for c in ("mmsi", *BOUNDS_COLUMNS)})
    by = fixes.groupby("mmsi", sort=True)
    out = pd.DataFrame({"min_lon": by["lon"].min(), "min_lat": by["lat"].min(),
                        "max_lon": by["lon"].max(), "max_lat": by["lat"].max()})
    return out.reset_index()


def reach_boxes(mmsi: np.ndarray, bounds: pd.DataFrame, max_gap_s: float) -> np.ndarray:
    """Per vessel of `mmsi`, the box its positions can lie in (the whole world where unknown)."""
    b = bounds.set_index("mmsi").reindex(np.asarray(mmsi, dtype="int64"))
    reach_deg = MAX_SOG_M_S * max_gap_s / M_PER_DEG
    lat0 = np.maximum(b["min_lat"].to_numpy(float) - reach_deg, -90.0)
    lat1 = np.minimum(b["max_lat"].to_numpy(float) + reach_deg, 90.0)
    cos = np.cos(np.radians(np.maximum(np.abs(lat0), np.abs(lat1))))
    with np.errstate(divide="ignore"):
        lon_reach = np.where(cos > 1e-9, reach_deg / cos, np.inf)
    lon0 = b["min_lon"].to_numpy(float) - lon_reach
    lon1 = b["max_lon"].to_numpy(float) + lon_reach
    # past the antimeridian the grown box wraps: keep every longitude rather than split it
    world = ~(np.isfinite(lon0) & np.isfinite(lon1)) | (lon0 < -180.0) | (lon1 > 180.0)
    lon0, lon1 = np.where(world, -180.0, lon0), np.where(world, 180.0, lon1)
    lat0, lat1 = np.where(world & np.isnan(lat0), -90.0, lat0), np.where(world & np.isnan(lat1), 90.0, lat1)
    return shapely.box(lon0, lat0, lon1, lat1)


def near_pairs(mmsi: np.ndarray, footprint_wkt: pd.Series, bounds: pd.DataFrame,
               max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(vessel index, scene index) of every vessel whose reach box meets a scene's footprint (and every
    vessel with a scene that has none), in (vessel, scene) order as a cross join lists them."""
    footprints = shapely.from_wkt(footprint_wkt.to_numpy(), on_invalid="ignore")
    boxes = reach_boxes(mmsi, bounds, max_gap_s)
    vessel, scene = shapely.STRtree(footprints).query(boxes, predicate="intersects")
    unknown = np.flatnonzero(shapely.is_missing(footprints))
    if len(unknown):
        vessel = np.concatenate([vessel, np.repeat(np.arange(len(boxes)), len(unknown))])
        scene = np.concatenate([scene, np.tile(unknown, len(boxes))])
    order = np.lexsort((scene, vessel))
    return vessel[order], scene[order]
