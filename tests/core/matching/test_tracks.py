"""Interpolation and dead reckoning against analytic tracks."""

import numpy as np
import pandas as pd
import pytest

from shipchips_core.matching.tracks import A_MAX, GNSS_ERROR_M, KNOT_MS, interpolate_positions

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
    # COG not available (common at anchor), so only the bounds apply: 9 m in 3 min
    fixes = fixes_along(244000001, [0, 180], 3.9, 52.1, 0.05, 0.0, sog=0.1, cog=np.nan)
    out = interpolate_positions(fixes, targets(244000001, [90]), max_gap_s=600)
    assert out.uncertainty_m[0] == pytest.approx(10.0 + 9.0, abs=0.05)


def worst_case_m(gap_b, gap_a):
    return GNSS_ERROR_M + A_MAX * np.asarray(gap_b) * np.asarray(gap_a) / 2.0


def test_straight_track_through_a_reception_gap_is_exact_and_certain():
    # 12 kn north-east, fixes every 10 s except a 5-minute gap around the target
    secs = [0, 10, 20, 30, 330, 340]
    fixes = fixes_along(244000001, secs, 3.9, 52.1, east_ms=4.4, north_ms=4.4)
    out = interpolate_positions(fixes, targets(244000001, [150]), max_gap_s=600)
    exp = fixes_along(244000001, [150], 3.9, 52.1, 4.4, 4.4)
    assert out.method[0] == "linear" and (out.gap_before_s[0], out.gap_after_s[0]) == (120, 180)
    assert out.lon[0] == pytest.approx(exp.lon[0], abs=1e-9) and out.lat[0] == pytest.approx(exp.lat[0], abs=1e-9)
    assert out.uncertainty_m[0] < 20 and out.uncertainty_m[0] == pytest.approx(GNSS_ERROR_M, abs=1.0)
    assert worst_case_m(120, 180) == pytest.approx(550.0)  # what the bound alone would have said


def test_a_turn_inside_the_gap_keeps_a_large_uncertainty():
    # 5 m/s east until t=150, then 5 m/s north: the fixes either side of the gap disagree on COG
    before = fixes_along(244000001, [-20, -10, 0], 3.9, 52.1, east_ms=5.0, north_ms=0.0)
    corner_e = 5.0 * 150
    after = fixes_along(244000001, [300, 310], 3.9, 52.1, east_ms=0.0, north_ms=5.0)
    after["lat"] = 52.1 + 5.0 * (np.array([300, 310]) - 150) / M_PER_DEG_LAT  # north of the corner
    after["lon"] = 3.9 + corner_e / (M_PER_DEG_LAT * np.cos(np.radians(52.1)))
    out = interpolate_positions(pd.concat([before, after]), targets(244000001, [150]), max_gap_s=600)
    east = (out.lon[0] - 3.9) * M_PER_DEG_LAT * np.cos(np.radians(52.1))
    north = (out.lat[0] - 52.1) * M_PER_DEG_LAT
    err = np.hypot(east - corner_e, north)  # the ship was at the corner
    assert err == pytest.approx(375 * np.sqrt(2), rel=1e-3)
    assert err < out.uncertainty_m[0] <= worst_case_m(150, 150)
    assert out.uncertainty_m[0] > 50  # not chipped


@pytest.mark.parametrize("missing", ["sog_kn", "cog_deg"])
def test_without_sog_or_cog_at_a_fix_the_worst_case_bound_applies(missing):
    fixes = fixes_along(244000001, [0, 10, 20, 30, 330, 340], 3.9, 52.1, east_ms=4.4, north_ms=4.4)
    fixes.loc[4, missing] = np.nan  # the fix just after the gap
    out = interpolate_positions(fixes, targets(244000001, [150]), max_gap_s=600)
    assert out.uncertainty_m[0] == pytest.approx(worst_case_m(120, 180))


def test_the_worst_case_bound_is_never_exceeded():
    # 200 vessels with random positions and motion every 30-400 s: mostly wildly inconsistent tracks
    rng = np.random.default_rng(7)
    n, k = 200, 6
    secs = np.cumsum(rng.uniform(30, 400, size=(n, k)), axis=1)
    fixes = pd.DataFrame({
        "mmsi": np.repeat(np.arange(n) + 244000000, k), "time_utc": T0 + pd.to_timedelta(secs.ravel(), unit="s"),
        "lon": 3.9 + rng.normal(0, 0.01, n * k), "lat": 52.1 + rng.normal(0, 0.01, n * k),
        "sog_kn": rng.uniform(0, 20, n * k), "cog_deg": rng.uniform(0, 360, n * k), "heading_deg": np.nan,
    })
    straight = pd.concat([fixes_along(245000000 + i, [0, 200], 3.9, 52.1, 3.0 * i, 2.0) for i in range(1, 6)])
    ts = targets(np.arange(n) + 244000000, secs[:, 2] + rng.uniform(0, 1, n) * (secs[:, 3] - secs[:, 2]))
    ts = pd.concat([ts, targets(np.arange(1, 6) + 245000000, np.full(5, 80.0))], ignore_index=True)
    out = interpolate_positions(pd.concat([fixes, straight]), ts, max_gap_s=600)
    assert (out.method == "linear").all()
    bound = worst_case_m(out.gap_before_s, out.gap_after_s)
    assert (out.uncertainty_m <= bound + 1e-9).all()
    assert np.isclose(out.uncertainty_m, bound).sum() > n // 2  # the inconsistent ones are capped
    assert (out.uncertainty_m.iloc[n:] < 12).all()  # the straight ones are not


def test_a_gap_across_the_antimeridian_is_checked_the_short_way():
    # 7 m/s east on the equator, 5 minutes unheard while crossing 180°
    deg = 7.0 * np.array([0, 300]) / M_PER_DEG_LAT
    fixes = pd.DataFrame({
        "mmsi": 244000001, "time_utc": [T0, T0 + pd.Timedelta(seconds=300)], "lon": ((179.99 + deg + 180) % 360) - 180,
        "lat": [0.0, 0.0], "sog_kn": 7.0 / KNOT_MS, "cog_deg": 90.0, "heading_deg": np.nan,
    })
    out = interpolate_positions(fixes, targets(244000001, [150]), max_gap_s=600)
    assert out.lon[0] == pytest.approx(((179.99 + deg[1] / 2 + 180) % 360) - 180, abs=1e-9)
    assert out.uncertainty_m[0] == pytest.approx(GNSS_ERROR_M, abs=1.0)


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
