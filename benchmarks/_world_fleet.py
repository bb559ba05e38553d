"""A synthetic world fleet for `world_day`: who reports how often, who is under a Sentinel-2 overpass,
and the day's aisstream messages, landed once under the cache as the collector lands them.

Cadence (ITU-R M.1371-5, table 1): class A under way 10 s (0-14 kn), 6 s (14-23 kn), 3⅓ s / 2 s
while changing course, 3 min at anchor or moored; class B "CS" 30 s above 2 kn, 3 min at or below;
static data every 6 min (ShipStaticData for A, StaticDataReport for B).

The share of ships under a Sentinel-2 overpass in a day, from the orbit: each satellite flies 143
orbits in its 10-day repeat cycle, so adjacent ground tracks are 40,075 km / 143 = 280 km apart at the
equator, under the 290 km swath: each satellite sees the whole equator every 10 days, the two every
5 days (the published revisit). A point at the equator is imaged on 290 × 2 × 143 / (10 × 40,075)
= 20.7 % of days (once per 4.8 days: swaths overlap by 10 km); at latitude φ the tracks converge as
cos φ while the swath stays 290 km, so the share is min(1, 0.207 / cos φ) (every day above ~78°).
Only the day side is imaged (descending passes), which is what one pass per orbit counts. The fleet's
share is the mean over its latitudes; the vessels drawn under the overpass are placed in the offline
twin's water at its granules' sensing time (the only scenes the twin has), the rest sail the world.
Sentinel-2's acquisition plan also skips open ocean beyond ~20 km of coast: the share is an upper
bound for ships at sea, close to right for ships in coastal waters and ports.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks import _ais_live_day as live
from shipchips_twin.world import World

SWATH_KM, EQUATOR_KM, ORBITS_PER_CYCLE, CYCLE_DAYS, SATELLITES = 290.0, 40_075.017, 143, 10, 2
EQUATOR_SHARE = SWATH_KM * SATELLITES * ORBITS_PER_CYCLE / (CYCLE_DAYS * EQUATOR_KM)  # 0.2070
CLASS_A_SHARE, A_ANCHORED, A_TURNING, B_MOVING = 0.6, 0.35, 0.15, 0.5
STATIC_EVERY_S = 360.0
FILE_LINES = live.FILE_LINES  # the collector's ais.flush_messages
LAT_RANGE = (-60.0, 70.0)  # where the synthetic fleet sails (uniform in latitude)
KN = 1852 / 3600  # m/s per knot


def daily_share(lat_deg: np.ndarray) -> np.ndarray:
    """The chance that a point at `lat_deg` is under a Sentinel-2 overpass on a given day."""
    return np.minimum(1.0, EQUATOR_SHARE / np.maximum(np.cos(np.radians(lat_deg)), 1e-9))


def report_interval_s(is_a: np.ndarray, anchored: np.ndarray, turning: np.ndarray, sog: np.ndarray) -> np.ndarray:
    """Seconds between position reports (ITU-R M.1371 table 1)."""
    a_moving = np.where(sog < 14, np.where(turning, 10 / 3, 10.0), np.where(turning, 2.0, 6.0))
    a = np.where(anchored, 180.0, a_moving)
    b = np.where(sog > 2, 30.0, 180.0)
    return np.where(is_a, a, b)


@dataclass(frozen=True)
class FleetSpec:
    world_vessels: int = 100_000
    scale: float = 0.002  # the fraction of the world fleet simulated (per-item costs extrapolate)
    hours: float = 24.0
    seed: int = 15

    @property
    def vessels(self) -> int:
        return max(1, round(self.world_vessels * self.scale))

    @property
    def key(self) -> str:
        return f"v{self.world_vessels}-s{self.scale:g}-h{self.hours:g}-seed{self.seed}"


@dataclass
class Fleet:
    mmsi: np.ndarray
    is_a: np.ndarray
    sog: np.ndarray
    course: np.ndarray
    interval: np.ndarray
    lat_home: np.ndarray  # the latitude the vessel's share is drawn for
    under: np.ndarray  # under the overpass: placed in the twin's water at its sensing time
    lon0: np.ndarray  # position at `t_ref` (epoch s)
    lat0: np.ndarray
    t_ref: float


def build_fleet(spec: FleetSpec, world: World) -> Fleet:
    rng = np.random.default_rng(spec.seed)
    n = spec.vessels
    mmsi = 201_000_000 + rng.choice(574_999_999, size=n, replace=False)
    is_a = rng.random(n) < CLASS_A_SHARE
    anchored = is_a & (rng.random(n) < A_ANCHORED)
    turning = is_a & ~anchored & (rng.random(n) < A_TURNING)
    b_moving = ~is_a & (rng.random(n) < B_MOVING)
    sog = np.where(is_a, np.where(anchored, 0.0, rng.uniform(6, 22, n)),
                   np.where(b_moving, rng.uniform(3, 12, n), rng.uniform(0, 2, n)))
    lat = rng.uniform(*LAT_RANGE, n)
    lon = rng.uniform(-180, 180, n)
    under = rng.random(n) < daily_share(lat)
    course = rng.uniform(0, 360, n)
    acq = world.acquisitions[0]
    t_ref = acq.sensing_time.timestamp()
    x, y = _twin_water(world, rng, int(under.sum()))
    ulon, ulat = world.utm_to_lonlat(x, y)
    lon[under], lat0 = ulon, lat.copy()
    lat0[under] = ulat
    course[under] = np.where(rng.random(int(under.sum())) < 0.5, 90.0, 270.0) + rng.uniform(-10, 10, int(under.sum()))
    return Fleet(mmsi.astype("int64"), is_a, sog.round(1), course.round(1),
                 report_interval_s(is_a, anchored, turning, sog), lat, under, lon, lat0, t_ref)


def _twin_water(world: World, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` points in the twin's open water, 1 km inside its area and 800 m off its coast."""
    s = world.spec
    xs, ys = np.empty(0), np.empty(0)
    while len(xs) < n:
        x = rng.uniform(s.x_min + 1000, s.x_max - 1000, 4 * n + 16)
        y = rng.uniform(s.y_min + 1000, s.y_max - 1000, 4 * n + 16)
        ok = (y < world.coast_y(x) - 800) & ~world.is_land(x, y)
        xs, ys = np.concatenate([xs, x[ok]]), np.concatenate([ys, y[ok]])
    return xs[:n], ys[:n]


