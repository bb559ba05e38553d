"""Interpolation and dead reckoning against analytic tracks."""

import numpy as np
import pandas as pd
import pytest

from shipchips_core.tracks import KNOT_MS, interpolate_positions

T0 = pd.Timestamp("2026-06-15T10:00:00Z")
M_PER_DEG_LAT = 111_195.0


def fixes_along(mmsi, seconds, lon0, lat0, east_ms, north_ms, sog=None, cog=None):
    t = np.asarray(seconds, dtype=float)
    lat = lat0 + north_ms * t / M_PER_DEG_LAT
    lon = lon0 + east_ms * t / (M_PER_DEG_LAT * np.cos(np.radians(lat0)))
    speed_kn = np.hypot(east_ms, north_ms) / KNOT_MS
    course = (np.degrees(np.arctan2(east_ms, north_ms)) + 360) % 360
    return pd.DataFrame({
        "mmsi": mmsi, "time_utc": T0 + pd.to_timedelta(t, unit="s"), "lon": lon, "lat": lat,
        "sog_kn": speed_kn if sog is None else sog, "cog_deg": course if cog is None else cog, "heading_deg": np.nan,
    })


def targets(mmsi, seconds):
    return pd.DataFrame({"mmsi": mmsi, "time_utc": T0 + pd.to_timedelta(np.asarray(seconds, float), unit="s")})


def test_straight_track_is_exact_between_fixes():
    fixes = fixes_along(244000001, [0, 10, 20, 30], 3.9, 52.1, east_ms=5.0, north_ms=2.0)
    out = interpolate_positions(fixes, targets(244000001, [13.7]), max_gap_s=60)
    assert out.method[0] == "linear"
    assert out.gap_before_s[0] == pytest.approx(3.7) and out.gap_after_s[0] == pytest.approx(6.3)
    exp = fixes_along(244000001, [13.7], 3.9, 52.1, 5.0, 2.0)
    assert out.lon[0] == pytest.approx(exp.lon[0], abs=1e-9) and out.lat[0] == pytest.approx(exp.lat[0], abs=1e-9)


def test_dead_reckoning_forward_when_the_next_fix_is_too_far():
    fixes = fixes_along(244000001, [0, 10, 2000], 3.9, 52.1, east_ms=0.0, north_ms=6.0)
    out = interpolate_positions(fixes, targets(244000001, [40]), max_gap_s=300)
    assert out.method[0] == "dead_reckoning_forward"
    # 30 s at 6 m/s north of the fix at t=10
    assert (out.lat[0] - fixes.lat[1]) * M_PER_DEG_LAT == pytest.approx(180.0, rel=1e-3)
    assert out.uncertainty_m[0] > 10


def test_dead_reckoning_backward_before_the_first_fix():
    fixes = fixes_along(244000001, [100, 110], 3.9, 52.1, east_ms=5.0, north_ms=0.0)
    out = interpolate_positions(fixes, targets(244000001, [80]), max_gap_s=60)
    assert out.method[0] == "dead_reckoning_backward"
    exp = fixes_along(244000001, [80], 3.9, 52.1, 5.0, 0.0)
    assert out.lon[0] == pytest.approx(exp.lon[0], abs=2e-7)


def test_turning_ship_error_stays_within_the_uncertainty_bound():
    # quarter circle of radius 500 m at 5 m/s, fixes every 10 s
    t = np.arange(0, 160, 10.0)
    ang = 5.0 * t / 500.0
    lat0, lon0 = 52.1, 3.9
    fixes = pd.DataFrame({
        "mmsi": 244000001, "time_utc": T0 + pd.to_timedelta(t, unit="s"),
        "lat": lat0 + 500 * np.sin(ang) / M_PER_DEG_LAT,
        "lon": lon0 + 500 * (1 - np.cos(ang)) / (M_PER_DEG_LAT * np.cos(np.radians(lat0))),
        "sog_kn": 5.0 / KNOT_MS, "cog_deg": np.nan, "heading_deg": np.nan,
    })
    ts = 45.0
    out = interpolate_positions(fixes, targets(244000001, [ts]), max_gap_s=60)
    a = 5.0 * ts / 500.0
    true_n, true_e = 500 * np.sin(a), 500 * (1 - np.cos(a))
    err = np.hypot((out.lat[0] - lat0) * M_PER_DEG_LAT - true_n, (out.lon[0] - lon0) * M_PER_DEG_LAT * np.cos(np.radians(lat0)) - true_e)
    assert err < out.uncertainty_m[0]


def test_stopped_ship_stays_put_with_a_tight_uncertainty():
    fixes = fixes_along(244000001, [0, 180, 360], 3.9, 52.1, 0.0, 0.0, sog=0.0, cog=np.nan)
    out = interpolate_positions(fixes, targets(244000001, [250]), max_gap_s=600)
    assert out.lon[0] == pytest.approx(3.9) and out.lat[0] == pytest.approx(52.1)
    # SOG 0 at both 3-minute-apart fixes: at anchor, not a ship that might have sped off
    assert out.uncertainty_m[0] == pytest.approx(10.0)


def test_slow_drift_at_anchor_is_bounded_by_the_chord():
    fixes = fixes_along(244000001, [0, 180], 3.9, 52.1, 0.05, 0.0, sog=0.1, cog=90.0)  # 9 m in 3 min
    out = interpolate_positions(fixes, targets(244000001, [90]), max_gap_s=600)
    assert out.uncertainty_m[0] == pytest.approx(10.0 + 9.0, abs=0.05)


def test_crossing_the_antimeridian_interpolates_the_short_way():
    fixes = pd.DataFrame({
        "mmsi": 244000001, "time_utc": [T0, T0 + pd.Timedelta(seconds=20)], "lon": [179.9995, -179.9995],
        "lat": [0.0, 0.0], "sog_kn": 10.0, "cog_deg": 90.0, "heading_deg": np.nan,
    })
    out = interpolate_positions(fixes, targets(244000001, [5, 15]), max_gap_s=60)
    assert out.lon[0] == pytest.approx(179.99975, abs=1e-9)
    assert out.lon[1] == pytest.approx(-179.99975, abs=1e-9)


def test_unknown_vessel_and_out_of_gap_have_no_position():
    fixes = fixes_along(244000001, [0, 10], 3.9, 52.1, 5.0, 0.0)
    out = interpolate_positions(fixes, pd.concat([targets(244000002, [5]), targets(244000001, [5000])]), max_gap_s=60)
    assert list(out.method) == ["none", "none"]
    assert out.lon.isna().all()


def test_many_vessels_are_matched_to_their_own_fixes():
    a = fixes_along(244000001, [0, 10], 3.9, 52.1, 5.0, 0.0)
    b = fixes_along(244000002, [0, 10], 4.0, 52.0, 0.0, 5.0)
    out = interpolate_positions(pd.concat([b, a]), pd.concat([targets(244000001, [5]), targets(244000002, [5])]), 60)
    assert out.lat[0] == pytest.approx(52.1) and out.lon[1] == pytest.approx(4.0)
