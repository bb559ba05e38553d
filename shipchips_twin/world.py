"""A deterministic, seeded synthetic world: coastline, vessels on lanes, Sentinel-2 acquisitions.

Everything the offline twin serves (AIS messages, Sentinel-2 scenes) is derived from this one model,
so tests can compare what the pipeline produced against the truth: where each ship really was at any
instant. Geometry lives in a real UTM zone (EPSG:32631, North Sea off the Dutch coast).

Vessel motion is a timed polyline in UTM metres (`tracks.Track`): straight lanes at constant speed, anchored
ships at a fixed point. Positions are exact at any time; AIS reports sample them at each vessel's
class A / class B cadence (SPEC-NOTES §2).

Scenes image like MSI (`twin/msi.py`): each band of each detector sees a ship at its own instant,
its row's time along the track plus the band's delay, so a moving ship sits at a different place in
every band; `WorldSpec.msi_timing=False` draws every ship at the granule's `datetime` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cached_property

import numpy as np
from pyproj import Transformer

from shipchips_twin import msi
from shipchips_twin.tracks import KNOT_MS, Track, dog_leg_track

EPSG = 32631
PIXEL_M = 10.0

SAMPLE_DAY = date(2026, 6, 15)


@dataclass(frozen=True)
class Vessel:
    mmsi: int
    name: str
    imo: int | None
    call_sign: str
    ship_type: int
    ais_class: str  # "A" or "B"
    nav_status: int  # 0 under way using engine, 1 at anchor
    dim_a: int  # antenna to bow (m)
    dim_b: int  # antenna to stern
    dim_c: int  # antenna to port
    dim_d: int  # antenna to starboard
    track: Track
    report_phase_s: float  # offset of this vessel's reporting clock

    @property
    def length_m(self) -> int:
        return self.dim_a + self.dim_b

    @property
    def beam_m(self) -> int:
        return self.dim_c + self.dim_d

    def report_interval_s(self, t: float) -> float:
        """AIS reporting interval at `t` (ITU-R M.1371 nominal rates)."""
        if self.ais_class == "B":
            return 30.0
        sog, _ = self.track.sog_cog(t)
        if self.nav_status == 1 or sog < 0.5:
            return 180.0
        return 10.0 if sog < 14 else 6.0


@dataclass(frozen=True)
class Cloud:
    """A round cloud in UTM metres; SCL 9 inside `radius_m`, SCL 8 in the halo to 1.4×."""

    x: float
    y: float
    radius_m: float


@dataclass(frozen=True)
class Acquisition:
    """One Sentinel-2 granule over the world: where, when, and which catalogue conventions apply."""

    mgrs_tile: str
    platform: str  # "sentinel-2a" / "sentinel-2b"
    sensing_time: datetime  # the item's `datetime` (granule centre)
    datatake_time: datetime  # the time in the product ID (datatake start), minutes earlier
    origin_x: float  # UTM of the top-left corner of the 10 m grid
    origin_y: float
    size_px: int  # 10 m grid side; the 20 m grid is half
    relative_orbit: int
    clouds: tuple[Cloud, ...] = ()
    # fraction of the grid's left edge lost to the swath edge (a nodata wedge), 0 for none
    nodata_wedge: float = 0.0
    # where the track's nadir line passes, to the right of the flight direction from the tile centre
    nadir_offset_m: float = -40_000.0

    @property
    def tile_centre(self) -> tuple[float, float]:
        """The grid is the north-west corner of a 109.8 km Sentinel-2 tile: the centre its `datetime` refers to."""
        return self.origin_x + msi.TILE_SIDE_M / 2, self.origin_y - msi.TILE_SIDE_M / 2

    @property
    def track(self) -> msi.GroundTrack:
        return msi.ground_track(EPSG, *self.tile_centre, self.nadir_offset_m)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        side = self.size_px * PIXEL_M
        return self.origin_x, self.origin_y - side, self.origin_x + side, self.origin_y

    def nodata(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True where the swath edge leaves no data (a wedge along the west edge)."""
        if self.nodata_wedge <= 0:
            return np.zeros(np.broadcast(x, y).shape, dtype=bool)
        west, south, east, north = self.bounds
        side = east - west
        # wedge: width grows linearly from 0 at the top to `nodata_wedge * side` at the bottom
        depth = (north - y) / side * self.nodata_wedge * side
        return (x - west) < depth