def expected_messages(fleet: Fleet, hours: float) -> int:
    seconds = hours * 3600
    return int(np.sum(np.floor(seconds / fleet.interval)) + len(fleet.mmsi) * math.floor(seconds / STATIC_EVERY_S))


# ---- the day's messages, landed once -----------------------------------------------------------
def landing_root(cache: Path, spec: FleetSpec, world: World) -> tuple[Path, dict]:
    """The dataset root holding the fleet's landing files (generated once), and the fleet's facts."""
    root = cache / "world-day" / spec.key
    done = root / "done.json"
    if done.exists():
        return root, json.loads(done.read_text())
    import time

    start = time.perf_counter()
    fleet = build_fleet(spec, world)
    day = live.DAY
    folder = root / "ais" / f"{day:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    t, v, static = _schedule(fleet, spec.hours, day, np.random.default_rng(spec.seed + 1))
    for n, first in enumerate(range(0, len(t), FILE_LINES)):
        sl = slice(first, first + FILE_LINES)
        lines = _lines(fleet, t[sl], v[sl], static[sl])
        (folder / f"aisstream-{int(t[first] * 1000)}-{n:06d}.jsonl").write_text("\n".join(lines) + "\n")
    facts = {"spec": asdict(spec), "vessels": len(fleet.mmsi), "messages": len(t), "class_a": int(fleet.is_a.sum()),
             "under_overpass": int(fleet.under.sum()), "fleet_share": float(daily_share(fleet.lat_home).mean()),
             "positions": int((~static).sum()), "statics": int(static.sum()),
             "generation_s": round(time.perf_counter() - start, 1)}
    done.write_text(json.dumps(facts))
    return root, facts


