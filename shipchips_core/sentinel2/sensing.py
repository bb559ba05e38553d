"""When Sentinel-2's MSI saw a ground point: the granule's `datetime` plus the along-track offset of
the point's row, plus each band's own delay.

MSI is a pushbroom. An L2A item's `datetime` is the granule's SENSING_TIME (MTD_TL.xml), the mean
acquisition time of the granule centre (CDSE forum, "Exact time of acquisition of each Sentinel-2
row", 2024). A row `s` metres further along the direction of flight is seen `s / v` seconds later.
For a descending pass the flight direction is south-south-west, so the north of a tile is seen first.

Flight direction and ground speed come from the orbit, not from the footprint (a full tile's
footprint is a square that says nothing about the track): a circular orbit of inclination
98.62° and 14 + 3/10 revolutions per day (ESA Sentinel-2 User Handbook, §2 "Orbit"), its ground
track's azimuth at latitude φ from cos i = cos φ · sin A, minus the Earth's rotation under it. At 52°N
that is ~196.5° and ~6.70 km/s, so a 109.8 km tile takes ~16.4 s (the forum's 6.78 km/s, 15 s per
100 km, agree within 1.2 %).

Band delays, relative to B02 on odd detectors (even detectors are mirrored in the focal plane and see
the bands in reverse order): the CNES per-detector calibration of Sentinel-2A published with S2Shores
(`S2A_delta_times.csv`, the method of Binet, Bergsma & Poulain, ISPRS Annals V-1-2022, rms 0.28 %,
max 1 %), averaged over the 12 detectors (their spread is ±1.5 %; ESA's handbook values differ by
up to ±2 %). Heiselberg (Sensors 19, 2873, 2019) quotes offsets up to 2.6 s across all 13 bands.
Odd and even detectors also look at the ground along-track ~0.022 rad apart for B02 (base-to-height
of the cross-detector parallax, s2d2 `sentinel2_instrument.py`): ~2.6 s at 786 km. Which detector
saw a point comes from the granule metadata (`detectors.py`); where it is unknown the model takes
the mean of both parities (the stagger's midpoint) and the half-difference becomes part of its
stated error. That `datetime` is this mean, and which parity sees B02 first, are this model's
assumptions (the twin shares them); a real granule with ships of known AIS would settle both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pyproj import Transformer

# ESA Sentinel-2 User Handbook (orbit): sun-synchronous, 786 km mean altitude, inclination 98.62°,
# 143 orbits in a 10-day cycle (14.3 per day)
INCLINATION_DEG = 98.62
ORBIT_PERIOD_S = 86_400.0 / 14.3
ALTITUDE_M = 786_000.0
EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
EARTH_ROTATION_RAD_S = 7.292_115e-5  # IERS conventions
TILE_SIDE_M = 109_800.0  # a Sentinel-2 tile (MGRS square + overlap), 10980 px at 10 m

REFERENCE_BAND = "B02"
# seconds after B02 on odd detectors (CNES S2A calibration, mean over detectors); even: the negative
BAND_DELAY_S = {"B02": 0.0, "B08": 0.2594, "B03": 0.5192, "B04": 0.9982, "B11": 1.4803, "B12": 2.1018}
ODD_EVEN_PARALLAX_B02 = 0.022  # along-track base-to-height between odd and even detectors, B02 (s2d2)

# the model's own error (worst cases, added linearly): ground speed and heading from a circular
# orbit (±1.5 % on the along-track offset), the band delays (±2 %) and the odd/even stagger (±2.5 %),
# how `datetime` relates to the granule centre (±0.1 s: it is a mean over the detectors' datation)
SPEED_REL_ERROR = 0.015
DELAY_REL_ERROR = 0.02
STAGGER_REL_ERROR = 0.025  # the base-to-height 0.022 is given to 3 decimals (±0.0005)
DATETIME_ERROR_S = 0.1

@dataclass(frozen=True)
class Track:
    """The ground track under a tile: unit flight direction in the tile's easting/northing, speed."""

    east: float
    north: float
    speed_m_s: float

    @property
    def heading_deg(self) -> float:
        return math.degrees(math.atan2(self.east, self.north)) % 360.0


