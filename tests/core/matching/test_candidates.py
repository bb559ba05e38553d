"""Matching candidates to scenes: position in the scene CRS, status, one match per acquisition."""


import numpy as np
import pandas as pd
import pytest

from shipchips_core.config import MatchingConfig
from shipchips_core.matching.candidates import match_candidates

T = pd.Timestamp("2026-06-15T10:14:25Z")
FOOTPRINT = "POLYGON ((3.5 52.0, 4.0 52.0, 4.0 52.3, 3.5 52.3, 3.5 52.0))"


def _scenes():
    return pd.DataFrame({"scene_id": ["S2A_X"], "collection": ["sentinel-2-l2a"], "datetime": [T], "epsg": [32631],
                         "mgrs_tile": ["31UES"],
                         "footprint_wkt": [FOOTPRINT], "status": ["ok"]})


def _plan(mmsis):
    return pd.DataFrame({"plan_id": [f"p{m}" for m in mmsis], "mmsi": mmsis,
                         "window_start": T - pd.Timedelta(hours=1), "window_end": T + pd.Timedelta(hours=1)})


def _fix(mmsi, seconds, lon, lat, sog=10.0):
    return {"mmsi": mmsi, "time_utc": T + pd.Timedelta(seconds=seconds), "lon": lon, "lat": lat,
            "sog_kn": sog, "cog_deg": 90.0, "heading_deg": np.nan}


def test_candidates_get_a_position_in_the_scene_crs_and_a_status():
    ais = pd.DataFrame([
        _fix(244000001, -5, 3.8, 52.1), _fix(244000001, 5, 3.8002, 52.1),  # inside, well sampled
        _fix(244000002, -5, 4.2, 52.1), _fix(244000002, 5, 4.2002, 52.1),  # outside the footprint
        _fix(244000003, -3000, 3.7, 52.1), _fix(244000003, 3000, 3.7, 52.1),  # no fix near the scene
        _fix(244000004, -500, 3.7, 52.2), _fix(244000004, 500, 3.72, 52.2),  # gaps too long to trust
    ])
    out = match_candidates(_plan([244000001, 244000002, 244000003, 244000004]), _scenes(), ais, MatchingConfig())
    status = dict(zip(out.mmsi, out.match_status))
    assert status == {244000001: "ok", 244000002: "outside_footprint", 244000003: "no_position",
                      244000004: "uncertainty_too_high"}
    ok = out[out.mmsi == 244000001].iloc[0]
    assert ok.lon == pytest.approx(3.8001)
    assert 400_000 < ok.x_utm < 700_000 and 5_700_000 < ok.y_utm < 5_900_000


def test_scene_outside_the_plan_window_is_not_a_candidate():
    plan = _plan([244000001]).assign(window_end=T - pd.Timedelta(minutes=1))
    ais = pd.DataFrame([_fix(244000001, -5, 3.8, 52.1)])
    assert match_candidates(plan, _scenes(), ais, MatchingConfig()).empty


def test_the_same_acquisition_in_two_collections_is_matched_once():
    scenes = pd.concat([_scenes().assign(mgrs_tile="31UES"),
                        _scenes().assign(mgrs_tile="31UES", scene_id="S2A_T31UES_X", collection="sentinel-2-c1-l2a")])
    ais = pd.DataFrame([_fix(244000001, -5, 3.8, 52.1), _fix(244000001, 5, 3.8002, 52.1)])
    out = match_candidates(_plan([244000001]), scenes, ais, MatchingConfig(), ("sentinel-2-c1-l2a", "sentinel-2-l2a"))
    assert list(out.collection) == ["sentinel-2-c1-l2a"]
    out = match_candidates(_plan([244000001]), scenes, ais, MatchingConfig(), ("sentinel-2-l2a", "sentinel-2-c1-l2a"))
    assert list(out.collection) == ["sentinel-2-l2a"]