def _schedule(fleet: Fleet, hours: float, day: date, rng: np.random.Generator):
    """(epoch s, vessel index, is static) of every message of the day, in time order."""
    t0 = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
    seconds = hours * 3600
    ts, vs, ss = [], [], []
    for every, static in ((fleet.interval, False), (np.full(len(fleet.mmsi), STATIC_EVERY_S), True)):
        counts = np.floor(seconds / every).astype("int64")
        v = np.repeat(np.arange(len(every)), counts)
        k = np.arange(len(v)) - np.repeat(np.cumsum(counts) - counts, counts)
        phase = rng.uniform(0, 1, len(every))[v] * every[v]
        ts.append(t0 + phase + k * every[v])
        vs.append(v)
        ss.append(np.full(len(v), static))
    t, v, s = np.concatenate(ts), np.concatenate(vs), np.concatenate(ss)
    order = np.argsort(t, kind="stable")
    return t[order], v[order], s[order]


def _lines(fleet: Fleet, t: np.ndarray, v: np.ndarray, static: np.ndarray) -> list[str]:
    metres = fleet.sog[v] * KN * (t - fleet.t_ref)
    rad = np.radians(fleet.course[v])
    lat = np.clip(fleet.lat0[v] + metres * np.cos(rad) / 111_195, -89.9, 89.9)
    coslat = np.maximum(np.cos(np.radians(fleet.lat0[v])), 0.2)
    lon = (fleet.lon0[v] + metres * np.sin(rad) / (111_195 * coslat) + 180) % 360 - 180
    rows = zip(fleet.mmsi[v].tolist(), t.tolist(), lat.round(6).tolist(), lon.round(6).tolist(),
               fleet.sog[v].tolist(), fleet.course[v].tolist(), fleet.is_a[v].tolist(), static.tolist())
    out = []
    for m, ts, la, lo, sog, cog, is_a, s in rows:
        if s:
            out.append(live._static(m, ts) if is_a else _static_b(m, ts))
        else:
            out.append(live._position(m, ts, la, lo, sog, cog) if is_a else _position_b(m, ts, la, lo, sog, cog))
    return out


def _position_b(mmsi: int, ts: float, lat: float, lon: float, sog: float, cog: float) -> str:
    """aisstream's StandardClassBPositionReport text (templated, as `_ais_live_day._position`)."""
    return (f'{{"MessageType": "StandardClassBPositionReport", "MetaData": {{"MMSI": {mmsi}, '
            f'"MMSI_String": "{mmsi}", "ShipName": "", "latitude": {lat}, "longitude": {lon}, '
            f'"time_utc": "{live._stamp(ts)}"}}, "Message": {{"StandardClassBPositionReport": {{"UserID": {mmsi}, '
            f'"Latitude": {lat}, "Longitude": {lon}, "Sog": {sog}, "Cog": {cog}, "TrueHeading": {int(cog) % 360}, '
            f'"Timestamp": {int(ts) % 60}, "Valid": true}}}}}}')


def _static_b(mmsi: int, ts: float) -> str:
    body = {"UserID": mmsi, "Valid": True,
            "ReportA": {"Valid": True, "Name": f"YACHT {mmsi % 100000}".ljust(20)},
            "ReportB": {"Valid": True, "ShipType": 37, "CallSign": f"B{mmsi % 10000:04d}  ",
                        "Dimension": {"A": 8, "B": 4, "C": 2, "D": 2}}}
    meta = {"MMSI": mmsi, "MMSI_String": str(mmsi), "ShipName": "", "latitude": 0.0, "longitude": 0.0,
            "time_utc": live._stamp(ts)}
    return json.dumps({"MessageType": "StaticDataReport", "MetaData": meta, "Message": {"StaticDataReport": body}})