def descending_track(lat_deg: float) -> tuple[float, float]:
    """(true heading in degrees, ground speed in m/s) of the descending ground track at `lat_deg`."""
    phi = math.radians(lat_deg)
    sin_a = math.cos(math.radians(INCLINATION_DEG)) / math.cos(phi)
    if abs(sin_a) > 1:
        raise ValueError(f"latitude {lat_deg}° is beyond the orbit's reach ({180 - INCLINATION_DEG:.2f}°)")
    azimuth = math.pi - math.asin(sin_a)  # descending: southwards, towards the west
    v = 2 * math.pi * EARTH_RADIUS_M / ORBIT_PERIOD_S  # sub-satellite speed in inertial space
    v_north = v * math.cos(azimuth)
    v_east = v * math.sin(azimuth) - EARTH_ROTATION_RAD_S * EARTH_RADIUS_M * math.cos(phi)  # ground turns east
    return math.degrees(math.atan2(v_east, v_north)) % 360.0, math.hypot(v_east, v_north)


def band_offset_s(band: str, parity: int, ground_speed_m_s: float) -> float:
    """Seconds after the row time (the parity mean) at which `band` sees a row: `parity` +1 for odd
    detectors, -1 for even ones, 0 when unknown (the mean of both)."""
    if band not in BAND_DELAY_S:
        raise ValueError(f"no published MSI delay for band {band!r}; known: {sorted(BAND_DELAY_S)}")
    half_stagger = ODD_EVEN_PARALLAX_B02 * ALTITUDE_M / ground_speed_m_s / 2
    return parity * (half_stagger + BAND_DELAY_S[band])


def tile_centre(grid_origin_x: float, grid_origin_y: float) -> tuple[float, float]:
    """Centre of a Sentinel-2 tile from its grid's top-left corner (`proj:transform`): every tile
    is 109.8 km square, so this holds whatever part of the tile an item's rasters cover."""
    return grid_origin_x + TILE_SIDE_M / 2, grid_origin_y - TILE_SIDE_M / 2


@dataclass(frozen=True)
class SceneTiming:
    """The sensing-time model of one granule, in its UTM grid (metres)."""

    datetime: datetime
    centre_x: float
    centre_y: float
    track: Track

    @classmethod
    def for_scene(cls, when: datetime, epsg: int, centre_x: float, centre_y: float) -> "SceneTiming":
        """Track from the orbit at the granule centre, turned into the grid's bearings (the UTM grid
        is rotated from true north by the meridian convergence, ~1° here)."""
        to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
        lon, lat = to_lonlat.transform(centre_x, centre_y)
        heading, speed = descending_track(lat)
        to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
        step = 1_000.0 / EARTH_RADIUS_M  # radians: 1 km along the true heading
        h = math.radians(heading)
        lat2 = lat + math.degrees(step * math.cos(h))
        lon2 = lon + math.degrees(step * math.sin(h) / math.cos(math.radians(lat)))
        x2, y2 = to_utm.transform(lon2, lat2)
        dx, dy = x2 - centre_x, y2 - centre_y
        norm = math.hypot(dx, dy)
        return cls(when, centre_x, centre_y, Track(dx / norm, dy / norm, speed))

    def along_track_m(self, x, y) -> np.ndarray:
        """Signed distance of (x, y) from the granule centre along the direction of flight."""
        return (np.asarray(x, "float64") - self.centre_x) * self.track.east + (np.asarray(y, "float64") - self.centre_y) * self.track.north

    def row_offset_s(self, x, y) -> np.ndarray:
        """Seconds after `datetime` at which the row through (x, y) was imaged (parity mean)."""
        return self.along_track_m(x, y) / self.track.speed_m_s

    def band_offset_s(self, band: str, parity: int) -> float:
        return band_offset_s(band, parity, self.track.speed_m_s)

    def band_ambiguity_s(self, band: str) -> float:
        """How far either detector parity lies from the parity mean, for `band`."""
        return abs(self.band_offset_s(band, 1))

    def error_s(self, x, y, band: str = REFERENCE_BAND, parity_known: bool = False) -> np.ndarray:
        """Worst-case error of the model's time for `band` at (x, y)."""
        along = np.abs(self.row_offset_s(x, y)) * SPEED_REL_ERROR
        half_stagger = self.band_ambiguity_s(band) - BAND_DELAY_S[band]
        known = BAND_DELAY_S[band] * DELAY_REL_ERROR + half_stagger * STAGGER_REL_ERROR
        band_part = known if parity_known else self.band_ambiguity_s(band)
        return along + band_part + DATETIME_ERROR_S

    def sensing_time(self, x, y, band: str = REFERENCE_BAND, parity: int = 0) -> np.ndarray:
        """Absolute times (numpy datetime64[ns]) at which `band` imaged (x, y)."""
        offset = self.row_offset_s(x, y) + self.band_offset_s(band, parity)
        base = np.datetime64(self.datetime.replace(tzinfo=None), "ns")
        return base + np.round(np.asarray(offset) * 1e9).astype("timedelta64[ns]")