@dataclass(frozen=True)
class WorldSpec:
    seed: int = 7
    days: tuple[date, ...] = (SAMPLE_DAY,)
    n_lane_vessels: int = 48
    n_anchored: int = 12
    n_class_b: int = 12
    # UTM area the world lives in (two adjacent 20.48 km granules side by side)
    x_min: float = 540_000.0
    x_max: float = 576_480.0
    y_min: float = 5_769_520.0
    y_max: float = 5_790_000.0
    granule_px: int = 2048
    # the catalogue's acquisition history: the same granules (tiles, relative orbit, time of day) this
    # many days before each of `days`, as Sentinel-2's 5-day repeat flies them (multiples of 5; the
    # other satellite on odd cycles); a date that is one of `days` is not repeated
    history_days: tuple[int, ...] = (5,)
    # scenes image like MSI (each band at its own instant per row and detector); False: all at `datetime`
    msi_timing: bool = True
    # Earth Search flags that lie (its #66/#71): (mgrs_tile, kind) for the `sentinel-2-l2a` items of
    # `days`: "flag_false" — pixels shifted, `earthsearch:boa_offset_applied` false; "flag_true" — the
    # -1000 offset still in the DN, flag true (the truth: `scenes.offset_in_dn`)
    radiometry_lies: tuple[tuple[str, str], ...] = ()
    # corrupt COGs (Element84/earth-search #78): (mgrs_tile, asset) whose DN over the southern half of
    # the granule are 64000-65000 in every item of `days`, SCL untouched (`scenes.corrupt_rows`)
    corrupt_bands: tuple[tuple[str, str], ...] = ()
    # AIS facts that lie (`vessel_lies.KINDS`): (mmsi, kind), e.g. a 500 m length or heading 511; the
    # scenes still draw the true hull
    vessel_fact_lies: tuple[tuple[int, str], ...] = ()


# Lanes: (start, end) in UTM; vessels run from start to end or back. All lie in open water.
LANES: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (
    ((530_000.0, 5_774_000.0), (590_000.0, 5_776_500.0)),
    ((530_000.0, 5_778_200.0), (590_000.0, 5_780_200.0)),
    ((534_000.0, 5_765_000.0), (584_000.0, 5_786_000.0)),
)
ANCHORAGE = (565_500.0, 5_771_800.0, 1_800.0)  # centre x, y and radius (m)


