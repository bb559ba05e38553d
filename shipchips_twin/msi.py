"""How the twin's MSI images the ground: when each band of each detector saw a point of a granule.

This is the twin's own truth, built independently of the pipeline's model
(`shipchips_core.sentinel2.sensing`, which the twin never imports): the ground track comes from
propagating a circular orbit and reading its sub-satellite point on the WGS84 ellipsoid (pyproj),
not from the spherical formula; the detectors tile the 290 km swath cross-track; every band has its
own delay per detector, the CNES calibration of Sentinel-2A (S2Shores `S2A_delta_times.csv`, Binet,
Bergsma & Poulain, ISPRS Annals 2022) rather than a mean; odd and even detectors see the ground
~0.022 rad apart along-track (B02; s2d2's cross-detector parallax) and in mirrored band order.

A granule's `datetime` is the instant the ground track passes the row through its tile's centre
(the twin's grid is the north-west corner of a 109.8 km Sentinel-2 tile, as the pipeline reads it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import Transformer

ALTITUDE_M = 786_000.0  # ESA Sentinel-2 User Handbook: mean altitude, 98.62°, 14.3 orbits a day
INCLINATION_DEG = 98.62
ORBIT_PERIOD_S = 86_400.0 / 14.3
EARTH_ROTATION_RAD_S = 7.292_115e-5
WGS84_A = 6_378_137.0
SWATH_M = 290_000.0
N_DETECTORS = 12
TILE_SIDE_M = 109_800.0
ODD_EVEN_PARALLAX_B02 = 0.022
REFERENCE_BAND = "B02"
# t(band) - t(B02) in seconds, detectors D01..D12 (CNES S2A calibration; the sign flips with parity)
DELAYS_FROM_B02 = {
    "B02": (0.0,) * 12,
    "B03": (0.525731, -0.524393, 0.519545, -0.518451, 0.515089, -0.515640, 0.513413, -0.516081, 0.517011,
            -0.519559, 0.520498, -0.526871),
    "B04": (1.007845, -1.009395, 0.995003, -0.998941, 0.987877, -0.993990, 0.985390, -0.994725, 0.989915,
            -1.001740, 0.999578, -1.014220),
    "B08": (0.262857, -0.261822, 0.259464, -0.259031, 0.257352, -0.257188, 0.256666, -0.257533, 0.258280,
            -0.259254, 0.259739, -0.263130),
    "B11": (1.502486, -1.488736, 1.484717, -1.474807, 1.475247, -1.463056, 1.471191, -1.464328, 1.480637,
            -1.474403, 1.492171, -1.491931),
    "B12": (2.125847, -2.120541, 2.100617, -2.099509, 2.087273, -2.085116, 2.081870, -2.087134, 2.093694,
            -2.101727, 2.111092, -2.127240),
}


@dataclass(frozen=True)
class GroundTrack:
    """The descending ground track near a tile, linearised at its centre (grid metres, m/s)."""

    centre_x: float
    centre_y: float
    east: float  # unit direction of flight in the grid
    north: float
    speed_m_s: float
    nadir_offset_m: float  # cross-track distance of the nadir line from the tile centre, towards the right

    def along_m(self, x, y):
        return (np.asarray(x) - self.centre_x) * self.east + (np.asarray(y) - self.centre_y) * self.north

    def cross_m(self, x, y):
        """Distance to the right of the flight direction, from the nadir line."""
        right_x, right_y = self.north, -self.east
        return (np.asarray(x) - self.centre_x) * right_x + (np.asarray(y) - self.centre_y) * right_y - self.nadir_offset_m

    def detector(self, x, y) -> np.ndarray:
        """Detector index 1..12 across the swath, D01 on the left of the flight direction."""
        k = np.floor((np.asarray(self.cross_m(x, y)) + SWATH_M / 2) / (SWATH_M / N_DETECTORS)).astype(int) + 1
        return np.clip(k, 1, N_DETECTORS)

    def band_time_s(self, x, y, band: str):
        """Seconds after `datetime` at which `band` imaged (x, y)."""
        det = self.detector(x, y)
        odd = det % 2 == 1
        half_stagger = ODD_EVEN_PARALLAX_B02 * ALTITUDE_M / self.speed_m_s / 2
        delays = np.asarray(DELAYS_FROM_B02[band])[det - 1]
        return self.along_m(x, y) / self.speed_m_s + np.where(odd, half_stagger, -half_stagger) + delays


@lru_cache(maxsize=32)
def ground_track(epsg: int, centre_x: float, centre_y: float, nadir_offset_m: float) -> GroundTrack:
    """Propagate a circular descending orbit over the tile centre; finite differences of its
    sub-satellite point, in the grid, give the flight direction and the ground speed."""
    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
    to_grid = Transformer.from_crs(4326, epsg, always_xy=True)
    ecef_to_lonlat = Transformer.from_crs(4978, 4326, always_xy=True)
    lon_c, lat_c = to_lonlat.transform(centre_x, centre_y)
    inc, radius, n = math.radians(INCLINATION_DEG), WGS84_A + ALTITUDE_M, 2 * math.pi / ORBIT_PERIOD_S
    u0 = math.pi - math.asin(math.sin(math.radians(lat_c)) / math.sin(inc))  # descending branch

    def sub_point(t: float) -> tuple[float, float]:
        u = u0 + n * t
        x, y, z = radius * math.cos(u), radius * math.sin(u) * math.cos(inc), radius * math.sin(u) * math.sin(inc)
        turn = -EARTH_ROTATION_RAD_S * t  # the Earth turns under the orbit plane
        xe, ye = x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)
        lon, lat, _ = ecef_to_lonlat.transform(xe, ye, z)
        return lon, lat

    lon0, _ = sub_point(0.0)
    points = [sub_point(t) for t in (-1.0, 1.0)]
    (x0, y0), (x1, y1) = (to_grid.transform(lon - lon0 + lon_c, lat) for lon, lat in points)
    dx, dy = (x1 - x0) / 2, (y1 - y0) / 2
    speed = math.hypot(dx, dy)
    return GroundTrack(centre_x, centre_y, dx / speed, dy / speed, speed, nadir_offset_m)
