"""The twin images like MSI: rows along the track at their own instant, bands at their own delay."""

import dataclasses
import math

import numpy as np
import pytest

from shipchips_twin import msi
from shipchips_twin.scenes import BANDS_10M, _hull_coverage, render_scene
from shipchips_twin.world import KNOT_MS, World, WorldSpec, epoch

SPEC = WorldSpec(granule_px=1024, x_min=550_000.0, y_max=5_782_000.0, n_lane_vessels=48, n_anchored=2,
                 n_class_b=4, history_days=())


def test_ground_track_descends_south_south_west_at_about_6_7_km_s():
    track = World(SPEC).acquisitions[0].track
    assert 194.0 < math.degrees(math.atan2(track.east, track.north)) % 360 < 197.0
    assert 6_650 < track.speed_m_s < 6_750


def test_a_row_north_of_the_tile_centre_is_imaged_before_datetime():
    acq = World(SPEC).acquisitions[0]
    track = acq.track
    cx, cy = acq.tile_centre
    assert track.along_m(cx, cy) == 0
    # 40 km back along the track (north-north-east, same detector): imaged 40 km / 6.7 km/s earlier
    px, py = cx - 40_000 * track.east, cy - 40_000 * track.north
    assert py > cy + 38_000
    ahead = track.band_time_s(px, py, "B02") - track.band_time_s(cx, cy, "B02")
    assert ahead == pytest.approx(-40_000 / track.speed_m_s, rel=1e-9)
    assert -6.1 < ahead < -5.8
    # one detector sees B02 first, the next one B04 first: mirrored focal plane halves
    odd, even = track.detector(cx, cy), track.detector(cx + msi.SWATH_M / msi.N_DETECTORS * -track.north, cy)
    assert odd % 2 != even % 2


def _ships_under_way(world, acq):
    for vessel, x, y in world.vessels_in(acq):
        sog, cog = vessel.track.sog_cog(epoch(acq.sensing_time))
        if sog > 9 and len(vessel.track.times) == 2:
            yield vessel, x, y, sog, cog


def _misfit(world, acq, scene, vessel, x, y, key):
    """Largest difference between a band's pixels near the ship and the ship drawn at (x, y) over
    plain water: the noise (σ 0.0012) where the ship really is, the hull's contrast anywhere else."""
    band = next(b for b in BANDS_10M if b.key == key)
    img = scene.refl[key]
    land = np.zeros(img.shape, bool)
    window, f_hull, f_bridge = _hull_coverage(world, acq, vessel, x, y, 10, img.shape[0], land)
    drawn = band.water * (1 - f_hull - f_bridge) + band.ship * f_hull + band.bridge * f_bridge
    return float(np.abs(img[window] - drawn).max())


def test_a_moving_ship_sits_where_each_band_saw_it():
    world = World(SPEC)
    acq = world.acquisitions[0]
    scene = render_scene(world, acq)
    tested = 0
    for vessel, _, _, sog, cog in _ships_under_way(world, acq):
        t2, x2, y2 = world.imaged_at(vessel, acq, "B02")
        t4, x4, y4 = world.imaged_at(vessel, acq, "B04")
        assert abs(t4 - t2) == pytest.approx(1.0, abs=0.03)  # B02 → B04: 0.985–1.014 s by detector
        moved = np.hypot(x4 - x2, y4 - y2)
        assert moved == pytest.approx(sog * KNOT_MS * abs(t4 - t2), rel=1e-6)
        row, col = int((acq.origin_y - y2) // 10), int((x2 - acq.origin_x) // 10)
        if min(row, col) < 40 or max(row, col) + 40 >= scene.refl["blue"].shape[0]:
            continue
        assert moved > 4.0  # at least 0.4 px between the two bands
        # blue shows the ship where B02 saw it, red where B04 did, and neither where the other did
        assert _misfit(world, acq, scene, vessel, x2, y2, "blue") < 0.006
        assert _misfit(world, acq, scene, vessel, x4, y4, "red") < 0.006
        assert _misfit(world, acq, scene, vessel, x4, y4, "blue") > 0.03
        assert _misfit(world, acq, scene, vessel, x2, y2, "red") > 0.03
        tested += 1
    assert tested >= 3


def test_the_switch_draws_every_band_at_datetime():
    world = World(dataclasses.replace(SPEC, msi_timing=False))
    acq = world.acquisitions[0]
    vessel, *_ = next(_ships_under_way(world, acq))
    when = epoch(acq.sensing_time)
    for band in ("B02", "B04", "B12"):
        t, x, y = world.imaged_at(vessel, acq, band)
        assert t == when and (x, y) == tuple(float(v) for v in vessel.track.position(when))
