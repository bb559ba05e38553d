"""The sensing-time model against cases that can be worked out by hand."""

import math
from datetime import datetime, timezone

import numpy as np
import pytest

from shipchips_core.sentinel2.sensing import (
    ALTITUDE_M,
    BAND_DELAY_S,
    ODD_EVEN_PARALLAX_B02,
    TILE_SIDE_M,
    SceneTiming,
    descending_track,
    tile_centre,
)

WHEN = datetime(2026, 6, 15, 10, 14, 25, tzinfo=timezone.utc)
ORIGIN = (499_980.0, 5_800_020.0)  # a tile's top-left corner in EPSG:32631 (~52.3°N, 3°E)


@pytest.fixture(scope="module")
def timing() -> SceneTiming:
    return SceneTiming.for_scene(WHEN, 32631, *tile_centre(*ORIGIN))


def test_tile_centre_is_half_a_tile_from_the_grid_corner():
    assert tile_centre(*ORIGIN) == (499_980.0 + 54_900.0, 5_800_020.0 - 54_900.0)


def test_descending_track_heads_south_south_west_at_about_6_7_km_s():
    heading, speed = descending_track(52.0)
    # cos i = cos φ sin A: A = 180° + asin(0.1499 / 0.6157) = 194.1° inertial, ~2.4° more west over the turning Earth
    assert 195.5 < heading < 197.5
    assert 6_650 < speed < 6_750  # the CDSE forum's 6.78 km/s within 1.5 %
    equator_heading, _ = descending_track(0.0)
    assert equator_heading < heading  # the track bends further from the meridian towards its turning latitude
    with pytest.raises(ValueError, match="85"):
        descending_track(85.0)


def test_a_point_on_the_centre_line_is_seen_at_datetime(timing):
    cx, cy = timing.centre_x, timing.centre_y
    # cross-track: perpendicular to the flight direction, 40 km to the east-south-east
    px, py = cx + 40_000 * -timing.track.north, cy + 40_000 * timing.track.east
    assert timing.row_offset_s(cx, cy) == 0.0
    assert timing.row_offset_s(px, py) == pytest.approx(0.0, abs=1e-9)
    assert timing.sensing_time(cx, cy) == np.datetime64("2026-06-15T10:14:25", "ns")


def test_55_km_along_track_is_about_8_s_and_north_comes_first(timing):
    cx, cy = timing.centre_x, timing.centre_y
    ux, uy = timing.track.east, timing.track.north
    later = timing.row_offset_s(cx + 55_000 * ux, cy + 55_000 * uy)
    assert later == pytest.approx(55_000 / timing.track.speed_m_s)
    assert 8.0 < later < 8.4
    # descending: the tile's north edge is imaged ~8 s before datetime, its south edge ~8 s after
    north, south = timing.row_offset_s(cx, cy + TILE_SIDE_M / 2), timing.row_offset_s(cx, cy - TILE_SIDE_M / 2)
    assert -8.4 < north < -7.5 and 7.5 < south < 8.4
    assert north == pytest.approx(-south)


def test_grid_bearing_includes_meridian_convergence(timing):
    true_heading, _ = descending_track(52.3 - 0.5)  # the tile centre's latitude, about
    # east of the zone's central meridian (3°E) the grid's north is rotated east of true north
    assert timing.track.heading_deg != pytest.approx(true_heading, abs=0.05)
    assert abs(timing.track.heading_deg - true_heading) < 1.5
    assert math.hypot(timing.track.east, timing.track.north) == pytest.approx(1.0)


def test_band_offsets_mirror_between_odd_and_even_detectors(timing):
    half_stagger = ODD_EVEN_PARALLAX_B02 * ALTITUDE_M / timing.track.speed_m_s / 2
    assert 1.2 < half_stagger < 1.4  # 17.3 km between the detectors' lines of sight, at 6.7 km/s
    for band, delay in BAND_DELAY_S.items():
        assert timing.band_offset_s(band, +1) == pytest.approx(half_stagger + delay)
        assert timing.band_offset_s(band, -1) == pytest.approx(-(half_stagger + delay))
        assert timing.band_offset_s(band, 0) == 0.0
    # B02 → B04 on one detector: 1.0 s (Heiselberg 2019; CNES calibration 0.985–1.014 s)
    assert timing.band_offset_s("B04", 1) - timing.band_offset_s("B02", 1) == pytest.approx(0.998, abs=0.002)


def test_error_grows_with_distance_and_shrinks_when_the_detector_is_known(timing):
    cx, cy = timing.centre_x, timing.centre_y
    at_centre = timing.error_s(cx, cy)
    at_edge = timing.error_s(cx, cy + 54_900)
    assert at_edge - at_centre == pytest.approx(abs(timing.row_offset_s(cx, cy + 54_900)) * 0.015)
    half_stagger = timing.band_ambiguity_s("B02")
    # detector known: what is left is datation (0.1 s) and the stagger's own 2.5 %
    assert timing.error_s(cx, cy, parity_known=True) == pytest.approx(0.1 + 0.025 * half_stagger)
    assert timing.error_s(cx, cy, "B04", parity_known=True) == pytest.approx(
        0.1 + 0.025 * half_stagger + 0.02 * BAND_DELAY_S["B04"])
    assert at_centre == pytest.approx(0.1 + timing.band_ambiguity_s("B02"))