class World:
    """The synthetic world for a `WorldSpec`; every derived value is a pure function of the seed."""

    def __init__(self, spec: WorldSpec | None = None):
        self.spec = spec or WorldSpec()
        self._to_lonlat = Transformer.from_crs(EPSG, 4326, always_xy=True)
        self._to_utm = Transformer.from_crs(4326, EPSG, always_xy=True)

    # ---- geography -------------------------------------------------------------------------
    @staticmethod
    def coast_y(x: np.ndarray) -> np.ndarray:
        """Northing of the coastline at easting `x`: land lies north of it."""
        x = np.asarray(x, dtype="float64")
        return 5_786_300.0 + 1_200.0 * np.sin(2 * np.pi * (x - 540_000.0) / 14_000.0) + 0.02 * (x - 540_000.0)

    def is_land(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        island = (x - 545_000.0) ** 2 / 900.0**2 + (y - 5_783_500.0) ** 2 / 500.0**2 < 1.0
        return (y > self.coast_y(x)) | island

    def utm_to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        return self._to_lonlat.transform(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))

    def lonlat_to_utm(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        return self._to_utm.transform(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))

    @property
    def bbox_lonlat(self) -> tuple[float, float, float, float]:
        """The world's area in WGS84 (min_lon, min_lat, max_lon, max_lat), slightly padded."""
        s = self.spec
        xs = np.array([s.x_min, s.x_max, s.x_min, s.x_max])
        ys = np.array([s.y_min, s.y_min, s.y_max, s.y_max])
        lon, lat = self.utm_to_lonlat(xs, ys)
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    # ---- vessels ---------------------------------------------------------------------------
    @cached_property
    def vessels(self) -> tuple[Vessel, ...]:
        rng = np.random.default_rng(self.spec.seed)
        # the reference instant vessels are placed around: mid-morning of the first day
        t_ref = _epoch(datetime.combine(self.spec.days[0], datetime.min.time(), timezone.utc)) + 10.25 * 3600
        vessels = []
        for i in range(self.spec.n_lane_vessels):
            vessels.append(self._lane_vessel(i, rng, t_ref, ais_class="B" if i < self.spec.n_class_b else "A"))
        for j in range(self.spec.n_anchored):
            vessels.append(self._anchored_vessel(self.spec.n_lane_vessels + j, rng))
        return tuple(vessels)

    def vessel(self, mmsi: int) -> Vessel:
        return self._by_mmsi[mmsi]

    @cached_property
    def _by_mmsi(self) -> dict[int, Vessel]:
        return {v.mmsi: v for v in self.vessels}

    def _identity(self, i: int, rng: np.random.Generator, ais_class: str) -> dict:
        mid = (244, 245, 246, 211, 219, 235, 257)[i % 7]  # NL, DE, DK, UK, NO
        mmsi = mid * 1_000_000 + 100_000 + i * 7919 % 900_000
        if ais_class == "B":
            length = int(rng.integers(8, 25))
            ship_type = int(rng.choice([30, 36, 37]))  # fishing, sailing, pleasure
        else:
            length = int(rng.integers(60, 300))
            ship_type = int(rng.choice([70, 71, 79, 80, 89, 60]))  # cargo, tanker, passenger
        beam = max(3, int(round(length * rng.uniform(0.13, 0.18))))
        dim_a = int(round(length * rng.uniform(0.6, 0.85)))
        dim_c = int(round(beam * rng.uniform(0.3, 0.7)))
        return dict(
            mmsi=mmsi,
            name=f"{_NAMES[i % len(_NAMES)]} {i:02d}",
            imo=None if ais_class == "B" else 9_000_000 + i * 1237 % 999_999,
            call_sign=f"PD{i:04d}",
            ship_type=ship_type,
            ais_class=ais_class,
            dim_a=dim_a,
            dim_b=length - dim_a,
            dim_c=dim_c,
            dim_d=beam - dim_c,
            report_phase_s=float(rng.uniform(0, 30)),
        )

    def _lane_vessel(self, i: int, rng: np.random.Generator, t_ref: float, ais_class: str) -> Vessel:
        ident = self._identity(i, rng, ais_class)
        (x0, y0), (x1, y1) = LANES[i % len(LANES)]
        if rng.random() < 0.5:
            (x0, y0), (x1, y1) = (x1, y1), (x0, y0)
        lane_len = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / lane_len, (y1 - y0) / lane_len
        # offset from the lane centre line so ships do not overlap
        off = rng.uniform(-400, 400)
        knots = rng.uniform(4, 12) if ais_class == "B" else rng.uniform(6, 20)
        speed = knots * KNOT_MS
        # where along the lane the vessel is at t_ref: inside the world's middle 80 %
        s_ref = rng.uniform(0.25, 0.75) * lane_len
        px, py = x0 + ux * s_ref - uy * off, y0 + uy * s_ref + ux * off
        # a track spanning every world day; every MANOEUVRE_EVERY-th vessel dog-legs near the overpass
        span = (len(self.spec.days) + 2) * 86_400.0
        if i % MANOEUVRE_EVERY == MANOEUVRE_EVERY - 1:
            mrng = np.random.default_rng([self.spec.seed, i, 1])  # its own stream: other vessels unchanged
            track = dog_leg_track((px, py), (ux, uy), speed, t_ref, span, mrng)
        else:
            track = Track(
                times=(t_ref - span, t_ref + span),
                xs=(px - ux * speed * span, px + ux * speed * span),
                ys=(py - uy * speed * span, py + uy * speed * span),
            )
        return Vessel(nav_status=0, track=track, **ident)

    def _anchored_vessel(self, i: int, rng: np.random.Generator) -> Vessel:
        ident = self._identity(i, rng, "A")
        cx, cy, radius = ANCHORAGE
        ang, r = rng.uniform(0, 2 * np.pi), radius * math.sqrt(rng.uniform(0, 1))
        track = Track(times=(0.0,), xs=(cx + r * math.cos(ang),), ys=(cy + r * math.sin(ang),))
        return Vessel(nav_status=1, track=track, **ident)

    def truth_xy(self, mmsi: int, when: datetime | np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        t = _epoch(when) if isinstance(when, datetime) else when
        return self.vessel(mmsi).track.position(t)

    def truth_lonlat(self, mmsi: int, when: datetime | np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return self.utm_to_lonlat(*self.truth_xy(mmsi, when))

    def heading_deg(self, mmsi: int, when: datetime) -> float:
        """True heading: the course for ships under way; a fixed per-vessel swing at anchor."""
        v = self.vessel(mmsi)
        sog, cog = v.track.sog_cog(_epoch(when))
        if v.nav_status == 1 or sog < 0.5:
            return float((v.mmsi * 37) % 360)
        return cog

    def report_times(self, vessel: Vessel, start: datetime, end: datetime) -> np.ndarray:
        """Epoch seconds of this vessel's position reports in [start, end): cadence with jitter,
        minus the reception gaps (`reception_gap`) a real shore network has."""
        t0, t1 = _epoch(start), _epoch(end)
        rng = np.random.default_rng([self.spec.seed, vessel.mmsi, int(t0)])
        interval = vessel.report_interval_s(t0)
        first = t0 + (vessel.report_phase_s % interval)
        base = np.arange(first, t1, interval)
        jitter = rng.uniform(-0.4, 0.4, size=base.size)
        times = np.clip(base + jitter, t0, np.nextafter(t1, t0))
        gap = self.reception_gap(vessel)
        return times if gap is None else times[(times < gap[0]) | (times >= gap[1])]

    def reception_gap(self, vessel: Vessel) -> tuple[float, float] | None:
        """Every GAP_EVERY-th moving vessel goes unheard for 2–6 minutes around the overpass."""
        if vessel.nav_status == 1 or vessel.mmsi % GAP_EVERY:
            return None
        rng = np.random.default_rng([self.spec.seed, vessel.mmsi, 2])
        day0 = datetime.combine(self.spec.days[0], datetime.min.time(), timezone.utc)
        start = _epoch(day0) + 10.25 * 3600 + rng.uniform(-900, 600)
        return start, start + rng.uniform(120, 360)

    def gps_noise_m(self, vessel: Vessel, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Small deterministic GNSS noise (σ = 2 m) added to reported positions."""
        rng = np.random.default_rng([self.spec.seed, vessel.mmsi, 99])
        noise = rng.normal(0.0, 2.0, size=(2, times.size))
        return noise[0], noise[1]

    # ---- Sentinel-2 acquisitions -----------------------------------------------------------
    @cached_property
    def acquisitions(self) -> tuple[Acquisition, ...]:
        """The granules of `spec.days` (the days the pipeline runs for)."""
        return tuple(a for k, day in enumerate(self.spec.days) for a in self._granules(k, day, _platform(k)))

    @cached_property
    def history_acquisitions(self) -> tuple[Acquisition, ...]:
        """The granules `spec.history_days` before each day: day k's tiles, orbit and time of day."""
        seen, acqs = set(self.spec.days), []
        for k, day in enumerate(self.spec.days):
            for back in self.spec.history_days:
                if back % 5:
                    raise ValueError(f"history_days must be multiples of Sentinel-2's 5-day repeat, got {back}")
                earlier = day - timedelta(days=back)
                if earlier not in seen:
                    seen.add(earlier)
                    acqs.extend(self._granules(k, earlier, _platform(k + back // 5)))
        return tuple(acqs)

    @property
    def catalogue_acquisitions(self) -> tuple[Acquisition, ...]:
        """Every granule the twin's catalogue holds: the days' and their history."""
        return self.acquisitions + self.history_acquisitions

    def _granules(self, k: int, day: date, platform: str) -> list[Acquisition]:
        """The two granules (31UES, 31UFS) on `day` at day k's time of day."""
        s = self.spec
        side = s.granule_px * PIXEL_M
        midnight = datetime.combine(day, datetime.min.time(), timezone.utc)
        # 10:30 mean local solar time at ~3.9°E is ~10:14:24 UTC
        centre = midnight + timedelta(hours=10, minutes=14, seconds=24 + 7 * k)
        west = Acquisition(
            mgrs_tile="31UES",
            platform=platform,
            sensing_time=centre + timedelta(seconds=1.218),
            datatake_time=centre - timedelta(minutes=4, seconds=33),
            origin_x=s.x_min,
            origin_y=s.y_max,
            size_px=s.granule_px,
            relative_orbit=51,
            clouds=(Cloud(552_300.0, 5_781_400.0, 900.0),),
            nodata_wedge=0.12,
        )
        east = Acquisition(
            mgrs_tile="31UFS",
            platform=platform,
            sensing_time=centre + timedelta(seconds=3.704),
            datatake_time=centre - timedelta(minutes=4, seconds=33),
            origin_x=s.x_max - side,
            origin_y=s.y_max,
            size_px=s.granule_px,
            relative_orbit=51,
            clouds=(Cloud(571_000.0, 5_772_500.0, 700.0), Cloud(561_200.0, 5_783_600.0, 500.0)),
            nodata_wedge=0.0,
        )
        return [west, east]

    def imaged_at(self, vessel: Vessel, acq: Acquisition, band: str = msi.REFERENCE_BAND) -> tuple[float, float, float]:
        """Epoch seconds at which `band` imaged the vessel, and its (x, y) then: the band's time
        depends on where the vessel is, so the two are iterated (it moves ≤ 10 m/s, the line 6.7 km/s)."""
        t0 = _epoch(acq.sensing_time)
        x, y = vessel.track.position(t0)
        if not self.spec.msi_timing:
            return t0, float(x), float(y)
        t = t0
        for _ in range(3):
            t = t0 + float(acq.track.band_time_s(x, y, band))
            x, y = vessel.track.position(t)
        return t, float(x), float(y)

    def vessels_in(self, acq: Acquisition, band: str = msi.REFERENCE_BAND) -> list[tuple[Vessel, float, float]]:
        """Vessels whose position when `band` imaged them lies inside the acquisition's grid."""
        west, south, east, north = acq.bounds
        found = []
        for v in self.vessels:
            _, x, y = self.imaged_at(v, acq, band)
            if west <= x < east and south < y <= north:
                found.append((v, x, y))
        return found


MANOEUVRE_EVERY = 4
GAP_EVERY = 5
def _platform(k: int) -> str:
    return "sentinel-2a" if k % 2 == 0 else "sentinel-2b"


def _epoch(when: datetime) -> float:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: the twin works in UTC only")
    return when.timestamp()


def epoch(when: datetime) -> float:
    """Epoch seconds of an aware datetime (the world's time axis)."""
    return _epoch(when)


_NAMES = (
    "NOORDZEE", "HOLLAND TRADER", "MAAS STAR", "AURORA", "NORTHERN LIGHT", "BALTIC", "ZEELAND",
    "ROTTERDAM EXPRESS", "FRISIA", "ORION", "STELLA MARIS", "DOGGER", "HELGA", "VIKING",
)
