"""What the phases feed the project: `candidates`, `scenes` and `ais` frames shaped as the pipeline
makes them, and the geometry of the windows a chip reads (to find the internal blocks it touches)."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
from affine import Affine
from pyproj import Transformer

from shipchips_core.chips import reader as chipper
from shipchips_core.sentinel2.search import scene_rows

CHIP_BLOCK = 1024
GAP_BEFORE_S, GAP_AFTER_S = 4.0, 6.0  # the two AIS fixes around the sensing time
BICUBIC_MARGIN_PX = getattr(chipper, "BICUBIC_MARGIN_PX", 2)  # the chipper's margin around a 20 m window


def scenes_frame(item: dict) -> pd.DataFrame:
    """The one-row `s2_scene_metadata` frame of an item whose hrefs are absolute."""
    scenes = scene_rows([item])
    if len(scenes) != 1 or scenes.loc[0, "status"] != "ok":
        raise RuntimeError(f"the benchmark item is not a valid scene: {scenes.to_dict('records')}")
    return scenes


def _lonlat(ships: list[dict], epsg: int) -> tuple[np.ndarray, np.ndarray]:
    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
    return to_lonlat.transform(np.array([s["x"] for s in ships]), np.array([s["y"] for s in ships]))


def candidates_frame(ships: list[dict], scenes: pd.DataFrame) -> pd.DataFrame:
    """One `ok` candidate per ship, with the columns `matching.match_candidates` produces."""
    scene = scenes.iloc[0]
    acq = scene["datetime"]
    lon, lat = _lonlat(ships, int(scene["epsg"]))
    n = len(ships)
    heading = np.array([s["heading_deg"] for s in ships])
    df = pd.DataFrame({
        "plan_id": [f"bench{s['mmsi']:011d}" for s in ships],
        "mmsi": np.array([s["mmsi"] for s in ships], dtype="int64"),
        "scene_id": scene["scene_id"], "collection": scene["collection"], "acq_time": acq,
        "epsg": int(scene["epsg"]), "footprint_wkt": scene["footprint_wkt"],
        "lon": lon, "lat": lat, "method": "linear",
        "gap_before_s": np.full(n, GAP_BEFORE_S), "gap_after_s": np.full(n, GAP_AFTER_S),
        "uncertainty_m": np.full(n, 5.0),
        "sog_kn": np.array([s["sog_kn"] for s in ships]), "cog_deg": heading, "heading_deg": heading,
        "fix_before_time": acq - timedelta(seconds=GAP_BEFORE_S), "fix_before_lon": lon, "fix_before_lat": lat,
        "fix_after_time": acq + timedelta(seconds=GAP_AFTER_S), "fix_after_lon": lon, "fix_after_lat": lat,
        "x_utm": np.array([s["x"] for s in ships]), "y_utm": np.array([s["y"] for s in ships]),
        "match_status": "ok",
    })
    return df.sort_values(["scene_id", "mmsi"], kind="stable").reset_index(drop=True)


def ais_frame(ships: list[dict], scenes: pd.DataFrame) -> pd.DataFrame:
    """Two `ais_snapshots`-like rows per ship (the fixes around the sensing time), static data joined."""
    scene = scenes.iloc[0]
    lon, lat = _lonlat(ships, int(scene["epsg"]))
    rows = []
    for i, s in enumerate(ships):
        length, beam = int(round(s["length_m"])), max(int(round(s["beam_m"])), 1)
        large = length >= 50
        static = {"ship_name": f"BENCH {i:04d}", "imo": 9_100_000 + i if large else None, "call_sign": f"BX{i:04d}",
                  "ship_type": 70 if large else 37, "dim_a": length // 2, "dim_b": length - length // 2,
                  "dim_c": beam // 2, "dim_d": beam - beam // 2, "length_m": float(length), "beam_m": float(beam)}
        for dt in (-GAP_BEFORE_S, GAP_AFTER_S):
            rows.append({"mmsi": s["mmsi"], "time_utc": scene["datetime"] + timedelta(seconds=dt),
                         "lat": lat[i], "lon": lon[i], "sog_kn": s["sog_kn"], "cog_deg": s["heading_deg"],
                         "heading_deg": s["heading_deg"], "nav_status": 1 if s["sog_kn"] == 0 else 0,
                         "msg_type": "PositionReport" if large else "StandardClassBPositionReport",
                         "ais_class": "A" if large else "B", "source": "benchmark", **static})
    return pd.DataFrame(rows)


# ---- windows and blocks -------------------------------------------------------------------------
def chip_windows(t10: Affine, t20: Affine, x: float, y: float, size: int) -> dict[str, tuple[int, int, int, int]]:
    """(row0, col0, row1, col1) read per grid kind: `10m`, `20m_bicubic` (with the kernel margin)
    and `20m_nearest` (the 20 m pixels holding the chip's 10 m pixel centres, as for SCL)."""
    row0, col0 = chipper.chip_origin(t10, x, y, size)[:2]
    chip = t10 @ Affine.translation(col0, row0)
    col_f, row_f = ~t20 @ (chip.c, chip.f)
    span = size * abs(chip.a) / abs(t20.a)
    m = BICUBIC_MARGIN_PX
    bicubic = (math.floor(row_f) - m, math.floor(col_f) - m, math.ceil(row_f + span) + m, math.ceil(col_f + span) + m)
    centres = np.arange(size) + 0.5
    cols = np.floor((chip.c + centres * chip.a - t20.c) / t20.a).astype(int)
    rows = np.floor((chip.f + centres * chip.e - t20.f) / t20.e).astype(int)
    nearest = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    return {"10m": (row0, col0, row0 + size, col0 + size), "20m_bicubic": bicubic, "20m_nearest": nearest}


def blocks_of(window: tuple[int, int, int, int], height: int, width: int, block: int = CHIP_BLOCK):
    """(block_row, block_col) of every internal block a window touches, clipped to the raster."""
    r0, c0 = max(window[0], 0), max(window[1], 0)
    r1, c1 = min(window[2], height), min(window[3], width)
    if r1 <= r0 or c1 <= c0:
        return []
    return [(br, bc) for br in range(r0 // block, (r1 - 1) // block + 1) for bc in range(c0 // block, (c1 - 1) // block + 1)]


def window_kind(asset: str, res: float) -> str:
    if res == 10:
        return "10m"
    return "20m_nearest" if asset == "scl" else "20m_bicubic"
