"""A vessel is paired only with the scenes its track can reach; no position inside a footprint is lost."""

import numpy as np
import pandas as pd
import shapely

from shipchips_core.config import MatchingConfig
from shipchips_core.matching import reach
from shipchips_core.matching.candidates import candidate_pairs, match_candidates, pairs_in_window
from shipchips_core.matching.tracks import interpolate_positions

T = pd.Timestamp("2026-06-15T10:14:25Z")
NORTH_SEA = "POLYGON ((3.5 52.0, 4.0 52.0, 4.0 52.3, 3.5 52.3, 3.5 52.0))"
BALTIC = "POLYGON ((18.0 55.0, 18.5 55.0, 18.5 55.3, 18.0 55.3, 18.0 55.0))"


def _scenes(footprints):
    n = len(footprints)
    return pd.DataFrame({"scene_id": [f"S2A_{i}" for i in range(n)], "collection": "sentinel-2-l2a",
                         "datetime": [T] * n, "epsg": 32631, "mgrs_tile": [f"31U{i:02d}" for i in range(n)],
                         "footprint_wkt": footprints, "status": "ok"})


def _plan(mmsis):
    return pd.DataFrame({"plan_id": [f"p{m}" for m in mmsis], "mmsi": mmsis,
                         "window_start": T - pd.Timedelta(hours=1), "window_end": T + pd.Timedelta(hours=1)})


def _fix(mmsi, seconds, lon, lat, sog=10.0, cog=90.0):
    return {"mmsi": mmsi, "time_utc": T + pd.Timedelta(seconds=seconds), "lon": lon, "lat": lat,
            "sog_kn": sog, "cog_deg": cog, "heading_deg": np.nan}


def test_a_vessel_is_paired_with_the_scene_it_sails_in_not_with_one_a_sea_away():
    ais = pd.DataFrame([_fix(1, -5, 3.8, 52.1), _fix(1, 5, 3.8002, 52.1),
                        _fix(2, -5, 18.2, 55.1), _fix(2, 5, 18.2002, 55.1)])
    scenes = _scenes([NORTH_SEA, BALTIC])
    pairs = candidate_pairs(_plan([1, 2]), scenes, bounds=reach.track_bounds(ais), max_gap_s=600)
    assert list(zip(pairs["mmsi"], pairs["scene_id"])) == [(1, "S2A_0"), (2, "S2A_1")]
    assert len(candidate_pairs(_plan([1, 2]), scenes)) == pairs_in_window(_plan([1, 2]), scenes) == 4
    out = match_candidates(_plan([1, 2]), scenes, ais, MatchingConfig())
    assert list(out["match_status"]) == ["ok", "ok"]


def test_a_ship_dead_reckoned_into_the_footprint_at_full_speed_keeps_its_pair():
    # last fix 590 s before sensing, 29 km west of the footprint, 102 kn due east: inside at sensing time
    lon = 3.5 - 29_000 / (111_195 * np.cos(np.radians(52.15)))
    ais = pd.DataFrame([_fix(3, -1200, lon - 0.01, 52.15, 102.0), _fix(3, -590, lon, 52.15, 102.0)])
    pos = interpolate_positions(ais, pd.DataFrame({"mmsi": [3], "time_utc": [T]}), 600)
    assert shapely.contains_xy(shapely.from_wkt(NORTH_SEA), pos["lon"].iloc[0], pos["lat"].iloc[0])
    pairs = candidate_pairs(_plan([3]), _scenes([NORTH_SEA]), bounds=reach.track_bounds(ais), max_gap_s=600)
    assert list(pairs["scene_id"]) == ["S2A_0"]
    assert match_candidates(_plan([3]), _scenes([NORTH_SEA]), ais, MatchingConfig())["match_status"].iloc[0] != "outside_footprint"


def test_every_pair_left_out_would_have_been_outside_its_footprint():
    rng = np.random.default_rng(7)
    rows = []
    for m in range(1, 301):  # ships scattered over 3°–19° E, two fixes each around the sensing time
        lon, lat, dt = rng.uniform(3, 19), rng.uniform(51.5, 55.8), rng.uniform(-700, 700)
        rows += [_fix(m, dt - 30, lon, lat, 30.0, rng.uniform(0, 360)), _fix(m, dt + 30, lon + 0.005, lat, 30.0)]
    ais, plan, scenes = pd.DataFrame(rows), _plan(list(range(1, 301))), _scenes([NORTH_SEA, BALTIC])
    kept = candidate_pairs(plan, scenes, bounds=reach.track_bounds(ais), max_gap_s=600)
    every = candidate_pairs(plan, scenes)
    left_out = every.merge(kept[["mmsi", "scene_id"]], how="left", indicator=True).query("_merge == 'left_only'")
    assert 0 < len(kept) < len(every) and len(left_out) == len(every) - len(kept)
    pos = interpolate_positions(ais, pd.DataFrame({"mmsi": left_out["mmsi"], "time_utc": T}), 600)
    inside = shapely.contains_xy(shapely.from_wkt(left_out["footprint_wkt"].to_numpy()), pos["lon"], pos["lat"])
    assert not inside.any()
    statuses = match_candidates(plan, scenes, ais, MatchingConfig())["match_status"]
    assert len(statuses) == len(kept)


def test_unknown_vessels_keep_every_scene_and_antimeridian_or_polar_tracks_every_longitude():
    fiji = "POLYGON ((179.5 -17.0, 180.0 -17.0, 180.0 -16.5, 179.5 -16.5, 179.5 -17.0))"
    beyond_the_pole = "POLYGON ((-100.0 89.8, -90.0 89.8, -90.0 89.9, -100.0 89.9, -100.0 89.8))"  # ~24 km over the pole
    scenes = _scenes([NORTH_SEA, fiji, beyond_the_pole, None])
    ais = pd.DataFrame([_fix(4, 0, -179.99, -16.7), _fix(4, 60, 179.99, -16.7),  # across the antimeridian
                        _fix(5, 0, 10.0, 89.95), _fix(5, 60, 10.1, 89.96)])       # near the pole
    pairs = candidate_pairs(_plan([4, 5, 6]), scenes, bounds=reach.track_bounds(ais), max_gap_s=600)
    # 6 has no fixes; the scene without a footprint (S2A_3) pairs with every vessel
    assert list(zip(pairs["mmsi"], pairs["scene_id"])) == [
        (4, "S2A_1"), (4, "S2A_3"), (5, "S2A_2"), (5, "S2A_3"), (6, "S2A_0"), (6, "S2A_1"), (6, "S2A_2"), (6, "S2A_3")]
