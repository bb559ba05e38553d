"""The twin's truth for the label-accuracy benchmark: where each ship was when Sentinel-2 saw it,
which ships should get a chip, and what the labels and the naive baseline say.

Distances are in the twin's UTM metres (EPSG:32631, the scenes' CRS) divided by the 10 m pixel.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from affine import Affine

from benchmarks._twin_pipeline import DayRun
from shipchips_core.chips.reader import chip_origin
from shipchips_twin.scenes import CLOUD_HALO
from shipchips_twin.world import PIXEL_M, Acquisition, World

BASELINE_MAX_S = 600.0  # the naive rule: the nearest fix in time, if within 10 minutes
LAND_STEP_M = 20.0  # land is sampled on the SCL grid's spacing
LABEL_COLUMNS = ("day", "mmsi", "mgrs_tile", "method", "x", "y", "lonlat_x", "lonlat_y", "true_x", "true_y", "sensing_time")


def acquisition_of(world: World, mgrs_tile: str) -> Acquisition:
    """The twin acquisition behind a scene (each benchmark world holds one day)."""
    return next(a for a in world.acquisitions if a.mgrs_tile == mgrs_tile)


def label_rows(run: DayRun) -> pd.DataFrame:
    """One row per chip written: its label's position (from the pixel centre and from lon/lat) and
    the ship's true position at the scene's sensing time, all in UTM metres."""
    tile_of = run.scenes.set_index("scene_id")["mgrs_tile"]
    rows = []
    for chip in run.chips[run.chips["status"] == "ok"].itertuples():
        label = json.loads(run.storage.read_bytes(chip.label_path))
        meta = json.loads(run.storage.read_bytes(chip.meta_path))
        pixel = label["ship_center"]["pixel"]
        x, y = Affine(*meta["chip"]["transform"][:6]) @ (pixel["col"], pixel["row"])
        acq = acquisition_of(run.world, tile_of[chip.scene_id])
        tx, ty = run.world.truth_xy(chip.mmsi, acq.sensing_time)
        lx, ly = run.world.lonlat_to_utm(label["ship_center"]["lon"], label["ship_center"]["lat"])
        rows.append({"day": run.day, "mmsi": chip.mmsi, "mgrs_tile": acq.mgrs_tile, "method": chip.interp_method,
                     "x": x, "y": y, "lonlat_x": float(lx), "lonlat_y": float(ly),
                     "true_x": float(tx), "true_y": float(ty), "sensing_time": pd.Timestamp(acq.sensing_time)})
    return pd.DataFrame(rows, columns=list(LABEL_COLUMNS))


def vessel_kinds(world: World, mmsi: pd.Series) -> pd.DataFrame:
    """AIS class and whether the vessel's track bends (a dog-leg) or is a straight run / anchor."""
    vessels = [world.vessel(int(m)) for m in mmsi]
    return pd.DataFrame({"ais_class": [v.ais_class for v in vessels],
                         "manoeuvring": [len(v.track.times) > 2 for v in vessels]}, index=mmsi.index)


# ---- which ships should get a chip ---------------------------------------------------------------
def clear_ships(world: World, size: int) -> pd.DataFrame:
    """Ships whose whole `size`² chip window (placed on the true position by the chipper's own rule)
    lies inside the granule and is open water: no land, no cloud or its halo, no swath-edge nodata.
    Nothing in the image stops such a ship being chipped; every other ship in a scene is `blocked`."""
    rows = []
    for acq in world.acquisitions:
        for vessel, x, y in world.vessels_in(acq):
            reason = _blocked_by(world, acq, x, y, size)
            rows.append({"day": acq.sensing_time.date(), "mgrs_tile": acq.mgrs_tile, "mmsi": vessel.mmsi,
                         "ais_class": vessel.ais_class, "true_x": x, "true_y": y,
                         "sensing_time": pd.Timestamp(acq.sensing_time), "blocked": reason})
    return pd.DataFrame(rows)


def _window(acq: Acquisition, x: float, y: float, size: int) -> tuple[float, float, float, float]:
    grid = Affine(PIXEL_M, 0, acq.origin_x, 0, -PIXEL_M, acq.origin_y)
    row0, col0 = chip_origin(grid, x, y, size)[:2]
    west, north = grid @ (col0, row0)
    return west, north - size * PIXEL_M, west + size * PIXEL_M, north


def _blocked_by(world: World, acq: Acquisition, x: float, y: float, size: int) -> str | None:
    west, south, east, north = _window(acq, x, y, size)
    g_west, g_south, g_east, g_north = acq.bounds
    if west < g_west or south < g_south or east > g_east or north > g_north:
        return "window_leaves_granule"
    corners_x, corners_y = np.array([west, east, west, east]), np.array([south, south, north, north])
    if acq.nodata(corners_x, corners_y).any():  # the wedge is a half-plane: a corner falls in it if any pixel does
        return "nodata"
    for cloud in acq.clouds:
        dx = max(west - cloud.x, 0.0, cloud.x - east)
        dy = max(south - cloud.y, 0.0, cloud.y - north)
        if np.hypot(dx, dy) <= cloud.radius_m * CLOUD_HALO:
            return "cloud"
    xs, ys = np.meshgrid(np.arange(west, east + 1, LAND_STEP_M), np.arange(south, north + 1, LAND_STEP_M))
    return "land" if world.is_land(xs, ys).any() else None


# ---- the naive baseline -------------------------------------------------------------------------
def nearest_fix(ais: pd.DataFrame, world: World, targets: pd.DataFrame) -> pd.DataFrame:
    """For each target (mmsi, sensing_time) the nearest fix in time within 10 minutes, in UTM
    (NaN where there is none): the naive rule, no interpolation."""
    fixes = ais[["mmsi", "time_utc", "lon", "lat"]].sort_values("time_utc")
    left = targets[["mmsi", "sensing_time"]].reset_index().sort_values("sensing_time")
    left["sensing_time"] = pd.to_datetime(left["sensing_time"], utc=True).dt.as_unit("ns")
    left["mmsi"] = left["mmsi"].astype("int64")
    fixes = fixes.assign(time_utc=fixes["time_utc"].dt.as_unit("ns"))
    merged = pd.merge_asof(left, fixes, left_on="sensing_time", right_on="time_utc", by="mmsi",
                           direction="nearest", tolerance=pd.Timedelta(seconds=BASELINE_MAX_S))
    merged = merged.set_index("index").reindex(targets.index)
    x, y = world.lonlat_to_utm(merged["lon"].to_numpy(), merged["lat"].to_numpy())
    return pd.DataFrame({"x": x, "y": y}, index=targets.index)
