"""Seeded inputs for the interpolation benchmark: a day's `ais_snapshots` for a few thousand vessels
on straight tracks (known exactly, so results can be checked), and a day's Sentinel-2 scenes.

Fixes follow each vessel's cadence (class A under way ~10 s, class B 30 s, at anchor 3 min) over its
own active span of the day, scaled so the day holds exactly `n_fixes` rows; GNSS noise σ = 2 m. The
frame has every `ais_snapshots` column and is sorted by (mmsi, time), as `clean.finish` leaves it.
Scenes are granules on a grid of 1° × 1° cells (plus 0.1° overlap) over a sea area, each sensed at
10:30 mean local solar time for its centre longitude, as `plan.expected_overpass` predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
import shapely

from shipchips_core.ais.clean import COLUMNS
from shipchips_core.matching.tracks import KNOT_MS

DAY = date(2026, 6, 15)
M_PER_DEG = 111_195.0
GNSS_SIGMA_M = 2.0
LON0, LAT0 = -2.0, 50.0  # south-west corner of the scene grid (English Channel to the Skagerrak)
CELL_DEG, OVERLAP_DEG = 1.0, 0.1
CLASSES = {"A": (0.65, 10.0, (6, 20)), "B": (0.20, 30.0, (4, 12)), "anchor": (0.15, 180.0, (0, 0))}  # share, cadence s, kn


@dataclass
class Vessels:
    """Straight tracks: position (lon0, lat0) at `t0` (epoch s), velocity east/north in m/s."""

    mmsi: np.ndarray
    kind: np.ndarray
    t0: np.ndarray
    lon0: np.ndarray
    lat0: np.ndarray
    east: np.ndarray
    north: np.ndarray

    def position(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dt = t - self.t0[idx]
        lat = self.lat0[idx] + self.north[idx] * dt / M_PER_DEG
        lon = self.lon0[idx] + self.east[idx] * dt / (M_PER_DEG * np.cos(np.radians(self.lat0[idx])))
        return lon, lat


def midnight() -> float:
    return datetime.combine(DAY, time(0), UTC).timestamp()


def make_vessels(n: int, grid: int, rng: np.random.Generator) -> Vessels:
    names = list(CLASSES)
    kind = rng.choice(names, size=n, p=[CLASSES[k][0] for k in names])
    lo = np.array([CLASSES[k][2][0] for k in kind], float)
    hi = np.array([CLASSES[k][2][1] for k in kind], float)
    speed = rng.uniform(lo, hi) * KNOT_MS
    course = rng.uniform(0, 2 * np.pi, n)
    return Vessels(
        mmsi=np.sort(rng.choice(np.unique(rng.integers(201_000_000, 776_000_000, size=2 * n)), size=n, replace=False)),
        kind=kind, t0=np.full(n, midnight() + 12 * 3600.0),
        lon0=rng.uniform(LON0, LON0 + grid * CELL_DEG, n), lat0=rng.uniform(LAT0, LAT0 + grid * CELL_DEG, n),
        east=speed * np.sin(course), north=speed * np.cos(course),
    )


def _fix_counts(vessels: Vessels, spans: np.ndarray, n_fixes: int) -> np.ndarray:
    """Fixes per vessel ∝ span / cadence, summing to exactly `n_fixes` (largest remainders)."""
    cadence = np.array([CLASSES[k][1] for k in vessels.kind])
    share = spans / cadence
    exact = share / share.sum() * n_fixes
    counts = np.floor(exact).astype("int64")
    counts[np.argsort(counts - exact)[: n_fixes - counts.sum()]] += 1
    return np.maximum(counts, 1)


def make_fixes(vessels: Vessels, n_fixes: int, rng: np.random.Generator) -> pd.DataFrame:
    n = len(vessels.mmsi)
    start = midnight() + rng.uniform(0, 12 * 3600, n)
    spans = np.minimum(rng.uniform(6, 24, n) * 3600, midnight() + 86_399 - start)
    counts = _fix_counts(vessels, spans, n_fixes)
    idx = np.repeat(np.arange(n), counts)
    k = np.arange(idx.size) - np.repeat(np.cumsum(counts) - counts, counts)  # rank within the vessel
    t = start[idx] + (k + rng.uniform(0.1, 0.9, idx.size)) * (spans / counts)[idx]
    lon, lat = vessels.position(idx, t)
    lat = lat + rng.normal(0, GNSS_SIGMA_M, idx.size) / M_PER_DEG
    lon = lon + rng.normal(0, GNSS_SIGMA_M, idx.size) / (M_PER_DEG * np.cos(np.radians(lat)))
    return _snapshot_frame(vessels, idx, t, lon, lat)


def _snapshot_frame(v: Vessels, idx: np.ndarray, t: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    kind = v.kind[idx]
    sog = np.hypot(v.east, v.north)[idx] / KNOT_MS
    cog = (np.degrees(np.arctan2(v.east, v.north)) % 360)[idx]
    moving = kind != "anchor"
    length = (60 + (v.mmsi % 240)).astype(float)[idx]
    cols = {
        "mmsi": v.mmsi[idx], "time_utc": pd.DatetimeIndex((t * 1e9).astype("int64"), tz="UTC"), "lat": lat, "lon": lon,
        "sog_kn": np.round(sog, 1), "cog_deg": np.where(moving, np.round(cog, 1), np.nan),
        "heading_deg": np.where(moving, np.round(cog), np.nan), "nav_status": np.where(moving, 0, 1),
        "msg_type": np.where(kind == "B", "StandardClassBPositionReport", "PositionReport"),
        "ais_class": np.where(kind == "B", "B", "A"), "source": "aisstream",
        "ship_name": np.char.add("VESSEL ", (v.mmsi % 10_000).astype(str))[idx], "imo": 9_000_000 + v.mmsi[idx] % 999_999,
        "call_sign": np.char.add("C", (v.mmsi % 100_000).astype(str))[idx], "ship_type": np.where(kind == "B", 37, 70),
        "dim_a": (length * 0.7).astype(int), "dim_b": (length * 0.3).astype(int), "dim_c": 8, "dim_d": 8,
        "length_m": length, "beam_m": 16.0, "reported_length_m": np.nan, "reported_beam_m": np.nan,
    }
    df = pd.DataFrame(cols)
    return df.astype({c: t for c, t in COLUMNS.items() if c != "time_utc"})[list(COLUMNS)]


def make_scenes(grid: int) -> pd.DataFrame:
    """`s2_scene_metadata`-shaped rows (the columns matching reads) for a grid × grid of granules."""
    i, j = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    west, south = LON0 + i.ravel() * CELL_DEG, LAT0 + j.ravel() * CELL_DEG
    centre_lon = west + CELL_DEG / 2
    # 10:30 mean local solar time at the centre, the along-track seconds from the south
    sensing = midnight() + (10.5 - centre_lon / 15) * 3600 + (LAT0 + grid - south) * 13.0
    boxes = shapely.box(west - OVERLAP_DEG, south - OVERLAP_DEG, west + CELL_DEG + OVERLAP_DEG, south + CELL_DEG + OVERLAP_DEG)
    ids = [f"S2A_G{a:02d}{b:02d}_{DAY:%Y%m%d}_0_L2A" for a, b in zip(i.ravel(), j.ravel())]
    return pd.DataFrame({
        "scene_id": ids, "collection": "sentinel-2-l2a", "mgrs_tile": [s[4:9] for s in ids],
        "datetime": pd.to_datetime(np.round(sensing * 1e6).astype("int64"), unit="us", utc=True).as_unit("ns"),
        "epsg": 32631,
        "footprint_wkt": shapely.to_wkt(boxes), "status": "ok",
    })


def footprint_targets(vessels: Vessels, fixes: pd.DataFrame, scenes: pd.DataFrame) -> pd.DataFrame:
    """Each vessel with the scenes whose footprint holds it at their sensing time, within its fixes' span."""
    t_ns = fixes["time_utc"].astype("int64")
    span = t_ns.groupby(fixes["mmsi"]).agg(["min", "max"]).reindex(vessels.mmsi)
    n_v, n_s = len(vessels.mmsi), len(scenes)
    vi, si = np.repeat(np.arange(n_v), n_s), np.tile(np.arange(n_s), n_v)
    when = scenes["datetime"].astype("int64").to_numpy()[si]
    lon, lat = vessels.position(vi, when / 1e9)
    inside = shapely.contains_xy(shapely.from_wkt(scenes["footprint_wkt"].to_numpy())[si], lon, lat)
    inside &= (when >= span["min"].to_numpy()[vi]) & (when <= span["max"].to_numpy()[vi])
    return pd.DataFrame({"mmsi": vessels.mmsi[vi[inside]], "time_utc": pd.DatetimeIndex(when[inside], tz="UTC"),
                         "vessel": vi[inside]})
